"""From scored pairs to decisions: :mod:`~linker.decide.assign` (Stata-style ``how``, one-to-one
by optimal matching) and :mod:`~linker.decide.cluster` (dedup clusters)."""

from __future__ import annotations

from linker._lazy import lazy_getattr

__getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.decide.<module>
