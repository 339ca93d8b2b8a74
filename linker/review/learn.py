"""The learning loop: fit the fast matcher on the reviewer's labels and re-score every pair."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from linker.errors import InputError
from linker.review.session import ReviewSession
from linker.scoring.selftrained import FastMatcher

__all__ = ["RetrainReport", "retrain"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainReport:
    """What a retrain did.

    Attributes:
        labels: Labelled pairs it learned from (``matches`` + ``non_matches``).
        matches: Pairs labelled ``match``.
        non_matches: Pairs labelled ``non_match``.
        changed: Pairs whose side of the threshold changed (match ↔ non-match).
        agree_before: Share of the labelled pairs the old scores put on the reviewer's side.
        agree_after: The same for the new scores.
    """

    labels: int
    matches: int
    non_matches: int
    changed: int
    agree_before: float
    agree_after: float


def retrain(session: ReviewSession) -> RetrainReport:
    """Fit a :class:`~linker.scoring.selftrained.FastMatcher` on the labels and re-score all pairs.

    The new scores are stored (with the matcher's weights, for the exported config) in one
    transaction; every session on the store picks them up at its next step, and the queue
    is re-ordered.

    Raises:
        InputError: fewer than one ``match`` and one ``non_match`` label, or a linkage
            without features.
    """
    rows, y = session.labelled()
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos < 1 or n_neg < 1:
        raise InputError(
            f"retrain needs at least one match and one non-match label (have {n_pos} and "
            f"{n_neg}): label more pairs first"
        )
    names = list(session.config.get("features", []))
    if not names:
        raise InputError(f"linkage {session.linkage_id} has no pair features to learn from")
    features = session.pairs.select(names)
    matcher = FastMatcher().fit(features[rows.tolist()], y.astype(np.int64))
    new = matcher.predict_proba(features).astype(np.float64)
    old, t = session.scores, session.threshold
    truth = y == 1
    report = RetrainReport(
        labels=len(rows), matches=n_pos, non_matches=n_neg,
        changed=int(((old >= t) != (new >= t)).sum()),
        agree_before=float(((old[rows] >= t) == truth).mean()),
        agree_after=float(((new[rows] >= t) == truth).mean()),
    )  # fmt: skip
    weights = {"features": matcher.feature_names_, "coef": matcher.coef_,
               "intercept": matcher.intercept_}  # fmt: skip
    session.store.replace_pairs(
        session.linkage_id,
        session.pairs.with_columns(score=pl.Series(new, dtype=pl.Float64)),
        labels=report.labels,
        changed=report.changed,
        report={**asdict(report), "matcher": weights},
    )
    session.sync()
    logger.info("retrained on %d labels: %d pairs changed side", report.labels, report.changed)
    return report
