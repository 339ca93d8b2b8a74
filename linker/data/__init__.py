"""Data that ships with linker: :mod:`~linker.data.demo` (the seeded demo firms) and
:mod:`~linker.data.benchmarks` (loaders for the public record-linkage benchmarks)."""

from __future__ import annotations
