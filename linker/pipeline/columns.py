"""Which columns to compare when the user did not say, and warnings about the ones compared.

With ``on`` left out, linker compares the columns both tables share, less the ones that
would only add noise: **row-unique code columns** (ids, keys, row numbers). ``L00001`` vs
``R00001`` is no evidence that two firms are the same, yet compared as text such codes look
alike and link rows at random. A shared column is left out when, in either table, its values
are unique per row and it is named like an id (``id``, ``*_id``, ``key``, ``code``, ``row``,
``index``, ...) or most of its values look like codes (one token holding a digit, such as
``L00001``, ``00123``, ``rec-1-org``, ``42``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import polars as pl

from linker.errors import ConfigError

__all__ = ["compared_columns", "default_on", "id_columns", "is_row_code", "warn_empty"]

logger = logging.getLogger(__name__)

_ID_NAME = re.compile(
    r"(?i)^(.*[_\W])?(id|ids|key|code|row|rowid|row_?num(ber)?|index|idx|uuid|guid|no|num|#)$"
    r"|^.*(?<![a-z])id$|^.*Id$"
)
_CODE = r"^\s*[^\s]*\d[^\s]*\s*$"  # one token with a digit: L00001, 00123, rec-1-org, 42
_SAMPLE = 10_000
_CODE_SHARE = 0.9


def is_row_code(df: pl.DataFrame, column: str) -> bool:
    """Whether a column holds a different code in every row (an id, key or row number).

    Example:
        >>> df = pl.DataFrame({"rid": ["L1", "L2"], "name": ["Acme", "Zeta"]})
        >>> is_row_code(df, "rid"), is_row_code(df, "name")
        (True, False)
    """
    series = df.get_column(column).head(_SAMPLE).drop_nulls()
    if series.len() == 0 or series.dtype.is_float() or series.dtype == pl.Boolean:
        return False
    try:
        if series.n_unique() < series.len():
            return False
        text = series.cast(pl.String)
    except pl.exceptions.PolarsError:  # nested values: no code column
        return False
    if _ID_NAME.match(column):
        return True
    codes = text.str.contains(_CODE).sum()
    return bool(codes >= _CODE_SHARE * text.len())


def id_columns(id: str | Sequence[str] | None) -> tuple[str, ...]:  # noqa: A002 - as Linker(id=)
    """``(left_id, right_id)`` of an ``id=`` setting; ``()`` without one.

    Example:
        >>> id_columns("id"), id_columns(("lid", "rid")), id_columns(None)
        (('id', 'id'), ('lid', 'rid'), ())
    """
    if id is None:
        return ()
    return (id, id) if isinstance(id, str) else tuple(id)


def compared_columns(
    left: pl.DataFrame,
    right: pl.DataFrame,
    *,
    on: Sequence[str] | str | None,
    left_on: Sequence[str] | str | None,
    right_on: Sequence[str] | str | None,
    ids: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """The left and right columns compared: ``on`` both sides, else ``left_on``/``right_on``,
    else :func:`default_on` (the shared columns less ``ids`` and row-unique codes).

    Raises:
        ConfigError: both ``on`` and ``left_on``/``right_on`` are given, or the two lists
            differ in length.

    Example:
        >>> df = pl.DataFrame({"id": ["L1", "L2"], "name": ["Acme", "Zeta"]})
        >>> compared_columns(df, df, on=None, left_on="name", right_on=["name"])
        (['name'], ['name'])
    """

    def as_list(v: Sequence[str] | str | None) -> list[str]:
        return [v] if isinstance(v, str) else list(v or [])

    both, lo, ro = as_list(on), as_list(left_on), as_list(right_on)
    if both and (lo or ro):
        raise ConfigError("give either on=... or left_on=/right_on=..., not both")
    if not both and not lo and not ro:
        both, _ = default_on(left, right, ids=ids)
    lo, ro = (both, both) if both else (lo, ro)
    if len(lo) != len(ro):
        raise ConfigError(f"left_on has {len(lo)} columns but right_on has {len(ro)}: pair them up")
    return lo, ro


def default_on(
    left: pl.DataFrame, right: pl.DataFrame, *, ids: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """The shared columns to compare, and the row-unique code columns left out.

    Args:
        left: Left table.
        right: Right table (the same table for dedup).
        ids: Id columns, never compared.

    Returns:
        ``(compared, left_out)``, both in left column order.

    Raises:
        ConfigError: No shared column is left to compare; the message lists what was left out.

    Example:
        >>> left = pl.DataFrame({"lid": ["L1", "L2"], "name": ["Acme", "Zeta"]})
        >>> right = pl.DataFrame({"lid": ["R1", "R2"], "name": ["ACME", "Zeta Ltd"]})
        >>> default_on(left, right)
        (['name'], ['lid'])
    """
    shared = [c for c in left.columns if c in right.columns and c not in ids]
    codes = [c for c in shared if is_row_code(left, c) or is_row_code(right, c)]
    compared = [c for c in shared if c not in codes]
    if not compared:
        left_out = f" ({', '.join(map(repr, codes))} look like row ids or codes)" if codes else ""
        raise ConfigError(
            f"no columns to compare: pass on=[...] (CLI: --on) or left_on/right_on. The tables "
            f"share no column to compare{left_out}; left: {left.columns}, right: {right.columns}"
        )
    if codes:
        logger.info("on= not given: leaving out the row-unique code column(s) %s", codes)
    logger.info("on= not given: comparing the shared columns %s", compared)
    return compared, codes


def warn_empty(df: pl.DataFrame, columns: Sequence[str], *, name: str) -> list[str]:
    """Warn about compared columns that are empty (null or blank) in every row of a table.

    Such a column cannot tell records apart: every pair agrees on "nothing". Returns them.

    Example:
        >>> warn_empty(pl.DataFrame({"name": ["a"], "city": [" "]}), ["name", "city"], name="left")
        ['city']
    """
    empty = []
    for column in dict.fromkeys(columns):
        series = df.get_column(column)
        try:
            blank = series.cast(pl.String).str.strip_chars().fill_null("") == ""
        except pl.exceptions.PolarsError:  # nested values are never blank text
            continue
        if df.height and bool(blank.all()):
            empty.append(column)
    if empty:
        logger.warning(
            "compared column(s) %s of table %r are empty in every row, so they cannot tell "
            "records apart: drop them from on=... (CLI: --on) or fill them",
            empty,
            name,
        )
    return empty
