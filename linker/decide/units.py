"""Decisions per connected component: :func:`~linker.decide.assign.assign` and
:func:`~linker.decide.cluster.cluster` solved on work units, not on the whole pair table.

A decision links records only through the pairs it may use: for ``how="1:1"`` and for every
clustering method, the pairs scoring at least the threshold; for ``"m:1"`` (and ``"m:m"``,
which decides each pair alone) a left record's pairs; for ``"1:m"`` a right record's. So it
decides each connected component of those pairs on its own, and gives the same answer on any
set of whole components. The steps, each run by a :class:`~linker.decide.runner.UnitRunner`:

1. the accepted pairs are cut into blocks of at most ``block_pairs``;
2. :func:`~linker.decide.components.reduce_blocks` finds the components (a forest per block,
   merged in rounds);
3. one call deals the components, whole and in order of their smallest record, to ``units``
   work units of about equal numbers of records (``units``: enough for ``unit_pairs`` pairs
   each on average, and at least one per worker); a component larger than that is never
   split, it makes a larger unit;
4. each block is split by unit, and each unit's pieces go to one call that runs the existing
   ``assign`` or ``cluster`` on them;
5. the caller gets the units' matches (or cluster labels) and puts them together.

When one unit would hold every pair (one worker, at most ``unit_pairs`` accepted pairs: the
local backend up to that size) steps 1-4 are skipped and that unit is solved at once.

The result equals the call on all pairs at once: the same matches, the same cluster labels.
Ties included: greedy, best-per-record and clustering break them by score and row numbers,
which a unit keeps in the same order; the Hungarian method's costs are per component (see
:func:`~linker.decide.assign.assign`), so a component gets the same optimal matching among
equal-weight ones whichever unit it is in.

Example:
    >>> import polars as pl
    >>> p = pl.DataFrame({"left_row": [0, 0, 1, 5], "right_row": [0, 1, 0, 5],
    ...                   "score": [0.9, 0.8, 0.85, 0.7]})
    >>> assign_by_component(p, unit_pairs=2).rows()
    [(0, 1, 0.8), (1, 0, 0.85), (5, 5, 0.7)]
    >>> cluster_by_component(7, p, unit_pairs=2).tolist()
    [0, 0, 1, 2, 3, 4, 5]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast, get_args

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.decide.assign import AssignMethod, How, assign, renumber
from linker.decide.cluster import ClusterMethod, cluster
from linker.decide.components import Forest, forest, reduce_blocks, root_of
from linker.decide.runner import UnitRunner, runner_of
from linker.errors import ConfigError

__all__ = ["assign_by_component", "cluster_by_component"]

Ids = npt.NDArray[np.int64]
Labels = npt.NDArray[np.int64]

_GROUPING = {"1:1": "both", "m:1": "left", "1:m": "right", "m:m": "left"}  # by ``how``


def _nodes(pairs: pl.DataFrame, grouping: str) -> tuple[Ids, Ids]:
    """Each pair's edge: left record ``r`` is node ``2r``, right record ``r`` node ``2r + 1``
    (one record set, for clustering: node ``r``); the first end keys the pair's component."""
    left = pairs["left_row"].to_numpy().astype(np.int64)
    right = pairs["right_row"].to_numpy().astype(np.int64)
    ends = {
        "both": (2 * left, 2 * right + 1),
        "left": (2 * left, 2 * left),
        "right": (2 * right + 1, 2 * right + 1),
        "rows": (left, right),
    }
    return ends[grouping]


def _block_forest(pairs: pl.DataFrame, grouping: str) -> Forest:
    return forest(*_nodes(pairs, grouping))


def _plan(final: Forest, units: int) -> Forest:
    """Each node's unit: components dealt whole, by smallest node, by cumulative records."""
    nodes, roots = final
    if len(nodes) == 0:
        return nodes, roots
    comp, size = np.unique(roots, return_counts=True)
    before = np.cumsum(size) - size
    unit_of_comp = (before * units) // len(nodes)
    return nodes, unit_of_comp[np.searchsorted(comp, roots)]


def _split(pairs: pl.DataFrame, plan: Forest, grouping: str, units: int) -> list[pl.DataFrame]:
    """The block's pairs of each unit, in the block's order."""
    unit = root_of(plan, _nodes(pairs, grouping)[0])
    order = np.argsort(unit, kind="stable")
    ends = np.searchsorted(unit[order], np.arange(units + 1))
    taken = pairs[order]
    return [taken[int(a) : int(b)] for a, b in zip(ends[:-1], ends[1:], strict=True)]


def _solve_assign(
    how: How, threshold: float, method: AssignMethod, *parts: pl.DataFrame
) -> pl.DataFrame:
    return assign(pl.concat(parts), how=how, threshold=threshold, method=method)


def _solve_cluster(threshold: float, method: ClusterMethod, *parts: pl.DataFrame) -> Labels:
    """``(rows, smallest row of each one's cluster)`` of the unit's records, as one array."""
    pairs = pl.concat(parts)
    if pairs.height == 0:
        return np.zeros((2, 0), np.int64)
    left, right = _nodes(pairs, "rows")
    rows = np.unique(np.concatenate([left, right]))
    local = pairs.with_columns(
        left_row=pl.Series(np.searchsorted(rows, left)),
        right_row=pl.Series(np.searchsorted(rows, right)),
    )
    label = cluster(len(rows), local, threshold=threshold, method=method)
    smallest = np.full(int(label.max(initial=-1)) + 1, np.iinfo(np.int64).max)
    np.minimum.at(smallest, label, rows)
    return np.stack([rows, smallest[label]])


