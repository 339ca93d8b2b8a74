"""Rare-token blocking: candidates that share rare words or numbers, found with an inverted index.

The ANN blockers rank every record by one similarity over the whole record; at a million
records, thousands of look-alike firms sit between a record and its rewritten twin, and a
twin whose only strong evidence is one shared phone number or one rare word falls out of the
top ``k``. An inverted index finds those pairs exactly and cheaply:

1. every compared column of every record yields *keys*: its words (runs of letters and
   digits, lower-cased), each pair of adjacent words, and for a number of more than
   ``_DIGITS`` digits its last ``_DIGITS`` (country and area prefixes are written or left out
   at will); keys are tagged with their column, so a zip never meets a street number;
2. keys held by more than ``max_df`` right records say little and are dropped, and so are
   the commonest of the rest until the join below stays within ``pairs_per_left`` pairs per
   left record (rarest keys are kept first);
3. left and right postings are joined on the key (polars), each pair scores the summed IDF
   ``log(1 + n_right / df)`` of the keys it shares, and each left record keeps its ``k``
   best right records (ties by right row).

Example:
    >>> import polars as pl
    >>> left = [pl.Series(["acme tools inc", "zeta ltd"]), pl.Series(["614 452 3372", ""])]
    >>> right = [pl.Series(["zeta limited", "acme tool"]), pl.Series(["", "+1 614.452.3372"])]
    >>> token_neighbours(left, right, 2).tolist()
    [[1, -1], [0, -1]]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.lexical import join_digit_gaps

__all__ = ["token_neighbours"]

logger = logging.getLogger(__name__)

_DIGITS = 7  # a long number is keyed by its last 7 digits (a phone without its prefixes)
_LEFT_CHUNK = 100_000  # left records joined at once (bounds the join's memory)
_KEY_CHUNK = 100_000  # rows whose keys are made at once (bounds the strings' memory)
_WORD = r"[\p{L}\p{N}]+"


def _keys(columns: Sequence[pl.Series]) -> pl.DataFrame:
    """``(key, row)``: the distinct hashed keys of each row (see the module docstring).

    Made ``_KEY_CHUNK`` rows at a time: the words and word pairs as strings weigh about
    twenty times their hashes (at 300k rows, 1.2 GB at once against 57 MB of hashes).
    """
    n = len(columns[0])  # token_neighbours calls with rows on both sides
    return pl.concat(
        [
            _chunk_keys([c.slice(start, _KEY_CHUNK) for c in columns], start)
            for start in range(0, n, _KEY_CHUNK)
        ]
    )


def _chunk_keys(columns: Sequence[pl.Series], offset: int) -> pl.DataFrame:
    parts = []
    for i, col in enumerate(columns):
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
    keys = pl.concat(parts).select(pl.col("k").hash().alias("key"), pl.col("row").cast(pl.UInt32))
    return keys.unique()


def _kept_keys(
    lkeys: pl.DataFrame,
    rkeys: pl.DataFrame,
    *,
    n_left: int,
    n_right: int,
    max_df: int,
    pairs_per_left: int,
) -> pl.DataFrame:
    """The keys to join on, rarest first, within the pair budget, with their IDF weights."""
    rdf = rkeys.group_by("key").len("df_r")
    ldf = lkeys.group_by("key").len("df_l")
    both = (
        ldf.join(rdf, on="key")
        .filter(pl.col("df_r") <= max_df)
        .with_columns(cost=pl.col("df_l").cast(pl.Int64) * pl.col("df_r"))
        .sort(["df_r", "key"])
        .filter(pl.col("cost").cum_sum() <= pairs_per_left * max(n_left, 1))
    )
    weight = (1.0 + n_right / pl.col("df_r").cast(pl.Float32)).log().cast(pl.Float32)
    return both.select("key", weight.alias("idf"))


def token_neighbours(
    left: Sequence[pl.Series],
    right: Sequence[pl.Series],
    k: int,
    *,
    max_df: int = 1000,
    pairs_per_left: int = 200,
) -> npt.NDArray[np.int64]:
    """The ``k`` right rows sharing the rarest keys with each left row, best first.

    Args:
        left: The compared columns of the left table, as text.
        right: The same columns of the right table, in the same order.
        k: Right rows kept per left row.
        max_df: Keys held by more right rows than this are not used.
        pairs_per_left: Budget of the join, in (left, right) key matches per left row: the
            commonest keys under ``max_df`` are dropped until it holds.

    Returns:
        ``(n_left, k)`` right row numbers, best first (most summed IDF, then lowest row);
        ``-1`` where a left row has fewer than ``k`` right rows sharing a key.

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
    lkeys, rkeys = _keys(left), _keys(right)
    kept = _kept_keys(
        lkeys, rkeys, n_left=n_left, n_right=n_right, max_df=max_df,
        pairs_per_left=pairs_per_left,
    )  # fmt: skip
    logger.debug("token blocking on %d keys", kept.height)
    rpost = rkeys.join(kept, on="key").rename({"row": "right_row"})
    lpost = lkeys.join(kept.select("key"), on="key").rename({"row": "left_row"})
    for start in range(0, n_left, _LEFT_CHUNK):
        part = lpost.filter(pl.col("left_row").is_between(start, start + _LEFT_CHUNK - 1))
        joined = part.join(rpost, on="key")
        # one int64 code per pair: a one-column group-by and sort (two columns cost far more)
        code = joined["left_row"].cast(pl.Int64) * n_right + joined["right_row"].cast(pl.Int64)
        best = (
            pl.DataFrame({"code": code, "idf": joined["idf"]})
            .group_by("code")
            .agg(pl.col("idf").sum())
            .select(
                (pl.col("code") // n_right).alias("left_row"),
                (pl.col("code") % n_right).alias("right_row"),
                "idf",
            )
            .sort(["left_row", "idf", "right_row"], descending=[False, True, False])
            .with_columns(rank=pl.int_range(pl.len()).over("left_row"))
            .filter(pl.col("rank") < k)
        )
        del joined, code
        rows = best["left_row"].to_numpy()
        out[rows, best["rank"].to_numpy()] = best["right_row"].to_numpy()
    return out
