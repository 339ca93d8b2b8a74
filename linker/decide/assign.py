"""From scored pairs to decisions: Stata-style ``how`` assignment.

``how`` follows Stata's ``merge``: ``"1:1"`` (each record matched at most once on both
sides), ``"m:1"`` (each left record to its best right record; right records may be reused),
``"1:m"`` (the mirror), ``"m:m"`` (every pair above the threshold).

For ``"1:1"`` two methods are offered (``method=``):

* ``"hungarian"`` (default): the optimal maximum-weight matching of the sparse candidate
  graph, solved by scipy's LAPJVsp (:func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching`)
  on an augmented graph, so no dense matrix is ever built and a million candidate pairs fit in
  a few hundred MB. The weight of a pair is its log-odds relative to the threshold
  (``logit(score) - logit(threshold)``, plus a tiny epsilon so every eligible pair counts):
  the matching that maximises it is the most probable one-to-one matching when pair scores
  are independent probabilities, and a pair near the threshold cannot outweigh a confident one.
* ``"greedy"``: pairs taken best-first, ties broken by row numbers (the old behaviour).

``"m:1"`` and ``"1:m"`` are already optimal best-per-record choices: each record's constraint
is independent of the others, so taking each one's best pair maximises every weight sum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.errors import ConfigError

__all__ = ["AssignMethod", "How", "assign", "connected_components", "matching_weight"]

How = Literal["1:1", "m:1", "1:m", "m:m"]
AssignMethod = Literal["hungarian", "greedy"]

_EPS = 1e-6  # keeps every eligible pair's weight > 0 (a pair at the threshold still counts)
_CLIP = 1e-9
_TINY = 1e-12  # cost of a dummy-dummy edge: LAPJVsp drops explicit zeros


def _ordered(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.sort(["score", "left_row", "right_row"], descending=[True, False, False])


def _greedy(pairs: pl.DataFrame, threshold: float) -> pl.DataFrame:
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


def matching_weight(scores: npt.NDArray[np.floating], threshold: float) -> npt.NDArray[np.float64]:
    """The weight the Hungarian method maximises: log-odds above the threshold, plus epsilon.

    Example:
        >>> import numpy as np
        >>> matching_weight(np.array([0.5, 0.9]), 0.5).round(3).tolist()
        [0.0, 2.197]
    """
    p = np.clip(np.asarray(scores, dtype=np.float64), _CLIP, 1 - _CLIP)
    t = min(max(threshold, _CLIP), 1 - _CLIP)
    out: npt.NDArray[np.float64] = np.log(p / (1 - p)) - np.log(t / (1 - t)) + _EPS
    return np.maximum(out, _EPS)


def _component_max(
    n: int, a: npt.NDArray[np.intp], b: npt.NDArray[np.intp], w: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The largest weight in each node's connected component (nodes ``0 .. n-1``, edges ``a-b``)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components as cc

    graph = sp.coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    _, label = cc(graph, directed=False)
    top = np.zeros(int(label.max()) + 1)
    np.maximum.at(top, label[a], w)
    out: npt.NDArray[np.float64] = top[label]
    return out


def _hungarian(pairs: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Optimal 1:1 matching of the (already thresholded) pairs; see the module docstring.

    The graph is augmented so that a full matching always exists and "unmatched" is a choice:
    rows are the left records plus one dummy per right record, columns the right records plus
    one dummy per left record. A real pair ``(i, j)`` costs ``C - w``; ``(i, dummy_i)`` and
    ``(dummy_j, j)`` cost ``C / 2``; and ``(dummy_j, dummy_i)`` (the transpose of each real
    pair) costs almost nothing, so the dummies of two matched records pair up. A full matching
    with real pairs ``M`` then costs ``(n_left + n_right) * C / 2 - sum(w over M)``: minimising
    it maximises the weight. ``C = 2 * max(w)`` keeps every cost positive (LAPJVsp needs
    non-zero entries) and, measured, makes LAPJVsp 10-100x faster than ``C = max(w) + 1``.

    ``C`` is taken per connected component of the pairs (twice the component's largest
    weight), so that a component's costs depend on that component alone: solved alone or with
    others (:mod:`linker.decide.units`), it gets the same costs, and so the same matching
    among equal-weight ones (tested; LAPJVsp never mixes disjoint blocks of the graph).
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    if pairs.height == 0:
        return pairs
    p = pairs.sort(["left_row", "right_row"])
    lu, li = np.unique(p["left_row"].to_numpy(), return_inverse=True)
    ru, ri = np.unique(p["right_row"].to_numpy(), return_inverse=True)
    nl, nr = len(lu), len(ru)
    w = matching_weight(p["score"].to_numpy(), threshold)
    c = 2.0 * _component_max(nl + nr, li, nl + ri, w)  # per record: left ones, then right ones
    al, ar = np.arange(nl), np.arange(nr)
    rows = np.concatenate([li, al, nl + ar, nl + ri])
    cols = np.concatenate([ri, nr + al, ar, nr + li])
    cost = np.concatenate([c[li] - w, c / 2, np.full(len(w), _TINY)])
    graph = sp.csr_array((cost, (rows, cols)), shape=(nl + nr, nr + nl))
    r_ind, c_ind = min_weight_full_bipartite_matching(graph)
    real = (r_ind < nl) & (c_ind < nr)
    chosen = pl.DataFrame(
        {"left_row": lu[r_ind[real]], "right_row": ru[c_ind[real]]},
        schema={"left_row": p["left_row"].dtype, "right_row": p["right_row"].dtype},
    )
    return p.join(chosen, on=["left_row", "right_row"], how="semi")


def _best_per(column: str) -> Callable[[pl.DataFrame, float], pl.DataFrame]:
    def pick(pairs: pl.DataFrame, threshold: float) -> pl.DataFrame:
        return _ordered(pairs).unique(subset=[column], keep="first", maintain_order=True)

    return pick


_ONE_TO_ONE: dict[str, Callable[[pl.DataFrame, float], pl.DataFrame]] = {
    "hungarian": _hungarian,
    "greedy": _greedy,
}
_HOW: dict[str, Callable[[pl.DataFrame, float], pl.DataFrame]] = {
    "m:1": _best_per("left_row"),
    "1:m": _best_per("right_row"),
    "m:m": lambda p, t: p,
}


def assign(
    pairs: pl.DataFrame,
    *,
    how: How = "1:1",
    threshold: float = 0.5,
    method: AssignMethod = "hungarian",
) -> pl.DataFrame:
    """Keep the pairs that ``how`` and ``threshold`` accept, sorted by ``(left_row, right_row)``.

    Args:
        pairs: Frame with ``left_row``, ``right_row`` and ``score``.
        how: ``"1:1"``, ``"m:1"``, ``"1:m"`` or ``"m:m"``.
        threshold: Minimum score of a match.
        method: For ``how="1:1"``: ``"hungarian"`` (optimal, default) or ``"greedy"``.

    Raises:
        ConfigError: an unknown ``how`` or ``method``.

    Example:
        >>> import polars as pl
        >>> p = pl.DataFrame({"left_row": [0, 0, 1], "right_row": [0, 1, 0],
        ...                   "score": [0.9, 0.8, 0.85]})
        >>> assign(p, how="1:1").rows()
        [(0, 1, 0.8), (1, 0, 0.85)]
        >>> assign(p, how="1:1", method="greedy").rows()
        [(0, 0, 0.9)]
        >>> assign(p, how="m:1").select("left_row", "right_row").rows()
        [(0, 0), (1, 0)]
    """
    if method not in _ONE_TO_ONE:
        raise ConfigError(f"method={method!r} is not one of {list(_ONE_TO_ONE)}")
    step = _ONE_TO_ONE[method] if how == "1:1" else _HOW.get(how)
    if step is None:
        raise ConfigError(f"how={how!r} is not one of {['1:1', *_HOW]}")
    kept = step(pairs.filter(pl.col("score") >= threshold), threshold)
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
    return renumber(labels)


def renumber(labels: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    """Relabel clusters ``0, 1, ...`` in order of first appearance.

    Example:
        >>> import numpy as np
        >>> renumber(np.array([7, 3, 7, 5])).tolist()
        [0, 1, 0, 2]
    """
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    out: npt.NDArray[np.int64] = rank[inverse.reshape(-1)]
    return out
