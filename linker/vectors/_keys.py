"""Compiled (numba) loops over integer keys: the n-gram keys of texts, their radix sort,
the distinct codes of candidate pairs, and TF-IDF rows from (text, n-gram) counts.

Compiled on first use and cached next to this file, as :mod:`linker._kernels`.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from linker._kernels import _LAUNCH

__all__ = ["char_wb_keys", "radix_sort", "unique_codes", "unit_rows"]


_DIGIT = 8  # bits sorted per pass: 256 buckets, whose counts and write heads stay in L1


@numba.njit(cache=True, nogil=True)
def _radix_sort(keys: Any, buffer: Any) -> Any:
    n = len(keys)
    size = 1 << _DIGIT
    mask = np.uint64(size - 1)
    used = np.uint64(0)
    for i in range(n):
        used |= keys[i]
    passes = 0
    while passes * _DIGIT < 64 and (used >> np.uint64(passes * _DIGIT)) != 0:
        passes += 1
    counts = np.zeros((passes, size), np.int64)
    for i in range(n):
        k = keys[i]
        for p in range(passes):
            counts[p, (k >> np.uint64(p * _DIGIT)) & mask] += 1
    src, dst = keys, buffer
    for p in range(passes):
        if counts[p].max() == n:  # one bucket holds every key: the pass moves nothing
            continue
        head = np.empty(size, np.int64)
        total = 0
        for b in range(size):
            head[b] = total
            total += counts[p, b]
        shift = np.uint64(p * _DIGIT)
        for i in range(n):
            k = src[i]
            b = (k >> shift) & mask
            dst[head[b]] = k
            head[b] += 1
        src, dst = dst, src
    return src


def radix_sort(keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """``keys`` sorted: a least-significant-digit radix sort, 8 bits a pass over the bits in
    use, passes where every key has the same digit skipped. Several times faster than
    ``np.sort`` on the 40-bit keys of the n-gram vectorizer; takes a second array of the
    same size, and may sort ``keys`` in place or return that second array.

    Example:
        >>> radix_sort(np.array([300, 2, 70000, 2, 1], dtype=np.uint64)).tolist()
        [1, 2, 2, 300, 70000]
    """
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    if len(keys) < 2:
        return keys
    out: npt.NDArray[np.uint64] = _radix_sort(keys, np.empty_like(keys))
    return out


def unique_codes(codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The distinct values of non-negative ``codes``, sorted: what ``np.unique(codes)``
    gives, through :func:`radix_sort` (numpy 2.4's ``np.unique`` hashes first, and takes
    about ten times as long as a sort on 10^6 distinct values).

    Example:
        >>> unique_codes(np.array([5, 0, 5, 2])).tolist()
        [0, 2, 5]
    """
    codes = np.asarray(codes, dtype=np.int64)
    if len(codes) and codes.min() < 0:
        raise ValueError("unique_codes takes non-negative codes")
    ordered = radix_sort(codes.astype(np.uint64))  # a copy: the caller's codes stay as they are
    keep = np.ones(len(ordered), bool)
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep].view(np.int64)


@numba.njit(cache=True, nogil=True)
def _word_ngrams(
    cps: Any, start: Any, end: Any, white: Any, min_n: int, max_n: int, out: Any
) -> None:
    for t in range(len(start)):
        count = 0
        i = start[t]
        while i < end[t]:
            if white[cps[i]]:
                i += 1
                continue
            j = i
            while j < end[t] and not white[cps[j]]:
                j += 1
            padded = j - i + 2
            for n in range(min_n, max_n + 1):
                if n >= padded:  # the whole word, once, and no longer n-gram
                    count += 1
                    break
                count += padded - n + 1
            i = j
        out[t] = count


@numba.njit(parallel=True, cache=True, nogil=True)
def _char_wb_keys(
    cps: Any, start: Any, end: Any, white: Any, table: Any, scale: Any, space: Any,
    min_n: int, at: Any, keys: Any,
) -> None:  # fmt: skip
    max_n = len(scale)
    for t in numba.prange(len(start)):
        put = at[t]
        ids = np.empty(end[t] - start[t] + 2, np.uint64)
        text = np.uint64(t)
        i = start[t]
        while i < end[t]:
            if white[cps[i]]:
                i += 1
                continue
            j = i
            while j < end[t] and not white[cps[j]]:
                j += 1
            padded = j - i + 2
            ids[0] = space
            for q in range(i, j):
                ids[q - i + 1] = table[cps[q]]
            ids[padded - 1] = space
            for n in range(min_n, max_n + 1):
                whole = n >= padded
                for p in range(1 if whole else padded - n + 1):
                    code = text
                    for q in range(min(n, padded)):
                        code += ids[p + q] * scale[q]
                    keys[put] = code
                    put += 1
                if whole:
                    break
            i = j


