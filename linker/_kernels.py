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

__all__ = ["csr_pair_dots", "group_best_two", "tree_sums"]

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


@numba.njit(cache=True, nogil=True)
def _group_best_two(groups: Any, score: Any, n_groups: int, best: Any, second: Any) -> None:
    top = np.full(n_groups, -np.inf, np.float64)
    runner = np.full(n_groups, -np.inf, np.float64)
    count = np.zeros(n_groups, np.int64)
    for t in range(len(groups)):
        g, v = groups[t], score[t]
        count[g] += 1
        if v > top[g]:
            runner[g] = top[g]
            top[g] = v
        elif v > runner[g]:
            runner[g] = v
    for t in range(len(groups)):
        g = groups[t]
        best[t] = top[g]
        second[t] = runner[g] if count[g] > 1 else 0.0


def group_best_two(
    groups: npt.NDArray[np.int64], score: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """For each entry, the best and the second-best score of its group (0 when it is alone).

    Two passes over the entries instead of a sort (at 20 million candidate pairs about 6 s
    per call for ``np.lexsort``). A tie for the best counts twice: the second-best is then
    the best. ``groups`` are non-negative ids.

    Example:
        >>> g = np.array([0, 1, 0, 0]); s = np.array([0.5, 0.75, 0.25, 1.0], dtype=np.float32)
        >>> best, second = group_best_two(g, s)
        >>> best.tolist(), second.tolist()
        ([1.0, 0.75, 1.0, 1.0], [0.5, 0.0, 0.5, 0.5])
    """
    best, second = np.empty_like(score), np.empty_like(score)
    if len(groups):
        _group_best_two(groups, score, int(groups.max()) + 1, best, second)
    return best, second


TREE_FIELDS = (
    ("feature_idx", np.int64),
    ("num_threshold", np.float64),
    ("left", np.int64),
    ("right", np.int64),
    ("is_leaf", np.bool_),
    ("missing_go_to_left", np.bool_),
    ("value", np.float64),
)  # the kernel's argument order and types; arrays already of these types are not copied


@numba.njit(parallel=True, cache=True, nogil=True)
def _tree_sums(
    X: Any, feature: Any, threshold: Any, left: Any, right: Any, leaf: Any, nan_left: Any,
    value: Any, roots: Any, out: Any,
) -> None:  # fmt: skip
    for i in numba.prange(X.shape[0]):
        s = 0.0
        for root in roots:
            node = root
            while not leaf[node]:
                x = X[i, feature[node]]
                go_left = nan_left[node] if np.isnan(x) else x <= threshold[node]
                node = left[node] if go_left else right[node]
            s += value[node]
        out[i] += s


def tree_sums(
    X: npt.NDArray[np.float64], nodes: dict[str, npt.NDArray[Any]], roots: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """The summed leaf values each row of ``X`` reaches in every tree, on every core.

    ``nodes``: the nodes of all trees in flat arrays (``feature_idx``, ``num_threshold``,
    ``left``, ``right`` as global node numbers, ``is_leaf``, ``missing_go_to_left``,
    ``value``); ``roots``: each tree's first node. A row goes left where its value is at most
    the threshold, or is NaN and the node sends missing values left (scikit-learn's rule).

    Example:
        >>> nodes = {"feature_idx": np.array([0, 0, 0]), "num_threshold": np.array([0.5, 0, 0]),
        ...          "left": np.array([1, 0, 0]), "right": np.array([2, 0, 0]),
        ...          "is_leaf": np.array([0, 1, 1]), "missing_go_to_left": np.array([1, 0, 0]),
        ...          "value": np.array([0.0, -1.0, 1.0])}
        >>> tree_sums(np.array([[0.2], [0.9], [np.nan]]), nodes, np.array([0, 0])).tolist()
        [-2.0, 2.0, -2.0]
    """
    out = np.zeros(len(X), dtype=np.float64)
    if len(X) and len(roots):
        feature, threshold, left, right, leaf, nan_left, value = (
            np.asarray(nodes[f], dtype=t) for f, t in TREE_FIELDS
        )
        with _LAUNCH:
            _tree_sums(
                np.ascontiguousarray(X, dtype=np.float64), feature, threshold, left, right, leaf,
                nan_left, value, np.asarray(roots, dtype=np.int64), out,
            )  # fmt: skip
    return out
