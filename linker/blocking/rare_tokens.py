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

What each step adds, and what it costs, was measured on the demo firms:
``benchmarks/results/scale_notes.md``.

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

from linker._kernels import best_per_group, rarest_within
from linker.vectors.ngrams import join_digit_gaps

__all__ = ["PairScore", "context_columns", "token_neighbours"]

logger = logging.getLogger(__name__)

PairScore = Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.NDArray[np.floating]]
"""``score(left_rows, right_rows)``: one similarity per pair, higher is closer."""

_DIGITS = 7  # a long number is keyed by its last 7 digits (a phone without its prefixes)
_LEFT_CHUNK = 100_000  # left records joined at once (bounds the join's memory)
_KEY_CHUNK = 50_000  # rows whose keys are made at once (bounds the strings' memory)
_WORD = r"[\p{L}\p{N}]+"
_CONTEXT_SHARE = 0.5  # a column is a context when this share of its values is that common
_CONJOIN_SEED = 11  # hash seed of (key, context value) keys
_BANDS, _BAND_ROWS = 12, 2  # MinHash bands of a fuzzy column, min-hashes per band
_BAND_SEED = 1000  # hash seeds of the min-hashes and bands start here
_DF_PARTS = 4  # slices of the key space whose right-row counts are taken in turn


def _value(col: pl.Series) -> pl.Series:
    """A column's whole values, lower-cased, as words joined by one space (null: none)."""
    words = col.cast(pl.Utf8).str.to_lowercase().str.extract_all(_WORD).list.join(" ")
    return words.replace("", None)


def context_columns(right: Sequence[pl.Series], *, max_df: int = 1000) -> list[int]:
    """The columns that qualify other columns' keys instead of making their own.

    A column is a context when at least half of its non-null values are whole values that
    more than ``max_df`` rows hold: a town, a state or a country in a large table. Their
    words are too common to be keys; a name's words *within* one town are not. If every
    column would be a context, none is (there would be nothing to qualify).

    Args:
        right: The compared columns of the right table, as text.
        max_df: As in :func:`token_neighbours`.

    Returns:
        Positions of the context columns in ``right``.

    Example:
        >>> import polars as pl
        >>> towns = pl.Series(["Springfield", "springfield", "Austin"] * 2)
        >>> context_columns([pl.Series(list("abcdef")), towns], max_df=2)
        [1]
    """
    found = []
    for i, col in enumerate(right):
        values = _value(col).drop_nulls()
        if values.len() == 0:
            continue
        counts = values.value_counts(name="n")
        common = counts.filter(pl.col("n") > max_df)["n"].sum()
        if common >= _CONTEXT_SHARE * values.len():
            found.append(i)
    return found if len(found) < len(right) else []


def _band_keys(col: pl.Series, offset: int, tag: int) -> pl.DataFrame:
    """``(key, row)``: MinHash band keys of the character 3-grams of each value.

    Two values whose 3-gram sets overlap by a share ``J`` (Jaccard) share a given band with
    probability ``J ** _BAND_ROWS``, and some band with ``1 - (1 - J ** _BAND_ROWS) ** _BANDS``:
    0.99 at J = 0.6 (a 20-letter name with two typos), 0.39 at J = 0.2.
    """
    value = pl.DataFrame({"v": _value(col)}).with_row_index("row", offset=offset).drop_nulls("v")
    grams = (
        value.select(
            pl.col("row").cast(pl.UInt32), pl.concat_str(pl.lit(" "), "v", pl.lit(" ")).alias("v")
        )
        .with_columns(at=pl.int_ranges(0, pl.col("v").str.len_chars() - 2))
        .explode("at")
        .drop_nulls("at")
        .select("row", pl.col("v").str.slice(pl.col("at"), 3).hash().alias("g"))
    )
    n_hashes = _BANDS * _BAND_ROWS
    mins = grams.group_by("row").agg(
        pl.col("g").hash(_BAND_SEED + h).min().alias(f"m{h}") for h in range(n_hashes)
    )
    bands = []
    for b in range(_BANDS):
        rows = [f"m{b * _BAND_ROWS + r}" for r in range(_BAND_ROWS)]
        key = pl.struct(rows).hash(_BAND_SEED + n_hashes + _BANDS * tag + b)
        bands.append(mins.select(key.alias("key"), "row"))
    return pl.concat(bands)


def _keys(
    columns: Sequence[pl.Series], contexts: Sequence[int] = (), fuzzy: Sequence[int] = ()
) -> pl.DataFrame:
    """``(key, row)``: the distinct hashed keys of each row (see the module docstring).

    Made ``_KEY_CHUNK`` rows at a time: the words and word pairs as strings weigh about
    twenty times their hashes (memory figures: ``benchmarks/results/scale_notes.md``).
    """
    n = len(columns[0])
    return pl.concat(
        [
            _chunk_keys([c.slice(start, _KEY_CHUNK) for c in columns], start, contexts, fuzzy)
            for start in range(0, n, _KEY_CHUNK)
        ]
    )


