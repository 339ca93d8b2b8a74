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

__all__ = [
    "best_per_group",
    "csr_pair_dots",
    "dense_pair_dots",
    "first_seen",
    "group_best_two",
    "near_best",
    "positions",
    "rarest_within",
    "tree_sums",
]

# numba's default threading layer (workqueue) aborts the process when two threads launch
# parallel kernels at once; callers on other threads (a web app, a thread pool) queue here.
_LAUNCH = threading.Lock()


@numba.njit(cache=True, nogil=True)
def _group_order(rows: Any, n_groups: int) -> Any:
    """The positions of ``rows`` grouped by value, in order within a group (a counting sort)."""
    start = np.zeros(n_groups + 1, np.int64)
    for r in rows:
        start[r + 1] += 1
    for g in range(n_groups):
        start[g + 1] += start[g]
    order = np.empty(len(rows), np.int64)
    for t in range(len(rows)):
        order[start[rows[t]]] = t
        start[rows[t]] += 1
    return order


def _grouped(groups: Any, n_groups: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``groups`` (values ``0 .. n_groups - 1``) as int64, and where each group starts in
    their grouped order (``n_groups + 1`` offsets)."""
    groups = np.ascontiguousarray(groups, dtype=np.int64)
    start = np.zeros(n_groups + 1, np.int64)
    np.cumsum(np.bincount(groups, minlength=n_groups), out=start[1:])
    return groups, start


@numba.njit(cache=True, nogil=True, inline="always")
def _row_dot(row: Any, b_idx: Any, b_val: Any, start: int, end: int, s: float) -> float:
    """``s`` plus the products of ``b``'s entries ``start .. end`` with the spread row."""
    for q in range(start, end):  # in column order
        s += row[b_idx[q]] * b_val[q]
    return s


@numba.njit(parallel=True, cache=True, nogil=True)
def _csr_pair_dots(
    a_ptr: Any, a_idx: Any, a_val: Any, b_ptr: Any, b_idx: Any, b_val: Any,
    a_rows: Any, b_rows: Any, order: Any, n_cols: int, n_slices: int, out: Any,
) -> None:  # fmt: skip
    n = len(order)
    for part in numba.prange(n_slices):
        row = np.zeros(n_cols, a_val.dtype)  # the current a row, spread out
        current = -1
        u, stop = part * n // n_slices, (part + 1) * n // n_slices
        while u < stop:
            t = order[u]
            r = a_rows[t]
            if r != current:
                if current >= 0:
                    for p in range(a_ptr[current], a_ptr[current + 1]):
                        row[a_idx[p]] = 0.0
                for p in range(a_ptr[r], a_ptr[r + 1]):
                    row[a_idx[p]] = a_val[p]
                current = r
            if u + 3 < stop and a_rows[order[u + 3]] == r:  # four pairs of this a row
                # four b rows read side by side: four chains of additions in flight instead
                # of one (each dot still adds its own products in its own order)
                t1, t2, t3 = order[u + 1], order[u + 2], order[u + 3]
                q0, e0 = b_ptr[b_rows[t]], b_ptr[b_rows[t] + 1]
                q1, e1 = b_ptr[b_rows[t1]], b_ptr[b_rows[t1] + 1]
                q2, e2 = b_ptr[b_rows[t2]], b_ptr[b_rows[t2] + 1]
                q3, e3 = b_ptr[b_rows[t3]], b_ptr[b_rows[t3] + 1]
                s0 = s1 = s2 = s3 = 0.0
                m = min(e0 - q0, e1 - q1, e2 - q2, e3 - q3)
                for j in range(m):
                    s0 += row[b_idx[q0 + j]] * b_val[q0 + j]
                    s1 += row[b_idx[q1 + j]] * b_val[q1 + j]
                    s2 += row[b_idx[q2 + j]] * b_val[q2 + j]
                    s3 += row[b_idx[q3 + j]] * b_val[q3 + j]
                out[t] = _row_dot(row, b_idx, b_val, q0 + m, e0, s0)
                out[t1] = _row_dot(row, b_idx, b_val, q1 + m, e1, s1)
                out[t2] = _row_dot(row, b_idx, b_val, q2 + m, e2, s2)
                out[t3] = _row_dot(row, b_idx, b_val, q3 + m, e3, s3)
                u += 4
            else:
                out[t] = _row_dot(row, b_idx, b_val, b_ptr[b_rows[t]], b_ptr[b_rows[t] + 1], 0.0)
                u += 1


def csr_pair_dots(
    a: Any, b: Any, a_rows: npt.NDArray[np.int64], b_rows: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """Dot product of row ``a_rows[t]`` of CSR matrix ``a`` with row ``b_rows[t]`` of ``b``.

    No row is copied, where ``a[a_rows].multiply(b[b_rows])`` gathers both sides first (at
    200k demo firms, 8 million pairs: about 27 s against under 10). The pairs go grouped by
    their ``a`` row (a counting sort, unless ``a_rows`` is sorted already), on every core;
    each ``a`` row is spread into a dense vector once per group, and each ``b`` row reads its
    entries from there: one pass over the ``b`` row with no branches, instead of a merge of
    two sorted lists; four pairs of a group go side by side, so four chains of additions are
    in flight. The products are added in the ``b`` row's column order, as the merge added
    them (the columns ``a`` lacks add zeros), so the dots are the same to the bit.
    A matrix whose column indices are not sorted, or repeat, is made canonical in a copy:
    the inputs may be read-only (Ray's shared memory).

    Example:
        >>> import scipy.sparse as sp
        >>> m = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 1.0]], dtype=np.float32))
        >>> csr_pair_dots(m, m, np.array([0, 1, 0]), np.array([0, 1, 1])).tolist()
        [5.0, 10.0, 2.0]
    """
    a, b = (m if m.has_canonical_format else _canonical(m) for m in (a, b))
    out = np.empty(len(a_rows), dtype=np.float32)
    if len(a_rows):
        a_rows = np.ascontiguousarray(a_rows, dtype=np.int64)
        b_rows = np.ascontiguousarray(b_rows, dtype=np.int64)
        grouped = bool(np.all(a_rows[1:] >= a_rows[:-1]))
        order = np.arange(len(a_rows)) if grouped else _group_order(a_rows, a.shape[0])
        slices = min(len(a_rows), 4 * numba.get_num_threads())
        with _LAUNCH:
            _csr_pair_dots(
                a.indptr, a.indices, a.data, b.indptr, b.indices, b.data,
                a_rows, b_rows, order, a.shape[1], slices, out,
            )  # fmt: skip
    return out


def _canonical(m: Any) -> Any:
    copy = m.copy()
    copy.sum_duplicates()  # sorts the indices too
    return copy


@numba.njit(parallel=True, cache=True, nogil=True)
def _dense_pair_dots(a: Any, b: Any, a_rows: Any, b_rows: Any, out: Any) -> None:
    # four pairs side by side: four chains of additions in flight (each in its own order)
    for g in numba.prange((len(a_rows) + 3) // 4):
        t = 4 * g
        if t + 3 < len(a_rows):
            x0, y0, x1, y1 = a[a_rows[t]], b[b_rows[t]], a[a_rows[t + 1]], b[b_rows[t + 1]]
            x2, y2, x3, y3 = a[a_rows[t + 2]], b[b_rows[t + 2]], a[a_rows[t + 3]], b[b_rows[t + 3]]
            s0 = s1 = s2 = s3 = 0.0
            for c in range(x0.shape[0]):
                s0 += x0[c] * y0[c]
                s1 += x1[c] * y1[c]
                s2 += x2[c] * y2[c]
                s3 += x3[c] * y3[c]
            out[t], out[t + 1], out[t + 2], out[t + 3] = s0, s1, s2, s3
        else:
            for u in range(t, len(a_rows)):
                x, y = a[a_rows[u]], b[b_rows[u]]
                s = 0.0
                for c in range(x.shape[0]):
                    s += x[c] * y[c]
                out[u] = s


@numba.njit(parallel=True, cache=True, nogil=True)
def _half_pair_dots(a: Any, b: Any, half: Any, a_rows: Any, b_rows: Any, out: Any) -> None:
    for g in numba.prange((len(a_rows) + 3) // 4):  # four pairs side by side, as above
        t = 4 * g
        if t + 3 < len(a_rows):
            x0, y0, x1, y1 = a[a_rows[t]], b[b_rows[t]], a[a_rows[t + 1]], b[b_rows[t + 1]]
            x2, y2, x3, y3 = a[a_rows[t + 2]], b[b_rows[t + 2]], a[a_rows[t + 3]], b[b_rows[t + 3]]
            s0 = s1 = s2 = s3 = 0.0
            for c in range(x0.shape[0]):
                s0 += half[x0[c]] * half[y0[c]]
                s1 += half[x1[c]] * half[y1[c]]
                s2 += half[x2[c]] * half[y2[c]]
                s3 += half[x3[c]] * half[y3[c]]
            out[t], out[t + 1], out[t + 2], out[t + 3] = s0, s1, s2, s3
        else:
            for u in range(t, len(a_rows)):
                x, y = a[a_rows[u]], b[b_rows[u]]
                s = 0.0
                for c in range(x.shape[0]):
                    s += half[x[c]] * half[y[c]]
                out[u] = s


# the float32 value of every float16 bit pattern (numba has no float16 arithmetic)
_HALF = np.arange(2**16, dtype=np.uint16).view(np.float16).astype(np.float32)


def dense_pair_dots(
    a: npt.NDArray[np.floating[Any]],
    b: npt.NDArray[np.floating[Any]],
    a_rows: npt.NDArray[np.int64],
    b_rows: npt.NDArray[np.int64],
) -> npt.NDArray[np.float32]:
    """Dot product of row ``a_rows[t]`` of ``a`` with row ``b_rows[t]`` of ``b``, on every core.

    No row is copied (a gather of both sides would copy 2 x 512 bytes a pair at 256
    float16 dimensions). Each product is taken in the inputs' precision (float16 read as
    float32, exactly) and summed in float64, then rounded to float32 once: within one
    float32 rounding of the exact dot.

    Example:
        >>> v = np.array([[1.0, 2.0], [0.5, -1.0]], dtype=np.float16)
        >>> dense_pair_dots(v, v, np.array([0, 0, 1]), np.array([0, 1, 1])).tolist()
        [5.0, -1.5, 1.25]
    """
    out = np.empty(len(a_rows), dtype=np.float32)
    if not len(a_rows):
        return out
    a_rows = np.ascontiguousarray(a_rows, dtype=np.int64)
    b_rows = np.ascontiguousarray(b_rows, dtype=np.int64)
    with _LAUNCH:
        if a.dtype == np.float16 and b.dtype == np.float16:
            _half_pair_dots(a.view(np.uint16), b.view(np.uint16), _HALF, a_rows, b_rows, out)
        else:
            a, b = (
                m if m.dtype in (np.float32, np.float64) else m.astype(np.float32) for m in (a, b)
            )
            _dense_pair_dots(a, b, a_rows, b_rows, out)
    return out


@numba.njit(parallel=True, cache=True, nogil=True)
def _rarest_within(
    order: Any, start: Any, count: Any, key: Any, budget: int, picked: Any, kept: Any
) -> None:
    for g in numba.prange(len(start) - 1):
        lo, hi = start[g], start[g + 1]
        entries = order[lo:hi]
        entries = entries[np.argsort(key[entries], kind="mergesort")]
        entries = entries[np.argsort(count[entries], kind="mergesort")]
        spent = 0
        for u in range(len(entries)):
            spent += count[entries[u]]
            if spent > budget and u > 0:
                break
            picked[lo + u] = entries[u]
            kept[g] += 1


def rarest_within(
    groups: npt.NDArray[np.int64],
    count: npt.NDArray[np.int64],
    key: npt.NDArray[np.uint64],
    n_groups: int,
    budget: int,
) -> npt.NDArray[np.int64]:
    """Each group's entries by ``(count, key)``, as many as keep the running sum of ``count``
    within ``budget`` (always the first): their positions, by group, then ``(count, key)``.

    The order and the cut of a sort of all entries by ``(group, count, key)`` followed by a
    running sum per group, with one short sort per group instead of one long one.
    ``groups`` are ``0 .. n_groups - 1``; ``count`` is at least 1.

    Example:
        >>> g = np.array([1, 0, 0, 0, 1]); c = np.array([5, 2, 1, 9, 50])
        >>> k = np.array([7, 3, 4, 1, 2], dtype=np.uint64)
        >>> rarest_within(g, c, k, 2, 4).tolist()
        [2, 1, 0]
    """
    groups, start = _grouped(groups, n_groups)
    picked = np.empty(len(groups), np.int64)
    kept = np.zeros(n_groups, np.int64)
    if len(groups):
        order = _group_order(groups, n_groups)
        count = np.ascontiguousarray(count, dtype=np.int64)
        key = np.ascontiguousarray(key, dtype=np.uint64)
        with _LAUNCH:
            _rarest_within(order, start, count, key, budget, picked, kept)
    sizes = np.diff(start)
    slot = np.arange(len(groups)) - np.repeat(start[:-1], sizes)  # place within its group
    return picked[slot < np.repeat(kept, sizes)]


@numba.njit(parallel=True, cache=True, nogil=True)
def _best_per_group(order: Any, start: Any, item: Any, score: Any, weight: Any, out: Any) -> None:
    for g in numba.prange(len(start) - 1):
        entries = order[start[g] : start[g + 1]]
        entries = entries[np.argsort(item[entries], kind="mergesort")]
        entries = entries[np.argsort(-weight[entries], kind="mergesort")]
        entries = entries[np.argsort(-score[entries], kind="mergesort")]
        for u in range(min(len(entries), out.shape[1])):
            out[g, u] = item[entries[u]]


def best_per_group(
    groups: npt.NDArray[np.int64],
    item: npt.NDArray[np.int64],
    score: npt.NDArray[np.float32],
    weight: npt.NDArray[np.float32],
    n_groups: int,
    k: int,
) -> npt.NDArray[np.int64]:
    """Each group's ``k`` best items by ``score``, ties by ``weight`` (both higher first), then
    by the lower item: ``(n_groups, k)``, ``-1`` where a group has fewer.

    What a sort of all entries by ``(group, -score, -weight, item)`` and a rank within each
    group give, with one short sort per group instead of one long one. ``groups`` are
    ``0 .. n_groups - 1``; no score or weight is NaN.

    Example:
        >>> g = np.array([0, 0, 1, 0]); item = np.array([5, 3, 8, 4])
        >>> s = np.array([0.5, 0.9, 0.1, 0.5], dtype=np.float32)
        >>> w = np.array([1.0, 1.0, 1.0, 2.0], dtype=np.float32)
        >>> best_per_group(g, item, s, w, 2, 2).tolist()
        [[3, 4], [8, -1]]
    """
    out = np.full((n_groups, k), -1, np.int64)
    if len(groups):
        groups, start = _grouped(groups, n_groups)
        with _LAUNCH:
            _best_per_group(
                _group_order(groups, n_groups), start,
                np.ascontiguousarray(item, dtype=np.int64),
                np.ascontiguousarray(score, dtype=np.float32),
                np.ascontiguousarray(weight, dtype=np.float32), out,
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


@numba.njit(cache=True, nogil=True)
def _first_seen(keys: Any, slots: Any, ids: Any, first: Any) -> int:
    mask = np.uint64(len(slots) - 1)
    n = 0
    for i in range(len(keys)):
        key = keys[i]
        h = (np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
        at = h & mask
        while slots[at] >= 0 and keys[first[slots[at]]] != key:  # linear probing
            at = (at + np.uint64(1)) & mask
        if slots[at] < 0:
            slots[at] = n
            first[n] = i
            n += 1
        ids[i] = slots[at]
    return n


def first_seen(
    keys: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.integer[Any]]]:
    """Number the distinct ``keys`` in order of first appearance: each key's number, and the
    position of each number's first appearance (one pass over a hash table, where
    ``np.unique(..., return_inverse=True)`` sorts).

    Example:
        >>> ids, first = first_seen(np.array([7, 3, 7, 9, 3]))
        >>> ids.tolist(), first.tolist()
        ([0, 1, 0, 2, 1], [0, 1, 3])
    """
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    index = np.int32 if len(keys) < 2**31 else np.int64
    slots = np.full(1 << (2 * len(keys)).bit_length(), -1, index)  # at most half full
    ids: npt.NDArray[np.integer[Any]] = np.empty(len(keys), index)
    first: npt.NDArray[np.integer[Any]] = np.empty(len(keys), index)
    n = _first_seen(keys, slots, ids, first)
    return ids, first[:n].copy()


@numba.njit(parallel=True, cache=True, nogil=True)
def _near_best(order: Any, start: Any, score: Any, k: int, keep: Any) -> None:
    for g in numba.prange(len(start) - 1):
        entries = order[start[g] : start[g + 1]]
        if len(entries) > k:
            kth = np.sort(score[entries])[len(entries) - k]
            for e in entries:
                keep[e] = score[e] >= kth
        else:
            for e in entries:
                keep[e] = True


def near_best(
    groups: npt.NDArray[np.int64], score: npt.NDArray[np.float32], n_groups: int, k: int
) -> npt.NDArray[np.bool_]:
    """Which entries score at least the ``k``-th best score of their group (all of a group
    of ``k`` or fewer): every entry that a top ``k`` of the group can hold, whatever breaks
    the ties. ``groups`` are ``0 .. n_groups - 1``; no score is NaN.

    Example:
        >>> g = np.array([0, 0, 0, 1]); s = np.array([0.2, 0.9, 0.2, 0.1], dtype=np.float32)
        >>> near_best(g, s, 2, 2).tolist()
        [True, True, True, True]
        >>> near_best(g, s, 2, 1).tolist()
        [False, True, False, True]
    """
    keep = np.zeros(len(groups), bool)
    if len(groups):
        groups, start = _grouped(groups, n_groups)
        with _LAUNCH:
            _near_best(
                _group_order(groups, n_groups), start,
                np.ascontiguousarray(score, dtype=np.float32), k, keep,
            )  # fmt: skip
    return keep


@numba.njit(cache=True, nogil=True)
def _positions(keys: Any, queries: Any, slots: Any, out: Any) -> None:
    mask = np.uint64(len(slots) - 1)
    multiplier = np.uint64(0x9E3779B97F4A7C15)
    for i in range(len(keys)):
        at = ((np.uint64(keys[i]) * multiplier) >> np.uint64(32)) & mask
        while slots[at] >= 0 and keys[slots[at]] != keys[i]:  # linear probing
            at = (at + np.uint64(1)) & mask
        if slots[at] < 0:
            slots[at] = i
    for j in range(len(queries)):
        at = ((np.uint64(queries[j]) * multiplier) >> np.uint64(32)) & mask
        while slots[at] >= 0 and keys[slots[at]] != queries[j]:
            at = (at + np.uint64(1)) & mask
        out[j] = slots[at]


def positions(keys: npt.NDArray[np.int64], queries: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Where each of ``queries`` first is in ``keys`` (``-1``: nowhere), through a hash table
    of ``keys``: no sort of either.

    Example:
        >>> positions(np.array([7, 3, 9, 3]), np.array([3, 5, 9])).tolist()
        [1, -1, 2]
    """
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    queries = np.ascontiguousarray(queries, dtype=np.int64)
    slots = np.full(1 << (2 * len(keys)).bit_length(), -1, np.int64)  # at most half full
    out = np.empty(len(queries), np.int64)
    _positions(keys, queries, slots, out)
    return out
