"""LLM rerank of a source column's best target columns, on the shared select machinery.

:func:`column_record` turns a :class:`~linker.schema.profiles.ColumnProfile` into the flat
``{field: text}`` record the LLM sees (name, description, type, a few values, the numeric
range); :class:`LLMColumnReranker` implements the schema matcher's
:class:`~linker.schema.matcher.Reranker` hook with an
:class:`~linker.llm.select.LLMSelectReranker` for the :data:`~linker.llm.tasks.COLUMNS` task:
the same shuffled-round vote, strict JSON, retries, SQLite call cache and counters as record
rerank. :func:`open_column_reranker` resolves ``rerank=`` specs with the same resolver as
``lk.merge`` (:func:`linker.llm.resolve.open_select`).

A column's new score puts the LLM's vote first and the retrieval score second:
``(share * rounds + score) / (rounds + 1)``, where ``share`` is the candidate's share of the
valid votes; candidates nobody voted for keep their retrieval order below the chosen one. A
column whose answers were all malformed (or skipped by ``max_calls``) is undecided: its
scores, and so its retrieval order, stay as they were.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from linker.llm.resolve import LLMSpec, open_select
from linker.llm.select import LLMSelectReranker
from linker.llm.tasks import COLUMNS
from linker.rerank.base import Query, Record
from linker.schema.profiles import ColumnProfile

__all__ = ["LLMColumnReranker", "column_record", "open_column_reranker"]


def column_record(column: ColumnProfile, *, max_values: int = 5) -> Record:
    """What the LLM is shown of a column (empty fields are left out of the prompt).

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


class LLMColumnReranker:
    """The schema matcher's reranker hook, answered by an LLM picking among the candidates.

    Args:
        select: The select-among-candidates reranker; give it ``task=COLUMNS``
            (:func:`open_column_reranker` does).
        max_values: Values shown per column.

    Example:
        >>> from linker.llm import CallCache, LLMSelectReranker
        >>> class PicksTwo:
        ...     model = "fake"
        ...     def chat(self, messages, **kw):
        ...         return '{"match": 2}'
        >>> select = LLMSelectReranker(PicksTwo(), task=COLUMNS, cache=CallCache(":memory:"),
        ...                            rounds=1)
        >>> rr = LLMColumnReranker(select)
        >>> rr.rerank(ColumnProfile("dob"), [ColumnProfile("dose"), ColumnProfile("birth")],
        ...           [0.7, 0.6])
        [0.35, 0.8]
    """

    def __init__(self, select: LLMSelectReranker, *, max_values: int = 5) -> None:
        self.select = select
        self.max_values = max_values

    def rerank(
        self, column: ColumnProfile, candidates: Sequence[ColumnProfile], scores: Sequence[float]
    ) -> list[float]:
        """New scores: vote share first, retrieval score second (unchanged if undecided)."""
        query = Query(
            0,
            column_record(column, max_values=self.max_values),
            tuple(range(len(candidates))),
            tuple(column_record(c, max_values=self.max_values) for c in candidates),
            tuple(float(s) for s in scores),
        )
        shares = self.select.rerank([query])[0]
        if not shares or shares[0] is None:
            return [float(s) for s in scores]
        rounds = self.select.rounds
        return [
            (float(share or 0.0) * rounds + float(s)) / (rounds + 1)
            for share, s in zip(shares, scores, strict=True)
        ]

    def report(self) -> dict[str, float]:
        """Calls, cache hits, seconds in calls, tokens, malformed answers, undecided columns."""
        return self.select.report()


@contextmanager
def open_column_reranker(
    spec: LLMSpec,
    *,
    cache: str | Path | None = None,
    seed: int = 0,
    max_calls: int | None = None,
) -> Iterator[LLMColumnReranker]:
    """A running :class:`LLMColumnReranker` for ``rerank=`` (a local server stops on exit).

    Args:
        spec: ``"local"``, ``"openai:<model>"`` or a ChatClient, as for ``lk.merge``.
        cache: SQLite file of the call cache (default: the user cache).
        seed: Seed of the shuffled candidate orders.
        max_calls: Cap on new LLM calls.

    Example:
        >>> with open_column_reranker("openai:gpt-4o-mini", cache=":memory:") as rr:
        ...     rr.select.task.prompt_version
        'select-columns-v1'
    """
    with open_select(spec, task=COLUMNS, cache=cache, seed=seed, max_calls=max_calls) as select:
        yield LLMColumnReranker(select)
