"""Candidate generation: which right records each left record is compared with.

- :mod:`~linker.blocking.blockers`: the ranked neighbour lists (embedding, n-gram, rare tokens,
  twins) unioned within exact key blocks;
- :mod:`~linker.blocking.rare_tokens`: records that share rare words or numbers;
- :mod:`~linker.blocking.twins`: records identical on every compared column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.blocking.<module>
