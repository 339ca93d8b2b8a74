"""What a trained pair matcher is: the :class:`PairMatcher` protocol and its saved folder.

Each of :class:`~linker.scoring.ditto.DittoMatcher` (the fine-tuned cross-encoder),
:class:`~linker.scoring.boosted.BoostedMatcher` (boosted trees over similarity features)
and :class:`~linker.scoring.stack.StackedMatcher` (the two, stacked) saves a folder with
``linker_matcher.json`` whose ``"type"`` names the class;
:func:`~linker.scoring.registry.load_matcher` reads any, so ``lk.merge(matcher=folder)``,
``linker score`` and the cross-encoder reranker take all three.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from linker.scoring.labelled_pairs import PairSet, Record

__all__ = ["CONFIG_FILE", "PairMatcher"]

CONFIG_FILE = "linker_matcher.json"


@runtime_checkable
class PairMatcher(Protocol):
    """What the pipeline needs of a trained matcher."""

    columns_: list[str]
    threshold_: float
    valid_f1_: float
    n_train_: dict[str, int]
    train_seconds_: float

    def predict_proba(
        self, pairs: PairSet | tuple[Sequence[Record], Sequence[Record]]
    ) -> npt.NDArray[np.float32]:
        """Match probability of each pair."""
        ...

    def evaluate(self, pairs: PairSet) -> dict[str, float]:
        """Precision, recall and F1 at the chosen threshold."""
        ...

    def save(self, path: str | Path) -> Path:
        """Write the matcher as a folder that ``load_matcher`` reads."""
        ...
