"""From scored pairs to decisions: Stata-style ``how`` assignment, and clusters for dedup.

``how`` follows Stata's ``merge``: ``"1:1"`` (each record matched at most once on both
sides), ``"m:1"`` (each left record to its best right record; right records may be reused),
``"1:m"`` (the mirror), ``"m:m"`` (every pair above the threshold). ``"1:1"`` is greedy here:
pairs are taken best-first, ties broken by row numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.errors import ConfigError

__all__ = ["How", "assign", "connected_components"]

How = Literal["1:1", "m:1", "1:m", "m:m"]


def _ordered(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.sort(["score", "left_row", "right_row"], descending=[True, False, False])


def _one_to_one(pairs: pl.DataFrame) -> pl.DataFrame:
    p = _ordered(pairs)
    li, ri = p["left_row"].to_numpy(), p["right_row"].to_numpy()
    used_l: set[int] = set()
    used_r: set[int] = set()
    keep = np.zeros(len(li), dtype=bool)
    for n, (a, b) in enumerate(zip(li.tolist(), ri.tolist(), strict=True)):
        if a not in used_l and b not in used_r:
            keep[n] = True
            used_l.add(a)
            used_r.add(b)
    return p.filter(pl.Series(keep))


def _best_per(column: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
    def pick(pairs: pl.DataFrame) -> pl.DataFrame:
        return _ordered(pairs).unique(subset=[column], keep="first", maintain_order=True)

    return pick


_HOW: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {
    "1:1": _one_to_one,
    "m:1": _best_per("left_row"),
    "1:m": _best_per("right_row"),
    "m:m": lambda p: p,
}


def assign(pairs: pl.DataFrame, *, how: How = "1:1", threshold: float = 0.5) -> pl.DataFrame:
    """Keep the pairs that ``how`` and ``threshold`` accept, sorted by ``(left_row, right_row)``.

    Args:
        pairs: Frame with ``left_row``, ``right_row`` and ``score``.
        how: ``"1:1"``, ``"m:1"``, ``"1:m"`` or ``"m:m"``.
        threshold: Minimum score of a match.

    Example:
        >>> import polars as pl
        >>> p = pl.DataFrame({"left_row": [0, 0, 1], "right_row": [0, 1, 0],
        ...                   "score": [0.9, 0.8, 0.85]})
        >>> assign(p, how="1:1").rows()
        [(0, 0, 0.9)]
        >>> assign(p, how="m:1").select("left_row", "right_row").rows()
        [(0, 0), (1, 0)]
    """
    if how not in _HOW:
        raise ConfigError(f"how={how!r} is not one of {list(_HOW)}")
    kept = _HOW[how](pairs.filter(pl.col("score") >= threshold))
    return kept.sort(["left_row", "right_row"])


def connected_components(
    n: int, left_rows: npt.NDArray[np.int64], right_rows: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Cluster id of each of ``n`` records, linking the given pairs; ids follow first appearance.

    Example:
        >>> import numpy as np
        >>> connected_components(4, np.array([2]), np.array([0])).tolist()
        [0, 1, 0, 2]
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components as cc

    graph = sp.coo_matrix((np.ones(len(left_rows)), (left_rows, right_rows)), shape=(n, n))
    _, labels = cc(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    out: npt.NDArray[np.int64] = rank[labels]
    return out
