"""Pair scorers: a probability of "same entity" for every candidate pair.

- :mod:`~linker.scoring.base`: the :class:`PairMatcher` protocol;
  :mod:`~linker.scoring.registry`: every matcher by name, for ``lk.train`` and loading;
- :mod:`~linker.scoring.features`: per-column rapidfuzz similarities of a pair;
- :mod:`~linker.scoring.zero_label`: the default scorer without labels
  (:mod:`~linker.scoring.fellegi_sunter` counts the matches,
  :mod:`~linker.scoring.selftrained` ranks them, :mod:`~linker.scoring.separation` warns);
- trained on labels: :mod:`~linker.scoring.boosted` (with :mod:`~linker.scoring.trees`,
  :mod:`~linker.scoring.evidence`, :mod:`~linker.scoring.word_weights`),
  :mod:`~linker.scoring.ditto` (a fine-tuned transformer), :mod:`~linker.scoring.stack`;
- :mod:`~linker.scoring.labelled_pairs`: labelled training pairs and their file readers.

The matchers and :class:`PairSet` are exported here by short names, and like the submodules
they load on first use (the transformer matcher needs torch only once it trains or loads).

Example:
    >>> from linker import scoring
    >>> scoring.PairSet([{"name": "acme"}], [{"name": "acme inc"}], [1]).labels
    [1]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr

__all__ = ["BoostedMatcher", "DittoMatcher", "FastMatcher", "PairSet", "StackedMatcher"]

_LAZY = {
    "BoostedMatcher": "linker.scoring.boosted",
    "DittoMatcher": "linker.scoring.ditto.model",
    "FastMatcher": "linker.scoring.selftrained",
    "PairSet": "linker.scoring.labelled_pairs",
    "StackedMatcher": "linker.scoring.stack",
}

if TYPE_CHECKING:
    from linker.scoring.boosted import BoostedMatcher
    from linker.scoring.ditto.model import DittoMatcher
    from linker.scoring.labelled_pairs import PairSet
    from linker.scoring.selftrained import FastMatcher
    from linker.scoring.stack import StackedMatcher

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__, _LAZY)
