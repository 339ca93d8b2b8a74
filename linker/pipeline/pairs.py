"""Candidate pairs between the stages: both directions for dedup, a trained matcher's
scores, and each left record's ranking.

A candidate pairs frame has ``left_row`` and ``right_row`` (row numbers), the blockers'
``*_sim`` columns and ``twin``, then the pair features, ``score`` and ``rank``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.blocking.blockers import key_groups
from linker.errors import ConfigError
from linker.frames import check_columns
from linker.scoring.features import code_features, digit_features

if TYPE_CHECKING:
    from collections.abc import Sequence

    from linker.backend import Backend
    from linker.pipeline.prepare import PreparedSide
    from linker.scoring.base import PairMatcher

__all__ = ["both_directions", "key_blocks", "matcher_scores", "ranked", "with_features", "with_ids"]


def key_blocks(
    left: pl.DataFrame, right: pl.DataFrame, block_on: Sequence[str] | str | None
) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] | None:
    """The groups of records that agree on every ``block_on`` column (``None``: no keys).

    Raises:
        InputError: a table lacks a key column.
    """
    keys = [block_on] if isinstance(block_on, str) else list(block_on or [])
    if not keys:
        return None
    for df, name in ((left, "left"), (right, "right")):
        check_columns(df, keys, name=name)
    return key_groups(
        left.select(keys), right.select(keys), n_left=left.height, n_right=right.height
    )


def with_ids(
    pairs: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame, ids: Sequence[str]
) -> pl.DataFrame:
    """``pairs`` with the records' ids first (``<id>_right`` when both sides share the name).

    Example:
        >>> df = pl.DataFrame({"id": ["a", "b"]})
        >>> with_ids(pl.DataFrame({"left_row": [0], "right_row": [1]}), df, df, ("id", "id")).rows()
        [('a', 'b', 0, 1)]
    """
    if not ids:
        return pairs
    lid, rid = ids[0], ids[1] if ids[1] != ids[0] else f"{ids[1]}_right"
    return pairs.with_columns(
        left[ids[0]].gather(pairs["left_row"]).alias(lid),
        right[ids[1]].gather(pairs["right_row"]).alias(rid),
    ).select(lid, rid, pl.exclude(lid, rid))


def both_directions(pairs: pl.DataFrame) -> pl.DataFrame:
    """A self-join's pairs in both directions, so each record sees all its candidates.

    Example:
        >>> pairs = pl.DataFrame({"left_row": [0], "right_row": [2], "name_sim": [0.9]})
        >>> both_directions(pairs).rows()
        [(0, 2, 0.9), (2, 0, 0.9)]
    """
    flipped = pairs.select(
        pl.col("right_row").alias("left_row"),
        pl.col("left_row").alias("right_row"),
        *[c for c in pairs.columns if c.endswith("_sim") or c == "twin"],
    )
    return (
        pl.concat([pairs, flipped])
        .unique(["left_row", "right_row"])
        .sort(["left_row", "right_row"])
    )


def with_features(
    pairs: pl.DataFrame,
    lside: PreparedSide,
    rside: PreparedSide,
    names: list[str],
    backend: Backend,
    *,
    codes: bool,
) -> pl.DataFrame:
    """``pairs`` with the per-column features the ``backend`` computes (see
    :func:`~linker.scoring.features.column_features`) and, with ``codes``, the digit and code
    comparisons the zero-label scorer reads too."""
    li, ri = pairs["left_row"].to_numpy(), pairs["right_row"].to_numpy()
    feats = backend.features(lside.columns, rside.columns, li, ri, names=names)
    if codes:
        for extra in (digit_features, code_features):
            feats |= extra(lside.columns, rside.columns, li, ri, names=names)
    return pairs.with_columns(**{k: pl.Series(v) for k, v in feats.items()})


def matcher_scores(
    matcher: PairMatcher,
    lside: PreparedSide,
    rside: PreparedSide,
    names: list[str],
    li: npt.NDArray[np.int64],
    ri: npt.NDArray[np.int64],
) -> npt.NDArray[np.float32]:
    """A trained matcher's probability per candidate; both sides' records keyed by ``names``.

    Raises:
        ConfigError: the matcher was trained on none of the compared columns.
    """
    known = [c for c in matcher.columns_ if c in names]
    if not known:
        raise ConfigError(
            f"the matcher was trained on the columns {matcher.columns_}, none of which is "
            f"compared here ({names}): pass on=/left_on= with those names"
        )

    def records(side: PreparedSide, rows: npt.NDArray[np.int64]) -> list[dict[str, str]]:
        cols = [c.gather(rows).to_list() for c in side.columns]
        return [dict(zip(names, vals, strict=True)) for vals in zip(*cols, strict=True)]

    return matcher.predict_proba((records(lside, li), records(rside, ri)))


def ranked(pairs: pl.DataFrame, scores: npt.NDArray[np.float32]) -> pl.DataFrame:
    """``pairs`` with ``score`` and ``rank`` (1 for each left record's best candidate).

    Example:
        >>> pairs = pl.DataFrame({"left_row": [0, 0], "right_row": [1, 2]})
        >>> ranked(pairs, np.array([0.2, 0.9], dtype=np.float32))["rank"].to_list()
        [2, 1]
    """
    pairs = pairs.with_columns(score=pl.Series(scores, dtype=pl.Float32))
    return pairs.with_columns(
        rank=pl.col("score").rank("ordinal", descending=True).over("left_row").cast(pl.Int32)
    )
