"""A table stored as many files: a folder of Parquet or CSV parts, local or in an object store.

:func:`table_files` finds the files of a source (a folder, searched with its subfolders; a
file or folder URI such as ``s3://bucket/left/``, through pyarrow's filesystems) and checks
them before any row is read: what :func:`read_dataset` (in this process) and the Ray backend
(in its workers) read is the same list, with the same schema.

- **Files.** ``.parquet``/``.pq`` files, or text files (``.csv``, ``.tsv``, ``.txt``); names
  starting with ``.`` or ``_`` are skipped (``_SUCCESS``, ``.crc``, ``_metadata``), as Spark
  and pyarrow skip them. A folder of both kinds, an empty folder or another kind of file is an
  :class:`~linker.errors.InputError` that names it.
- **Partitions.** Hive-style folders (``left/state=NY/part-0.parquet``) give columns
  (``state``), their values as the folder names write them (text; ``%2F`` decoded), added after
  the files' own columns. Every file must sit under the same keys.
- **One schema.** Every file has the same columns (in any order; the first file's order is
  kept) of the same types (a Parquet column that is all null in one file takes the others'
  type; text is text, whichever Arrow string type a writer chose); Parquet footers are
  checked before any row is read, text headers as files are read. Text files are read as
  :func:`linker.io.text.read_text` reads one: every value as written.
- **Order.** Files are read in the order of their paths, rows in file order.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl

from linker.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs

__all__ = ["TableFiles", "is_dataset", "read_dataset", "table_files"]

logger = logging.getLogger(__name__)

Format = Literal["parquet", "text"]
_KINDS: dict[str, Format] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "text",
    ".tsv": "text",
    ".txt": "text",
}
_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_SHOW = 5


@dataclass(frozen=True)
class TableFiles:
    """The checked files of one table.

    Attributes:
        source: The path or URI as given (messages name it).
        filesystem: The pyarrow filesystem the paths are on.
        paths: The files, in reading order (paths on ``filesystem``).
        format: ``"parquet"`` or ``"text"``.
        partitions: Each file's hive partition values, by key (the same keys for all).
        schema: The Parquet files' common schema, partition keys left out (``None`` for
            text files, whose headers are checked as they are read).
    """

    source: str
    filesystem: pafs.FileSystem
    paths: tuple[str, ...]
    format: Format
    partitions: tuple[dict[str, str | None], ...]
    schema: pa.Schema | None

    @property
    def keys(self) -> list[str]:
        """The partition keys (``[]`` when the files are not partitioned)."""
        return list(self.partitions[0]) if self.partitions else []


def is_dataset(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` is read by :func:`read_dataset`: a folder or a URI (``s3://...``,
    ``file://...``), rather than one local file.

    Example:
        >>> is_dataset("s3://bucket/left/"), is_dataset("left.csv")
        (True, False)
    """
    return "://" in str(source) or Path(source).is_dir()


def table_files(source: str | os.PathLike[str]) -> TableFiles:
    """Find and check the files of a table (see the module's docstring).

    Args:
        source: A local folder or file, or a URI that pyarrow knows (``s3://``, ``gs://``,
            ``hdfs://``, ``file://``, ...).

    Raises:
        InputError: the source cannot be reached or holds no table file, mixes formats, holds
            another kind of file, or its files differ in columns, types or partition keys.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "state=NY").mkdir()
        >>> pl.DataFrame({"id": ["a"]}).write_parquet(root / "state=NY" / "part-0.parquet")
        >>> files = table_files(root)
        >>> files.format, files.schema.names, files.partitions
        ('parquet', ['id'], ({'state': 'NY'},))
    """
    fs, base = _filesystem(source)
    name = str(source)
    info = _info(fs, base, name)
    if info.type.name == "File":
        paths, base_dir = [base], _parent(base)
    elif info.type.name == "Directory":
        paths, base_dir = _listing(fs, base, name), base
    else:
        raise InputError(
            f"{name!r} does not exist. Check the path (working dir: {Path.cwd()}); a folder of "
            "Parquet or CSV files, a file or a URI such as s3://bucket/folder/ is read."
        )
    fmt = _format(paths, name)
    partitions = tuple(_partition(p, base_dir, name) for p in paths)
    keys = [list(p) for p in partitions]
    if any(k != keys[0] for k in keys):
        other = next(i for i, k in enumerate(keys) if k != keys[0])
        raise InputError(
            f"Table {name!r}: {paths[0]!r} sits under the partition keys {keys[0]} but "
            f"{paths[other]!r} under {keys[other]}. Put every file under the same key=value "
            "folders (or none)."
        )
    schema = _parquet_schema(fs, paths, name) if fmt == "parquet" else None
    clash = sorted(set(schema.names if schema is not None else ()) & set(keys[0]))
    if clash:
        raise InputError(
            f"Table {name!r}: the partition key(s) {clash} of its folders are columns of its "
            "files too. Rename the folders or the columns."
        )
    return TableFiles(name, fs, tuple(paths), fmt, partitions, schema)


