"""A trained pair matcher as the offline reranker, of records, schema columns and taxonomy nodes.

``rerank="cross-encoder:<folder>"`` (a matcher saved by :func:`linker.train` or ``linker
train``) or ``rerank=<DittoMatcher>`` gives every candidate of every query the matcher's match
probability. No network, no LLM: the reranker runs where the pipeline runs. A
:class:`~linker.scoring.boosted.BoostedMatcher` (``lk.train(..., model="boosted")``) or a
:class:`~linker.scoring.stack.StackedMatcher` is taken the same way.

The matcher compares each query's left record with each candidate record, so train it on pairs
of the records the caller shows: table records for ``lk.merge``; the column records of
:func:`linker.schema.rerank.column_record` for ``lk.match_schema``; the phrase and node
records of :func:`linker.taxonomy.rerank.phrase_record` and
:func:`~linker.taxonomy.rerank.node_record` for ``lk.map_taxonomy``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from linker.errors import ConfigError
from linker.protocols import PairMatcher, Query
from linker.scoring.boosted import BoostedMatcher
from linker.scoring.ditto.model import DittoMatcher
from linker.scoring.registry import load_matcher
from linker.scoring.stack import StackedMatcher

__all__ = ["CrossEncoderReranker", "cross_encoder_reranker"]

_PREFIX = "cross-encoder"


class CrossEncoderReranker:
    """Score each candidate of each query with a fine-tuned cross-encoder.

    Args:
        matcher: A fitted :class:`DittoMatcher` (or ``BoostedMatcher``) or a saved folder.

    Example:
        >>> CrossEncoderReranker.__name__
        'CrossEncoderReranker'
    """

    def __init__(self, matcher: PairMatcher | str | Path):
        self.matcher = load_matcher(matcher)
        self._counts = {"pairs": 0.0, "seconds": 0.0}

    def rerank(self, queries: Sequence[Query]) -> list[list[float | None]]:
        """The cross-encoder's probability for every candidate (never undecided)."""
        start = time.perf_counter()
        left = [q.left for q in queries for _ in q.right]
        right = [r for q in queries for r in q.right]
        scores = self.matcher.predict_proba((left, right)).tolist()
        out: list[list[float | None]] = []
        at = 0
        for q in queries:
            out.append([float(s) for s in scores[at : at + len(q.right)]])
            at += len(q.right)
        self._counts["pairs"] += len(right)
        self._counts["seconds"] += time.perf_counter() - start
        return out

    def report(self) -> dict[str, float]:
        """Pairs scored and seconds spent."""
        return dict(self._counts)


def cross_encoder_reranker(spec: object) -> CrossEncoderReranker | None:
    """The reranker ``spec`` names (``"cross-encoder:<folder>"`` or a matcher), else ``None``.

    Raises:
        ConfigError: ``"cross-encoder"`` without a folder.

    Example:
        >>> cross_encoder_reranker("local") is None
        True
    """
    if isinstance(spec, DittoMatcher | BoostedMatcher | StackedMatcher):
        return CrossEncoderReranker(spec)
    if not isinstance(spec, str) or spec.split(":", 1)[0] != _PREFIX:
        return None
    folder = spec.split(":", 1)[1] if ":" in spec else ""
    if not folder:
        raise ConfigError(
            "rerank='cross-encoder' needs a fine-tuned matcher: train one with lk.train(...) or "
            "`linker train`, then pass rerank='cross-encoder:<its folder>' or the matcher object"
        )
    return CrossEncoderReranker(folder)
