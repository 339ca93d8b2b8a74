"""Quality measures: precision, recall and F1 of links; pair completeness and reduction ratio of
candidate sets. Pairs are compared as ``(left_id, right_id)`` tuples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import polars as pl

from linker.errors import InputError
from linker.frames import as_polars, check_columns

__all__ = ["Evaluation", "evaluate"]


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


def _pairs(df: pl.DataFrame, left: str, right: str, *, name: str) -> set[tuple[str, str]]:
    check_columns(df, [left, right], name=name)
    if "_merge" in df.columns:
        df = df.filter(pl.col("_merge") == "both")
    cols = df.select(pl.col(left).cast(pl.Utf8), pl.col(right).cast(pl.Utf8)).drop_nulls()
    return {(str(a), str(b)) for a, b in cols.iter_rows()}


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
        right_id: Column of ``pairs`` holding the right record's id.
        truth_left_id: Column of ``truth`` with the left id (default: ``left_id``).
        truth_right_id: Column of ``truth`` with the right id (default: ``right_id``).
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
    predicted = _pairs(p_df, left_id, right_id, name="pairs")
    true = _pairs(t_df, truth_left_id or left_id, truth_right_id or right_id, name="truth")
    if not true:
        raise InputError("the truth has no pairs: check the id columns passed to evaluate")
    tp = len(predicted & true)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(true)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
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
