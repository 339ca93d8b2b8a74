"""Routed search: items cut into regions of the vector space, each query sent to a few of them.

A broadcast sharded search (:func:`linker.vectors.ann.search` with ``AnnParams(shards=N)``)
cuts the items into slices of rows, and every query searches every slice: its cost grows
with the number of queries times the number of shards. A routed search
(``AnnParams(cells=C, probes=g)``) cuts them into ``C`` *cells*, regions of the vector space
(an inverted-file layout, as IVF indexes do):

1. :func:`quantise`: a seeded spherical k-means over a bounded sample of the items
   (``_PER_CELL`` rows per cell, at most ``_MOST_SAMPLE``) gives ``C`` unit centroids;
2. every item goes to the cells of its ``spill`` nearest centroids (an item near a border
   is then found from either side: copies cost less recall than probes, for the same work);
3. every query searches the cells of its ``g`` nearest centroids, and more (the next
   nearest) when those hold fewer than ``spill * k`` items, so each query gets its ``k``;
4. each cell is searched as a shard is, and each query's lists are merged into its top ``k``
   (an item found in two cells counted once).

:func:`plan_routes` does steps 1 to 3 and returns a :class:`Routes`; searching the cells and
merging is :mod:`linker.vectors.ann`'s (in this process, or one Ray task per cell). The plan
depends only on the vectors and the seed, so the output is the same on every run and on
either backend. A query's true neighbour is missed when it lies in a cell the query does not
probe; ``probes = cells`` probes every cell and gives the broadcast search's lists.

The planning sees vectors only through a :func:`view`: a function from row numbers to those
rows as unit float32 vectors (dense rows as they are; sparse n-gram rows through their sketch).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from linker.errors import ConfigError
from linker.vectors.sketch import project, projection

__all__ = ["Routes", "View", "check_routing", "plan_routes", "quantise", "view"]

logger = logging.getLogger(__name__)

Ids = npt.NDArray[np.int64]
Vecs = npt.NDArray[np.float32]
#: Rows (by number) of a table as unit float32 vectors.
View = Callable[[Ids], Vecs]

_PER_CELL = 256  # k-means sample rows per cell (as faiss's default)
_MOST_SAMPLE = 100_000  # and never more than this
_ITERATIONS = 20
_CHUNK_CELLS = 16_000_000  # scores per chunk of rows x centroids (64 MB of float32)
_CHUNK_ROWS = 50_000  # and rows (a dense view of 50,000 x 384 float32 is 77 MB)


def check_routing(
    cells: int | None, probes: int | None, shards: int | None, spill: int | None = None
) -> None:
    """Refuse settings that cannot route: :class:`~linker.vectors.ann.AnnParams` calls it.

    Raises:
        ConfigError: ``cells``, ``probes`` or ``spill`` below 1, ``probes`` or ``spill``
            above ``cells`` or without it, or ``cells`` with ``shards`` (regions or slices:
            one way to cut the items).

    Example:
        >>> check_routing(16, 4, None)
        >>> check_routing(16, 32, None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        linker.errors.ConfigError: AnnParams.probes=32 is more than cells=16: set it ...
    """
    for name, value in (("cells", cells), ("probes", probes), ("spill", spill)):
        if value is not None and value < 1:
            raise ConfigError(f"AnnParams.{name} must be at least 1, not {value}")
    for name, value in (("probes", probes), ("spill", spill)):
        if value is not None and cells is None:
            raise ConfigError(
                f"AnnParams.{name}={value} needs cells=: set cells= (the regions the items "
                f"are cut into) to route the search, or leave {name} unset"
            )
        if value is not None and cells is not None and value > cells:
            raise ConfigError(
                f"AnnParams.{name}={value} is more than cells={cells}: set it to at most "
                "the number of cells"
            )
    if cells is not None and shards is not None:
        raise ConfigError(
            f"AnnParams.cells={cells} and shards={shards} are two ways to cut the items "
            "(regions and slices): set one of them"
        )


def view(m: npt.NDArray[Any] | sp.csr_matrix, sketch_dim: int, *, seed: int = 0) -> View:
    """The view of ``m``'s rows routed on: dense rows as float32, sparse rows through their
    sketch (:func:`linker.vectors.sketch.sketch`'s map for ``sketch_dim`` and ``seed``).

    Example:
        >>> import numpy as np
        >>> view(np.eye(3, dtype=np.float16), 8)(np.array([1])).tolist()
        [[0.0, 1.0, 0.0]]
    """
    if not sp.issparse(m):
        return lambda rows: np.asarray(m[rows], np.float32)
    csr, proj = sp.csr_matrix(m), projection(m.shape[1], sketch_dim, seed=seed)
    return lambda rows: project(csr[rows], proj)


def _chunks(n: int, width: int) -> Iterator[Ids]:
    """Row numbers ``0..n`` in chunks: at most ``_CHUNK_ROWS`` rows, or fewer where each row
    scores ``width`` centroids, so that a chunk's views and scores stay small."""
    step = max(1, min(_CHUNK_ROWS, _CHUNK_CELLS // max(width, 1)))
    for start in range(0, n, step):
        yield np.arange(start, min(start + step, n))


def _nearest(x: Vecs, centroids: Vecs) -> tuple[Ids, Vecs]:
    """Each row's nearest centroid (lowest number on ties) and its cosine."""
    scores = x @ centroids.T
    best = np.argmax(scores, axis=1).astype(np.int64)
    return best, np.take_along_axis(scores, best[:, None], axis=1).ravel()


def quantise(sample: Vecs, cells: int, *, seed: int = 0) -> Vecs:
    """``cells`` unit centroids of the unit rows ``sample`` by seeded spherical k-means.

    The centroids start at ``cells`` distinct sample rows drawn with ``seed``; each of
    ``_ITERATIONS`` rounds assigns every row to its nearest centroid (cosine) and moves each
    centroid to the normalised mean of its rows. A centroid left without rows takes the row
    that fits its own centroid worst, so no cell starts empty.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32)
        >>> x /= np.linalg.norm(x, axis=1, keepdims=True)
        >>> c = quantise(x, 2)
        >>> sorted(np.argmax(x @ c.T, axis=1)[[0, 2]].tolist()) == [0, 1]
        True
    """
    x = np.asarray(sample, np.float32)
    rng = np.random.default_rng(seed)
    cells = min(cells, len(x))
    centroids = x[np.sort(rng.choice(len(x), size=cells, replace=False))].copy()
    for _ in range(_ITERATIONS):
        parts = [_nearest(x[rows], centroids) for rows in _chunks(len(x), cells)]
        assign = np.concatenate([p[0] for p in parts])
        fit = np.concatenate([p[1] for p in parts])
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, x)
        counts = np.bincount(assign, minlength=cells)
        empty = np.flatnonzero(counts == 0)
        if len(empty):  # the worst-fitting rows (lowest cosine, then lowest row) restart them
            sums[empty] = x[np.lexsort((np.arange(len(x)), fit))[: len(empty)]]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = np.where(norms > 0, sums / np.maximum(norms, 1e-12), centroids)
    out: Vecs = centroids.astype(np.float32)
    return out


@dataclass(frozen=True)
class Routes:
    """Which items each cell holds and which queries search it.

    Attributes:
        items: Per cell, its item row numbers (ascending).
        queries: Per cell, the query row numbers that search it (ascending).
        slots: Per cell, for each of those queries, which of its probes this cell is (0 for
            its nearest centroid): where :meth:`spread` puts the cell's lists.
        width: The most cells any query searches.
        spill: The cells each item is in.
    """

    items: list[Ids]
    queries: list[Ids]
    slots: list[Ids]
    width: int
    spill: int = 1

    def spread(
        self, parts: Sequence[tuple[Ids, Vecs]], n_queries: int, k: int
    ) -> list[tuple[Ids, Vecs]]:
        """Per-cell ``(ids, sims)`` (one row per query of the cell, ``ids`` global item rows)
        laid out as ``width`` lists of every query, one per probe, ``(-1, -inf)`` where a
        query has no such probe: ready for :func:`~linker.vectors.ann.merge_topk`.

        Example:
            >>> import numpy as np
            >>> r = Routes([np.array([0]), np.array([1])], [np.array([0]), np.array([0])],
            ...            [np.array([0]), np.array([1])], 2)
            >>> parts = [(np.array([[0]]), np.array([[0.5]], np.float32)),
            ...          (np.array([[1]]), np.array([[0.9]], np.float32))]
            >>> [ids.tolist() for ids, _ in r.spread(parts, 1, 1)]
            [[[0]], [[1]]]
        """
        ids = np.full((n_queries, self.width, k), -1, np.int64)
        sims = np.full((n_queries, self.width, k), -np.inf, np.float32)
        for (cell_ids, cell_sims), rows, slots in zip(parts, self.queries, self.slots, strict=True):
            width = cell_ids.shape[1]
            ids[rows, slots, :width] = cell_ids
            sims[rows, slots, :width] = cell_sims
        if self.spill > 1:  # an item found in two cells: keep its best score once
            flat_ids, flat_sims = ids.reshape(n_queries, -1), sims.reshape(n_queries, -1)
            order = np.lexsort((-flat_sims, flat_ids), axis=1)
            ranked = np.take_along_axis(flat_ids, order, axis=1)
            again = np.zeros_like(ranked, dtype=bool)
            again[:, 1:] = (ranked[:, 1:] == ranked[:, :-1]) & (ranked[:, 1:] >= 0)
            drop = np.zeros_like(again)
            np.put_along_axis(drop, order, again, axis=1)
            flat_ids[drop], flat_sims[drop] = -1, -np.inf
        return [(ids[:, j], sims[:, j]) for j in range(self.width)]


def _assign(view: View, n: int, centroids: Vecs, spill: int) -> Ids:
    """Every row's ``spill`` cells: its nearest centroids, nearest first (ties: lowest)."""
    cells = np.empty((n, spill), np.int64)
    for rows in _chunks(n, len(centroids)):
        scores = view(rows) @ centroids.T
        if spill == 1:
            cells[rows, 0] = np.argmax(scores, axis=1)
        else:
            cells[rows] = np.argsort(-scores, axis=1, kind="stable")[:, :spill]
    return cells


def _probes(
    view: View, n: int, centroids: Vecs, sizes: Ids, probes: int, k: int
) -> tuple[Ids, Ids, Ids]:
    """``(query, cell, slot)`` for every cell each query searches: its ``probes`` nearest
    cells, more (in order of nearness) until they hold ``k`` items."""
    qs, cs, ss = [], [], []
    for rows in _chunks(n, len(centroids)):
        scores = view(rows) @ centroids.T
        order = np.argsort(-scores, axis=1, kind="stable")
        held = np.cumsum(sizes[order], axis=1)
        count = np.maximum(probes, (held < k).sum(axis=1) + 1)
        slot = np.broadcast_to(np.arange(order.shape[1]), order.shape)
        use = slot < count[:, None]
        qs.append(np.broadcast_to(rows[:, None], order.shape)[use])
        cs.append(order[use])
        ss.append(slot[use])
    return np.concatenate(qs), np.concatenate(cs), np.concatenate(ss)


def _groups(cells: Ids, n_cells: int, *values: Ids) -> list[list[Ids]]:
    """``values`` split by cell (stable: each cell's entries keep their order)."""
    order = np.argsort(cells, kind="stable")
    cuts = np.searchsorted(cells[order], np.arange(1, n_cells))
    return [np.split(v[order], cuts) for v in values]


def plan_routes(
    queries: View,
    n_queries: int,
    items: View,
    n_items: int,
    *,
    cells: int,
    probes: int,
    k: int,
    spill: int = 1,
    seed: int = 0,
) -> Routes:
    """Cut the items into ``cells`` regions and route each query to its ``probes`` nearest.

    Args:
        queries: The queries' view (rows as unit float32 vectors).
        n_queries: Number of queries.
        items: The items' view, in the same space.
        n_items: Number of items.
        cells: Regions (capped at ``n_items``).
        probes: Cells each query searches (capped at ``cells``); more when they hold fewer
            than ``spill * k`` items.
        k: Neighbours each query needs.
        spill: Cells each item is put in (its nearest; capped at ``cells``).
        seed: Seed of the k-means sample and start.

    Returns:
        The :class:`Routes`: cells without items are left out.

    Example:
        >>> import numpy as np
        >>> v = np.eye(4, dtype=np.float32)
        >>> r = plan_routes(lambda rows: v[rows], 4, lambda rows: v[rows], 4,
        ...                 cells=4, probes=1, k=1)
        >>> [q.tolist() for q in r.queries] == [i.tolist() for i in r.items]
        True
    """
    cells = min(cells, n_items)
    probes, spill = min(probes, cells), min(spill, cells)
    rng = np.random.default_rng(seed)
    size = min(n_items, max(cells * _PER_CELL, 1), _MOST_SAMPLE)
    sample = np.sort(rng.choice(n_items, size=size, replace=False))
    centroids = quantise(items(sample), cells, seed=seed)
    item_cell = _assign(items, n_items, centroids, spill).ravel()
    sizes = np.bincount(item_cell, minlength=cells).astype(np.int64)
    q, c, s = _probes(queries, n_queries, centroids, sizes, probes, spill * min(k, n_items))
    (held,) = _groups(item_cell, cells, np.repeat(np.arange(n_items, dtype=np.int64), spill))
    rows, slots = _groups(c, cells, q, s)
    keep = [i for i in range(cells) if len(held[i]) and len(rows[i])]
    logger.debug(
        "routed search: %d cells (%d searched), %d to %d items, %.1f cells per query",
        cells, len(keep), sizes.min(), sizes.max(), len(q) / max(n_queries, 1),
    )  # fmt: skip
    return Routes(
        items=[held[i] for i in keep],
        queries=[rows[i] for i in keep],
        slots=[slots[i] for i in keep],
        width=int(s.max()) + 1 if len(s) else 0,
        spill=spill,
    )
