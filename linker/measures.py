"""Quality measures: precision, recall and F1 of links; pair completeness and reduction ratio of
candidate sets. Pairs are compared as ``(left_id, right_id)`` tuples.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import polars as pl

from linker.errors import InputError
from linker.frames import as_polars, check_columns

__all__ = ["Evaluation", "evaluate"]

logger = logging.getLogger(__name__)


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
