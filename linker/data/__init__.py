"""Data that ships with linker: :mod:`~linker.data.demo` (the seeded demo firms) and
:mod:`~linker.data.benchmarks` (loaders for the public record-linkage benchmarks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.data.<module>
