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

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from linker.errors import InputError, ModelError
from linker.protocols import PairMatcher
from linker.scoring.labelled_pairs import PairSet, Record

__all__ = ["CONFIG_FILE", "PairMatcher", "ThresholdMatcher", "read_state"]

CONFIG_FILE = "linker_matcher.json"


class ThresholdMatcher:
    """``predict`` and ``evaluate`` of a trained matcher, from its ``predict_proba`` and the
    ``threshold_`` it chose on validation pairs (one implementation for every kind)."""

    threshold_: float

    def predict_proba(
        self, pairs: PairSet | tuple[Sequence[Record], Sequence[Record]]
    ) -> npt.NDArray[np.float32]:
        """Match probability of each pair (each matcher kind computes its own)."""
        raise NotImplementedError

    def predict(
        self, pairs: PairSet | tuple[Sequence[Record], Sequence[Record]]
    ) -> npt.NDArray[np.int8]:
        """``1`` where the probability reaches the threshold chosen on the validation pairs."""
        return (self.predict_proba(pairs) >= self.threshold_).astype(np.int8)

    def evaluate(self, pairs: PairSet) -> dict[str, float]:
        """Precision, recall and F1 on labelled ``pairs`` at the chosen threshold."""
        from linker.measures import f1_at

        if not pairs.labels:
            raise InputError(f"{pairs.source}: evaluate needs labelled pairs")
        labels = np.asarray(pairs.labels, dtype=np.int64)
        return f1_at(self.predict_proba(pairs), labels, self.threshold_)


def read_state(path: str | Path, kind: str, newest: int) -> dict[str, Any]:
    """The saved state (``linker_matcher.json``) of a matcher of class ``kind``, checked.

    Args:
        path: The matcher's folder.
        kind: The class that reads it (folders saved before the ``"type"`` field existed
            are Ditto matchers).
        newest: The newest ``format_version`` the class reads.

    Raises:
        ModelError: no saved matcher there, an unreadable file, another kind of matcher, or
            a folder written by a newer linker.

    Example:
        >>> read_state("no/such/folder", "BoostedMatcher", 3)
        Traceback (most recent call last):
        ...
        linker.errors.ModelError: no/such/folder is not a saved matcher (no linker_matcher.json); train one with lk.train or `linker train`
    """  # noqa: E501
    folder = Path(path)
    cfg = folder / CONFIG_FILE
    if not cfg.is_file():
        raise ModelError(
            f"{folder} is not a saved matcher (no {CONFIG_FILE}); train one with lk.train or "
            "`linker train`"
        )
    try:
        state = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read {cfg}: {e}; train the matcher again") from e
    if not isinstance(state, dict):
        raise ModelError(f"{cfg} holds no matcher settings; train the matcher again")
    found = state.get("type", "DittoMatcher")
    if found != kind:
        raise ModelError(
            f"{folder} holds a {found}, not a {kind}; linker.scoring.registry.load_matcher "
            "reads any kind"
        )
    if state.get("format_version", 0) > newest:
        raise ModelError(f"{folder} was saved by a newer linker; upgrade linker to load it")
    return state
