"""Review the uncertain pairs of a linkage; the decisions live in a SQLite file.

The UI-free half of the review app (``linker review``): build a linkage to review
(:func:`linkage_from_tables`, :func:`linkage_from_merged`), keep it and every decision in a
:class:`ReviewStore`, work through the queue with a :class:`ReviewSession`, learn from the
labels (:func:`retrain`) and export the result (:func:`export_linked`, :func:`export_labels`,
:func:`export_config`).
"""

from __future__ import annotations

from linker.review.build import ID, Linkage, linkage_from_merged, linkage_from_tables
from linker.review.export import (
    export_config,
    export_labels,
    export_linked,
    linked_frame,
    neutralise,
    run_config,
    write_table,
)
from linker.review.learn import RetrainReport, retrain
from linker.review.session import Order, Pair, ReviewSession
from linker.review.store import SCHEMA_VERSION, Decision, ReviewStore
from linker.review.views import FieldDiff, clusters, field_diffs, histogram, threshold_curve

__all__ = [
    "ID",
    "SCHEMA_VERSION",
    "Decision",
    "FieldDiff",
    "Linkage",
    "Order",
    "Pair",
    "RetrainReport",
    "ReviewSession",
    "ReviewStore",
    "clusters",
    "export_config",
    "export_labels",
    "export_linked",
    "field_diffs",
    "histogram",
    "linkage_from_merged",
    "linkage_from_tables",
    "linked_frame",
    "neutralise",
    "retrain",
    "run_config",
    "threshold_curve",
    "write_table",
]
