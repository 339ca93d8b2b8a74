"""Pair features: per-column rapidfuzz similarities next to the blockers' cosines.

Every feature is a similarity in ``[0, 1]``. A column that is empty on either side has no
evidence either way and gets the neutral value ``0.5``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = [
    "MISSING",
    "code_columns",
    "code_features",
    "column_features",
    "digit_columns",
    "digit_features",
]

logger = logging.getLogger(__name__)

MISSING = 0.5
_SCORERS = ("ratio", "token_set_ratio")


def column_features(
    left_cols: Sequence[pl.Series],
    right_cols: Sequence[pl.Series],
    left_rows: npt.NDArray[np.int64],
    right_rows: npt.NDArray[np.int64],
    *,
    names: Sequence[str],
    chunk_size: int = 500_000,
) -> dict[str, npt.NDArray[np.float32]]:
    """Rapidfuzz ``ratio`` and ``token_set_ratio`` of each compared column, for each pair.

    Each distinct pair of values is compared once: sibling records repeat their city, state
    or postcode, so most pairs of such columns repeat a value pair seen before.

    Args:
        left_cols: One cleaned text Series per compared column (nulls as ``""``), left side.
        right_cols: The same for the right side, in the same order.
        left_rows: Left row number of each pair.
        right_rows: Right row number of each pair.
        names: A short name per column, used in the feature names.
        chunk_size: Distinct value pairs compared at once: bounds the Python strings held.

    Returns:
        ``{"<name>_<scorer>": similarities}`` with one float32 value per pair.

    Example:
        >>> import numpy as np, polars as pl
        >>> f = column_features([pl.Series(["acme corp"])], [pl.Series(["corp acme", ""])],
        ...                     np.array([0, 0]), np.array([0, 1]), names=["name"])
        >>> [round(float(x), 2) for x in f["name_token_set_ratio"]]
        [1.0, 0.5]
    """
    from linker._kernels import first_seen

    out: dict[str, npt.NDArray[np.float32]] = {}
    for name, lc, rc in zip(names, left_cols, right_cols, strict=True):
        lid, rid = _value_ids(lc), _value_ids(rc)
        pair = lid[left_rows]  # then the pair's value pair as one int64, built in place
        pair *= np.int64(rid.max() + 1 if len(rid) else 1)
        pair += rid[right_rows]
        where, first = first_seen(pair)
        del pair
        sims = _similarities(lc, rc, left_rows[first], right_rows[first], chunk_size)
        for scorer, values in zip(_SCORERS, sims, strict=True):
            out[f"{name}_{scorer}"] = values[where]
    return out


def _value_ids(col: pl.Series) -> npt.NDArray[np.int64]:
    """The same number for equal values of ``col`` (nulls: 0), a different one for others."""
    return col.rank("dense").fill_null(0).to_numpy().astype(np.int64)


def _similarities(
    left_col: pl.Series,
    right_col: pl.Series,
    left_rows: npt.NDArray[np.int64],
    right_rows: npt.NDArray[np.int64],
    chunk_size: int,
) -> list[npt.NDArray[np.float32]]:
    """Each scorer's similarity of ``left_col[left_rows[i]]`` and ``right_col[right_rows[i]]``."""
    from rapidfuzz import fuzz
    from rapidfuzz.process import cpdist

    sims = [np.empty(len(left_rows), np.float32) for _ in _SCORERS]
    for start in range(0, len(left_rows), chunk_size):
        part = slice(start, start + chunk_size)
        a, b = left_col.gather(left_rows[part]), right_col.gather(right_rows[part])
        empty = _blank(a) | _blank(b)
        a_list, b_list = a.to_list(), b.to_list()
        for scorer, out in zip(_SCORERS, sims, strict=True):
            raw = cpdist(a_list, b_list, scorer=getattr(fuzz, scorer), workers=-1, dtype=np.float32)
            values = (np.asarray(raw, dtype=np.float32) / 100.0).astype(np.float32)
            values[empty] = MISSING
            out[part] = values
    return sims


def _blank(values: pl.Series) -> npt.NDArray[np.bool_]:
    """Null or empty values."""
    return (values.is_null() | (values.cast(pl.Utf8).str.len_bytes() == 0)).to_numpy()


def digit_columns(columns: Sequence[pl.Series], *, sample: int = 2000) -> list[int]:
    """Which columns hold mostly digits (phones, postcodes, years): their indexes.

    A column counts when at least half of the non-space characters of its first ``sample``
    values are digits.

    Example:
        >>> digit_columns([pl.Series(["Acme"]), pl.Series(["(312) 681-8398"])])
        [1]
    """
    out = []
    for i, col in enumerate(columns):
        head = col.head(sample).cast(pl.Utf8).fill_null("")
        chars = int(head.str.replace_all(r"\s", "").str.len_chars().sum() or 0)
        digits = int(head.str.replace_all(r"\D", "").str.len_chars().sum() or 0)
        if chars and digits >= 0.5 * chars:
            out.append(i)
    return out


