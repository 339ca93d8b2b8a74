"""Review the uncertain pairs of a linkage; the decisions live in a SQLite file.

The UI-free half of the review app (``linker review``): build a linkage to review
(:func:`linkage_from_tables`, :func:`linkage_from_merged`), keep it and every decision in a
:class:`ReviewStore`, work through the queue with a :class:`ReviewSession`, learn from the
labels (:func:`retrain`), see why a pair scored what it did (:meth:`ReviewSession.explain`,
:func:`waterfall`) and export the result (:func:`export_linked`, :func:`export_labels`,
:func:`export_config`). Proposed schema, glossary and taxonomy mappings are reviewed with a
:class:`MappingReview` and written with :func:`export_mapping`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr
from linker.review.build import (
    EXPLANATIONS,
    ID,
    Linkage,
    linkage_from_merged,
    linkage_from_tables,
)
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
from linker.review.mappings import MappingReview, export_mapping, is_mapping, mapping_kind
from linker.review.session import Order, Pair, ReviewSession
from linker.review.store import SCHEMA_VERSION, Decision, ReviewStore
from linker.review.views import (
    Explanation,
    FieldDiff,
    clusters,
    explanation,
    field_diffs,
    histogram,
    waterfall,
)

__all__ = [
    "EXPLANATIONS",
    "ID",
    "SCHEMA_VERSION",
    "Decision",
    "Explanation",
    "FieldDiff",
    "Linkage",
    "MappingReview",
    "Order",
    "Pair",
    "RetrainReport",
    "ReviewSession",
    "ReviewStore",
    "clusters",
    "export_config",
    "export_labels",
    "export_linked",
    "export_mapping",
    "explanation",
    "field_diffs",
    "histogram",
    "is_mapping",
    "linkage_from_merged",
    "linkage_from_tables",
    "linked_frame",
    "mapping_kind",
    "neutralise",
    "retrain",
    "run_config",
    "waterfall",
    "write_table",
]

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.review.<module>
