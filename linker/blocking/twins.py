"""Exact twins: records identical on every compared column, which must always meet.

The neighbour lists of :mod:`linker.blocking.blockers` keep ``k`` candidates per record, and between
identical records every similarity ties, so which ``k`` of 300 identical rows a record keeps is
arbitrary: identical records could fail to meet (300 identical rows against 300 gave 20 links
one-to-one). This module gives blocking one more list, built from the compared texts alone:

* :func:`twin_codes` numbers the records by the tuple of their compared-column texts; records
  that share a number with a record of the other side (dedup: with another record) are twins.
  A record whose compared columns are all empty is nobody's twin.
* :func:`twin_pairs` pairs the twins of one block without building the ``n_l × n_r`` cross
  product. Linking two tables, the ``t``-th pair of a group of ``n_l`` left and ``n_r`` right
  twins is left ``t mod n_l`` with the ``width`` right twins from ``t mod n_r`` on
  (``t < max(n_l, n_r)``): left and right twin ``t`` meet for ``t < min(n_l, n_r)``, so a
  one-to-one assignment can link ``min(n_l, n_r)`` of them, and every twin of either side meets
  at least one, whatever ``how``. In dedup the group is a star around its first record (each
  record meets the first twin of the other side of its block), which joins the whole group
  under every cluster method. A group gives at most ``max(n_l, n_r) × width`` pairs
  (dedup: ``n_l + n_r``).
* :func:`twin_flags` marks the candidate pairs, whichever list found them, that are twins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = ["find_twins", "twin_codes", "twin_flags", "twin_pairs"]

Rows = npt.NDArray[np.int64]


def _codes(columns: Sequence[Sequence[pl.Series]]) -> Rows:
    """One dense number per distinct tuple of texts over the sides' records, in order (``-1``:
    all empty)."""
    names = [f"c{i}" for i in range(len(columns[0]))]
    frames = [
        pl.DataFrame(
            [
                s.cast(pl.Utf8, strict=False).fill_null("").alias(n)
                for s, n in zip(cols, names, strict=True)
            ]
        )
        for cols in columns
    ]
    both = pl.concat(frames)
    empty = pl.all_horizontal([pl.col(n) == "" for n in names])
    code = pl.when(empty).then(-1).otherwise(pl.struct(names).rank("dense").cast(pl.Int64))
    return both.select(code)[:, 0].to_numpy().astype(np.int64)


def twin_codes(
    left: Sequence[pl.Series], right: Sequence[pl.Series], *, self_join: bool = False
) -> tuple[Rows, Rows]:
    """A number per record, shared by the records identical on every compared column.

    Only twins keep a number: records with a twin on the other side (``self_join``: another
    record of the table); the rest, and records whose columns are all empty, get ``-1``.

    Args:
        left: The left compared columns as text (nulls count as empty).
        right: The right compared columns, in the same order (ignored when ``self_join``).
        self_join: Left and right are the same table (dedup).

    Returns:
        The left and the right numbers (the same array twice when ``self_join``).

    Example:
        >>> import polars as pl
        >>> l, r = twin_codes([pl.Series(["a", "b", "", "a"])], [pl.Series(["b", "", "c"])])
        >>> (l >= 0).tolist(), (r >= 0).tolist(), bool(l[1] == r[0])
        ([False, True, False, False], [True, False, False], True)
        >>> d, _ = twin_codes([pl.Series(["a", "b", "a"])], [], self_join=True)
        >>> (d >= 0).tolist(), bool(d[0] == d[2])
        ([True, False, True], True)
    """
    n_left = len(left[0]) if left else 0
    if not left or not (self_join or right):
        n_right = n_left if self_join else (len(right[0]) if right else 0)
        return np.full(n_left, -1, np.int64), np.full(n_right, -1, np.int64)
    if self_join:
        codes = _codes([left])
        counts = np.bincount(np.maximum(codes, 0))  # numbers start at 1; 0 counts the empty
        codes = np.where((codes >= 0) & (counts[np.maximum(codes, 0)] >= 2), codes, -1)
        return codes, codes
    codes = _codes([left, right])
    lc, rc = codes[:n_left], codes[n_left:]
    shared = np.intersect1d(lc[lc >= 0], rc[rc >= 0])
    return np.where(np.isin(lc, shared), lc, -1), np.where(np.isin(rc, shared), rc, -1)


def find_twins(
    left: Sequence[pl.Series] | None,
    right: Sequence[pl.Series] | None,
    *,
    self_join: bool = False,
) -> tuple[Rows, Rows] | None:
    """:func:`twin_codes` of both sides, or ``None`` when there is no twin (or no columns).

    Example:
        >>> import polars as pl
        >>> find_twins([pl.Series(["a", "b"])], [pl.Series(["c"])]) is None
        True
    """
    if left is None or right is None:
        return None
    lc, rc = twin_codes(left, right, self_join=self_join)
    return (lc, rc) if (lc >= 0).any() else None


def _spans(start: Rows, count: Rows) -> tuple[Rows, Rows]:
    """Each element of groups given by ``start``/``count``: its group and its position."""
    group = np.repeat(np.arange(len(count)), count)
    offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    return group, start[group] + offset


def _sorted(rows: Rows, codes: Rows) -> tuple[Rows, Rows, Rows, Rows]:
    """The twin rows sorted by (number, row), and each number's start and count among them."""
    keep = codes >= 0
    rows, codes = rows[keep], codes[keep]
    order = np.lexsort((rows, codes))
    rows, codes = rows[order], codes[order]
    numbers, start, count = np.unique(codes, return_index=True, return_counts=True)
    return rows, numbers, start.astype(np.int64), count.astype(np.int64)


