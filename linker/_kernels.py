"""Compiled loops (numba) for the few hot spots that numpy and scipy cannot vectorise.

Compiled on first use and cached next to this file (``cache=True``), so a process pays the
compile (about a second) once per machine, not once per call.
"""

from __future__ import annotations

import threading
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["csr_pair_dots"]

# numba's default threading layer (workqueue) aborts the process when two threads launch
# parallel kernels at once; callers on other threads (a web app, a thread pool) queue here.
_LAUNCH = threading.Lock()


@numba.njit(parallel=True, cache=True, nogil=True)
def _csr_pair_dots(
    a_ptr: Any, a_idx: Any, a_val: Any, b_ptr: Any, b_idx: Any, b_val: Any,
    a_rows: Any, b_rows: Any, out: Any,
) -> None:  # fmt: skip
    for t in numba.prange(len(a_rows)):
        p, p_end = a_ptr[a_rows[t]], a_ptr[a_rows[t] + 1]
        q, q_end = b_ptr[b_rows[t]], b_ptr[b_rows[t] + 1]
        s = 0.0
        while p < p_end and q < q_end:  # merge two sorted index lists
            ca, cb = a_idx[p], b_idx[q]
            if ca == cb:
                s += a_val[p] * b_val[q]
                p += 1
                q += 1
            elif ca < cb:
                p += 1
            else:
                q += 1
        out[t] = s


def csr_pair_dots(
    a: Any, b: Any, a_rows: npt.NDArray[np.int64], b_rows: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """Dot product of row ``a_rows[t]`` of CSR matrix ``a`` with row ``b_rows[t]`` of ``b``.

    A merge of the two rows' sorted column lists per pair, on every core: no row is copied,
    where ``a[a_rows].multiply(b[b_rows])`` gathers both sides first (at 200k demo firms,
    8 million pairs: about 27 s against under 10). A matrix whose column indices are not
    sorted is sorted in a copy: the inputs may be read-only (Ray's shared memory).

    Example:
        >>> import scipy.sparse as sp
        >>> m = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 1.0]], dtype=np.float32))
        >>> csr_pair_dots(m, m, np.array([0, 0, 1]), np.array([0, 1, 1])).tolist()
        [5.0, 2.0, 10.0]
    """
    a, b = (m if m.has_sorted_indices else m.sorted_indices() for m in (a, b))
    out = np.empty(len(a_rows), dtype=np.float32)
    if len(a_rows):
        with _LAUNCH:
            _csr_pair_dots(
                a.indptr, a.indices, a.data, b.indptr, b.indices, b.data,
                np.ascontiguousarray(a_rows, dtype=np.int64),
                np.ascontiguousarray(b_rows, dtype=np.int64), out,
            )  # fmt: skip
    return out
