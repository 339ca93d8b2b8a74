"""Trained pair matchers behind one interface, and loading any kind from its folder.

Each of :class:`~linker.scoring.ditto.DittoMatcher` (the fine-tuned cross-encoder),
:class:`~linker.scoring.boosted.BoostedMatcher` (boosted trees over similarity features)
and :class:`~linker.scoring.stack.StackedMatcher` (the two, stacked) saves a folder with
``linker_matcher.json`` whose ``"type"`` names the class; :func:`load_matcher` reads any, so
``lk.merge(matcher=folder)``, ``linker score`` and the cross-encoder reranker take all three.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from linker.errors import ModelError
from linker.scoring.labelled_pairs import PairSet, Record

__all__ = ["PairMatcher", "load_matcher"]

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
        """Write the matcher as a folder that :func:`load_matcher` reads."""
        ...


def load_matcher(matcher: PairMatcher | str | Path) -> PairMatcher:
    """A fitted matcher from itself or from a folder saved by ``lk.train`` / ``linker train``.

    Raises:
        ModelError: the folder is not a saved matcher.
        NotFittedError: an unfitted matcher was given.

    Example:
        >>> load_matcher("no/such/folder")
        Traceback (most recent call last):
        ...
        linker.errors.ModelError: no/such/folder is not a saved matcher (no linker_matcher.json); train one with lk.train or `linker train`
    """  # noqa: E501
    if not isinstance(matcher, str | Path):
        matcher._fitted()  # type: ignore[attr-defined]
        return matcher
    cfg = Path(matcher) / CONFIG_FILE
    if not cfg.is_file():
        raise ModelError(
            f"{matcher} is not a saved matcher (no {CONFIG_FILE}); train one with lk.train or "
            "`linker train`"
        )
    try:
        kind = json.loads(cfg.read_text(encoding="utf-8")).get("type", "DittoMatcher")
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read {cfg}: {e}; train the matcher again") from e
    if kind == "BoostedMatcher":
        from linker.scoring.boosted import BoostedMatcher

        return BoostedMatcher.load(matcher)
    if kind == "StackedMatcher":
        from linker.scoring.stack import StackedMatcher

        return StackedMatcher.load(matcher)
    from linker.scoring.ditto.model import DittoMatcher

    return DittoMatcher.load(matcher)
