"""Rare-token blocking: candidates that share rare words or numbers, found with an inverted index.

The ANN blockers rank every record by one similarity over the whole record; at a million
records, thousands of look-alike firms sit between a record and its rewritten twin, and a
twin whose only strong evidence is one shared phone number or one rare word falls out of the
top ``k``. An inverted index finds those pairs exactly and cheaply:

1. every compared column of every record yields *keys*: its words (runs of letters and
   digits, lower-cased), each pair of adjacent words, and for a number of more than
   ``_DIGITS`` digits its last ``_DIGITS`` (country and area prefixes are written or left out
   at will); keys are tagged with their column, so a zip never meets a street number; the
   first column (``fuzzy_columns``) also makes MinHash band keys of its character 3-grams,
   which a name with a typo in every word still shares with its twin;
2. *context columns* (:func:`context_columns`: a town, a state, a country; columns whose
   whole values are mostly held by more than ``max_df`` right records) make no word keys
   of their own (one key: the whole value); instead every key of the other columns is
   also made once per context value ("acme tools" in Springfield): a firm name shared by
   600 of a million records is shared by a dozen in one town;
3. keys held by more than ``max_df`` right records say little and are dropped; of the rest,
   each left record joins on its rarest keys, as many as keep its matches within
   ``pairs_per_left`` right records (always at least its rarest one). A budget per record,
   not one for the whole table, so that a record whose keys are all fairly common still
   gets candidates;
4. each left record ranks the right records it met by ``score`` (the blocker passes the
   n-gram TF-IDF cosine of the pair) or, without one, by the summed IDF
   ``log(1 + n_right / df)`` of the keys they share, and keeps its ``k`` best.

The keys are made in :mod:`linker.blocking.rare_keys`; the steps run as stages over row
blocks and key partitions (:mod:`linker.blocking.rare_parts`), in this process or, given a
runner of Ray tasks, on a cluster, with the same lists. What each step adds, and what it
costs, was measured on the demo firms: ``benchmarks/results/scale_notes.md``.

Example:
    >>> import polars as pl
    >>> left = [pl.Series(["acme tools inc", "zeta ltd"]), pl.Series(["614 452 3372", ""])]
    >>> right = [pl.Series(["zeta limited", "acme tool"]), pl.Series(["", "+1 614.452.3372"])]
    >>> token_neighbours(left, right, 2).tolist()
    [[1, -1], [0, -1]]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.blocking.rare_parts import find_contexts, ranked_lists, row_blocks
from linker.decide.runner import InProcess, UnitRunner

__all__ = ["PairScore", "context_columns", "token_neighbours"]

logger = logging.getLogger(__name__)

PairScore = Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.NDArray[np.floating]]
"""``score(left_rows, right_rows)``: one similarity per pair, higher is closer."""


def context_columns(
    right: Sequence[pl.Series], *, max_df: int = 1000, runner: UnitRunner | None = None
) -> list[int]:
    """The columns that qualify other columns' keys instead of making their own.

    A column is a context when at least half of its non-null values are whole values that
    more than ``max_df`` rows hold: a town, a state or a country in a large table. Their
    words are too common to be keys; a name's words *within* one town are not. If every
    column would be a context, none is (there would be nothing to qualify).

    Args:
        right: The compared columns of the right table, as text.
        max_df: As in :func:`token_neighbours`.
        runner: As in :func:`token_neighbours` (values are counted per block of rows and
            partition of the values' hashes).

    Returns:
        Positions of the context columns in ``right``.

    Example:
        >>> import polars as pl
        >>> towns = pl.Series(["Springfield", "springfield", "Austin"] * 2)
        >>> context_columns([pl.Series(list("abcdef")), towns], max_df=2)
        [1]
    """
    runner = runner or InProcess()
    n = len(right[0]) if right else 0
    blocks = row_blocks(n, runner.workers, one=True)
    return find_contexts(runner, runner.put(list(right)), len(right), blocks, max_df) if n else []


def token_neighbours(
    left: Sequence[pl.Series],
    right: Sequence[pl.Series],
    k: int,
    *,
    max_df: int = 1000,
    pairs_per_left: int = 100,
    fuzzy_columns: int = 1,
    score: PairScore | None = None,
    runner: UnitRunner | None = None,
) -> npt.NDArray[np.int64]:
    """The ``k`` right rows sharing the rarest keys with each left row, best first.

    Args:
        left: The compared columns of the left table, as text.
        right: The same columns of the right table, in the same order.
        k: Right rows kept per left row.
        max_df: Keys held by more right rows than this are not used.
        pairs_per_left: Budget per left row, in right rows met: each left row joins on its
            rarest keys while the sum of their right-row counts stays within it (its
            rarest key always).
        fuzzy_columns: The first this many columns that are not contexts also make MinHash
            band keys of their character 3-grams, which survive typos (put the column that
            names a record first: its words are the ones a typo breaks).
        score: Ranks each left row's candidates (``score(left_rows, right_rows)``, higher
            first; ties by summed IDF). ``None``: by summed IDF of the shared keys.
        runner: Runs the stages (:mod:`linker.blocking.rare_parts`): a backend's
            :meth:`~linker.backend.ray.RayBackend.unit_runner` runs each as a Ray task;
            default: this process. The lists are the same.

    Returns:
        ``(n_left, k)`` right row numbers, best first (ties by the lower row); ``-1`` where a
        left row has fewer than ``k`` right rows sharing a key.

    Example:
        >>> import polars as pl
        >>> token_neighbours([pl.Series(["acme"])], [pl.Series(["zeta", "acme"])], 1).tolist()
        [[1]]
    """
    n_left = len(left[0]) if left else 0
    n_right = len(right[0]) if right else 0
    out = np.full((n_left, k), -1, np.int64)
    if n_left == 0 or n_right == 0:
        return out
    return ranked_lists(
        runner or InProcess(), left, right, k, max_df=max_df, pairs_per_left=pairs_per_left,
        fuzzy_columns=fuzzy_columns, score=score,
    )  # fmt: skip
