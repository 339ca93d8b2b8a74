"""Nearest-neighbour search: exact (dense or sparse) and hnswlib ANN, behind one function.

:func:`search` is the one embed-and-search loop of the project: blocking, schema and taxonomy
matching all call it. Small item sets are searched exactly (a chunked matrix product);
large dense ones through an hnswlib graph (cosine on unit vectors).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from linker.errors import ConfigError

__all__ = ["AnnParams", "SearchMethod", "search", "topk_rows"]

logger = logging.getLogger(__name__)

SearchMethod = Literal["auto", "exact", "hnsw"]
Ids = npt.NDArray[np.int64]
Sims = npt.NDArray[np.float32]
_CHUNK_CELLS = 16_000_000  # dense cells per chunk of an exact search (64 MB of float32)


@dataclass(frozen=True)
class AnnParams:
    """hnswlib settings.

    Args:
        M: Graph degree (16–48 is usual; higher = better recall, more memory).
        ef_construction: Build-time beam width.
        ef_search: Query-time beam width; ``None`` uses ``max(4 * k, 128)``.
        exact_below: Item counts below this are searched exactly (no index is built).
        seed: Random seed of the graph.
        threads: Insert/query threads (``1`` makes the graph deterministic).
    """

    M: int = 16
    ef_construction: int = 200
    ef_search: int | None = None
    exact_below: int = 20_000
    seed: int = 0
    threads: int = 1


def topk_rows(scores: npt.NDArray[np.float32], k: int) -> tuple[Ids, Sims]:
    """Top-``k`` columns of each row of a dense score matrix, best first, ties by column.

    Example:
        >>> import numpy as np
        >>> topk_rows(np.array([[0.1, 0.9, 0.5]], dtype=np.float32), 2)[0].tolist()
        [[1, 2]]
    """
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k == 0:
        return np.zeros((n_rows, 0), np.int64), np.zeros((n_rows, 0), np.float32)
    if k < n_cols:
        cand = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(scores, cand, axis=1).min(axis=1)
        # argpartition picks arbitrarily among values tied with the k-th: redo those rows stably
        tied = np.flatnonzero((scores >= kth[:, None]).sum(axis=1) > k)
        if len(tied):
            cand[tied] = np.argsort(-scores[tied], axis=1, kind="stable")[:, :k]
    else:
        cand = np.tile(np.arange(n_cols), (n_rows, 1))
    vals = np.take_along_axis(scores, cand, axis=1)
    order = np.lexsort((cand, -vals), axis=1)  # by score desc, then column asc
    idx = np.take_along_axis(cand, order, axis=1).astype(np.int64)
    return idx, np.take_along_axis(vals, order, axis=1).astype(np.float32)


def _exact(
    queries: npt.NDArray[np.float32] | sp.csr_matrix,
    items: npt.NDArray[np.float32] | sp.csr_matrix,
    k: int,
) -> tuple[Ids, Sims]:
    n_q, n_i = queries.shape[0], items.shape[0]
    step = max(1, _CHUNK_CELLS // max(n_i, 1))
    items_t: Any = items.T.tocsc() if sp.issparse(items) else items.T  # type: ignore[union-attr]
    ids, sims = [], []
    for start in range(0, n_q, step):
        block: Any = queries[start : start + step] @ items_t
        dense = block.toarray() if sp.issparse(block) else np.asarray(block)
        i, s = topk_rows(dense.astype(np.float32, copy=False), k)
        ids.append(i)
        sims.append(s)
    if not ids:
        kk = min(k, n_i)
        return np.zeros((0, kk), np.int64), np.zeros((0, kk), np.float32)
    return np.vstack(ids), np.vstack(sims)


def _hnsw(
    queries: npt.NDArray[np.float32], items: npt.NDArray[np.float32], k: int, p: AnnParams
) -> tuple[Ids, Sims]:
    import hnswlib

    index = hnswlib.Index(space="ip", dim=items.shape[1])
    index.init_index(
        max_elements=items.shape[0], M=p.M, ef_construction=p.ef_construction, random_seed=p.seed
    )
    index.add_items(items, np.arange(items.shape[0]), num_threads=p.threads)
    k = min(k, items.shape[0])
    index.set_ef(max(p.ef_search or max(4 * k, 128), k))
    labels, dists = index.knn_query(queries, k=k, num_threads=p.threads)
    sims = (1.0 - dists).astype(np.float32)
    order = np.lexsort((labels, -sims), axis=1)
    return (
        np.take_along_axis(labels, order, axis=1).astype(np.int64),
        np.take_along_axis(sims, order, axis=1),
    )


def search(
    queries: npt.NDArray[np.float32] | sp.csr_matrix,
    items: npt.NDArray[np.float32] | sp.csr_matrix,
    k: int,
    *,
    method: SearchMethod = "auto",
    params: AnnParams | None = None,
) -> tuple[Ids, Sims]:
    """Find the ``k`` items most similar (inner product) to each query.

    Rows must be L2-normalised for the scores to be cosines. Sparse inputs (n-gram TF-IDF)
    are always searched exactly; dense ones exactly below ``params.exact_below`` items and
    with hnswlib above it (``method="auto"``).

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
    use_hnsw = not sparse and (method == "hnsw" or (method == "auto" and n_items >= p.exact_below))
    logger.debug(
        "search %d x %d, k=%d, %s", queries.shape[0], n_items, k, "hnsw" if use_hnsw else "exact"
    )
    if use_hnsw:
        return _hnsw(np.asarray(queries), np.asarray(items), k, p)
    return _exact(queries, items, k)
