"""How schema matching uses the one rerank contract: column records, queries, score policy.

Each source column with candidates becomes a :class:`~linker.protocols.Query`: the column as
the left record, its best ``rerank_top`` target columns as the candidates, all shown as
:func:`column_record` gives them (name, description, type, a few values, the numeric range).
Any :class:`~linker.protocols.Reranker` judges them: the LLM
(:class:`~linker.llm.select.LLMSelectReranker` with the :data:`~linker.llm.tasks.COLUMNS`
prompt), a pair matcher trained on column records (``rerank="cross-encoder:<folder>"``), or
one of your own.

The policy is the schema matcher's own: a candidate's new score puts the reranker first and
retrieval second, ``(RERANK_WEIGHT * r + score) / (RERANK_WEIGHT + 1)`` with ``r`` the
reranker's score. With the LLM's three rounds ``r`` is a vote share in steps of 1/3, so one vote
outweighs any retrieval score: the LLM's choice comes first, and candidates nobody voted for
keep their retrieval order below it. An undecided candidate (``None``: all of a column's answers
were malformed or skipped by ``max_calls``) keeps its score, and so its retrieval order.

Older hooks, whose ``rerank(column, candidates, scores)`` returned the new scores themselves
(:class:`ColumnReranker`), still work, with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, cast, runtime_checkable

from linker.errors import RerankError
from linker.protocols import Query, Record, Reranker
from linker.rerank.base import checked_rerank, deprecated, takes_queries
from linker.schema.profiles import ColumnProfile

__all__ = ["RERANK_WEIGHT", "ColumnReranker", "column_record", "rerank_scores", "warn_if_old"]

RERANK_WEIGHT = 3.0
"""Weight of the reranker's score against the retrieval score (weight 1)."""

Head = tuple[int, Sequence[int], Sequence[float]]
"""A source column's row, its best target rows (best first) and their retrieval scores."""


def column_record(column: ColumnProfile, *, max_values: int = 5) -> Record:
    """What a reranker is shown of a column (empty fields are left out of an LLM's prompt).

    Train a cross-encoder for ``rerank="cross-encoder:<folder>"`` on pairs of these records.

    Example:
        >>> column_record(ColumnProfile("sex", "Self-reported sex", "text", ("M", "F")))
        {'name': 'sex', 'description': 'Self-reported sex', 'type': 'text', 'values': 'M | F'}
    """
    record = {"name": column.name, "description": (column.description or "").strip()}
    record["type"] = "" if column.kind == "unknown" else column.kind
    record["values"] = " | ".join(column.values[:max_values])
    if column.low is not None and column.high is not None:
        record["range"] = f"{column.low:g} to {column.high:g}"
    return record


@runtime_checkable
class ColumnReranker(Protocol):
    """Deprecated: the schema matcher's older hook. Implement
    :class:`~linker.protocols.Reranker` instead and pass it as ``rerank=``.

    ``rerank`` gets the source column, its best candidates (best first) and their scores, and
    returns one new score in ``[0, 1]`` per candidate, which replaces the retrieval score.
    """

    def rerank(
        self, column: ColumnProfile, candidates: Sequence[ColumnProfile], scores: Sequence[float]
    ) -> Sequence[float]:
        """New scores for ``candidates``, in their order."""
        ...


def warn_if_old(reranker: object) -> None:
    """Warn when ``reranker`` is an older :class:`ColumnReranker` hook."""
    if reranker is not None and not takes_queries(reranker):
        deprecated(
            "a schema reranker whose rerank() takes (column, candidates, scores) is deprecated: "
            "implement linker.protocols.Reranker (rerank(queries) -> one list of scores per "
            "query, and report()) and pass it as rerank="
        )


def rerank_scores(
    reranker: Reranker | ColumnReranker,
    source: Sequence[ColumnProfile],
    target: Sequence[ColumnProfile],
    heads: Sequence[Head],
) -> list[list[float]]:
    """The new scores of each source column's best candidates, by the policy above.

    Raises:
        RerankError: the reranker gave a wrong number of scores, or scores outside ``[0, 1]``.

    Example:
        >>> from linker.llm import CallCache, LLMSelectReranker, ScriptedChatClient
        >>> from linker.llm.tasks import COLUMNS
        >>> llm = LLMSelectReranker(ScriptedChatClient('{"match": 2}'), task=COLUMNS,
        ...                         cache=CallCache(":memory:"), rounds=1)
        >>> cols = [ColumnProfile("dob"), ColumnProfile("dose"), ColumnProfile("birth")]
        >>> rerank_scores(llm, cols, cols, [(0, [1, 2], [0.7, 0.6])])
        [[0.175, 0.9]]
    """
    if not takes_queries(reranker):
        return _hook_scores(cast(ColumnReranker, reranker), source, target, heads)
    queries = [
        Query(
            row,
            column_record(source[row]),
            tuple(rows),
            tuple(column_record(target[j]) for j in rows),
            tuple(float(s) for s in scores),
        )
        for row, rows, scores in heads
    ]

    def name(q: Query) -> str:
        return f"source column {source[q.left_row].name!r}"

    new = checked_rerank(cast(Reranker, reranker), queries, name=name)
    w = RERANK_WEIGHT
    return [
        [s if r is None else (w * r + s) / (w + 1) for r, s in zip(got, q.scores, strict=True)]
        for q, got in zip(queries, new, strict=True)
    ]


def _hook_scores(
    hook: ColumnReranker,
    source: Sequence[ColumnProfile],
    target: Sequence[ColumnProfile],
    heads: Sequence[Head],
) -> list[list[float]]:
    """An older hook's scores, which replace the retrieval scores."""
    out = []
    for row, rows, scores in heads:
        new = [float(s) for s in hook.rerank(source[row], [target[j] for j in rows], scores)]
        if len(new) != len(rows):
            raise RerankError(
                f"the reranker returned {len(new)} scores for {len(rows)} candidates of source "
                f"column {source[row].name!r}; it must return one each"
            )
        out.append(new)
    return out