def twin_pairs(
    lrows: Rows,
    rrows: Rows,
    lcodes: Rows,
    rcodes: Rows,
    *,
    width: int,
    self_join: bool = False,
) -> tuple[Rows, Rows]:
    """Pairs of twins within one block (see the module docstring for the pattern).

    Args:
        lrows: The block's left rows.
        rrows: The block's right rows.
        lcodes: :func:`twin_codes` of every left row.
        rcodes: :func:`twin_codes` of every right row.
        width: Right twins per left twin and turn when linking (blocking's ``k``).
        self_join: Dedup: a star per group, and no row paired with itself.

    Returns:
        Left and right rows of the pairs (duplicates possible).

    Example:
        >>> import numpy as np
        >>> codes = np.array([0, 0, 0])
        >>> li, ri = twin_pairs(np.arange(3), np.arange(2), codes, codes[:2], width=1)
        >>> sorted(zip(li.tolist(), ri.tolist()))
        [(0, 0), (1, 1), (2, 0)]
        >>> li, ri = twin_pairs(np.arange(3), np.arange(3), codes, codes, width=1, self_join=True)
        >>> sorted(set(zip(li.tolist(), ri.tolist())))
        [(0, 1), (0, 2), (1, 0), (2, 0)]
    """
    lr, lnum, lstart, nl = _sorted(lrows, lcodes[lrows])
    rr, rnum, rstart, nr = _sorted(rrows, rcodes[rrows])
    _, i, j = np.intersect1d(lnum, rnum, assume_unique=True, return_indices=True)
    lstart, nl, rstart, nr = lstart[i], nl[i], rstart[j], nr[j]
    if self_join:  # each left twin with the group's first right twin, and the reverse
        g, at = _spans(lstart, nl)
        h, bt = _spans(rstart, nr)
        li = np.concatenate([lr[at], lr[lstart[h]]])
        ri = np.concatenate([rr[rstart[g]], rr[bt]])
        keep = li != ri
        return li[keep], ri[keep]
    w = np.minimum(max(width, 1), nr)
    g, pos = _spans(np.zeros_like(nl), np.maximum(nl, nr) * w)
    turn, step = pos // w[g], pos % w[g]
    return lr[lstart[g] + turn % nl[g]], rr[rstart[g] + (turn + step) % nr[g]]


def twin_flags(
    lcodes: Rows, rcodes: Rows, left_rows: Rows, right_rows: Rows
) -> npt.NDArray[np.bool_]:
    """Which pairs are twins (identical, not empty, on every compared column).

    Example:
        >>> import numpy as np
        >>> codes = np.array([0, -1, 0])
        >>> twin_flags(codes, codes, np.array([0, 1, 0]), np.array([2, 1, 1])).tolist()
        [True, False, False]
    """
    lc, rc = lcodes[left_rows], rcodes[right_rows]
    out: npt.NDArray[np.bool_] = (lc >= 0) & (lc == rc)
    return out
