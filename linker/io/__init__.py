"""Files in and out: :mod:`~linker.io.text` reads delimited text exactly as written,
:mod:`~linker.io.write` writes tables atomically (temporary file, then rename)."""

from __future__ import annotations

from linker._lazy import lazy_getattr

__getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.io.<module>
