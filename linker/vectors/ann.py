"""Nearest-neighbour search: exact (dense or sparse) and hnswlib ANN, behind one function.

:func:`search` is the one embed-and-search loop of the project: blocking, schema and taxonomy
matching all call it. Small item sets are searched exactly (a chunked matrix product);
large dense ones through an hnswlib graph (cosine on unit vectors).

A large graph is built and searched by every core (``AnnParams.threads``), and hnswlib's
multi-threaded inserts give a slightly different graph on each run. ``AnnParams(shards=N)``
trades speed for reproducible output instead: the items are cut into N slices
(:func:`shard_bounds`), each gets its own graph built and searched by one thread
(:func:`search_shard`), ``threads`` slices side by side, and their top-k lists are merged
(:func:`merge_topk`). A one-thread graph is the same on every run, so the output is too, and
the Ray backend, which runs the same shards as Ray tasks, gives the same output as this
process. Each query then searches every shard, which costs time and memory at a million rows
(measured in ``benchmarks/results/scale_notes.md``, "Sharded graphs"). ``AnnParams(cells=C)``
routes instead (:mod:`linker.vectors.route`): the items are cut into ``C`` regions of the
vector space, each query searches the ``probes`` nearest (:func:`route_plan`,
:func:`search_cell`), and the lists are merged the same way.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from linker._progress import progress, want_progress
from linker.errors import ConfigError
from linker.vectors.exact import item_columns, sparse_scores, topk_rows
from linker.vectors.route import Routes, check_routing, plan_routes, view
from linker.vectors.sketch import project, projection, sketch

__all__ = [
    "AnnParams",
    "SearchMethod",
    "merge_topk",
    "pair_dots",
    "route_plan",
    "search",
    "search_cell",
    "search_shard",
    "shard_bounds",
    "shard_plan",
    "shard_rows",
    "sketch",
    "topk_rows",
]

logger = logging.getLogger(__name__)

SearchMethod = Literal["auto", "exact", "hnsw"]
Ids = npt.NDArray[np.int64]
Sims = npt.NDArray[np.float32]
_ANN_CHUNK = 100_000  # vectors added to / searched in an hnswlib graph per call
_CHUNK_CELLS = 16_000_000  # dense cells per chunk of an exact search (64 MB of float32)
_PROBES, _SPILL = 4, 2  # AnnParams.probes and spill by default


@dataclass(frozen=True)
class AnnParams:
    """hnswlib settings.

    Args:
        M: Graph degree (16–48 is usual; higher = better recall, more memory).
        ef_construction: Build-time beam width; ``None``: 200 below ``parallel_from`` items,
            100 from there (on 100k demo firms: blocking recall 0.9732 against 0.9748, in
            about half the time).
        ef_search: Query-time beam width; ``None``: ``max(4 * k, 128)`` below
            ``parallel_from`` items, ``max(2 * k, 64)`` from there.
        exact_below: Item counts below this are searched exactly (no index is built).
        sparse_exact_below: Sparse (n-gram) item counts below this are searched exactly;
            above it both sides are projected to ``sketch_dim`` dense dimensions (a seeded
            random ±1 projection, which keeps cosines within about ``1/sqrt(sketch_dim)``)
            and searched with hnswlib: an exact sparse search grows with the product of the
            two table sizes.
        sketch_dim: Dimensions of that projection.
        seed: Random seed of the graph and the projection.
        threads: Cores a graph search uses. ``None`` (default): one below ``parallel_from``
            items, every usable core from there.
        shards: Item slices of a graph search, each with its own graph built and searched
            by one thread, ``threads`` of them at a time, their top-k merged: the same output
            on every run, and from the Ray backend, at some cost in time and memory (see
            the module docstring). ``None`` (default): one graph, built by ``threads``
            threads, which from ``parallel_from`` items is not reproducible.
        cells: Route graph searches instead (:mod:`linker.vectors.route`): the items are
            cut into this many regions by a seeded k-means, each with its own one-thread
            search, and each query searches only the ``probes`` regions nearest to it (sparse
            rows are routed on their sketch): the same output on every run and from the Ray
            backend, at a cost in recall where a neighbour lies in a region not probed.
            ``None`` (default): not routed. Not with ``shards``.
        probes: Regions each query searches (default 4), more where those hold fewer than
            ``spill * k`` items; ``probes=cells`` searches them all, as ``shards`` does.
        spill: Regions each item is put in, its nearest (default 2): an item near a border
            is found from either side, for twice the items to index.
        parallel_from: Item count from which ``threads=None`` uses every core.
        index_dir: A folder where built hnswlib graphs are saved, keyed by a hash of their
            items and settings, and loaded again instead of rebuilt (``None``: not kept).
    """

    M: int = 16
    ef_construction: int | None = None
    ef_search: int | None = None
    exact_below: int = 20_000
    sparse_exact_below: int = 50_000
    sketch_dim: int = 256
    seed: int = 0
    threads: int | None = None
    shards: int | None = None
    cells: int | None = None
    probes: int | None = None
    spill: int | None = None
    parallel_from: int = 100_000
    index_dir: str | None = None

    def __post_init__(self) -> None:
        for name in ("threads", "shards"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"AnnParams.{name} must be at least 1, not {value}")
        check_routing(self.cells, self.probes, self.shards, self.spill)


def _ranked(
    ids: npt.NDArray[Any], sims: npt.NDArray[Any], k: int | None = None
) -> tuple[Ids, Sims]:
    """Each row's ``(id, score)`` entries best first, ties by id, the first ``k`` kept: the
    order every search returns."""
    order = np.lexsort((ids, -sims), axis=1)[:, :k]
    return (
        np.take_along_axis(ids, order, axis=1).astype(np.int64),
        np.take_along_axis(sims, order, axis=1).astype(np.float32),
    )


def _exact(
    queries: npt.NDArray[np.float32] | sp.csr_matrix,
    items: npt.NDArray[np.float32] | sp.csr_matrix,
    k: int,
) -> tuple[Ids, Sims]:
    n_q, n_i = queries.shape[0], items.shape[0]
    step = max(1, _CHUNK_CELLS // max(n_i, 1))
    if sp.issparse(items):
        items_t: Any = item_columns(items)
    else:  # float16 vectors (kept so at scale) are multiplied in float32: BLAS has no float16
        items_t = np.asarray(items, dtype=np.float32).T
    ids, sims = [], []
    for start in range(0, n_q, step):
        part = queries[start : start + step]
        if sp.issparse(items):  # n-gram rows: straight into a dense block, on every core
            block: Any = sparse_scores(part, items_t)
        else:
            block = part @ items_t if sp.issparse(part) else np.asarray(part, np.float32) @ items_t
        dense = block.toarray() if sp.issparse(block) else np.asarray(block)
        i, s = topk_rows(dense.astype(np.float32, copy=False), k)
        ids.append(i)
        sims.append(s)
    if not ids:
        kk = min(k, n_i)
        return np.zeros((0, kk), np.int64), np.zeros((0, kk), np.float32)
    return np.vstack(ids), np.vstack(sims)


def _ef_construction(n_items: int, p: AnnParams) -> int:
    if p.ef_construction is not None:
        return p.ef_construction
    return 100 if n_items >= p.parallel_from else 200


def _ef_search(n_items: int, k: int, p: AnnParams) -> int:
    if p.ef_search is not None:
        return max(p.ef_search, k)
    return max(2 * k, 64) if n_items >= p.parallel_from else max(4 * k, 128)


def _threads(n_items: int, p: AnnParams) -> int:
    if p.threads is not None:
        return p.threads
    return len(os.sched_getaffinity(0)) if n_items >= p.parallel_from else 1


def _shards(n_items: int, p: AnnParams) -> int:
    return min(p.shards or 1, n_items)


def _index_path(items: npt.NDArray[np.float32], p: AnnParams) -> Path | None:
    if p.index_dir is None:
        return None
    efc = _ef_construction(items.shape[0], p)
    h = hashlib.sha256(f"{items.shape}|{items.dtype}|{p.M}|{efc}|{p.seed}".encode())
    h.update(np.ascontiguousarray(items).data)
    return Path(p.index_dir) / f"hnsw-{h.hexdigest()[:32]}.bin"


def _build(items: npt.NDArray[np.float32], p: AnnParams) -> Any:
    """An hnswlib graph over ``items``, read from ``p.index_dir`` when built there before."""
    import hnswlib

    index = hnswlib.Index(space="ip", dim=items.shape[1])
    path = _index_path(items, p)
    if path is not None and path.is_file():
        logger.info("hnsw index of %d items read from %s", items.shape[0], path)
        index.load_index(str(path), max_elements=items.shape[0])
        return index
    index.init_index(
        max_elements=items.shape[0],
        M=p.M,
        ef_construction=_ef_construction(items.shape[0], p),
        random_seed=p.seed,
    )
    n, threads = items.shape[0], _threads(items.shape[0], p)
    starts = range(0, n, _ANN_CHUNK)
    show = want_progress(None, logger) and n > _ANN_CHUNK
    for start in progress(starts, total=len(starts), desc="index", show=show, unit="chunk"):
        chunk = np.asarray(items[start : start + _ANN_CHUNK], dtype=np.float32)
        index.add_items(chunk, np.arange(start, start + len(chunk)), num_threads=threads)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        index.save_index(str(tmp))
        tmp.replace(path)
    return index


def _hnsw(
    queries: npt.NDArray[np.floating[Any]], items: npt.NDArray[np.floating[Any]], k: int,
    p: AnnParams,
) -> tuple[Ids, Sims]:  # fmt: skip
    n_q = queries.shape[0]
    chunks = (queries[s : s + _ANN_CHUNK] for s in range(0, n_q, _ANN_CHUNK))
    return _query(_build(items, p), items.shape[0], chunks, n_q, k, p)


def _query(
    index: Any, n_items: int, chunks: Iterable[npt.NDArray[Any]], n_q: int, k: int, p: AnnParams
) -> tuple[Ids, Sims]:
    """Search a built graph with query chunks (``_ANN_CHUNK`` rows each, made as they are
    consumed, so a caller can compute them one at a time)."""
    k = min(k, n_items)
    index.set_ef(_ef_search(n_items, k, p))
    threads = _threads(n_items, p)
    labels = np.empty((n_q, k), np.int64)
    dists = np.empty((n_q, k), np.float32)
    n_chunks = -(-n_q // _ANN_CHUNK)
    show = want_progress(None, logger) and n_q > _ANN_CHUNK
    start = 0
    for part in progress(chunks, total=n_chunks, desc="search", show=show, unit="chunk"):
        chunk = np.asarray(part, dtype=np.float32)
        lab, dist = index.knn_query(chunk, k=k, num_threads=threads)
        labels[start : start + len(chunk)], dists[start : start + len(chunk)] = lab, dist
        start += len(chunk)
    return _ranked(labels, 1.0 - dists)


def pair_dots(
    a: npt.NDArray[np.floating[Any]] | sp.csr_matrix,
    b: npt.NDArray[np.floating[Any]] | sp.csr_matrix,
    a_rows: Ids,
    b_rows: Ids,
) -> Sims:
    """Inner product of ``a[a_rows[i]]`` and ``b[b_rows[i]]`` for each ``i``, dense or sparse.

    Rows are read in place, dense ones by :func:`linker._kernels.dense_pair_dots`, sparse
    (CSR) ones by :func:`linker._kernels.csr_pair_dots`.

    Example:
        >>> v = np.eye(2, dtype=np.float32)
        >>> pair_dots(v, v, np.array([0, 0]), np.array([0, 1])).tolist()
        [1.0, 0.0]
    """
    if sp.issparse(a):
        from linker._kernels import csr_pair_dots

        # a matrix already CSR goes as it is: a copy of the object would check its index
        # order again (a pass over every entry, per call of a chunked search)
        a_csr = a if isinstance(a, sp.csr_matrix) else sp.csr_matrix(a)
        b_csr = b if isinstance(b, sp.csr_matrix) else sp.csr_matrix(b)
        return csr_pair_dots(a_csr, b_csr, a_rows, b_rows)
    from linker._kernels import dense_pair_dots

    return dense_pair_dots(np.asarray(a), np.asarray(b), a_rows, b_rows)


def _sketched(
    queries: sp.csr_matrix, items: sp.csr_matrix, k: int, p: AnnParams
) -> tuple[Ids, Sims]:
    """Sparse search through a sketch: hnswlib finds ``2k`` per query, exact cosines keep ``k``.

    The sketch's cosines are off by about ``1/sqrt(sketch_dim)``, enough to reorder close
    candidates; fetching twice as many and re-scoring them on the sparse rows recovers
    most of what the projection loses (10k demo firms, n-gram recall@10: 0.991 -> 0.994).
    """
    fetch = min(2 * k, items.shape[0])
    # float16 halves the sketch (the candidates are re-scored exactly below); the items' sketch
    # is dropped once the graph holds its own copy, and the queries go a chunk at a time
    # (sketched, searched, re-scored), so the fetched lists never exist for all queries at
    # once: at a million rows a whole sketch is 0.5 GB, the fetched lists and their scores 1 GB
    index = _build(sketch(items, p.sketch_dim, seed=p.seed, dtype=np.float16), p)
    n_q, keep = queries.shape[0], min(k, fetch)
    proj = projection(queries.shape[1], p.sketch_dim, seed=p.seed)  # the map sketch() used
    out_ids, out_sims = np.empty((n_q, keep), np.int64), np.empty((n_q, keep), np.float32)
    starts = range(0, n_q, _ANN_CHUNK)
    show = want_progress(None, logger) and n_q > _ANN_CHUNK
    for start in progress(starts, total=len(starts), desc="search", show=show, unit="chunk"):
        part = queries[start : start + _ANN_CHUNK]
        n = part.shape[0]
        ids, _ = _query(index, items.shape[0], [project(part, proj)], n, fetch, p)
        qi = np.repeat(np.arange(start, start + n), fetch)
        exact = pair_dots(queries, items, qi, ids.ravel()).reshape(ids.shape)
        out_ids[start : start + n], out_sims[start : start + n] = _ranked(ids, exact, keep)
    return out_ids, out_sims


def shard_bounds(n_items: int, shards: int) -> npt.NDArray[np.int64]:
    """Where the items are cut into ``shards`` slices of (nearly) equal size: ``shards + 1``
    row numbers, from 0 to ``n_items``.

    Example:
        >>> shard_bounds(10, 3).tolist()
        [0, 3, 6, 10]
    """
    return np.linspace(0, n_items, shards + 1).astype(np.int64)


def shard_plan(
    queries: npt.NDArray[Any] | sp.csr_matrix,
    items: npt.NDArray[Any] | sp.csr_matrix,
    method: SearchMethod,
    p: AnnParams,
) -> tuple[SearchMethod, AnnParams]:
    """The method and settings of each shard, so that every shard decides as one search of
    all the items would (:func:`search`'s rules key on the item count, and a shard holds
    fewer): exact or hnswlib, the sparse sketch, the large-graph beam widths; each shard
    is one thread's work.

    Example:
        >>> import numpy as np
        >>> v = np.zeros((30_000, 4), np.float32)
        >>> m, p = shard_plan(v, v, "auto", AnnParams())
        >>> m, p.threads, p.shards, p.cells
        ('hnsw', 1, 1, None)
    """
    n_items = items.shape[0]
    changes: dict[str, Any] = dict(threads=1, shards=1, cells=None, probes=None, spill=None)
    if n_items >= p.parallel_from:
        changes["parallel_from"] = 0
    if not (sp.issparse(queries) or sp.issparse(items)):
        dense_ann = method == "hnsw" or (method == "auto" and n_items >= p.exact_below)
        return ("hnsw" if dense_ann else "exact"), replace(p, **changes)
    if method == "auto" and n_items >= p.sparse_exact_below:
        changes["sparse_exact_below"] = 0  # sketch, hnswlib, exact re-scoring: on every shard
        return "auto", replace(p, **changes)
    return "exact", replace(p, **changes)


def search_shard(
    queries: npt.NDArray[Any] | sp.csr_matrix,
    items: npt.NDArray[Any] | sp.csr_matrix,
    k: int,
    method: SearchMethod,
    params: AnnParams,
    offset: int,
) -> tuple[Ids, Sims]:
    """One shard's top-``k`` (``items`` is the slice): row numbers shifted by ``offset``.

    Example:
        >>> import numpy as np
        >>> v = np.eye(3, dtype=np.float32)
        >>> search_shard(v, v[1:], 1, "exact", AnnParams(), 1)[0].ravel().tolist()
        [1, 1, 2]
    """
    ids, sims = search(queries, items, k, method=method, params=params)
    return ids + offset, sims


def merge_topk(parts: Sequence[tuple[Ids, Sims]], k: int) -> tuple[Ids, Sims]:
    """Merge per-shard top-k lists (global row numbers) into the global top ``k``.

    Best first, ties by row number, as :func:`search` orders them.

    Example:
        >>> import numpy as np
        >>> a = (np.array([[0, 1]]), np.array([[0.9, 0.5]], np.float32))
        >>> b = (np.array([[3, 2]]), np.array([[0.9, 0.7]], np.float32))
        >>> merge_topk([a, b], 3)[0].tolist()
        [[0, 3, 2]]
    """
    ids = np.concatenate([p[0] for p in parts], axis=1)
    return _ranked(ids, np.concatenate([p[1] for p in parts], axis=1), k)


def shard_rows(m: npt.NDArray[Any] | sp.csr_matrix, a: int, b: int) -> Any:
    """Rows ``a:b`` without a copy: scipy copies a CSR row slice (1.5 GB for the right
    n-gram rows of the 1M demo firms), this shares the rows' arrays.

    Example:
        >>> import scipy.sparse as sp
        >>> m = sp.csr_matrix(np.eye(3, dtype=np.float32))
        >>> shard_rows(m, 1, 3).toarray().tolist()
        [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if not sp.issparse(m):
        return m[a:b]
    csr = sp.csr_matrix(m)
    lo, hi = int(csr.indptr[a]), int(csr.indptr[b])
    return sp.csr_matrix(
        (csr.data[lo:hi], csr.indices[lo:hi], csr.indptr[a : b + 1] - lo),
        shape=(b - a, csr.shape[1]),
        copy=False,
    )


def _sharded(
    queries: npt.NDArray[Any] | sp.csr_matrix,
    items: npt.NDArray[Any] | sp.csr_matrix,
    k: int,
    method: SearchMethod,
    p: AnnParams,
) -> tuple[Ids, Sims]:
    """A graph search as ``p.shards`` one-thread searches, ``threads`` at a time (hnswlib and
    the sparse products release the GIL), merged."""
    shards = _shards(items.shape[0], p)
    shard_method, shard_params = shard_plan(queries, items, method, p)
    bounds = shard_bounds(items.shape[0], shards)
    logger.debug("graph search over %d shards", shards)

    def one(i: int) -> tuple[Ids, Sims]:
        a, b = int(bounds[i]), int(bounds[i + 1])
        return search_shard(queries, shard_rows(items, a, b), k, shard_method, shard_params, a)

    with ThreadPoolExecutor(max_workers=min(shards, _threads(items.shape[0], p))) as pool:
        parts = list(pool.map(one, range(shards)))
    return merge_topk(parts, min(k, items.shape[0]))


def _graph_search(queries: Any, items: Any, method: SearchMethod, p: AnnParams) -> bool:
    """Whether :func:`search` builds a graph: hnswlib, or the sketch's of a sparse search."""
    if sp.issparse(queries) or sp.issparse(items):
        return method == "auto" and items.shape[0] >= p.sparse_exact_below
    return method == "hnsw" or (method == "auto" and items.shape[0] >= p.exact_below)


def route_plan(
    queries: npt.NDArray[Any] | sp.csr_matrix,
    items: npt.NDArray[Any] | sp.csr_matrix,
    k: int,
    method: SearchMethod,
    p: AnnParams,
) -> Routes | None:
    """The cells of a routed search (:func:`linker.vectors.route.plan_routes`, sparse rows
    routed on their :func:`sketch`), or ``None`` where :func:`search` does not route: no
    ``p.cells``, no rows, or a search that builds no graph.

    Example:
        >>> import numpy as np
        >>> v = np.eye(4, dtype=np.float32)
        >>> len(route_plan(v, v, 1, "hnsw", AnnParams(cells=2, probes=1)).items)
        2
    """
    empty = 0 in items.shape[:1] + queries.shape[:1]
    if p.cells is None or empty or not _graph_search(queries, items, method, p):
        return None
    n_q, n_i = queries.shape[0], items.shape[0]
    q, i = view(queries, p.sketch_dim, seed=p.seed), view(items, p.sketch_dim, seed=p.seed)
    probes, spill = p.probes or _PROBES, p.spill or _SPILL
    return plan_routes(q, n_q, i, n_i, cells=p.cells, probes=probes, k=k, spill=spill, seed=p.seed)


def search_cell(
    queries: npt.NDArray[Any] | sp.csr_matrix, items: npt.NDArray[Any] | sp.csr_matrix,
    query_rows: Ids, item_rows: Ids, k: int, method: SearchMethod, params: AnnParams,
) -> tuple[Ids, Sims]:  # fmt: skip
    """One cell of a routed search: its queries' top-``k`` among its items (global rows).

    Example:
        >>> import numpy as np
        >>> v = np.eye(3, dtype=np.float32)
        >>> search_cell(v, v, np.array([2]), np.array([1, 2]), 1, "exact", AnnParams())[0]
        array([[2]])
    """
    ids, sims = search(queries[query_rows], items[item_rows], k, method=method, params=params)
    return item_rows[ids], sims


def _routed(
    queries: npt.NDArray[Any] | sp.csr_matrix, items: npt.NDArray[Any] | sp.csr_matrix,
    k: int, method: SearchMethod, p: AnnParams, routes: Routes,
) -> tuple[Ids, Sims]:  # fmt: skip
    """A routed search in this process: one-thread cell searches, ``threads`` at a time (the
    largest first), merged."""
    cell_method, cell_params = shard_plan(queries, items, method, p)
    cells = len(routes.items)

    def one(c: int) -> tuple[Ids, Sims]:
        q, i = routes.queries[c], routes.items[c]
        return search_cell(queries, items, q, i, k, cell_method, cell_params)

    order = sorted(range(cells), key=lambda c: -len(routes.items[c]))
    with ThreadPoolExecutor(max_workers=min(cells, _threads(items.shape[0], p))) as pool:
        done = dict(zip(order, pool.map(one, order), strict=True))
    kk = min(k, items.shape[0])
    return merge_topk(routes.spread([done[c] for c in range(cells)], queries.shape[0], kk), kk)


def search(
    queries: npt.NDArray[np.float32] | sp.csr_matrix,
    items: npt.NDArray[np.float32] | sp.csr_matrix,
    k: int,
    *,
    method: SearchMethod = "auto",
    params: AnnParams | None = None,
) -> tuple[Ids, Sims]:
    """Find the ``k`` items most similar (inner product) to each query.

    Rows must be L2-normalised for the scores to be cosines. With ``method="auto"``, dense
    inputs are searched exactly below ``params.exact_below`` items and with hnswlib above
    it; sparse inputs (n-gram TF-IDF) exactly below ``params.sparse_exact_below`` items and
    above it through a dense :func:`sketch` and hnswlib, whose ``2k`` candidates are then
    re-scored with exact cosines. With ``params.shards``, graph searches run as that many
    one-thread shards; with ``params.cells``, routed to the nearest of that many regions
    (see the module docstring).

    Args:
        queries: ``(n_q, d)`` dense float32 array or CSR matrix.
        items: ``(n_i, d)`` array or CSR matrix of the same kind.
        k: Neighbours per query (capped at ``n_i``).
        method: ``"auto"``, ``"exact"`` or ``"hnsw"``.
        params: hnswlib settings.

    Returns:
        ``(ids, sims)``, both ``(n_q, min(k, n_i))``: item row numbers and similarities,
        best first, ties broken by row number.

    Example:
        >>> import numpy as np
        >>> v = np.eye(3, dtype=np.float32)
        >>> search(v, v, 1)[0].ravel().tolist()
        [0, 1, 2]
    """
    p = params or AnnParams()
    if method not in ("auto", "exact", "hnsw"):
        raise ConfigError(f"method={method!r} is not one of ['auto', 'exact', 'hnsw']")
    if k < 1:
        raise ConfigError(f"k must be at least 1, not {k}")
    n_items = items.shape[0]
    if n_items == 0 or queries.shape[0] == 0:
        kk = min(k, n_items)
        return np.zeros((queries.shape[0], kk), np.int64), np.zeros(
            (queries.shape[0], kk), np.float32
        )
    sparse = sp.issparse(queries) or sp.issparse(items)
    if sparse and method == "hnsw":
        raise ConfigError("hnsw search needs dense vectors; sparse inputs are searched exactly")
    graph = _graph_search(queries, items, method, p)
    sketched, use_hnsw = graph and sparse, graph and not sparse
    routes = route_plan(queries, items, k, method, p)
    if routes is not None:
        return _routed(queries, items, k, method, p, routes)
    if graph and _shards(n_items, p) > 1:
        return _sharded(queries, items, k, method, p)
    if sketched:
        logger.debug("sparse search of %d items through a %d-d sketch", n_items, p.sketch_dim)
        return _sketched(sp.csr_matrix(queries), sp.csr_matrix(items), k, p)
    logger.debug(
        "search %d x %d, k=%d, %s", queries.shape[0], n_items, k, "hnsw" if use_hnsw else "exact"
    )
    if use_hnsw:
        return _hnsw(np.asarray(queries), np.asarray(items), k, p)
    return _exact(queries, items, k)
