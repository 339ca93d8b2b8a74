"""Clusters of duplicate records from scored pairs (dedup).

Three methods, all on the sparse graph of candidate pairs scoring at least the threshold:

* ``"components"``: connected components. Fast, but one wrong edge chains two entities, and a
  chain of plausible edges can join a whole family of records.
* ``"centre"`` (Haveliwala et al.'s CENTER): edges are taken best-first; a record seen for the
  first time becomes a centre and its partner joins it; a record can join only a centre, so
  every cluster is a star around its centre and chains cannot form.
* ``"average"``: average-linkage agglomeration on the candidate graph. Two clusters merge while
  the average score over *all* their record pairs (missing candidates count as 0) is at least
  the threshold, best merge first. A single strong edge cannot join two large clusters.

Exact twins (pairs whose ``twin`` column is true: identical on every compared column, see
:mod:`linker.blocking.twins`) that score at least the threshold are merged first, and every method
then works on these groups as units: blocking pairs a large twin group as a star, not all with all,
and the edges absent within it must not split it (average linkage would count them as 0, CENTER
could hand its members to other centres). A unit's score to another record is the best score of
its members, and average linkage weighs it by the unit's size: twins score alike with anyone.

Each method returns one cluster number per record, numbered by first appearance.
:func:`representatives` picks a "golden" record per cluster: the one with the highest total
score to the rest of its cluster (ties: lowest row).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.decide.assign import connected_components, renumber
from linker.errors import ConfigError

__all__ = ["ClusterMethod", "cluster", "cluster_sizes", "representatives"]

ClusterMethod = Literal["components", "centre", "average"]
Labels = npt.NDArray[np.int64]


def _edges(pairs: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Undirected edges ``a < b`` at or above the threshold, best first (ties by rows)."""
    e = pairs.filter(pl.col("score") >= threshold).select(
        a=pl.min_horizontal("left_row", "right_row").cast(pl.Int64),
        b=pl.max_horizontal("left_row", "right_row").cast(pl.Int64),
        score=pl.col("score").cast(pl.Float64),
    )
    e = e.filter(pl.col("a") != pl.col("b")).group_by("a", "b").agg(pl.col("score").max())
    return e.sort(["score", "a", "b"], descending=[True, False, False])


def _units(n: int, pairs: pl.DataFrame, threshold: float) -> Labels | None:
    """Each record's twin group (connected by twin pairs at or above the threshold), numbered
    by first appearance; ``None`` when no such pair exists."""
    if "twin" not in pairs.columns:
        return None
    t = pairs.filter(pl.col("twin") & (pl.col("score") >= threshold))
    t = t.filter(pl.col("left_row") != pl.col("right_row"))
    if t.height == 0:
        return None
    return connected_components(
        n, t["left_row"].to_numpy().astype(np.int64), t["right_row"].to_numpy().astype(np.int64)
    )


def _contract(e: pl.DataFrame, units: Labels) -> pl.DataFrame:
    """The edges between units, best first (a unit's score: its members' best)."""
    unit = pl.Series(units)
    e = e.select(a=unit.gather(e["a"]), b=unit.gather(e["b"]), score="score")
    e = e.filter(pl.col("a") != pl.col("b")).group_by("a", "b").agg(pl.col("score").max())
    return e.sort(["score", "a", "b"], descending=[True, False, False])


def _components(n: int, e: pl.DataFrame, threshold: float, size: Labels) -> Labels:
    return connected_components(n, e["a"].to_numpy(), e["b"].to_numpy())