def _chunk_keys(
    columns: Sequence[pl.Series], offset: int, contexts: Sequence[int], fuzzy: Sequence[int]
) -> pl.DataFrame:
    parts = []
    for i, col in enumerate(columns):
        if i in contexts:
            continue
        words = (
            pl.DataFrame({"w": col.cast(pl.Utf8).fill_null("").str.to_lowercase()})
            .with_row_index("row", offset=offset)
            .select(
                "row",
                join_digit_gaps(pl.col("w")).str.extract_all(_WORD).alias("w"),
            )
            .explode("w")
            .drop_nulls("w")
            .with_columns(
                pl.when(pl.col("w").str.contains(f"^\\d{{{_DIGITS + 1},}}$"))
                .then(pl.col("w").str.slice(-_DIGITS))
                .otherwise(pl.col("w"))
                .alias("w")
            )
        )
        nxt = pl.col("w").shift(-1).over("row")
        tag = pl.lit(f"{i}\x1f")
        parts.append(words.select("row", pl.concat_str(tag, "w").alias("k")))
        parts.append(
            words.select("row", pl.concat_str(tag, "w", pl.lit(" "), nxt).alias("k")).drop_nulls()
        )
    # a row repeats a word key when its text repeats a word; every other key of a row is
    # distinct by construction (band keys are seeded per band, context keys per column,
    # conjoined keys are distinct base keys XOR one value), so only these are made unique:
    # the whole list is three times longer with its context keys
    plain = (
        pl.concat(parts)
        .select(pl.col("k").hash().alias("key"), pl.col("row").cast(pl.UInt32))
        .unique()
    )
    base = pl.concat([plain, *(_band_keys(columns[i], offset, i) for i in fuzzy)])
    out = [base]
    for j in contexts:
        value = pl.DataFrame({"v": _value(columns[j])}).with_row_index("row", offset=offset)
        ctx = value.drop_nulls("v").select(
            pl.col("row").cast(pl.UInt32), pl.concat_str(pl.lit(f"{j}\x1e"), "v").hash().alias("c")
        )
        out.append(ctx.select(pl.col("c").alias("key"), "row"))
        conjoined = base.join(ctx, on="row").select(
            (pl.col("key") ^ pl.col("c")).hash(_CONJOIN_SEED).alias("key"), "row"
        )
        out.append(conjoined)
    return pl.concat(out)


def _usable_keys(rkeys: pl.DataFrame, max_df: int) -> pl.DataFrame:
    """``(key, df_r)``: the right keys held by at most ``max_df`` rows, and by how many.

    Counted over ``_DF_PARTS`` slices of the key space in turn: one group-by over all the
    keys at once takes far more memory at its peak than the keys themselves
    (``benchmarks/results/scale_notes.md``).
    """
    parts = [
        rkeys.filter(pl.col("key") % _DF_PARTS == part)
        .group_by("key")
        .len("df_r")
        .filter(pl.col("df_r") <= max_df)
        for part in range(_DF_PARTS)
    ]
    return pl.concat(parts)


def _chosen_keys(
    left: Sequence[pl.Series],
    rdf: pl.DataFrame,
    *,
    contexts: Sequence[int],
    fuzzy: Sequence[int],
    n_right: int,
    pairs_per_left: int,
) -> pl.DataFrame:
    """``(key, left_row, idf)``: each left row's rarest keys within its budget of matches.

    ``rdf`` holds the usable keys (``key``, ``df_r``). Made ``_KEY_CHUNK`` left rows at a
    time, so that all of the left keys never exist at once.
    """
    weight = (1.0 + n_right / pl.col("df_r").cast(pl.Float32)).log().cast(pl.Float32)
    parts = []
    for start in range(0, len(left[0]), _KEY_CHUNK):
        rows = min(_KEY_CHUNK, len(left[0]) - start)
        keys = _chunk_keys([c.slice(start, rows) for c in left], start, contexts, fuzzy)
        met = keys.join(rdf, on="key")
        # by row, then rarest first (ties by key), within the budget: one short sort per row
        at = rarest_within(
            met["row"].to_numpy().astype(np.int64) - start, met["df_r"].to_numpy(),
            met["key"].to_numpy(), rows, pairs_per_left,
        )  # fmt: skip
        chosen = met[at]
        parts.append(chosen.select("key", pl.col("row").alias("left_row"), weight.alias("idf")))
    return pl.concat(parts)


def token_neighbours(
    left: Sequence[pl.Series],
    right: Sequence[pl.Series],
    k: int,
    *,
    max_df: int = 1000,
    pairs_per_left: int = 100,
    fuzzy_columns: int = 1,
    score: PairScore | None = None,
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
    contexts = context_columns(right, max_df=max_df)
    fuzzy = [i for i in range(len(right)) if i not in contexts][:fuzzy_columns]
    rkeys = _keys(right, contexts, fuzzy)
    rdf = _usable_keys(rkeys, max_df)
    lpost = _chosen_keys(
        left, rdf, contexts=contexts, fuzzy=fuzzy, n_right=n_right, pairs_per_left=pairs_per_left
    )
    del rdf
    rpost = rkeys.join(lpost.select("key").unique(), on="key").rename({"row": "right_row"})
    del rkeys
    logger.debug("token blocking: contexts %s, %d left postings", contexts, lpost.height)
    for start in range(0, n_left, _LEFT_CHUNK):
        part = lpost.filter(pl.col("left_row").is_between(start, start + _LEFT_CHUNK - 1))
        joined = part.join(rpost, on="key")
        # one int64 code per pair: a one-column group-by (two columns cost far more)
        code = joined["left_row"].cast(pl.Int64) * n_right + joined["right_row"].cast(pl.Int64)
        met = (
            pl.DataFrame({"code": code, "idf": joined["idf"]})
            .group_by("code")
            .agg(pl.col("idf").sum())
            .select(
                (pl.col("code") // n_right).alias("left_row"),
                (pl.col("code") % n_right).alias("right_row"),
                "idf",
            )
        )
        del joined, code
        li, ri = met["left_row"].to_numpy(), met["right_row"].to_numpy()
        # ranked by score, ties by summed IDF (the only rank without a score), then lower row
        ranked = np.zeros(len(li), np.float32) if score is None else score(li, ri)
        rows = min(_LEFT_CHUNK, n_left - start)
        idf = met["idf"].to_numpy()
        out[start : start + rows] = best_per_group(li - start, ri, ranked, idf, rows, k)
    return out
