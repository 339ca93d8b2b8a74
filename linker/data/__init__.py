"""Data that ships with linker: :mod:`~linker.data.demo` (the seeded demo firms) and
:mod:`~linker.data.benchmarks` (loaders for the public record-linkage benchmarks)."""

from __future__ import annotations

from linker._lazy import lazy_getattr

__getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.data.<module>
