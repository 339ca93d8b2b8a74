"""What a trained pair matcher is: the :class:`PairMatcher` protocol (defined in
:mod:`linker.protocols`) and its saved folder.

Each of :class:`~linker.scoring.ditto.DittoMatcher` (the fine-tuned cross-encoder),
:class:`~linker.scoring.boosted.BoostedMatcher` (boosted trees over similarity features)
and :class:`~linker.scoring.stack.StackedMatcher` (the two, stacked) saves a folder with
``linker_matcher.json`` whose ``"type"`` names the class;
:func:`~linker.scoring.registry.load_matcher` reads any, so ``lk.merge(matcher=folder)``,
``linker score`` and the cross-encoder reranker take all three.
"""

from __future__ import annotations

from linker.protocols import PairMatcher

__all__ = ["CONFIG_FILE", "PairMatcher"]

CONFIG_FILE = "linker_matcher.json"
