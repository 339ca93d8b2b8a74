"""Where the CLI writes its tables: checked before any work starts, written atomically.

:func:`check_output` runs before a verb reads its inputs, so an output the run could never
write (an unknown format, a directory, a path under a file, a folder without write access)
fails at once with one line, not after the whole merge. :func:`write` writes to a temporary
file next to the target and renames it, so a half-written file never looks complete and an
existing output stays intact until the new one is whole.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from linker.errors import ConfigError

__all__ = ["FORMATS", "check_output", "write"]

FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def check_output(path: str) -> None:
    """Check that ``path`` (``-`` is stdout) can take a table, before the work starts.

    Raises:
        ConfigError: the suffix is not one of :data:`FORMATS`, or the path is a directory,
            lies under a file, or its folder cannot be written.

    Example:
        >>> check_output("out.xlsx")
        Traceback (most recent call last):
        ...
        linker.errors.ConfigError: cannot write 'out.xlsx': unknown output format '.xlsx'; use .csv, .parquet or .pq (or - for stdout)
    """  # noqa: E501
    if path == "-":
        return
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        what = f"unknown output format {suffix!r}" if suffix else "no file extension"
        raise ConfigError(
            f"cannot write {path!r}: {what}; use .csv, .parquet or .pq (or - for stdout)"
        )
    if target.is_dir():
        raise ConfigError(f"cannot write {path!r}: it is a directory; give a file name in it")
    folder = target.parent
    while not folder.exists():  # the folders write() will create
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"cannot write {path!r}: {str(folder)!r} is a file, not a folder")
    try:  # os.access says yes to root on a read-only mount: try a real file
        fd, probe = tempfile.mkstemp(prefix=".linker-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(
            f"cannot write {path!r}: the folder {str(folder)!r} is not writable ({e.strerror}); "
            "pick another output path"
        ) from e


def write(frame: Any, path: str) -> None:
    """Write a polars ``frame`` to ``path`` (.csv or .parquet; ``-``: CSV on stdout) through a
    temporary file and a rename.

    Raises:
        ConfigError: see :func:`check_output`.
    """
    if path == "-":
        frame.write_csv(sys.stdout)
        return
    check_output(path)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        if FORMATS[target.suffix.lower()] == "parquet":
            frame.write_parquet(tmp)
        else:
            frame.write_csv(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        with open(tmp, "rb") as f:  # on disk before the rename: a crash never leaves it short
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