def digit_features(
    left_cols: Sequence[pl.Series],
    right_cols: Sequence[pl.Series],
    left_rows: npt.NDArray[np.int64],
    right_rows: npt.NDArray[np.int64],
    *,
    names: Sequence[str],
) -> dict[str, npt.NDArray[np.float32]]:
    """``<name>_digits``: do the digit strings agree, for the columns of mostly digits.

    ``1`` when the digits are equal or one ends with the other (a phone written with and
    without its country code) and the shorter has at least 3 digits, ``0`` when they differ,
    :data:`MISSING` when a side has no digit. Rapidfuzz calls ``642-9466`` and ``642-9463``
    close; for a phone or a postcode they are different numbers (a sibling firm's office).

    Example:
        >>> import numpy as np, polars as pl
        >>> f = digit_features([pl.Series(["+1 404 523 3020", "60679"])],
        ...                    [pl.Series(["(404) 523-3020", "60670", ""])],
        ...                    np.array([0, 1, 1]), np.array([0, 1, 2]), names=["phone"])
        >>> f["phone_digits"].tolist()
        [1.0, 0.0, 0.5]
    """
    out: dict[str, npt.NDArray[np.float32]] = {}
    for i in digit_columns(left_cols):

        def digits(col: pl.Series, rows: npt.NDArray[np.int64]) -> pl.Series:
            return col.cast(pl.Utf8).fill_null("").str.replace_all(r"\D", "").gather(rows)

        pairs = pl.DataFrame(
            {"a": digits(left_cols[i], left_rows), "b": digits(right_cols[i], right_rows)}
        )
        a, b = pl.col("a"), pl.col("b")
        short = pl.min_horizontal(a.str.len_chars(), b.str.len_chars())
        same = (a == b) | ((short >= 3) & (a.str.ends_with(b) | b.str.ends_with(a)))
        value = pl.when(short == 0).then(pl.lit(MISSING)).when(same).then(1.0).otherwise(0.0)
        out[f"{names[i]}_digits"] = pairs.select(value).to_series().to_numpy().astype(np.float32)
    return out


def _codes(col: pl.Series) -> pl.DataFrame:
    """Each value's model codes (words with letters and digits, 3+ characters, ``-./``
    inside dropped), its longest code, and its letters and digits run together."""
    low = col.cast(pl.Utf8).fill_null("").str.to_lowercase()
    joined = low.str.replace_all(r"(\w)[-./](\w)", "$1$2")
    codes = joined.str.extract_all(r"[a-z0-9]*[0-9][a-z0-9]*").list.eval(
        pl.element().filter(
            pl.element().str.contains(r"[a-z]") & (pl.element().str.len_chars() >= 3)
        )
    )
    return pl.DataFrame(
        {
            "codes": codes,
            "top": codes.list.eval(pl.element().sort_by(pl.element().str.len_chars())).list.last(),
            "flat": low.str.replace_all(r"[^a-z0-9]", ""),
        }
    )


def code_columns(columns: Sequence[pl.Series], *, sample: int = 2000) -> list[int]:
    """Columns where at least a tenth of the values hold a model code (and not mostly digits).

    Example:
        >>> code_columns([pl.Series(["Sony KDL-40V3000 TV", "Canon SD1100"]), pl.Series(["a"])])
        [0]
    """
    digits = set(digit_columns(columns, sample=sample))
    out = []
    for i, col in enumerate(columns):
        if i in digits or len(col) == 0:
            continue
        head = col.head(sample)
        has = int((_codes(head)["codes"].list.len() > 0).sum())
        if has >= 0.1 * len(head):
            out.append(i)
    return out


def code_features(
    left_cols: Sequence[pl.Series],
    right_cols: Sequence[pl.Series],
    left_rows: npt.NDArray[np.int64],
    right_rows: npt.NDArray[np.int64],
    *,
    names: Sequence[str],
) -> dict[str, npt.NDArray[np.float32]]:
    """``<name>_codes``: do the two values share a model code, for columns that hold codes.

    ``1`` when a code is on both sides, or the longest code of one side appears in the other
    value with spaces and punctuation removed (``KDL40V3000`` in ``Bravia KDL-40V3000``),
    ``0`` when both hold codes and share none (``CS3`` against ``CS4``: another product),
    :data:`MISSING` when a side has none.

    Example:
        >>> import numpy as np, polars as pl
        >>> f = code_features([pl.Series(["Sony KDL-40V3000 TV", "Adobe CS3", "Acme"])],
        ...                   [pl.Series(["kdl40v3000 bravia", "adobe cs4"])],
        ...                   np.array([0, 1, 2]), np.array([0, 1, 1]), names=["name"])
        >>> f["name_codes"].tolist()
        [1.0, 0.0, 0.5]
    """
    out: dict[str, npt.NDArray[np.float32]] = {}
    for i in code_columns(left_cols):
        a = _codes(left_cols[i]).select(pl.all().name.prefix("a_"))[left_rows]
        b = _codes(right_cols[i]).select(pl.all().name.prefix("b_"))[right_rows]
        pairs = pl.concat([a, b], how="horizontal")
        shared = (
            (pl.col("a_codes").list.set_intersection(pl.col("b_codes")).list.len() > 0)
            | pl.col("b_flat").str.contains(pl.col("a_top").fill_null("\x00"), literal=True)
            | pl.col("a_flat").str.contains(pl.col("b_top").fill_null("\x00"), literal=True)
        )
        both = (pl.col("a_codes").list.len() > 0) & (pl.col("b_codes").list.len() > 0)
        value = pl.when(shared).then(1.0).when(both).then(0.0).otherwise(pl.lit(MISSING))
        out[f"{names[i]}_codes"] = pairs.select(value).to_series().to_numpy().astype(np.float32)
    return out