def _by_unit(
    pairs: pl.DataFrame,
    grouping: str,
    solve: Callable[..., object],
    args: tuple[object, ...],
    *,
    runner: UnitRunner,
    block_pairs: int,
    unit_pairs: int,
) -> list[object]:
    """Steps 1-4 of the module docstring: the units' results, fetched."""
    if block_pairs < 1 or unit_pairs < 1:
        raise ConfigError("block_pairs and unit_pairs must be at least 1")
    n = pairs.height
    units = max(runner.workers, -(-n // unit_pairs))
    if units == 1:  # every component in one unit: no pass needed
        return runner.get(runner.map(solve, [(*args, pairs)]))
    n_blocks = max(runner.workers, -(-n // block_pairs))
    step = max(1, -(-n // n_blocks))
    blocks = [runner.put(pairs[s : s + step]) for s in range(0, n, step)]
    final = reduce_blocks(runner, _block_forest, [(b, grouping) for b in blocks])
    plan = runner.map(_plan, [(final, units)])[0]
    pieces = cast(
        "list[list[object]]",
        runner.map(_split, [(b, plan, grouping, units) for b in blocks], returns=units),
    )
    calls = [(*args, *(piece[u] for piece in pieces)) for u in range(units)]
    return runner.get(runner.map(solve, calls))


def assign_by_component(
    pairs: pl.DataFrame,
    *,
    how: How = "1:1",
    threshold: float = 0.5,
    method: AssignMethod = "hungarian",
    backend: object | None = None,
    block_pairs: int = 2_000_000,
    unit_pairs: int = 2_000_000,
) -> pl.DataFrame:
    """:func:`~linker.decide.assign.assign`'s result, decided per component on ``backend``.

    Args:
        pairs: Frame with ``left_row``, ``right_row`` and ``score``.
        how: ``"1:1"``, ``"m:1"``, ``"1:m"`` or ``"m:m"``.
        threshold: Minimum score of a match.
        method: For ``how="1:1"``: ``"hungarian"`` (optimal, default) or ``"greedy"``.
        backend: Where the steps run (a backend with ``unit_runner()``); default here.
        block_pairs: Most pairs per block of the components pass.
        unit_pairs: Pairs per work unit, on average (a component is never split).

    Raises:
        ConfigError: an unknown ``how`` or ``method``, or a size below 1.

    Example:
        >>> import polars as pl
        >>> p = pl.DataFrame({"left_row": [0, 1], "right_row": [0, 0], "score": [0.9, 0.8]})
        >>> assign_by_component(p, how="m:1").rows()
        [(0, 0, 0.9), (1, 0, 0.8)]
    """
    if how not in _GROUPING:
        raise ConfigError(f"how={how!r} is not one of {list(_GROUPING)}")
    if method not in get_args(AssignMethod):
        raise ConfigError(f"method={method!r} is not one of {list(get_args(AssignMethod))}")
    accepted = pairs.filter(pl.col("score") >= threshold)
    if accepted.height == 0:
        return assign(accepted, how=how, threshold=threshold, method=method)
    parts = _by_unit(
        accepted, _GROUPING[how], _solve_assign, (how, threshold, method),
        runner=runner_of(backend), block_pairs=block_pairs, unit_pairs=unit_pairs,
    )  # fmt: skip
    return pl.concat(cast("list[pl.DataFrame]", parts)).sort(["left_row", "right_row"])


def cluster_by_component(
    n: int,
    pairs: pl.DataFrame,
    *,
    threshold: float = 0.5,
    method: ClusterMethod = "components",
    backend: object | None = None,
    block_pairs: int = 2_000_000,
    unit_pairs: int = 2_000_000,
) -> Labels:
    """:func:`~linker.decide.cluster.cluster`'s labels, decided per component on ``backend``.

    Args:
        n: Number of records (rows ``0 .. n-1``).
        pairs: ``left_row``, ``right_row``, ``score``, optionally ``twin``.
        threshold: Minimum score of an edge.
        method: ``"components"``, ``"centre"`` or ``"average"``.
        backend: Where the steps run (a backend with ``unit_runner()``); default here.
        block_pairs: Most pairs per block of the components pass.
        unit_pairs: Pairs per work unit, on average (a component is never split).

    Raises:
        ConfigError: an unknown method, or a size below 1.

    Example:
        >>> import polars as pl
        >>> p = pl.DataFrame({"left_row": [3], "right_row": [1], "score": [0.9]})
        >>> cluster_by_component(4, p).tolist()
        [0, 1, 2, 1]
    """
    if method not in get_args(ClusterMethod):
        raise ConfigError(f"cluster={method!r} is not one of {list(get_args(ClusterMethod))}")
    accepted = pairs.filter(pl.col("score") >= threshold)
    if accepted.height == 0:
        return cluster(n, accepted, threshold=threshold, method=method)
    smallest = np.arange(n, dtype=np.int64)
    parts = _by_unit(
        accepted, "rows", _solve_cluster, (threshold, method),
        runner=runner_of(backend), block_pairs=block_pairs, unit_pairs=unit_pairs,
    )  # fmt: skip
    for rows, root in cast("list[Labels]", parts):
        smallest[rows] = root
    return renumber(smallest)
