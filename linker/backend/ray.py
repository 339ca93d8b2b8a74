"""The Ray backend: embedding and pair features through Ray Data, search sharded over Ray tasks.

:class:`RayBackend` runs the three heavy stages of :class:`~linker.backend.Backend` on a Ray
cluster (an existing one at ``address``, or one it starts on this machine) and returns what
:class:`~linker.backend.LocalBackend` returns from the same data:

- ``embed``: each distinct text once, in large blocks through Ray Data ``map_batches``
  (one task per block, which loads the encoder once); vectors are put back in input order.
- ``search``: the shards of :mod:`linker.vectors.ann` (items cut by
  :func:`~linker.vectors.ann.shard_bounds`, each searched by
  :func:`~linker.vectors.ann.search_shard` with :func:`~linker.vectors.ann.shard_plan`'s settings,
  the top-k lists merged by :func:`~linker.vectors.ann.merge_topk`), each shard a Ray task.
  With ``AnnParams(shards=N)`` the local search runs the same shards, so the output is the
  local one, hnswlib graphs included (without it the local search builds one graph). With
  ``AnnParams(cells=C)`` the search is routed (:mod:`linker.vectors.route`): the plan is made
  here, as the local search makes it, and each cell is a Ray task
  (:func:`~linker.vectors.ann.search_cell`) that reads its rows of the tables put once in
  the object store.
- ``features``: blocks of pairs through Ray Data ``map_batches``; the compared columns go
  to the object store once, and each task reads them from there.
- ``unit_runner``: the rare-token list's stages and the decisions per connected component,
  each call a Ray task (:mod:`linker.backend.ray_decide`).
- ``read_table`` and ``write_parts``: folders of Parquet or CSV files (local, or URIs such as
  ``s3://...``) read by Ray tasks, a file each, and folders of Parquet parts written by Ray
  tasks, a part each (:mod:`linker.backend.ray_io`).

Ray is imported only when a backend first connects (``pip install 'linker[ray]'``).
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from linker._progress import want_progress
from linker.backend.ray_connect import connect
from linker.errors import ConfigError, ModelError
from linker.io.parts import PART_ROWS

if TYPE_CHECKING:
    from linker.backend import Ids, Matrix, Vectors
    from linker.decide.runner import UnitRunner
    from linker.vectors.ann import AnnParams, SearchMethod
    from linker.vectors.embed import Encoder

__all__ = ["RayBackend"]

logger = logging.getLogger(__name__)

_POS = "__lk_pos"  # input position of each row of a Ray Data block
_LAZY_SLOTS = ("_session", "_tokenizer", "_model")  # where linker's encoders keep a loaded model


def _unloaded(encoder: Encoder) -> Encoder:
    """A copy of ``encoder`` without its loaded model, so it pickles small and loads per worker."""
    clone = copy.copy(encoder)
    for slot in _LAZY_SLOTS:
        if getattr(clone, slot, None) is not None:
            setattr(clone, slot, None)
    return clone


def _fetch(value: Any) -> Any:
    """Read an object reference that Ray Data handed over unresolved (its ``fn_kwargs``)."""
    import ray

    return ray.get(value) if isinstance(value, ray.ObjectRef) else value


def _embed_block(batch: dict[str, Any], encoder: Any) -> dict[str, Any]:
    """Ray Data ``map_batches`` function: embed one block of texts.

    A task, not an actor: Ray Data starts a new process for each actor of each run (seconds),
    while its tasks run in Ray's pooled, warm workers. The encoder loads once per block, and a
    block is large (``embed_block`` texts), so the load is a small part of its time.
    """
    enc: Encoder = _fetch(encoder)
    if getattr(enc, "threads", 0) is None:  # OnnxMiniLM: not every core, one task's CPU
        setattr(enc, "threads", 1)  # noqa: B010 - not every Encoder has it
    vecs = enc.encode([str(t) for t in batch["text"]], show_progress=False)
    return {_POS: batch[_POS], "vector": vecs}


def _feature_block(
    batch: dict[str, Any], left_cols: Any, right_cols: Any, names: list[str]
) -> dict[str, Any]:
    """Ray Data ``map_batches`` function: the column features of one block of pairs."""
    from linker.scoring.features import column_features

    li = np.asarray(batch["left_row"], np.int64)
    ri = np.asarray(batch["right_row"], np.int64)
    feats = column_features(_fetch(left_cols), _fetch(right_cols), li, ri, names=names)
    return {_POS: batch[_POS], **feats}


class RayBackend:
    """Embedding, search and pair features on a Ray cluster; same output as the local backend.

    Args:
        address: A running cluster (``HOST:PORT`` of its head, ``"auto"``, or
            ``ray://HOST:PORT``, which needs ``pip install 'ray[client]'``); ``None`` starts
            a local Ray on this machine (no dashboard, quiet logs) unless this process is
            connected already.
        num_workers: Parallel workers (Ray Data tasks, search shards): default every CPU of
            the cluster. Starting a local Ray, also its CPU count (default: this machine's).
        shards: Search shards when ``AnnParams.shards`` is not set (default
            ``num_workers``).
        embed_block: Most texts per embedding block (one ``map_batches`` call).
        feature_block: Most pairs per feature block.

    Raises:
        ConfigError: (on first use) Ray is not installed, or no cluster answers at ``address``.

    Example:
        >>> backend = RayBackend(num_workers=2)  # connects (or starts Ray) on first use
        >>> backend.name
        'ray'
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_workers: int | None = None,
        shards: int | None = None,
        embed_block: int = 100_000,
        feature_block: int = 500_000,
    ):
        for label, value in (("num_workers", num_workers), ("shards", shards)):
            if value is not None and value < 1:
                raise ConfigError(f"{label} must be at least 1, not {value}")
        if embed_block < 1 or feature_block < 1:
            raise ConfigError("embed_block and feature_block must be at least 1")
        self.address = address
        self.num_workers = num_workers
        self.shards = shards
        self.embed_block = embed_block
        self.feature_block = feature_block
        self._ray: Any = None
        self._owns = False
        self._search_task: Any = None
        self._cell_task: Any = None

    # -- connection -------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._ray is None:
            self._ray, self._owns = connect(self.address, self.num_workers)
            logger.info("Ray backend: %d workers", self.workers())
        return self._ray

    def workers(self) -> int:
        """The number of parallel workers: ``num_workers``, else the cluster's CPUs."""
        if self.num_workers is not None:
            return self.num_workers
        cpus = self._connect().cluster_resources().get("CPU", 1)
        return max(1, int(cpus))

    def close(self) -> None:
        """Disconnect from (or stop) Ray, when this backend connected (or started) it."""
        if self._ray is not None and self._owns:
            self._ray.shutdown()
        self._ray, self._owns, self._search_task, self._cell_task = None, False, None, None

    @contextmanager
    def _data(self, show_progress: bool | None) -> Iterator[Any]:
        """Ray Data with progress bars only when wanted, the caller's settings restored after."""
        ray = self._connect()
        ctx = ray.data.DataContext.get_current()
        show = want_progress(show_progress, logger)
        data_logger = logging.getLogger("ray.data")  # its per-run INFO lines, unless shown
        keep = (ctx.enable_progress_bars, ctx.print_on_execution_start, data_logger.level)
        ctx.enable_progress_bars = show
        ctx.print_on_execution_start = False
        if not show:
            data_logger.setLevel(logging.ERROR)
        try:
            yield ray.data
        finally:
            ctx.enable_progress_bars, ctx.print_on_execution_start = keep[:2]
            data_logger.setLevel(keep[2])

    def _map(
        self, blocks: list[Any], fn: Any, kwargs: dict[str, Any], show: bool | None
    ) -> list[dict[str, Any]]:
        """Run ``fn`` over Arrow ``blocks`` with Ray Data, one task per block; the outputs."""
        with self._data(show) as data:
            out = data.from_arrow(blocks).map_batches(
                fn,
                fn_kwargs=kwargs,
                batch_size=None,  # one call per block
                batch_format="numpy",
                num_cpus=1,
                concurrency=max(1, min(self.workers(), len(blocks))),
            )
            # a task's exception reaches here as Ray Data's UserCodeException, whose message
            # holds the task's traceback (the original exception object does not come back)
            return list(out.iter_batches(batch_format="numpy", batch_size=None))

    def _steps(self, n: int, most: int) -> range:
        """Block starts: at least one block per worker, none above ``most`` rows."""
        blocks = max(self.workers(), -(-n // most))
        return range(0, n, max(1, -(-n // blocks)))

    # -- stages -----------------------------------------------------------------------------
    def embed(
        self, encoder: Encoder, texts: Sequence[str], *, show_progress: bool | None = None
    ) -> Matrix:
        """See :meth:`linker.backend.Backend.embed`."""
        import pyarrow as pa

        unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        if len(unique) == 0:
            from linker.vectors.embed import embed_texts

            return embed_texts(encoder, [], show_progress=False)
        ray = self._connect()
        starts = self._steps(len(unique), self.embed_block)
        blocks = [
            pa.table(
                {
                    _POS: np.arange(s, min(s + starts.step, len(unique))),
                    "text": unique[s : s + starts.step],
                }
            )
            for s in starts
        ]
        shipped = _unloaded(encoder)
        try:
            ref = ray.put(shipped)
        except Exception as e:  # pickling raises TypeError, PicklingError, ...
            raise ModelError(
                f"the encoder {encoder.name!r} cannot be sent to Ray workers ({e}): give a "
                "model name or an encoder that loads its model lazily"
            ) from e
        logger.debug("embedding %d distinct texts in %d Ray blocks", len(unique), len(blocks))
        batches = self._map(blocks, _embed_block, {"encoder": ref}, show_progress)
        dim = batches[0]["vector"].shape[1]
        vecs = np.empty((len(unique), dim), np.float32)
        for b in batches:
            vecs[b[_POS]] = b["vector"]
        out: Matrix = vecs[inverse.reshape(-1)]
        return out

    def search(
        self,
        queries: Vectors,
        items: Vectors,
        k: int,
        *,
        method: SearchMethod = "auto",
        params: AnnParams | None = None,
    ) -> tuple[Ids, Matrix]:
        """See :meth:`linker.backend.Backend.search`."""
        from linker.vectors.ann import (
            AnnParams,
            merge_topk,
            route_plan,
            search,
            search_cell,
            search_shard,
            shard_bounds,
            shard_plan,
            shard_rows,
        )

        p = params or AnnParams()
        n_items = items.shape[0]
        shards = min(p.shards or self.shards or self.workers(), n_items)
        sparse = sp.issparse(queries) or sp.issparse(items)
        if (
            (shards <= 1 and p.cells is None)
            or queries.shape[0] == 0
            or method not in ("auto", "exact", "hnsw")
            or (sparse and method == "hnsw")
        ):
            return search(queries, items, k, method=method, params=p)  # its checks and results
        if k < 1:
            raise ConfigError(f"k must be at least 1, not {k}")
        shard_method, shard_params = shard_plan(queries, items, method, p)
        ray = self._connect()
        routes = route_plan(queries, items, k, method, p)
        if routes is not None:  # one task per cell: each reads its rows of the shared tables
            if self._cell_task is None:
                self._cell_task = ray.remote(num_cpus=1)(search_cell)
            qref, iref = ray.put(queries), ray.put(items)
            cells = zip(routes.queries, routes.items, strict=True)
            refs = [
                self._cell_task.remote(qref, iref, q, i, k, shard_method, shard_params)
                for q, i in cells
            ]
            kk = min(k, n_items)
            return merge_topk(routes.spread(ray.get(refs), queries.shape[0], kk), kk)
        if p.cells is not None:  # a search that builds no graph is not routed (nor sharded)
            return search(queries, items, k, method=method, params=p)
        if self._search_task is None:
            self._search_task = ray.remote(num_cpus=1)(search_shard)
        qref = ray.put(queries)
        bounds = shard_bounds(n_items, shards)
        refs = [
            self._search_task.remote(
                qref, shard_rows(items, int(a), int(b)), k, shard_method, shard_params, int(a)
            )
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        return merge_topk(ray.get(refs), min(k, n_items))

    def features(
        self,
        left_cols: Sequence[pl.Series],
        right_cols: Sequence[pl.Series],
        left_rows: Ids,
        right_rows: Ids,
        *,
        names: Sequence[str],
    ) -> dict[str, Matrix]:
        """See :meth:`linker.backend.Backend.features`."""
        import pyarrow as pa

        from linker.scoring.features import column_features

        n = len(left_rows)
        if n == 0:
            return column_features(left_cols, right_cols, left_rows, right_rows, names=names)
        ray = self._connect()
        lref = ray.put(list(left_cols))
        rref = lref if right_cols is left_cols else ray.put(list(right_cols))
        starts = self._steps(n, self.feature_block)
        blocks = [
            pa.table(
                {
                    _POS: np.arange(s, min(s + starts.step, n)),
                    "left_row": left_rows[s : s + starts.step],
                    "right_row": right_rows[s : s + starts.step],
                }
            )
            for s in starts
        ]
        kwargs = {"left_cols": lref, "right_cols": rref, "names": list(names)}
        batches = self._map(blocks, _feature_block, kwargs, False)
        out: dict[str, Matrix] = {}
        for b in batches:
            for key, values in b.items():
                if key != _POS:
                    out.setdefault(key, np.empty(n, np.float32))[b[_POS]] = values
        return out

    # -- files ----------------------------------------------------------------------------
    def read_table(
        self,
        source: str | os.PathLike[str],
        *,
        delimiter: str | None = None,
        encoding: str | None = None,
    ) -> pl.DataFrame:
        """Read a table with Ray workers: a folder of Parquet or CSV files, or a URI
        (``s3://bucket/left/``), a Ray task per file (:mod:`linker.backend.ray_io`); one local
        file as :func:`linker.read` reads it. The frame is :func:`linker.read`'s.

        Raises:
            InputError: see :func:`linker.read`.
        """
        from linker.backend.ray_io import read_table

        return read_table(self._connect(), source, delimiter=delimiter, encoding=encoding)

    def write_parts(
        self, frame: pl.DataFrame, path: str | Path, *, rows_per_part: int = PART_ROWS
    ) -> list[Path]:
        """Write ``frame`` as a folder of Parquet parts, each written by a Ray task
        (:mod:`linker.io.parts`: atomic, ``part-00000.parquet``, ...); returns their paths.

        Raises:
            ConfigError: see :func:`linker.io.parts.check_folder`.
        """
        from linker.backend.ray_io import write_parts

        return write_parts(self._connect(), frame, path, rows_per_part=rows_per_part)

    def unit_runner(self) -> UnitRunner:
        """Staged work (rare tokens, decisions per component) as Ray tasks
        (:mod:`linker.backend.ray_decide`)."""
        from linker.backend.ray_decide import RayUnits

        return RayUnits(self._connect(), self.workers())

    def __repr__(self) -> str:
        where = self.address or "local"
        return f"RayBackend(address={where!r}, num_workers={self.num_workers})"
