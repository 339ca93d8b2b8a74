"""Quality measures: precision, recall and F1 of links; pair completeness and reduction ratio of
candidate sets; the same measures of scores against labels, at one threshold or over all.

:func:`evaluate` compares pairs as ``(left_id, right_id)`` tuples; :func:`f1_at`,
:func:`best_threshold` and :func:`threshold_curve` compare match probabilities with 0/1 labels
(a trained matcher's validation pairs, a reviewer's decisions). All compute precision, recall
and F1 in one place (``_precision_recall_f1``).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.errors import InputError
from linker.frames import as_polars, check_columns

__all__ = ["Evaluation", "best_threshold", "evaluate", "f1_at", "threshold_curve"]

logger = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]


def _precision_recall_f1(
    tp: npt.ArrayLike, predicted: npt.ArrayLike, true: npt.ArrayLike
) -> tuple[Floats, Floats, Floats]:
    """Precision, recall and F1 from counts (scalars or arrays of one shape).

    Precision is NaN where nothing is predicted, recall where nothing is true; F1 is 0 there.
    """
    tp, predicted, true = (np.asarray(x, dtype=np.float64) for x in (tp, predicted, true))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        recall = np.where(true > 0, tp / true, np.nan)
        total = precision + recall
        f1 = np.where(total > 0, 2 * precision * recall / total, 0.0)
    return precision, recall, f1


@dataclass(frozen=True)
class Evaluation:
    """Counts and measures of predicted pairs against the true pairs.

    ``pair_completeness`` equals ``recall`` (the name blocking papers use); ``reduction_ratio``
    is ``1 - predicted / (n_left * n_right)`` and is ``None`` unless both sizes were given.
    """

    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    predicted: int
    truth: int
    pair_completeness: float
    reduction_ratio: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        """The fields as a plain dict (for JSON or a table row)."""
        return asdict(self)


def _id_columns(df: pl.DataFrame, left: str, right: str, *, name: str) -> tuple[str, str]:
    """The two id columns; one name for both means ``right`` and ``<right>_right`` (how a
    merge names the right copy of a shared column)."""
    if left == right:
        if f"{right}_right" in df.columns:
            right = f"{right}_right"
        else:
            raise InputError(
                f"Table {name!r}: the left and right id are both {left!r}, and there is no "
                f"{right + '_right'!r} column (the right copy a merge writes). Pass the two "
                f"different id columns; available: {df.columns}."
            )
    check_columns(df, [left, right], name=name)
    return left, right


def _pairs(df: pl.DataFrame, left: str, right: str, *, name: str) -> set[tuple[str, str]]:
    left, right = _id_columns(df, left, right, name=name)
    if "_merge" in df.columns:
        df = df.filter(pl.col("_merge") == "both")
    cols = df.select(
        pl.col(left).cast(pl.Utf8).alias("l"), pl.col(right).cast(pl.Utf8).alias("r")
    ).drop_nulls()
    return {(str(a), str(b)) for a, b in cols.iter_rows()}


def _warn_unknown_ids(p_df: pl.DataFrame, t_df: pl.DataFrame, cols: list[tuple[str, str]]) -> None:
    """Warn when the truth's ids appear nowhere in the pairs table (a wrong id column, or
    the wrong files): precision and recall would then be 0 without saying why."""
    for (p_col, t_col), side in zip(cols, ("left", "right"), strict=True):
        seen = set(p_df.get_column(p_col).cast(pl.Utf8).drop_nulls().to_list())
        truth = set(t_df.get_column(t_col).cast(pl.Utf8).drop_nulls().to_list())
        missing = truth - seen
        if truth and len(missing) == len(truth):
            logger.warning(
                "none of the truth's %s ids (column %r, e.g. %r) appear in column %r of the "
                "pairs: check the id columns (--left-id/--right-id, --truth-left-id/"
                "--truth-right-id) and that the files belong together",
                side, t_col, sorted(missing)[0], p_col,
            )  # fmt: skip
        elif missing:
            logger.info(
                "%d of %d truth %s ids are not in the pairs", len(missing), len(truth), side
            )


def evaluate(
    pairs: object,
    truth: object,
    *,
    left_id: str = "left_id",
    right_id: str = "right_id",
    truth_left_id: str | None = None,
    truth_right_id: str | None = None,
    n_left: int | None = None,
    n_right: int | None = None,
) -> Evaluation:
    """Compare predicted pairs with the true ones.

    Args:
        pairs: Predicted pairs: candidates, matches, or a merged frame (then only rows with
            ``_merge == "both"`` count). A frame or a CSV/Parquet path.
        truth: The true pairs, a frame or path.
        left_id: Column of ``pairs`` holding the left record's id.
        right_id: Column of ``pairs`` holding the right record's id. The same name as
            ``left_id`` means ``<right_id>_right`` for the pairs (a merge's name for the right
            copy of a shared column) and, in the truth, the same when there is such a column.
        truth_left_id: Column of ``truth`` with the left id (default: ``left_id``; for a
            two-column truth that has neither id column: its first column).
        truth_right_id: Column of ``truth`` with the right id (default: ``right_id``; for a
            two-column truth as above: its second column).
        n_left: Left table size, for the reduction ratio.
        n_right: Right table size, for the reduction ratio.

    Returns:
        An :class:`Evaluation`.

    Example:
        >>> import polars as pl
        >>> pred = pl.DataFrame({"left_id": [1, 2], "right_id": [10, 30]})
        >>> true = pl.DataFrame({"left_id": [1, 2], "right_id": [10, 20]})
        >>> e = evaluate(pred, true, n_left=2, n_right=3)
        >>> e.precision, e.recall, round(e.reduction_ratio, 3)
        (0.5, 0.5, 0.667)
    """
    p_df, _ = as_polars(pairs, name="pairs")
    t_df, _ = as_polars(truth, name="truth")
    t_left, t_right = truth_left_id or left_id, truth_right_id or right_id
    guess = truth_left_id is None and truth_right_id is None and t_df.width == 2
    if guess and not {t_left, t_right, f"{t_right}_right"} & set(t_df.columns):
        t_left, t_right = t_df.columns  # a two-column truth: left id, then right id
        logger.info("truth ids: columns %r (left) and %r (right)", t_left, t_right)
    predicted = _pairs(p_df, left_id, right_id, name="pairs")
    true = _pairs(t_df, t_left, t_right, name="truth")
    _warn_unknown_ids(
        p_df,
        t_df,
        [
            (_id_columns(p_df, left_id, right_id, name="pairs")[i], c)
            for i, c in enumerate(_id_columns(t_df, t_left, t_right, name="truth"))
        ],
    )
    if not true:
        raise InputError("the truth has no pairs: check the id columns passed to evaluate")
    tp = len(predicted & true)
    precision, recall, f1 = (
        float(np.nan_to_num(x)) for x in _precision_recall_f1(tp, len(predicted), len(true))
    )
    rr = None
    if n_left is not None and n_right is not None and n_left * n_right > 0:
        rr = 1.0 - len(predicted) / (n_left * n_right)
    return Evaluation(
        precision=precision,
        recall=recall,
        f1=f1,
        true_positives=tp,
        false_positives=len(predicted) - tp,
        false_negatives=len(true) - tp,
        predicted=len(predicted),
        truth=len(true),
        pair_completeness=recall,
        reduction_ratio=rr,
    )


def f1_at(
    scores: npt.NDArray[np.floating[Any]], labels: npt.NDArray[np.integer[Any]], threshold: float
) -> dict[str, float]:
    """Precision, recall and F1 of ``scores >= threshold`` against 0/1 ``labels``.

    A measure that is undefined (nothing predicted, or no match among the labels) is 0.

    Example:
        >>> import numpy as np
        >>> f1_at(np.array([0.9, 0.2, 0.7]), np.array([1, 0, 0]), 0.5)["precision"]
        0.5
    """
    pred = scores >= threshold
    tp = (pred & (labels == 1)).sum()
    p, r, f = _precision_recall_f1(tp, pred.sum(), (labels == 1).sum())
    return {"precision": float(np.nan_to_num(p)), "recall": float(np.nan_to_num(r)), "f1": float(f)}


def best_threshold(
    scores: npt.NDArray[np.floating[Any]], labels: npt.NDArray[np.integer[Any]]
) -> tuple[float, float]:
    """The threshold with the best F1 on ``(scores, labels)`` and that F1.

    Ties go to the threshold nearest 0.5; the threshold is the midpoint between two
    neighbouring scores, so it does not sit on a training score.

    Example:
        >>> import numpy as np
        >>> best_threshold(np.array([0.9, 0.6, 0.4, 0.1]), np.array([1, 1, 0, 0]))
        (0.5, 1.0)
    """
    s = np.unique(scores.astype(np.float64))
    cuts = np.concatenate([[0.5], (s[1:] + s[:-1]) / 2]) if len(s) > 1 else np.array([0.5])
    best, best_f1 = 0.5, -1.0
    for t in sorted(cuts, key=lambda c: abs(c - 0.5)):
        f = f1_at(scores, labels, float(t))["f1"]
        if f > best_f1 + 1e-12:
            best, best_f1 = float(t), f
    return best, best_f1


def threshold_curve(
    scores: npt.NDArray[np.floating[Any]], labels: npt.NDArray[np.integer[Any]], *, steps: int = 101
) -> pl.DataFrame:
    """Precision, recall and F1 of ``scores`` against 0/1 ``labels`` at each threshold in [0, 1].

    A pair is predicted a match when its score is at least the threshold. Precision is null
    where nothing is predicted, recall where no label is a match; F1 is 0 there.

    Returns:
        ``threshold``, ``precision``, ``recall``, ``f1``: one row per threshold.

    Example:
        >>> c = threshold_curve(np.array([0.9, 0.6, 0.3]), np.array([1, 0, 1]), steps=3)
        >>> c.row(1)  # threshold 0.5: one of two predicted is right, one of two found
        (0.5, 0.5, 0.5, 0.5)
    """
    t = np.linspace(0.0, 1.0, steps)
    pred = scores[None, :] >= t[:, None]
    y = labels.astype(bool)[None, :]
    precision, recall, f1 = _precision_recall_f1(
        (pred & y).sum(axis=1), pred.sum(axis=1), np.full(steps, y.sum())
    )
    return pl.DataFrame(
        {"threshold": t, "precision": precision, "recall": recall, "f1": f1},
        nan_to_null=True,
    )
