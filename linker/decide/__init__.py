"""From scored pairs to decisions: :mod:`~linker.decide.assign` (Stata-style ``how``, one-to-one
by optimal matching) and :mod:`~linker.decide.cluster` (dedup clusters), both solved per
connected component by :mod:`~linker.decide.units` (components over blocks of pairs:
:mod:`~linker.decide.components`; where the steps run: :mod:`~linker.decide.runner`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.decide.<module>
