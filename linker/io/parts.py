"""A table written as a folder of Parquet parts, atomically: ``out/part-00000.parquet``, ...

A path that ends in ``/`` (or names an existing folder) takes a table as parts of at most
``rows_per_part`` rows each (:data:`PART_ROWS` by default), in row order, every part with the
table's schema (a table without rows is one part without rows), so that
``pl.read_parquet("out/*.parquet")`` reads the table back.

The parts are written into a temporary folder beside the target (:func:`atomic_parts`), which
then takes the target's place: a reader sees the old parts or the new ones, never a mix, and a
run that fails leaves the old folder as it was. A folder is replaced only if it holds parts
alone (an earlier output) or nothing: linker never deletes a folder of other files.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from linker.errors import ConfigError

__all__ = [
    "PART_ROWS",
    "atomic_parts",
    "check_folder",
    "is_folder_output",
    "part_name",
    "part_slices",
    "write_part",
    "write_parts",
]

#: Rows per part unless told: a part is a few tens of MB, a task's work at most.
PART_ROWS = 1_000_000
_PART = re.compile(r"part-\d{5,}\.parquet")


def part_name(i: int) -> str:
    """The name of part ``i``.

    Example:
        >>> part_name(7)
        'part-00007.parquet'
    """
    return f"part-{i:05d}.parquet"


def is_folder_output(path: str) -> bool:
    """Whether ``-o path`` asks for a folder of parts: it ends in ``/`` or is a folder.

    Example:
        >>> is_folder_output("out/"), is_folder_output("out.parquet")
        (True, False)
    """
    return path.endswith(("/", os.sep)) or Path(path).is_dir()


def part_slices(n: int, rows_per_part: int) -> list[tuple[int, int]]:
    """``(offset, length)`` of each part of ``n`` rows; one empty part when ``n`` is 0.

    Example:
        >>> part_slices(5, 2), part_slices(0, 2)
        ([(0, 2), (2, 2), (4, 1)], [(0, 0)])
    """
    if rows_per_part < 1:
        raise ConfigError(f"rows_per_part must be at least 1, not {rows_per_part}")
    return [(a, min(rows_per_part, n - a)) for a in range(0, n, rows_per_part)] or [(0, 0)]


def check_folder(path: str) -> None:
    """Check that folder ``path`` can take parts, before the work starts.

    Raises:
        ConfigError: ``path`` is a file, holds files other than parts, or its parent
            folder cannot be written.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = (root / "notes.txt").write_text("mine", encoding="utf-8")
        >>> check_folder(str(root))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        linker.errors.ConfigError: cannot write parts into '...': it holds other files ('notes.txt'); give a new or empty folder (linker replaces only a folder of its own parts)
    """  # noqa: E501
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"cannot write parts into {path!r}: it is a file, not a folder")
    if target.is_dir():
        other = sorted(p.name for p in target.iterdir() if not _PART.fullmatch(p.name))
        if other:
            shown = ", ".join(map(repr, other[:3])) + (", ..." if len(other) > 3 else "")
            raise ConfigError(
                f"cannot write parts into {path!r}: it holds other files ({shown}); give a "
                "new or empty folder (linker replaces only a folder of its own parts)"
            )
    check_writable(path, target, what="parts into ")


def check_writable(path: str, target: Path, *, what: str = "") -> None:
    """Raise a :class:`ConfigError` unless ``target`` can be created where it is asked for.

    The nearest existing folder above ``target`` (the ones between will be created) must be a
    folder and take a new file; ``what`` goes into the message after "cannot write".

    Example:
        >>> import tempfile
        >>> check_writable("x.csv", Path(tempfile.mkdtemp()) / "sub" / "x.csv")
    """
    folder = target.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"cannot write {what}{path!r}: {str(folder)!r} is a file, not a folder")
    try:  # os.access says yes to root on a read-only mount: try a real file
        fd, probe = tempfile.mkstemp(prefix=".linker-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(
            f"cannot write {what}{path!r}: the folder {str(folder)!r} is not writable "
            f"({e.strerror}); pick another output path"
        ) from e


@contextmanager
def atomic_parts(path: str | Path) -> Iterator[Path]:
    """Write parts into a temporary folder beside ``path``, which then replaces ``path``.

    When the block ends, every file written is flushed to disk and the temporary folder is
    renamed onto ``path`` (an old folder of parts is first renamed aside, then removed). If
    the block raises, the temporary folder is removed and ``path`` is left as it was.

    Yields:
        The temporary folder to write.

    Raises:
        ConfigError: see :func:`check_folder`.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "out"
        >>> with atomic_parts(target) as tmp:
        ...     pl.DataFrame({"id": [1]}).write_parquet(tmp / part_name(0))
        >>> sorted(p.name for p in target.iterdir())
        ['part-00000.parquet']
    """
    target = Path(path).absolute()
    check_folder(str(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_folder(target)
    old: Path | None = None
    try:
        yield tmp
        for p in tmp.iterdir():
            with open(p, "rb") as f:  # on disk before the rename: a crash never leaves it short
                os.fsync(f.fileno())
        if target.exists():  # set aside, and put back if the new folder cannot take its place
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.replace(target, old / "parts")
            try:
                os.replace(tmp, target)
            except BaseException:
                os.replace(old / "parts", target)
                raise
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _new_folder(target: Path) -> Path:
    """A new empty folder ``.<name>.<random>.part`` beside ``target``, with the mode a new
    folder gets (``mkdtemp`` would make it private)."""
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
        try:
            tmp.mkdir()
        except FileExistsError:
            continue
        return tmp


def write_part(frame: Any, path: str) -> None:
    """Write one part (a polars frame or an Arrow table) to ``path`` with polars.

    Example:
        >>> import tempfile
        >>> path = str(Path(tempfile.mkdtemp()) / part_name(0))
        >>> write_part(pl.DataFrame({"id": [1]}), path)
        >>> pl.read_parquet(path).height
        1
    """
    df = frame if isinstance(frame, pl.DataFrame) else pl.DataFrame(pl.from_arrow(frame))
    df.write_parquet(path)


def write_parts(
    frame: pl.DataFrame, path: str | Path, *, rows_per_part: int = PART_ROWS
) -> list[Path]:
    """Write ``frame`` as a folder of Parquet parts in this process; returns the parts' paths.

    Args:
        frame: The table.
        path: The folder (made when missing; an earlier folder of parts is replaced).
        rows_per_part: Most rows per part.

    Raises:
        ConfigError: see :func:`check_folder`; ``rows_per_part`` below 1.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "out"
        >>> [p.name for p in write_parts(pl.DataFrame({"id": [1, 2, 3]}), out, rows_per_part=2)]
        ['part-00000.parquet', 'part-00001.parquet']
        >>> pl.read_parquet(out / "*.parquet")["id"].to_list()
        [1, 2, 3]
    """
    slices = part_slices(frame.height, rows_per_part)
    with atomic_parts(path) as tmp:
        for i, (offset, length) in enumerate(slices):
            write_part(frame.slice(offset, length), str(tmp / part_name(i)))
    return [Path(path) / part_name(i) for i in range(len(slices))]