def read_dataset(
    source: str | os.PathLike[str], *, delimiter: str | None, encoding: str | None
) -> pl.DataFrame:
    """Read every file of a table (see :func:`table_files`) into one frame, in this process.

    Args:
        source: The folder, file or URI.
        delimiter: Field delimiter of text files; sniffed per file when None.
        encoding: Python codec of text files; found per file when None.

    Raises:
        InputError: see :func:`table_files` and :func:`combine`; a file that cannot be read.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = (root / "a.csv").write_text("id,name\\n001,Ann\\n", encoding="utf-8")
        >>> _ = (root / "b.csv").write_text("name,id\\nBob,002\\n", encoding="utf-8")
        >>> read_dataset(root, delimiter=None, encoding=None).rows()
        [('001', 'Ann'), ('002', 'Bob')]
    """
    files = table_files(source)
    frames = [
        read_file(files, i, delimiter=delimiter, encoding=encoding) for i in range(len(files.paths))
    ]
    logger.debug("read %d files of %s", len(frames), files.source)
    return combine(files, frames)


def read_file(
    files: TableFiles, i: int, *, delimiter: str | None, encoding: str | None
) -> pl.DataFrame:
    """File ``i`` of ``files`` as a frame, its partition columns added (a Ray task of the Ray
    backend's read of text files runs this too).

    Raises:
        InputError: the file cannot be read or parsed.
    """
    path = files.paths[i]
    if files.format == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path, filesystem=files.filesystem, schema=files.schema)
        except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ... on a bad file
            raise InputError(f"Cannot read Parquet file {path!r}: {e}") from e
        df = pl.DataFrame(pl.from_arrow(table))
    else:
        from linker.io.text import parse_text

        raw = _read_bytes(files.filesystem, path)
        df, _ = parse_text(raw, name=path, delimiter=delimiter, encoding=encoding)
    return add_partitions(df, files.partitions[i], name=path)


