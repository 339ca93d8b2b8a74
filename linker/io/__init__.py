"""Files in and out: :mod:`~linker.io.text` reads delimited text exactly as written,
:mod:`~linker.io.dataset` reads a table stored as a folder (or URI) of files,
:mod:`~linker.io.write` writes tables atomically (temporary file, then rename) and
:mod:`~linker.io.parts` writes a table as a folder of Parquet parts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.io.<module>
