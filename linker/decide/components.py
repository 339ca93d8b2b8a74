"""Connected components of a graph whose edges come in blocks, without one process holding them.

Each block of edges is reduced to a *forest*: every node of the block with the root of its
component in the block, the component's smallest node (a star per component, one edge per
node, however many edges the block had). The union of the blocks' forests has the components
of the union of the blocks, so forests merge like blocks: in rounds, groups of ``fan_in``
forests are concatenated and reduced again, until one forest is left. A round's work is per
group; the edges are read once, in the first round; the later rounds read forests, whose size
is bounded by the number of nodes (records), never by the number of edges (pairs); and the
caller holds only the runner's handles (:mod:`linker.decide.runner`) until it asks for the last
forest.

:func:`component_labels` turns the last forest into the labels of
:func:`~linker.decide.assign.connected_components` (renumbered by first appearance).

Example:
    >>> import numpy as np
    >>> from linker.decide.runner import InProcess
    >>> blocks = [(np.array([0, 5]), np.array([1, 6])), (np.array([1]), np.array([6]))]
    >>> runner = InProcess()
    >>> final = runner.get([reduce_blocks(runner, forest, blocks)])[0]
    >>> component_labels(7, final).tolist()
    [0, 0, 1, 2, 3, 0, 0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from linker.decide.assign import renumber
from linker.decide.runner import UnitRunner
from linker.errors import ConfigError

__all__ = ["Forest", "component_labels", "forest", "merge_forests", "reduce_blocks", "root_of"]

Ids = npt.NDArray[np.int64]
Forest: TypeAlias = tuple[Ids, Ids]
"""``(nodes, roots)``: the sorted distinct nodes of some edges, and each one's root (the
smallest node of its component)."""


def forest(a: npt.ArrayLike, b: npt.ArrayLike) -> Forest:
    """The forest of the edges ``a[i] - b[i]`` (node ids: any non-negative integers).

    Example:
        >>> import numpy as np
        >>> nodes, roots = forest(np.array([9, 4, 7]), np.array([4, 2, 8]))
        >>> nodes.tolist(), roots.tolist()
        ([2, 4, 7, 8, 9], [2, 2, 7, 7, 2])
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components as cc

    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    nodes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    inverse = inverse.reshape(-1)
    n, m = len(nodes), len(a)
    graph = sp.coo_matrix((np.ones(m, np.int8), (inverse[:m], inverse[m:])), shape=(n, n))
    _, label = cc(graph, directed=False)
    _, first = np.unique(label, return_index=True)  # labels 0..k-1: each one's smallest node
    roots: Ids = nodes[first][label]
    return nodes, roots


def merge_forests(*forests: Forest) -> Forest:
    """One forest for the union of the edges that ``forests`` stand for.

    Example:
        >>> import numpy as np
        >>> one = forest(np.array([1]), np.array([2]))
        >>> merge_forests(one, forest(np.array([2]), np.array([3])))[1].tolist()
        [1, 1, 1]
    """
    if not forests:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return forest(np.concatenate([f[0] for f in forests]), np.concatenate([f[1] for f in forests]))


def reduce_blocks(
    runner: UnitRunner,
    fn: Callable[..., Forest],
    blocks: Sequence[tuple[object, ...]],
    *,
    fan_in: int = 8,
) -> object:
    """A handle to the forest of all blocks: ``fn(*block)`` per block, then merge rounds.

    Args:
        runner: Where the calls run.
        fn: A block's forest from its arguments (:func:`forest` for plain edge arrays).
        blocks: The arguments of ``fn`` for each block (handles allowed).
        fan_in: Forests merged per call in each round (at least 2).

    Raises:
        ConfigError: ``fan_in`` below 2.
    """
    if fan_in < 2:
        raise ConfigError(f"fan_in must be at least 2, not {fan_in}")
    level = runner.map(fn, blocks) if blocks else runner.map(merge_forests, [()])
    while len(level) > 1:
        groups = [tuple(level[i : i + fan_in]) for i in range(0, len(level), fan_in)]
        level = runner.map(merge_forests, groups)
    return level[0]


def root_of(final: Forest, nodes: npt.ArrayLike) -> Ids:
    """The root of each of ``nodes`` in ``final`` (a node the forest lacks is its own root).

    Example:
        >>> import numpy as np
        >>> root_of(forest(np.array([3]), np.array([5])), np.array([5, 6])).tolist()
        [3, 6]
    """
    ids = np.asarray(nodes, dtype=np.int64)
    known, roots = final
    at = np.minimum(np.searchsorted(known, ids), max(len(known) - 1, 0))
    hit = known[at] == ids if len(known) else np.zeros(len(ids), dtype=bool)
    return np.where(hit, roots[at] if len(known) else ids, ids)


def component_labels(n: int, final: Forest) -> Ids:
    """The component of each node ``0 .. n-1``, numbered by first appearance (as
    :func:`~linker.decide.assign.connected_components` numbers them).

    Example:
        >>> import numpy as np
        >>> component_labels(4, forest(np.array([2]), np.array([0]))).tolist()
        [0, 1, 0, 2]
    """
    return renumber(root_of(final, np.arange(n, dtype=np.int64)))
