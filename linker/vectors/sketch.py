"""The sketch: sparse rows (n-gram TF-IDF) projected to a few dense dimensions.

A seeded sparse ±1 map (:func:`projection`) sends each column to a few random dimensions;
rows through it (:func:`project`, :func:`sketch`) keep their cosines up to about
``1/sqrt(dim)``. The sketched sparse search of :mod:`linker.vectors.ann` finds candidates in
this space, and a routed search (:mod:`linker.vectors.route`) routes sparse rows in it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["project", "projection", "sketch"]

_CHUNK = 100_000  # rows projected at a time (the float32 product of one chunk)


def sketch(
    m: sp.csr_matrix,
    dim: int,
    *,
    seed: int = 0,
    hashes: int = 4,
    dtype: type[np.floating[Any]] = np.float32,
) -> npt.NDArray[Any]:
    """Project sparse rows to ``dim`` dense dimensions with a seeded sparse ±1 map, L2-normalised.

    Each input column adds to ``hashes`` random output dimensions with random signs (a
    sparse Johnson–Lindenstrauss map, as in a count sketch). Rows of the same vocabulary
    projected with the same ``dim`` and ``seed`` keep their cosines up to an error of
    about ``1/sqrt(dim)``: enough to find near duplicates, at the cost of one sparse product.
    ``dtype=np.float16`` halves the memory of the result (the search re-scores exactly).

    Example:
        >>> import scipy.sparse as sp
        >>> m = sp.csr_matrix(np.eye(3, 50, dtype=np.float32))
        >>> sketch(m, 16).shape
        (3, 16)
    """
    proj = projection(m.shape[1], dim, seed=seed, hashes=hashes)
    out = np.empty((m.shape[0], dim), dtype=dtype)
    for start in range(0, m.shape[0], _CHUNK):  # float32 only one chunk at a time
        out[start : start + _CHUNK] = project(m[start : start + _CHUNK], proj)
    return out


def projection(n_cols: int, dim: int, *, seed: int, hashes: int = 4) -> sp.csr_matrix:
    """The seeded sparse ±1 map of :func:`sketch`: each column to ``hashes`` dimensions.

    Example:
        >>> projection(50, 16, seed=0).shape
        (50, 16)
    """
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n_cols), hashes)
    cols = rng.integers(0, dim, size=n_cols * hashes)
    signs = (rng.integers(0, 2, size=n_cols * hashes) * 2 - 1).astype(np.float32)
    return sp.csr_matrix((signs / np.sqrt(hashes), (rows, cols)), shape=(n_cols, dim))


def project(m: sp.csr_matrix, proj: sp.csr_matrix) -> npt.NDArray[np.float32]:
    """Rows of ``m`` through ``proj`` (a :func:`projection`), L2-normalised (float32).

    Example:
        >>> m = sp.csr_matrix(np.eye(2, 50, dtype=np.float32))
        >>> project(m, projection(50, 16, seed=0)).shape
        (2, 16)
    """
    part = np.asarray((m @ proj).toarray(), dtype=np.float32)
    norms = np.linalg.norm(part, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: npt.NDArray[np.float32] = part / norms
    return out
