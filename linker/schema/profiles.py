"""Column profiles: what the schema matcher knows about each column, with or without data.

A :class:`ColumnProfile` holds a column's name, its description (when a schema or glossary
gives one), its kind (text, number, date, bool, empty), its most frequent distinct values (or
the allowed values of a standard) and its numeric range. A :class:`Schema` is an ordered list
of profiles with distinct names, built from a data table (:meth:`Schema.from_frame`), from a
schema table of names and descriptions without data (:meth:`Schema.from_table`), or from plain
names (:meth:`Schema.from_names`). :func:`as_schema` picks the right one for user input.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from linker.errors import InputError
from linker.frames import as_polars, check_columns, check_not_empty

__all__ = ["ColumnKind", "ColumnProfile", "Schema", "as_schema", "profile_series"]

logger = logging.getLogger(__name__)

ColumnKind = Literal["text", "number", "date", "bool", "empty", "unknown"]
_MAX_VALUE_CHARS = 60
_NUMERIC_SHARE = 0.9  # a text column whose values are at least this often numbers is numeric
_DUPLICATED = re.compile(r"^(.*)_duplicated_\d+$")  # how polars renames a repeated CSV header


@dataclass(frozen=True)
class ColumnProfile:
    """What is known about one column.

    Args:
        name: The column name as given.
        description: Free-text meaning (schema, data dictionary or glossary), if any.
        kind: ``"text"``, ``"number"``, ``"date"``, ``"bool"``, ``"empty"`` (no non-null value)
            or ``"unknown"`` (no data given).
        values: Distinct values, most frequent first, or the allowed values of a standard.
        low: 5th percentile of a numeric column.
        high: 95th percentile of a numeric column.

    Example:
        >>> ColumnProfile("gender", "Self-reported gender", values=("female", "male")).kind
        'unknown'
    """

    name: str
    description: str | None = None
    kind: ColumnKind = "unknown"
    values: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None


def _kind(series: pl.Series) -> ColumnKind:
    dtype = series.dtype
    if series.null_count() == series.len():
        return "empty"
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_numeric():
        return "number"
    if dtype.is_temporal():
        return "date"
    if dtype == pl.String:
        values = series.drop_nulls()
        numbers = values.str.strip_chars().cast(pl.Float64, strict=False)
        if numbers.null_count() <= (1 - _NUMERIC_SHARE) * values.len():
            return "number"
    return "text"


def profile_series(
    series: pl.Series, *, description: str | None = None, max_values: int = 20
) -> ColumnProfile:
    """Profile one column of data: kind, most frequent distinct values, numeric range.

    Args:
        series: The column (its name is the profile's name).
        description: The column's description, if known.
        max_values: Distinct values kept, most frequent first (ties by value).

    Example:
        >>> p = profile_series(pl.Series("sex", ["M", "F", "M", None]))
        >>> p.kind, p.values
        ('text', ('M', 'F'))
    """
    kind = _kind(series)
    values: tuple[str, ...] = ()
    low = high = None
    if kind != "empty":
        text = series.drop_nulls().cast(pl.String).str.strip_chars()
        text = text.filter(text.str.len_chars() > 0)
        counts = text.value_counts(name="__lk_n").sort(
            ["__lk_n", series.name], descending=[True, False]
        )
        values = tuple(v[:_MAX_VALUE_CHARS] for v in counts[series.name].head(max_values))
    if kind == "number":
        numbers = series.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        low, high = numbers.quantile(0.05), numbers.quantile(0.95)
    return ColumnProfile(series.name, description, kind, values, low, high)


def _split_values(cell: Any, sep: str) -> tuple[str, ...]:
    if cell is None:
        return ()
    items = cell if isinstance(cell, list | tuple) else str(cell).split(sep)
    return tuple(dict.fromkeys(s for s in (str(v).strip() for v in items) if s))


class Schema:
    """An ordered list of column profiles with distinct names.

    Args:
        columns: The profiles.
        name: What the schema is called in messages (``"source"``, ``"target"``, ...).

    Raises:
        InputError: There are no columns, or a name repeats.

    Example:
        >>> s = Schema.from_names({"dob": "date of birth", "sex": None})
        >>> [c.name for c in s.columns], s.columns[0].description
        (['dob', 'sex'], 'date of birth')
    """

    def __init__(self, columns: Sequence[ColumnProfile], *, name: str = "schema"):
        names = [c.name for c in columns]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InputError(
                f"Schema {name!r} repeats column name(s) {', '.join(map(repr, repeated))}. "
                "Each column needs a distinct name: rename or drop the repeats."
            )
        if not names:
            raise InputError(f"Schema {name!r} has no columns: give at least one column.")
        self.columns = list(columns)
        self.name = name

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return [c.name for c in self.columns]

    @classmethod
    def from_frame(cls, df: pl.DataFrame, *, name: str = "source", max_values: int = 20) -> Schema:
        """Profile every column of a data table (a header without rows: names only).

        Example:
            >>> Schema.from_frame(pl.DataFrame({"age": [41, 63]})).columns[0].kind
            'number'
        """
        if df.width == 0:
            raise InputError(f"Table {name!r} has no columns: give at least one column.")
        _check_renamed(df.columns, name=name)
        if df.height == 0:
            logger.info("table %r has a header but no rows: matched on column names only", name)
            return cls([ColumnProfile(c) for c in df.columns], name=name)
        empty = [c for c in df.columns if df[c].null_count() == df.height]
        if empty:
            logger.warning(
                "table %r: column(s) %s are null in every row; they are matched on their "
                "name (and description) only",
                name,
                ", ".join(map(repr, empty)),
            )
        return cls([profile_series(df[c], max_values=max_values) for c in df.columns], name=name)

    @classmethod
    def from_table(
        cls,
        df: pl.DataFrame,
        *,
        column: str = "column",
        description: str | None = "description",
        values: str | None = None,
        sep: str = "|",
        name: str = "target",
    ) -> Schema:
        """A schema without data: one row per column, with its name and description.

        Args:
            df: The schema table.
            column: The column holding the column names.
            description: The column holding descriptions (``None``: names only).
            values: The column holding allowed values (a list, or text split on ``sep``).
            sep: Separator of allowed values given as text.
            name: What the schema is called in messages.

        Example:
            >>> t = pl.DataFrame({"column": ["dob"], "description": ["date of birth"]})
            >>> Schema.from_table(t).columns[0].description
            'date of birth'
        """
        wanted = [c for c in (column, description, values) if c is not None]
        check_columns(df, wanted, name=name)
        check_not_empty(df, name=name)
        names = df[column].cast(pl.String).str.strip_chars()
        if names.null_count() or (names == "").any():
            rows = (names.is_null() | (names == "")).arg_true().head(5).to_list()
            raise InputError(
                f"Schema {name!r} has empty names in column {column!r} at row(s) "
                f"{', '.join(map(str, rows))} (0-based): give every column a name."
            )
        descs = _texts(df, description)
        allowed = df[values].to_list() if values else [None] * df.height
        return cls(
            [
                ColumnProfile(
                    n,
                    d,
                    "unknown",
                    _split_values(v, sep),
                )
                for n, d, v in zip(names.to_list(), descs, allowed, strict=True)
            ],
            name=name,
        )

    @classmethod
    def from_names(
        cls, names: Sequence[str] | Mapping[str, str | None], *, name: str = "target"
    ) -> Schema:
        """A schema from column names, or from ``{name: description}``.

        Example:
            >>> len(Schema.from_names(["age", "sex"]))
            2
        """
        items = names.items() if isinstance(names, Mapping) else ((n, None) for n in names)
        return cls([ColumnProfile(str(n), _clean(d)) for n, d in items], name=name)


def _clean(text: object) -> str | None:
    s = None if text is None else str(text).strip()
    return s or None


def _texts(df: pl.DataFrame, column: str | None) -> list[str | None]:
    if column is None:
        return [None] * df.height
    return [_clean(v) for v in df[column].to_list()]


def _check_renamed(columns: Sequence[str], *, name: str) -> None:
    """Reject headers that polars renamed because the file repeated them."""
    present = set(columns)
    repeated = sorted({m[1] for c in columns if (m := _DUPLICATED.match(c)) and m[1] in present})
    if repeated:
        raise InputError(
            f"Table {name!r} repeats column name(s) {', '.join(map(repr, repeated))} (read as "
            f"{repeated[0]!r}_duplicated_0, ...). Give every column a distinct header."
        )


def as_schema(
    data: Any, *, name: str, is_schema: bool = False, max_values: int = 20, **table: Any
) -> Schema:
    """Turn user input into a :class:`Schema`.

    Args:
        data: A :class:`Schema`; a list of names or a ``{name: description}`` mapping; or a
            table (polars/pandas frame or path): a data table to profile, or, with
            ``is_schema=True``, a schema table of names and descriptions.
        name: What the input is called in messages.
        is_schema: Read a table as a schema table (see :meth:`Schema.from_table`).
        max_values: Distinct values kept per profiled column.
        **table: ``column=``, ``description=``, ``values=``, ``sep=`` for a schema table.

    Raises:
        InputError: Repeated or empty column names, an empty table, missing columns.

    Example:
        >>> as_schema(["age"], name="target").names
        ['age']
    """
    if isinstance(data, Schema):
        return data
    if isinstance(data, Mapping) or (
        isinstance(data, Sequence) and not isinstance(data, str) and not hasattr(data, "columns")
    ):
        return Schema.from_names(data, name=name)
    columns = getattr(data, "columns", None)
    if columns is not None and not isinstance(data, pl.DataFrame | pl.LazyFrame):
        names = [str(c) for c in columns]  # a pandas frame may repeat names; polars cannot
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InputError(
                f"Table {name!r} repeats column name(s) {', '.join(map(repr, repeated))}. "
                "Give every column a distinct name, e.g. df.columns = [...]."
            )
    if isinstance(data, str | os.PathLike):
        name = f"{name} ({os.fspath(data)})"  # messages name the file
    df, _ = as_polars(data, name=name)
    if is_schema:
        return Schema.from_table(df, name=name, **table)
    return Schema.from_frame(df, name=name, max_values=max_values)
