"""Where the heavy stages run: in this process (``"local"``, default) or on a Ray cluster.

A :class:`Backend` does the three stages whose cost grows with the data: embedding texts,
nearest-neighbour search, and the per-pair features. Two more run on the backend's
``unit_runner()``: the rare-token candidate list, as stages over row blocks and key
partitions (:mod:`linker.blocking.rare_parts`), and the decisions (assignment, clustering)
per connected component (:mod:`linker.decide.units`). Everything else (serialization, the
n-gram vocabulary, the matcher's fit) runs in the calling process on both backends, so the two
give the same output from the same data.

``"ray"`` is :class:`linker.backend.ray.RayBackend` (``pip install 'linker[ray]'``): Ray Data
``map_batches`` embeds and scores, and the search's shards (:mod:`linker.vectors.ann`) run as Ray
tasks: with ``AnnParams(shards=N)`` on both, hnswlib graphs give the local lists too; with
``AnnParams(cells=C)`` both route each query to the nearest of C regions of the items
(:mod:`linker.vectors.route`), each region a Ray task, with the same output.

Example:
    >>> get_backend(None).name
    'local'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse as sp

from linker._lazy import lazy_getattr
from linker.errors import ConfigError
from linker.protocols import Backend

if TYPE_CHECKING:
    from linker.decide.runner import UnitRunner
    from linker.vectors.ann import AnnParams, SearchMethod
    from linker.vectors.embed import Encoder

__all__ = ["Backend", "BackendSpec", "LocalBackend", "get_backend"]

logger = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]
Vectors: TypeAlias = Matrix | sp.csr_matrix


class LocalBackend:
    """Run every stage in this process, the features in chunks of ``chunk_size`` value pairs.

    Args:
        chunk_size: Distinct value pairs per feature chunk: bounds the Python strings held
            at once.

    Example:
        >>> import numpy as np
        >>> LocalBackend().search(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), 1)[0]
        array([[0],
               [1]])
    """

    name = "local"

    def __init__(self, *, chunk_size: int = 500_000):
        if chunk_size < 1:
            raise ConfigError(f"chunk_size must be at least 1, not {chunk_size}")
        self.chunk_size = chunk_size

    def embed(
        self, encoder: Encoder, texts: Sequence[str], *, show_progress: bool | None = None
    ) -> Matrix:
        """See :meth:`Backend.embed`."""
        from linker.vectors.embed import embed_texts

        return embed_texts(encoder, texts, show_progress=show_progress)

    def search(
        self,
        queries: Vectors,
        items: Vectors,
        k: int,
        *,
        method: SearchMethod = "auto",
        params: AnnParams | None = None,
    ) -> tuple[Ids, Matrix]:
        """See :meth:`Backend.search`."""
        from linker.vectors.ann import search

        return search(queries, items, k, method=method, params=params)

    def features(
        self,
        left_cols: Sequence[pl.Series],
        right_cols: Sequence[pl.Series],
        left_rows: Ids,
        right_rows: Ids,
        *,
        names: Sequence[str],
    ) -> dict[str, Matrix]:
        """See :meth:`Backend.features`."""
        from linker.scoring.features import column_features

        return column_features(
            left_cols, right_cols, left_rows, right_rows, names=names, chunk_size=self.chunk_size
        )

    def unit_runner(self) -> UnitRunner:
        """Decisions per component run here (:class:`~linker.decide.runner.InProcess`)."""
        from linker.decide.runner import InProcess

        return InProcess()

    def close(self) -> None:
        """Nothing to release."""


BackendSpec: TypeAlias = str | Backend | None


def get_backend(spec: BackendSpec, *, address: str | None = None) -> Backend:
    """Resolve ``"local"`` (or ``None``), ``"ray"`` or a :class:`Backend` object.

    Args:
        spec: The backend name or object.
        address: Ray cluster address for ``"ray"`` (``None``: start a local cluster).

    Raises:
        ConfigError: an unknown name, or ``address`` without ``"ray"``.
    """
    if spec is None or spec == "local":
        if address is not None:
            raise ConfigError("address= is for backend='ray'; the local backend takes none")
        return LocalBackend()
    if spec == "ray":
        from linker.backend.ray import RayBackend

        ray_backend: Backend = RayBackend(address=address)
        return ray_backend
    if isinstance(spec, Backend):
        return spec
    raise ConfigError(f"backend={spec!r} is not one of ['local', 'ray'] or a Backend object")


if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.backend.<module>
