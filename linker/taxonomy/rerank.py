"""The LLM rerank hook: any object that orders a phrase's candidate nodes.

The taxonomy matcher knows nothing about LLMs: it hands each phrase and its best candidate
nodes (id, label, path, score) to a :class:`NodeReranker` and takes back their order. The
shared LLM client (``linker.llm``) provides one; a rule or a person can be another.

A reranker returns candidate positions, best first. Positions it leaves out keep their
order after the ones it names; a position out of range or named twice is a
:class:`~linker.errors.RerankError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from linker.errors import RerankError
from linker.taxonomy.tree import Taxonomy

__all__ = ["NodeCandidate", "NodeReranker", "apply_reranker"]


@dataclass(frozen=True)
class NodeCandidate:
    """One candidate node of a phrase, as a reranker sees it."""

    node_id: str
    label: str
    path: str
    score: float


@runtime_checkable
class NodeReranker(Protocol):
    """Orders the candidate nodes of one phrase.

    Example:
        >>> class ShortestLabel:
        ...     def rerank(self, phrase, candidates):
        ...         return sorted(range(len(candidates)), key=lambda i: len(candidates[i].label))
        >>> isinstance(ShortestLabel(), NodeReranker)
        True
    """

    def rerank(self, phrase: str, candidates: Sequence[NodeCandidate]) -> Sequence[int]:
        """Return positions into ``candidates``, best first."""
        ...


def apply_reranker(
    reranker: NodeReranker,
    phrases: Sequence[str],
    taxonomy: Taxonomy,
    ids: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
    *,
    top_n: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Reorder the first ``top_n`` candidates of every phrase with ``reranker``.

    Scores travel with their nodes, so after a rerank they need not fall with the rank.

    Example:
        >>> import numpy as np
        >>> t = Taxonomy.from_labels(["cat", "tiger"])
        >>> class Reverse:
        ...     def rerank(self, phrase, candidates):
        ...         return [1, 0]
        >>> apply_reranker(Reverse(), ["big cat"], t, np.array([[0, 1]]),
        ...                np.array([[0.9, 0.8]], np.float32), top_n=2)[0].tolist()
        [[1, 0]]
    """
    ids, scores = ids.copy(), scores.copy()
    for row, phrase in enumerate(phrases):
        width = int((ids[row, :top_n] >= 0).sum())
        if width < 2:
            continue
        cands = [
            NodeCandidate(taxonomy.ids[n], taxonomy.labels[n], taxonomy.path(n), float(s))
            for n, s in zip(ids[row, :width].tolist(), scores[row, :width].tolist(), strict=True)
        ]
        try:
            order = [int(i) for i in reranker.rerank(phrase, cands)]
        except RerankError:
            raise
        except Exception as e:  # a reranker may fail in any way; name the phrase
            raise RerankError(f"the reranker failed on phrase {phrase!r}: {e}") from e
        if len(set(order)) != len(order) or any(not 0 <= i < width for i in order):
            raise RerankError(
                f"the reranker returned {order} for phrase {phrase!r}: give distinct positions "
                f"between 0 and {width - 1}"
            )
        order += [i for i in range(width) if i not in set(order)]
        ids[row, :width] = ids[row, :width][order]
        scores[row, :width] = scores[row, :width][order]
    return ids, scores
