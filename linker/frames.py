"""The one place where user data becomes a polars frame and gets validated.

Everything that enters linker (a polars ``DataFrame`` or ``LazyFrame``, a pandas ``DataFrame``
or a path to a CSV/TSV/Parquet file) goes through :func:`as_polars`; results go back to the
caller's kind through :func:`to_kind`. The ``check_*`` helpers raise
:class:`~linker.errors.InputError` with messages that name the table, the column and what to
do next. pandas is imported only inside the functions that need it, never at import time.
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import os
import sys
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, Union

import polars as pl

from linker.errors import ConfigError, InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RESERVED_PREFIX",
    "Frame",
    "FrameKind",
    "PolarsSource",
    "as_polars",
    "check_columns",
    "check_ids",
    "check_not_empty",
    "check_reserved",
    "read",
    "text_values",
    "to_kind",
]

logger = logging.getLogger(__name__)

FrameKind = Literal["polars", "pandas"]

#: A table whose results come back as polars: a polars frame (lazy or not) or a file path.
PolarsSource: TypeAlias = pl.DataFrame | pl.LazyFrame | str | os.PathLike[str]
#: Any table linker takes: a :data:`PolarsSource` or a pandas ``DataFrame`` (pandas in, pandas
#: out). pandas is optional, so it is named as a string that only type checkers resolve.
Frame: TypeAlias = Union[PolarsSource, "pd.DataFrame"]  # noqa: UP007 (`|` fails on a string)

RESERVED_PREFIX = "__lk_"

_PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
_SHOW = 5  # how many example rows or values an error message lists


def read(
    source: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> pl.DataFrame:
    """Read a CSV/TSV/TXT or Parquet file, or a folder of them, into a polars frame, every
    value as written.

    A folder (its subfolders too, hive partitions ``state=NY/`` becoming columns) or a URI
    (``s3://bucket/left/``, ``file://...``; any filesystem pyarrow knows) is read as one
    table of many files (see :mod:`linker.io.dataset`). Parquet files (``.parquet``, ``.pq``)
    keep their types. Any other file is delimited text (see :mod:`linker.io.text`): the
    delimiter is sniffed among ``, ; TAB | # % >`` unless given, quoted fields may hold
    newlines, blank lines are not records, and every column is read as text, unchanged:
    ids like ``"00123"`` keep their zeros and ``" Ann "`` its spaces. Empty values are null.
    Header names are trimmed; a repeated or blank name is an error. Text is UTF-8 (BOM or
    not), or UTF-16/32 with a BOM; other bytes are read as latin-1 (cp1252) with a warning. A
    file with a header but no rows gives an empty frame. Later errors about the frame's rows
    (null or repeated ids) name the file and its lines (of a single file).

    Args:
        source: Path of the file or folder, or a URI.
        delimiter: Field delimiter of a text file; sniffed when None.
        encoding: Python codec of a text file; found from the BOM, else UTF-8 with a latin-1
            fallback, when None.

    Returns:
        The file's records.

    Raises:
        InputError: The file is missing, empty, cannot be decoded or cannot be parsed, or
            its header repeats or leaves out a name, or a row is wider than the header; a
            folder holds no table file, another kind of file, or files that differ in format
            or columns.
        ConfigError: ``encoding`` is unknown or ``delimiter`` is not one ASCII character.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "people.csv"
        >>> _ = path.write_text("id;name\\n00123; Ann \\n", encoding="utf-8")
        >>> read(path).row(0)
        ('00123', ' Ann ')
    """
    from linker.io.dataset import is_dataset, read_dataset

    if is_dataset(source):
        return read_dataset(source, delimiter=delimiter, encoding=encoding)
    path = Path(source)
    if not path.is_file():
        raise InputError(
            f"File {str(path)!r} does not exist. Check the path (working dir: {Path.cwd()})."
        )
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        try:
            return pl.read_parquet(path)
        except Exception as e:  # polars and pyarrow raise many types for a bad file
            raise InputError(f"Cannot read Parquet file {str(path)!r}: {e}") from e
    from linker.io.text import read_text

    df, lines = read_text(path, delimiter=delimiter, encoding=encoding)
    _remember(df, Source(str(path), lines))
    return df


@dataclass(frozen=True)
class Source:
    """Where a frame that :func:`read` returned came from: its file and each row's line."""

    path: str
    lines: list[int] | None


# Which file each frame read() returned came from, so errors found later name the file and
# line. Keyed by id() with a weak reference (frames are unhashable); an entry goes with its
# frame. It holds no settings and no models: only the provenance of live frames.
_SOURCES: dict[int, tuple[weakref.ref[pl.DataFrame], Source]] = {}


def _remember(df: pl.DataFrame, source: Source) -> None:
    key = id(df)
    _SOURCES[key] = (weakref.ref(df), source)
    weakref.finalize(df, _SOURCES.pop, key, None)


def source_of(df: pl.DataFrame) -> Source | None:
    """The file and lines a frame was read from by :func:`read`, if it was.

    Example:
        >>> source_of(pl.DataFrame({"id": [1]})) is None
        True
    """
    entry = _SOURCES.get(id(df))
    return entry[1] if entry is not None and entry[0]() is df else None


def where(df: pl.DataFrame, rows: Sequence[int]) -> str:
    """Say where rows of a table are: ``line(s) 3, 9 of 'a.csv'`` for a frame :func:`read`
    returned, else ``row(s) 2, 8 (0-based)``; at most five are listed.

    Example:
        >>> where(pl.DataFrame({"id": [1, 2]}), [1])
        'row(s) 1 (0-based)'
    """
    shown = list(rows[:_SHOW])
    more = ", ..." if len(rows) > _SHOW else ""
    src = source_of(df)
    if src is not None and src.lines is not None:
        lines = ", ".join(str(src.lines[r]) for r in shown)
        return f"line(s) {lines}{more} of {src.path!r}"
    return f"row(s) {', '.join(map(str, shown))}{more} (0-based)"


def as_polars(data: object, *, name: str) -> tuple[pl.DataFrame, FrameKind]:
    """Turn user data into a polars frame and say what kind it came as; never change ``data``.

    Accepts a polars ``DataFrame`` (returned as is) or ``LazyFrame`` (collected), a pandas
    ``DataFrame`` (its index is not added as a column) or a path (read with :func:`read`).

    Args:
        data: The table.
        name: What the table is called in messages, e.g. ``"left"``.

    Returns:
        The polars frame, and ``"pandas"`` for pandas input or ``"polars"`` otherwise.

    Raises:
        InputError: ``data`` has an unsupported type or cannot be converted or read.

    Example:
        >>> df, kind = as_polars(pl.LazyFrame({"id": [1, 2]}), name="left")
        >>> (df.height, kind)
        (2, 'polars')
    """
    if isinstance(data, pl.DataFrame):
        return data, "polars"
    if isinstance(data, pl.LazyFrame):
        try:
            return data.collect(), "polars"
        except Exception as e:  # any error the lazy query raises
            raise InputError(f"Table {name!r}: collecting the LazyFrame failed: {e}") from e
    pd = sys.modules.get("pandas")  # if pandas is not imported, data cannot be a pandas frame
    if pd is not None and isinstance(data, pd.DataFrame):
        return _from_pandas(data, name=name), "pandas"
    if isinstance(data, str | os.PathLike):
        try:
            return read(data), "polars"
        except InputError as e:
            raise InputError(f"Table {name!r}: {e}") from e
    raise InputError(
        f"Table {name!r} must be a polars DataFrame or LazyFrame, a pandas DataFrame, or a path "
        f"to a CSV/TSV/Parquet file; got {type(data).__module__}.{type(data).__qualname__}."
    )


def _from_pandas(data: Any, *, name: str) -> pl.DataFrame:
    """Convert a pandas frame (typed Any: pandas is optional and has no bundled stubs)."""
    try:  # annotated: with pandas-stubs installed, from_pandas(Any) is an overloaded Any
        converted: pl.DataFrame = pl.from_pandas(data, include_index=False)
    except Exception as e:  # polars raises ValueError, pyarrow ArrowInvalid, ...
        raise InputError(
            f"Table {name!r}: cannot convert the pandas DataFrame to polars: {e}. Give columns "
            "distinct string names and fix columns that mix types with df[col].astype(str)."
        ) from e
    return converted


def _to_pandas(df: pl.DataFrame) -> Any:
    if importlib.util.find_spec("pandas") is None:
        raise ImportError("to_kind(..., 'pandas') needs pandas: pip install 'linker[pandas]'")
    return df.to_pandas()


_CONVERTERS: dict[str, Callable[[pl.DataFrame], Any]] = {
    "polars": lambda df: df,
    "pandas": _to_pandas,
}


# Returns Any because pandas is an optional dependency without bundled type stubs.
def to_kind(df: pl.DataFrame, kind: FrameKind) -> Any:
    """Give a polars frame back in the kind the user passed in.

    Args:
        df: The frame.
        kind: ``"polars"`` (returned as is) or ``"pandas"`` (converted, with a fresh index).

    Returns:
        A polars or pandas ``DataFrame``.

    Raises:
        ConfigError: ``kind`` is not one of the kinds above.

    Example:
        >>> to_kind(pl.DataFrame({"id": [1, 2]}), "pandas")["id"].tolist()
        [1, 2]
    """
    try:
        convert = _CONVERTERS[kind]
    except KeyError as e:
        raise ConfigError(f"kind must be one of {_quote(list(_CONVERTERS))}; got {kind!r}.") from e
    return convert(df)


def check_columns(df: pl.DataFrame, columns: Sequence[str], *, name: str) -> None:
    """Check that a table has all the given columns.

    Args:
        df: The table.
        columns: Column names that must be present (a single string counts as one name).
        name: What the table is called in messages.

    Raises:
        InputError: Some are missing; the message lists them, the available columns and
            close matches.

    Example:
        >>> check_columns(pl.DataFrame({"id": [1], "name": ["Ann"]}), ["name"], name="left")
    """
    wanted = [columns] if isinstance(columns, str) else list(dict.fromkeys(columns))
    missing = [c for c in wanted if c not in df.columns]
    if not missing:
        return
    hints = []
    for column in missing:
        close = difflib.get_close_matches(column, df.columns, n=3, cutoff=0.6)
        close += [c for c in df.columns if c.lower() == column.lower() and c not in close]
        if close:
            hints.append(f" For {column!r} did you mean {' or '.join(map(repr, close))}?")
    raise InputError(
        f"Table {name!r} has no column(s) {_quote(missing)}. Available columns: "
        f"{_quote(df.columns) or '(none)'}.{''.join(hints)} Check the spelling or pass the "
        "right column names."
    )


def check_not_empty(df: pl.DataFrame, *, name: str) -> None:
    """Check that a table has at least one record.

    Args:
        df: The table.
        name: What the table is called in messages.

    Raises:
        InputError: The table has no rows.

    Example:
        >>> check_not_empty(pl.DataFrame({"id": [1]}), name="left")
    """
    if df.height == 0:
        raise InputError(
            f"Table {name!r} has no records (columns: {_quote(df.columns) or '(none)'}). "
            "Pass a table with at least one row, or check the filter or file that produced it."
        )


def check_reserved(df: pl.DataFrame, *, name: str) -> None:
    """Check that no column name starts with linker's internal prefix ``__lk_``.

    Args:
        df: The table.
        name: What the table is called in messages.

    Raises:
        InputError: Some column names start with :data:`RESERVED_PREFIX`.

    Example:
        >>> check_reserved(pl.DataFrame({"id": [1]}), name="left")
    """
    reserved = [c for c in df.columns if c.startswith(RESERVED_PREFIX)]
    if reserved:
        raise InputError(
            f"Table {name!r} has column(s) {_quote(reserved)} starting with {RESERVED_PREFIX!r}, "
            "a prefix linker keeps for its own columns. Rename them first, e.g. "
            f"df.rename({{{reserved[0]!r}: {reserved[0].removeprefix(RESERVED_PREFIX)!r}}})."
        )


def check_ids(df: pl.DataFrame, id_column: str, *, name: str) -> None:
    """Check that an id column exists and holds unique, non-null values.

    Args:
        df: The table.
        id_column: The column that identifies records.
        name: What the table is called in messages.

    Raises:
        InputError: The column is missing, has nulls or repeats values; the message names
            the rows: the file and its 1-based lines for a frame from :func:`read`, else
            0-based row numbers.

    Example:
        >>> check_ids(pl.DataFrame({"id": ["a", "b"]}), "id", name="left")
    """
    check_columns(df, [id_column], name=name)
    ids = df.get_column(id_column)
    if ids.null_count():
        rows = ids.is_null().arg_true().to_list()
        raise InputError(
            f"Table {name!r} has {len(rows)} null id(s) in column {id_column!r}, at "
            f"{where(df, rows)}. Every record needs an id: fill or drop these "
            "rows, or pick another id column."
        )
    counts = (
        pl.DataFrame({"value": ids})  # fixed names: the id column may be called anything
        .with_row_index("row")
        .group_by("value", maintain_order=True)
        .agg(pl.len().alias("count"), pl.col("row"))
        .filter(pl.col("count") > 1)
    )
    if counts.height:
        top = counts.sort("count", descending=True, maintain_order=True).head(_SHOW)
        examples = ", ".join(
            f"{v!r} ({n} times: {where(df, rows)})" for v, n, rows in top.iter_rows()
        )
        raise InputError(
            f"Table {name!r} has {counts.height} repeated id value(s) in column {id_column!r}, "
            f"e.g. {examples}. Ids must be unique: drop duplicate records or pick another "
            "id column."
        )


def text_values(df: pl.DataFrame, column: str) -> list[str]:
    """Return a column as text: nulls in compared columns are kept and count as empty text.

    Other dtypes are cast to text (``3.0`` becomes ``"3.0"``); nested values use ``str``.

    Args:
        df: The table.
        column: The column to read.

    Returns:
        One string per row, in row order.

    Raises:
        InputError: The column does not exist.

    Example:
        >>> text_values(pl.DataFrame({"x": [1.5, None]}), "x")
        ['1.5', '']
    """
    check_columns(df, [column], name="input")
    series = df.get_column(column)
    if series.dtype != pl.String:
        try:
            series = series.cast(pl.String)
        except pl.exceptions.PolarsError:  # nested and binary dtypes do not cast to text
            return ["" if v is None else str(v) for v in series.to_list()]
    return series.fill_null("").to_list()


def _quote(values: Sequence[str]) -> str:
    """``'a', 'b', 'c'``, cut after 30 names."""
    shown = ", ".join(repr(v) for v in values[:30])
    return shown + (f", ... ({len(values)} in all)" if len(values) > 30 else "")
