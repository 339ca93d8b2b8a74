"""Files written atomically: a reader never sees half a file, an old one stays until the new one
is whole.

:func:`atomic_write` is the one way linker writes a file: into a temporary file beside the
target, then a rename over it. :func:`atomic_folder` does the same for a folder of files (a
saved model). :func:`write` writes a table with it, and :func:`check_output` runs before a CLI
verb reads its inputs, so an output the run could never write (an unknown format, a folder of
other files, a path under a file, a folder without write access) fails at once with one line,
not after the whole merge.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from linker.errors import ConfigError
from linker.io.parts import check_folder, check_writable, is_folder_output, write_parts

__all__ = ["FORMATS", "atomic_folder", "atomic_write", "check_output", "write"]

FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _temporary(folder: Path, name: str) -> Path:
    """A new empty file ``.<name>.<random>.part`` in ``folder``, created with mode 0o666 less
    the umask (as ``open`` would make the target itself)."""
    while True:
        tmp = folder / f".{name}.{secrets.token_hex(4)}.part"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Write a file through a temporary file beside it and a rename over it.

    The block writes the temporary path it is given (any writer that takes a path:
    ``Path.write_text``, ``frame.write_parquet``, ...). When the block ends, the file is
    flushed to disk, given the mode of the file it replaces (a new file gets the usual
    ``0o666`` less the umask) and renamed onto ``path``. If the block raises, the temporary
    file is removed and ``path`` is left as it was. The folder is created when missing.

    Yields:
        The temporary path to write.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "out.txt"
        >>> with atomic_write(target) as tmp:
        ...     _ = tmp.write_text("whole", encoding="utf-8")
        >>> target.read_text(encoding="utf-8")
        'whole'
        >>> with atomic_write(target) as tmp:
        ...     _ = tmp.write_text("half", encoding="utf-8")
        ...     raise RuntimeError("stopped half way")
        Traceback (most recent call last):
        ...
        RuntimeError: stopped half way
        >>> target.read_text(encoding="utf-8"), sorted(p.name for p in target.parent.iterdir())
        ('whole', ['out.txt'])
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(target.parent, target.name)
    try:
        yield tmp
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        with open(tmp, "rb") as f:  # on disk before the rename: a crash never leaves it short
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(path: str | Path, *, marker: str) -> Iterator[Path]:
    """Write a folder's files through a temporary folder beside it, ``marker`` moved in last.

    The block writes its files (subfolders too) into the temporary folder it is given. When
    the block ends, the target's old ``marker`` (the file that says the folder is whole, such
    as a saved model's JSON) is removed, each file is renamed into ``path`` and ``marker``
    comes last: a crash during the renames leaves a folder without its marker, which a reader
    refuses, never a mix of old and new files that looks whole. If the block raises, the
    temporary folder is removed and ``path`` is left as it was. Files of ``path`` the block
    does not write are kept.

    Yields:
        The temporary folder to write.

    Raises:
        FileNotFoundError: the block wrote no ``marker``.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "model"
        >>> with atomic_folder(target, marker="model.json") as tmp:
        ...     _ = (tmp / "weights.bin").write_bytes(b"0101")
        ...     _ = (tmp / "model.json").write_text("{}", encoding="utf-8")
        >>> sorted(p.name for p in target.iterdir())
        ['model.json', 'weights.bin']
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield tmp
        if not (tmp / marker).is_file():
            raise FileNotFoundError(f"{marker} was not written into {target}")
        files = sorted(p.relative_to(tmp) for p in tmp.rglob("*") if not p.is_dir())
        files.sort(key=lambda rel: rel == Path(marker))  # the marker last
        target.mkdir(exist_ok=True)
        (target / marker).unlink(missing_ok=True)
        for rel in files:
            with open(tmp / rel, "rb") as f:
                os.fsync(f.fileno())
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / rel, target / rel)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write(frame: Any, path: str) -> None:
    """Write a polars ``frame`` to ``path`` (.csv or .parquet; ``-``: CSV on stdout) with
    :func:`atomic_write`, or to a folder of Parquet parts (a path ending in ``/`` or an
    existing folder; :func:`linker.io.parts.write_parts`).

    Raises:
        ConfigError: see :func:`check_output`.
    """
    if path == "-":
        frame.write_csv(sys.stdout)
        return
    check_output(path)
    if is_folder_output(path):
        write_parts(frame, path)
        return
    with atomic_write(path) as tmp:
        if FORMATS[Path(path).suffix.lower()] == "parquet":
            frame.write_parquet(tmp)
        else:
            frame.write_csv(tmp)


def check_output(path: str) -> None:
    """Check that ``path`` (``-`` is stdout; a folder of parts when it ends in ``/`` or is a
    folder) can take a table, before the work starts.

    Raises:
        ConfigError: the suffix is not one of :data:`FORMATS`, or the path lies under a file,
            or its folder cannot be written; a folder holds other files than parts (see
            :func:`linker.io.parts.check_folder`).

    Example:
        >>> check_output("out.xlsx")
        Traceback (most recent call last):
        ...
        linker.errors.ConfigError: cannot write 'out.xlsx': unknown output format '.xlsx'; use .csv, .parquet or .pq, a folder ending in / (Parquet parts), or - for stdout
    """  # noqa: E501
    if path == "-":
        return
    if is_folder_output(path):
        check_folder(path)
        return
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        what = f"unknown output format {suffix!r}" if suffix else "no file extension"
        raise ConfigError(
            f"cannot write {path!r}: {what}; use .csv, .parquet or .pq, a folder ending in / "
            "(Parquet parts), or - for stdout"
        )
    check_writable(path, target)
