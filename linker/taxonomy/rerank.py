"""How taxonomy mapping uses the one rerank contract: phrase and node records, queries, order.

Each phrase with at least two candidate nodes becomes a :class:`~linker.protocols.Query`: the
phrase as the left record (:func:`phrase_record`), its best ``rerank_top`` nodes as the
candidates (:func:`node_record`: the label, and the path from the root when the node has
ancestors). Any :class:`~linker.protocols.Reranker` judges them: the LLM
(:class:`~linker.llm.select.LLMSelectReranker` with the :data:`~linker.llm.tasks.NODES`
prompt), a pair matcher trained on pairs of these records
(``rerank="cross-encoder:<folder>"``), or one of your own.

The policy is the taxonomy matcher's own: the candidates are reordered by the reranker's
score, best first; ties, and candidates left undecided (``None``), keep their retrieval order
after the ones it decided. Scores travel with their nodes, so after a rerank they need not
fall with the rank. A phrase the reranker left wholly undecided keeps its order.

Older hooks, whose ``rerank(phrase, candidates)`` returned positions
(:class:`NodeReranker`), still work, with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast, runtime_checkable

import numpy as np
import numpy.typing as npt

from linker.errors import RerankError
from linker.protocols import Query, Record, Reranker
from linker.rerank.base import checked_rerank, deprecated, takes_queries
from linker.taxonomy.tree import Taxonomy

__all__ = [
    "NodeCandidate",
    "NodeReranker",
    "apply_reranker",
    "node_record",
    "phrase_record",
    "warn_if_old",
]


def phrase_record(phrase: str) -> Record:
    """What a reranker is shown of a phrase.

    Example:
        >>> phrase_record("puppy")
        {'term': 'puppy'}
    """
    return {"term": phrase}


def node_record(label: str, path: str) -> Record:
    """What a reranker is shown of a node: its label, and its path when that says more.

    Train a cross-encoder for ``rerank="cross-encoder:<folder>"`` on pairs of a
    :func:`phrase_record` and a node record.

    Example:
        >>> node_record("Dog", "Animal > Mammal > Dog")
        {'label': 'Dog', 'path': 'Animal > Mammal > Dog'}
        >>> node_record("Animal", "Animal")
        {'label': 'Animal', 'path': ''}
    """
    return {"label": label, "path": path if path != label else ""}


@dataclass(frozen=True)
class NodeCandidate:
    """One candidate node of a phrase, as an older :class:`NodeReranker` hook sees it."""

    node_id: str
    label: str
    path: str
    score: float


@runtime_checkable
class NodeReranker(Protocol):
    """Deprecated: the taxonomy matcher's older hook. Implement
    :class:`~linker.protocols.Reranker` instead and pass it as ``rerank=``.

    ``rerank`` returns positions into ``candidates``, best first; positions it leaves out keep
    their order after the ones it names.
    """

    def rerank(self, phrase: str, candidates: Sequence[NodeCandidate]) -> Sequence[int]:
        """Return positions into ``candidates``, best first."""
        ...


def warn_if_old(reranker: object) -> None:
    """Warn when ``reranker`` is an older :class:`NodeReranker` hook."""
    if reranker is not None and not takes_queries(reranker):
        deprecated(
            "a taxonomy reranker whose rerank() takes (phrase, candidates) is deprecated: "
            "implement linker.protocols.Reranker (rerank(queries) -> one list of scores per "
            "query, and report()) and pass it as rerank="
        )


def apply_reranker(
    reranker: Reranker | NodeReranker,
    phrases: Sequence[str],
    taxonomy: Taxonomy,
    ids: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
    *,
    top_n: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Reorder the first ``top_n`` candidates of every phrase by ``reranker``, as above.

    Raises:
        RerankError: the reranker answered out of shape.

    Example:
        >>> import numpy as np
        >>> from linker.llm import CallCache, LLMSelectReranker, ScriptedChatClient
        >>> from linker.llm.tasks import NODES
        >>> t = Taxonomy.from_labels(["cat", "tiger"])
        >>> llm = LLMSelectReranker(ScriptedChatClient('{"match": 2}'), task=NODES,
        ...                         cache=CallCache(":memory:"), rounds=1)
        >>> apply_reranker(llm, ["big cat"], t, np.array([[0, 1]]),
        ...                np.array([[0.9, 0.8]], np.float32), top_n=2)[0].tolist()
        [[1, 0]]
    """
    ids, scores = ids.copy(), scores.copy()
    widths = (ids[:, :top_n] >= 0).sum(axis=1).tolist()
    heads = [(row, ids[row, :width].copy()) for row, width in enumerate(widths) if width >= 2]
    if not takes_queries(reranker):
        hook = cast(NodeReranker, reranker)
        orders = [
            _hook_order(hook, phrases[row], taxonomy, nodes, scores[row]) for row, nodes in heads
        ]
    else:
        orders = _orders(cast(Reranker, reranker), phrases, taxonomy, heads, scores)
    for (row, nodes), order in zip(heads, orders, strict=True):
        width = len(nodes)
        ids[row, :width] = nodes[order]
        scores[row, :width] = scores[row, :width][order]
    return ids, scores


def _orders(
    reranker: Reranker,
    phrases: Sequence[str],
    taxonomy: Taxonomy,
    heads: Sequence[tuple[int, npt.NDArray[np.int64]]],
    scores: npt.NDArray[np.float32],
) -> list[list[int]]:
    """Each phrase's candidates, best first by the reranker's scores."""
    queries = [
        Query(
            row,
            phrase_record(phrases[row]),
            tuple(nodes.tolist()),
            tuple(node_record(taxonomy.labels[n], taxonomy.path(n)) for n in nodes.tolist()),
            tuple(scores[row, : len(nodes)].tolist()),
        )
        for row, nodes in heads
    ]

    def name(q: Query) -> str:
        return f"phrase {phrases[q.left_row]!r}"

    def order(got: list[float | None]) -> list[int]:
        return sorted(range(len(got)), key=lambda i: (got[i] is None, -(got[i] or 0.0), i))

    return [order(got) for got in checked_rerank(reranker, queries, name=name)]


def _hook_order(
    hook: NodeReranker,
    phrase: str,
    taxonomy: Taxonomy,
    nodes: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
) -> list[int]:
    """An older hook's order of one phrase's candidates (positions it left out follow)."""
    width = len(nodes)
    cands = [
        NodeCandidate(taxonomy.ids[n], taxonomy.labels[n], taxonomy.path(n), float(s))
        for n, s in zip(nodes.tolist(), scores[:width].tolist(), strict=True)
    ]
    try:
        order = [int(i) for i in hook.rerank(phrase, cands)]
    except RerankError:
        raise
    except Exception as e:  # a hook may fail in any way; name the phrase
        raise RerankError(f"the reranker failed on phrase {phrase!r}: {e}") from e
    if len(set(order)) != len(order) or any(not 0 <= i < width for i in order):
        raise RerankError(
            f"the reranker returned {order} for phrase {phrase!r}: give distinct positions "
            f"between 0 and {width - 1}"
        )
    return order + [i for i in range(width) if i not in set(order)]