def _centre(n: int, e: pl.DataFrame, threshold: float, size: Labels) -> Labels:
    label = np.arange(n, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    is_centre = np.zeros(n, dtype=bool)
    for a, b in zip(e["a"].to_list(), e["b"].to_list(), strict=True):
        if not seen[a] and not seen[b]:
            seen[a] = seen[b] = is_centre[a] = True
            label[b] = a
        elif is_centre[a] and not seen[b]:
            seen[b] = True
            label[b] = a
        elif is_centre[b] and not seen[a]:
            seen[a] = True
            label[a] = b
    return renumber(label)


def _average(n: int, e: pl.DataFrame, threshold: float, sizes: Labels) -> Labels:
    """Average linkage with a lazy max-heap; links between clusters are summed edge scores
    (an edge between units of ``sizes`` records stands for all their record pairs)."""
    size = dict(enumerate(sizes.tolist()))
    links: dict[int, dict[int, float]] = {}
    for a, b, s in e.iter_rows():
        links.setdefault(a, {})[b] = links.setdefault(b, {})[a] = s * size[a] * size[b]
    heap = [(-s, a, b) for a, b, s in e.iter_rows()]
    heapq.heapify(heap)
    parent = np.arange(n, dtype=np.int64)
    while heap:
        neg, a, b = heapq.heappop(heap)
        if a not in size or b not in size:
            continue  # merged away since this entry was pushed
        avg = links[a].get(b, 0.0) / (size[a] * size[b])
        if avg < -neg - 1e-12:
            continue  # stale entry: the pair's average has changed
        if avg < threshold:
            break
        if len(links[a]) < len(links[b]):
            a, b = b, a  # merge the smaller link list into the larger
        parent[b] = a
        size[a] += size.pop(b)
        for c, s in links.pop(b).items():
            if c == a:
                continue
            links[c].pop(b)
            links[a][c] = links[a].get(c, 0.0) + s
            links[c][a] = links[a][c]
        links[a].pop(b, None)
        for c, s in links[a].items():
            heapq.heappush(heap, (-s / (size[a] * size[c]), min(a, c), max(a, c)))
    while True:  # path compression: every record points at its cluster's root
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    return renumber(parent)


_METHODS: dict[str, Callable[[int, pl.DataFrame, float, Labels], Labels]] = {
    "components": _components,
    "centre": _centre,
    "average": _average,
}


def cluster(
    n: int, pairs: pl.DataFrame, *, threshold: float = 0.5, method: ClusterMethod = "components"
) -> Labels:
    """Cluster number of each of ``n`` records from scored pairs.

    Args:
        n: Number of records (rows ``0 .. n-1``).
        pairs: ``left_row``, ``right_row``, ``score``, optionally ``twin`` (exact twins, kept
            together by every method); direction and duplicates do not matter.
        threshold: Minimum score of an edge.
        method: ``"components"``, ``"centre"`` or ``"average"`` (see the module docstring).

    Returns:
        ``int64`` cluster numbers, ``0, 1, ...`` in order of first appearance.

    Raises:
        ConfigError: an unknown method.

    Example:
        >>> import polars as pl
        >>> chain = pl.DataFrame({"left_row": [0, 1, 2], "right_row": [1, 2, 3],
        ...                       "score": [0.9, 0.8, 0.9]})
        >>> cluster(4, chain).tolist()
        [0, 0, 0, 0]
        >>> cluster(4, chain, method="centre").tolist()
        [0, 0, 1, 1]
    """
    if method not in _METHODS:
        raise ConfigError(f"cluster={method!r} is not one of {list(_METHODS)}")
    e, units = _edges(pairs, threshold), _units(n, pairs, threshold)
    if units is None:
        return _METHODS[method](n, e, threshold, np.ones(n, dtype=np.int64))
    size = np.bincount(units)
    return renumber(_METHODS[method](len(size), _contract(e, units), threshold, size)[units])


def cluster_sizes(labels: Labels) -> pl.DataFrame:
    """``_cluster`` and ``size`` of each cluster, largest first (ties: lower number).

    Example:
        >>> import numpy as np
        >>> cluster_sizes(np.array([0, 0, 1])).rows()
        [(0, 2), (1, 1)]
    """
    counts = np.bincount(labels) if len(labels) else np.zeros(0, np.int64)
    out = pl.DataFrame({"_cluster": np.arange(len(counts)), "size": counts})
    return out.sort(["size", "_cluster"], descending=[True, False])


def representatives(labels: Labels, pairs: pl.DataFrame) -> npt.NDArray[np.bool_]:
    """Mark one "golden" record per cluster: the highest total score to its cluster mates.

    Args:
        labels: Cluster number per record.
        pairs: Scored pairs (``left_row``, ``right_row``, ``score``), any direction.

    Example:
        >>> import numpy as np, polars as pl
        >>> p = pl.DataFrame({"left_row": [0, 1], "right_row": [1, 2], "score": [0.9, 0.9]})
        >>> representatives(np.array([0, 0, 0]), p).tolist()
        [False, True, False]
    """
    n = len(labels)
    e = _edges(pairs, -np.inf)
    a, b, s = e["a"].to_numpy(), e["b"].to_numpy(), e["score"].to_numpy()
    same = labels[a] == labels[b]
    strength = np.bincount(a[same], s[same], minlength=n) + np.bincount(b[same], s[same], n)
    order = np.lexsort((np.arange(n), -strength, labels))  # by cluster, strongest, lowest row
    first = np.ones(n, dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    out = np.zeros(n, dtype=bool)
    out[order[first]] = True
    return out