def combine(files: TableFiles, frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The frames of each file of ``files`` as one table, columns in the first file's order.

    Raises:
        InputError: a file's columns differ from the first file's.
    """
    first = frames[0].columns
    for i, df in enumerate(frames[1:], start=1):
        if sorted(df.columns) != sorted(first):
            missing = [c for c in first if c not in df.columns]
            extra = [c for c in df.columns if c not in first]
            raise InputError(
                f"Table {files.source!r}: {files.paths[i]!r} differs from {files.paths[0]!r} "
                f"in its columns (missing {missing}, extra {extra}). Give every file of a "
                "table the same columns, or read them as separate tables."
            )
    return pl.concat([df.select(first) for df in frames], how="vertical")


def add_partitions(df: pl.DataFrame, values: dict[str, str | None], *, name: str) -> pl.DataFrame:
    """``df`` with one text column per partition key, holding the file's value.

    Raises:
        InputError: a key is a column of ``df`` already.

    Example:
        >>> add_partitions(pl.DataFrame({"id": [1]}), {"state": "NY"}, name="a.parquet").row(0)
        (1, 'NY')
    """
    clash = sorted(set(values) & set(df.columns))
    if clash:
        raise InputError(
            f"{name!r}: the partition key(s) {clash} of its folders are columns of the file "
            "too. Rename the folders or the columns."
        )
    return df.with_columns(pl.lit(v, dtype=pl.String).alias(k) for k, v in values.items())


def _filesystem(source: str | os.PathLike[str]) -> tuple[pafs.FileSystem, str]:
    """The filesystem and path of a URI, or the local filesystem and the absolute path."""
    import pyarrow.fs as pafs

    text = str(source)
    if "://" not in text:
        return pafs.LocalFileSystem(), Path(text).absolute().as_posix()
    try:
        fs, path = pafs.FileSystem.from_uri(text)
    except Exception as e:  # ArrowInvalid (unknown scheme), OSError (credentials, network)
        raise InputError(
            f"Cannot open {text!r}: {e}. Give a local path or a URI pyarrow reads (s3://, "
            "gs://, hdfs://, file://), with the store's credentials set as its client expects."
        ) from e
    return fs, path.rstrip("/") or path


def _info(fs: pafs.FileSystem, path: str, name: str) -> pafs.FileInfo:
    try:
        return fs.get_file_info(path)
    except OSError as e:
        raise InputError(f"Cannot reach {name!r}: {e}") from e


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _hidden(rel: str) -> bool:
    """A name starting with ``.`` or ``_`` on the way (``_SUCCESS``, ``.part-0.crc``)."""
    return any(seg.startswith((".", "_")) for seg in rel.split("/"))


def _listing(fs: pafs.FileSystem, base: str, name: str) -> list[str]:
    """The table files under folder ``base``, sorted; an empty folder is an error."""
    import pyarrow.fs as pafs

    try:
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    except OSError as e:
        raise InputError(f"Cannot list the folder {name!r}: {e}") from e
    paths = sorted(
        i.path
        for i in infos
        if i.type == pafs.FileType.File and not _hidden(i.path[len(base) :].lstrip("/"))
    )
    if not paths:
        raise InputError(
            f"Folder {name!r} holds no file to read. Point to a folder of .parquet or .csv "
            "files (its subfolders are searched; names starting with '.' or '_' are skipped)."
        )
    return paths


def _format(paths: list[str], name: str) -> Format:
    """The files' one format; a file of another kind, or a mix, is an error naming them."""
    if len(paths) == 1 and Path(paths[0]).suffix.lower() not in _KINDS:
        return "text"  # one file: as read() takes it, text unless Parquet
    kinds = {p: _KINDS.get(Path(p).suffix.lower()) for p in paths}
    odd = [p for p, k in kinds.items() if k is None]
    if odd:
        more = f" and {len(odd) - _SHOW} more" if len(odd) > _SHOW else ""
        raise InputError(
            f"Folder {name!r} holds file(s) that are neither Parquet (.parquet, .pq) nor "
            f"delimited text (.csv, .tsv, .txt): {', '.join(map(repr, odd[:_SHOW]))}{more}. "
            "Move them out of the folder (or rename them, if they are tables)."
        )
    found = {k: p for p, k in kinds.items() if k is not None}
    if len(found) > 1:
        raise InputError(
            f"Folder {name!r} mixes Parquet and text files (e.g. {found['parquet']!r} and "
            f"{found['text']!r}). Keep one format per table folder."
        )
    return next(iter(found))


def _partition(path: str, base: str, name: str) -> dict[str, str | None]:
    """The ``key=value`` folders between ``base`` and the file, decoded (Hive's default
    partition is null)."""
    rel = path[len(base) :].lstrip("/").split("/")[:-1]
    out: dict[str, str | None] = {}
    for seg in rel:
        key, eq, value = seg.partition("=")
        if not eq:
            continue
        if not key or key in out:
            raise InputError(
                f"Table {name!r}: the folder {seg!r} of {path!r} is not a partition key=value "
                "(or repeats a key). Rename it."
            )
        decoded = urllib.parse.unquote(value)
        out[key] = None if decoded == _NULL_PARTITION else decoded
    return out


def _parquet_schema(fs: pafs.FileSystem, paths: list[str], name: str) -> pa.Schema:
    """The Parquet files' common schema (the first file's column order; an all-null column
    takes the others' type); differing columns or types are an error naming the files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def read(path: str) -> pa.Schema:
        try:
            schema = pq.read_schema(path, filesystem=fs).remove_metadata()
        except Exception as e:  # ArrowInvalid on a file that is not Parquet, OSError, ...
            raise InputError(f"Cannot read Parquet file {path!r}: {e}") from e
        # one text type and one bytes type: writers differ (pandas: string, polars: large)
        wide = {pa.string(): pa.large_string(), pa.binary(): pa.large_binary()}
        return pa.schema([f.with_type(wide.get(f.type, f.type)) for f in schema])

    schema = read(paths[0])
    for path in paths[1:]:
        other = read(path)
        if sorted(other.names) != sorted(schema.names):
            missing = [c for c in schema.names if c not in other.names]
            extra = [c for c in other.names if c not in schema.names]
            raise InputError(
                f"Table {name!r}: {path!r} differs from {paths[0]!r} in its columns (missing "
                f"{missing}, extra {extra}). Give every file of a table the same columns, or "
                "read them as separate tables."
            )
        try:
            schema = pa.unify_schemas([schema, other])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            field = next(
                f.name for f in other if not _compatible(f.type, schema.field(f.name).type)
            )
            raise InputError(
                f"Table {name!r}: column {field!r} is {schema.field(field).type} in "
                f"{paths[0]!r} but {other.field(field).type} in {path!r}. Write every file "
                "with one type per column (cast it), or read them as separate tables."
            ) from e
    return schema


def _compatible(a: pa.DataType, b: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(a == b or pa.types.is_null(a) or pa.types.is_null(b))


def _read_bytes(fs: pafs.FileSystem, path: str) -> bytes:
    try:
        with fs.open_input_stream(path) as f:
            data: bytes = f.readall()
    except OSError as e:
        raise InputError(f"Cannot open {path!r}: {e}") from e
    return data
