"""LLM rerank of a phrase's best candidate nodes, on the shared select machinery.

:func:`node_record` turns a :class:`~linker.taxonomy.rerank.NodeCandidate` into the record
the LLM sees (label, and the path from the root when the node has ancestors);
:class:`LLMNodeReranker` implements the :class:`~linker.taxonomy.rerank.NodeReranker` hook
with an :class:`~linker.llm.select.LLMSelectReranker` for the
:data:`~linker.llm.tasks.NODES` task: the same shuffled-round vote, strict JSON, retries,
SQLite call cache and counters as record rerank. :func:`open_node_reranker` resolves
``rerank=`` specs with the same resolver as ``lk.merge``
(:func:`linker.llm.resolve.open_select`).

Nodes are ordered by their share of the valid votes, ties (and nodes without a vote) in
their retrieval order; scores travel with their nodes. A phrase whose answers were all
malformed (or skipped by ``max_calls``) is undecided and keeps its retrieval order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from linker.llm.resolve import LLMSpec, open_select
from linker.llm.select import LLMSelectReranker
from linker.llm.tasks import NODES
from linker.rerank.base import Query, Record
from linker.taxonomy.rerank import NodeCandidate

__all__ = ["LLMNodeReranker", "node_record", "open_node_reranker"]


def node_record(node: NodeCandidate) -> Record:
    """What the LLM is shown of a node: its label, and its path when that says more.

    Example:
        >>> node_record(NodeCandidate("dog", "Dog", "Animal > Mammal > Dog", 0.8))
        {'label': 'Dog', 'path': 'Animal > Mammal > Dog'}
        >>> node_record(NodeCandidate("animal", "Animal", "Animal", 0.8))
        {'label': 'Animal', 'path': ''}
    """
    return {"label": node.label, "path": node.path if node.path != node.label else ""}


class LLMNodeReranker:
    """The taxonomy matcher's reranker hook, answered by an LLM picking the node.

    Args:
        select: The select-among-candidates reranker; give it ``task=NODES``
            (:func:`open_node_reranker` does).

    Example:
        >>> from linker.llm import CallCache, LLMSelectReranker
        >>> class PicksTwo:
        ...     model = "fake"
        ...     def chat(self, messages, **kw):
        ...         return '{"match": 2}'
        >>> select = LLMSelectReranker(PicksTwo(), task=NODES, cache=CallCache(":memory:"),
        ...                            rounds=1)
        >>> nodes = [NodeCandidate("cat", "Cat", "Animal > Cat", 0.9),
        ...          NodeCandidate("dog", "Dog", "Animal > Dog", 0.8),
        ...          NodeCandidate("bird", "Bird", "Animal > Bird", 0.7)]
        >>> LLMNodeReranker(select).rerank("puppy", nodes)
        [1, 0, 2]
    """

    def __init__(self, select: LLMSelectReranker) -> None:
        self.select = select

    def rerank(self, phrase: str, candidates: Sequence[NodeCandidate]) -> list[int]:
        """Positions, most-voted first (``[]``, i.e. retrieval order, when undecided)."""
        query = Query(
            0,
            {"term": phrase},
            tuple(range(len(candidates))),
            tuple(node_record(c) for c in candidates),
            tuple(c.score for c in candidates),
        )
        shares = self.select.rerank([query])[0]
        if not shares or shares[0] is None:
            return []
        return sorted(range(len(candidates)), key=lambda i: (-float(shares[i] or 0.0), i))

    def report(self) -> dict[str, float]:
        """Calls, cache hits, seconds in calls, tokens, malformed answers, undecided phrases."""
        return self.select.report()


@contextmanager
def open_node_reranker(
    spec: LLMSpec,
    *,
    cache: str | Path | None = None,
    seed: int = 0,
    max_calls: int | None = None,
) -> Iterator[LLMNodeReranker]:
    """A running :class:`LLMNodeReranker` for ``rerank=`` (a local server stops on exit).

    Args:
        spec: ``"local"``, ``"openai:<model>"`` or a ChatClient, as for ``lk.merge``.
        cache: SQLite file of the call cache (default: the user cache).
        seed: Seed of the shuffled candidate orders.
        max_calls: Cap on new LLM calls.

    Example:
        >>> with open_node_reranker("openai:gpt-4o-mini", cache=":memory:") as rr:
        ...     rr.select.task.prompt_version
        'select-nodes-v1'
    """
    with open_select(spec, task=NODES, cache=cache, seed=seed, max_calls=max_calls) as select:
        yield LLMNodeReranker(select)