def char_wb_keys(
    cps: npt.NDArray[np.uint32],
    lengths: npt.NDArray[np.int64],
    table: npt.NDArray[np.uint64],
    white: npt.NDArray[np.bool_],
    *,
    ngram_range: tuple[int, int],
    text_bits: int,
) -> npt.NDArray[np.uint64]:
    """``code << text_bits | text`` for every n-gram scikit-learn's ``_char_wb_ngrams`` yields
    from the texts laid back to back in ``cps`` (code points, ``lengths`` of each text).

    Words are the runs of code points that ``white`` does not mark, each padded with a space
    on both sides; ``code`` holds the ids of an n-gram's characters (``table``: code point to
    id, the space's id for the padding) in base ``table.max() + 1``, first character in the
    highest of ``ngram_range[1]`` digits, missing ones as 0. A padded word no longer than
    ``n`` gives itself once, and no longer n-gram. The keys come text by text (on every core;
    the same keys whatever the threads).

    Example:
        >>> table = np.zeros(128, np.uint64); table[[32, 97, 98]] = [1, 2, 3]  # " ", "a", "b"
        >>> white = table == 1
        >>> keys = char_wb_keys(np.array([97, 98], dtype=np.uint32), np.array([2]), table, white,
        ...                     ngram_range=(2, 2), text_bits=0)
        >>> [(int(k) // 4, int(k) % 4) for k in keys]  # the ids of " a", "ab", "b "
        [(1, 2), (2, 3), (3, 1)]
    """
    min_n, max_n = ngram_range
    radix = int(table.max()) + 1
    end = np.cumsum(lengths).astype(np.int64)
    start = end - lengths
    counts = np.empty(len(lengths), np.int64)
    _word_ngrams(cps, start, end, white, min_n, max_n, counts)
    at = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(counts, out=at[1:])
    keys = np.empty(int(at[-1]), np.uint64)
    scale = np.array([radix ** (max_n - 1 - q) << text_bits for q in range(max_n)], np.uint64)
    with _LAUNCH:
        _char_wb_keys(
            cps, start, end, white, table, scale, table[0x20], min_n, at, keys,
        )  # fmt: skip
    return keys


@numba.njit(cache=True, nogil=True)
def _unit_rows(row: Any, col: Any, value: Any, indptr: Any, indices: Any, data: Any) -> None:
    for e in range(len(row)):
        indptr[row[e] + 1] += 1
    for r in range(len(indptr) - 1):
        indptr[r + 1] += indptr[r]
    head = indptr[:-1].copy()
    for e in range(len(row)):  # a stable counting sort by row: each row keeps the entries' order
        at = head[row[e]]
        indices[at] = col[e]
        data[at] = value[e]
        head[row[e]] += 1
    for r in range(len(indptr) - 1):
        s = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            s += data[p] * data[p]  # float32 squares, added in float64
        norm = np.sqrt(s) if s > 0 else 1.0
        for p in range(indptr[r], indptr[r + 1]):
            data[p] = data[p] / norm


def unit_rows(
    row: npt.NDArray[np.integer[Any]],
    col: npt.NDArray[np.int32],
    value: npt.NDArray[np.float32],
    n_rows: int,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """CSR ``(indptr, indices, data)`` of the entries ``(row, col, value)`` with every row
    divided by its L2 norm, as scikit-learn's ``normalize`` does it (float32 squares summed
    in float64, each value divided in float64 and rounded to float32 once).

    The entries keep their order within a row (a stable counting sort by row), so entries
    in column order give canonical rows; what ``scipy.sparse.csr_matrix((value, (row,
    col)))`` and a normalisation give, in one pass over the entries instead of several.

    Example:
        >>> indptr, indices, data = unit_rows(np.array([1, 0, 1]), np.array([0, 2, 1], np.int32),
        ...                                   np.array([3, 5, 4], np.float32), 3)
        >>> indptr.tolist(), indices.tolist(), data.tolist()
        ([0, 1, 3, 3], [2, 0, 1], [1.0, 0.6000000238418579, 0.800000011920929])
    """
    indptr: npt.NDArray[np.int32] = np.zeros(n_rows + 1, np.int32)  # a chunk: < 2**31 entries
    indices = np.empty(len(row), np.int32)
    data = np.empty(len(row), np.float32)
    if len(row) >= 2**31:
        raise ValueError("unit_rows takes fewer than 2**31 entries (int32 row pointers)")
    _unit_rows(np.ascontiguousarray(row), col, value, indptr, indices, data)
    return indptr, indices, data
