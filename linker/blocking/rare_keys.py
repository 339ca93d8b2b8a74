"""The keys of rare-token blocking: what each row of a table is indexed by.

See :mod:`linker.blocking.rare_tokens` for what the keys are and why (steps 1 and 2 of its
docstring). Every key is a 64-bit hash; a row's keys are distinct.

Example:
    >>> import polars as pl
    >>> keys = row_keys([pl.Series(["acme tools"])], 0, contexts=(), fuzzy=())
    >>> keys.height  # "acme", "tools", "acme tools"
    3
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from linker.vectors.ngrams import join_digit_gaps

__all__ = ["table_keys", "row_keys", "whole_values"]

_DIGITS = 7  # a long number is keyed by its last 7 digits (a phone without its prefixes)
_KEY_CHUNK = 50_000  # rows whose keys are made at once (bounds the strings' memory)
_WORD = r"[\p{L}\p{N}]+"
_CONJOIN_SEED = 11  # hash seed of (key, context value) keys
_BANDS, _BAND_ROWS = 12, 2  # MinHash bands of a fuzzy column, min-hashes per band
_BAND_SEED = 1000  # hash seeds of the min-hashes and bands start here


def whole_values(col: pl.Series) -> pl.Series:
    """A column's whole values, lower-cased, as words joined by one space (null: none)."""
    words = col.cast(pl.Utf8).str.to_lowercase().str.extract_all(_WORD).list.join(" ")
    return words.replace("", None)


def _band_keys(col: pl.Series, offset: int, tag: int) -> pl.DataFrame:
    """``(key, row)``: MinHash band keys of the character 3-grams of each value.

    Two values whose 3-gram sets overlap by a share ``J`` (Jaccard) share a given band with
    probability ``J ** _BAND_ROWS``, and some band with ``1 - (1 - J ** _BAND_ROWS) ** _BANDS``:
    0.99 at J = 0.6 (a 20-letter name with two typos), 0.39 at J = 0.2.
    """
    value = (
        pl.DataFrame({"v": whole_values(col)}).with_row_index("row", offset=offset).drop_nulls("v")
    )
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


def table_keys(
    columns: Sequence[pl.Series],
    contexts: Sequence[int] = (),
    fuzzy: Sequence[int] = (),
    *,
    start: int = 0,
    stop: int | None = None,
) -> pl.DataFrame:
    """``(key, row)``: the distinct hashed keys of rows ``start`` to ``stop`` (default: all).

    Made ``_KEY_CHUNK`` rows at a time: the words and word pairs as strings weigh about
    twenty times their hashes (memory figures: ``benchmarks/results/scale_notes.md``).
    ``contexts`` and ``fuzzy`` are positions in ``columns`` (see :func:`row_keys`).
    """
    stop = len(columns[0]) if stop is None else stop
    return pl.concat(
        [
            row_keys(
                [c.slice(at, min(_KEY_CHUNK, stop - at)) for c in columns], at, contexts, fuzzy
            )
            for at in range(start, stop, _KEY_CHUNK)
        ]
    )


def row_keys(
    columns: Sequence[pl.Series], offset: int, contexts: Sequence[int], fuzzy: Sequence[int]
) -> pl.DataFrame:
    """``(key, row)``: the distinct keys of each row of ``columns``, rows numbered from ``offset``.

    ``contexts``: the positions of the context columns (one key each, their whole value, and
    every other key once more per context value); ``fuzzy``: the columns that also make
    MinHash band keys.
    """
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
        value = pl.DataFrame({"v": whole_values(columns[j])}).with_row_index("row", offset=offset)
        ctx = value.drop_nulls("v").select(
            pl.col("row").cast(pl.UInt32), pl.concat_str(pl.lit(f"{j}\x1e"), "v").hash().alias("c")
        )
        out.append(ctx.select(pl.col("c").alias("key"), "row"))
        conjoined = base.join(ctx, on="row").select(
            (pl.col("key") ^ pl.col("c")).hash(_CONJOIN_SEED).alias("key"), "row"
        )
        out.append(conjoined)
    return pl.concat(out)
