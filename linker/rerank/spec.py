"""``rerank=``: what a user may name as the second stage, turned into a running reranker.

The one resolver for ``lk.merge``, ``lk.match_schema``, ``lk.match_glossary`` and
``lk.map_taxonomy``: each accepts the same values, and each gets a
:class:`~linker.protocols.Reranker`. Only the LLM needs to know what it judges (records,
columns or nodes: a :class:`~linker.llm.select.SelectTask`); a cross-encoder or a user's
reranker sees the same :class:`~linker.protocols.Query` objects whatever they hold.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from linker.errors import ConfigError
from linker.protocols import ChatClient, PairMatcher, Reranker
from linker.rerank.base import deprecated, takes_queries

if TYPE_CHECKING:
    from linker.llm.select import SelectTask

__all__ = ["RerankSpec", "open_rerank_option", "open_reranker"]

logger = logging.getLogger(__name__)

RerankSpec: TypeAlias = str | Reranker | ChatClient | PairMatcher
"""``"local"``, ``"openai:<model>"``, ``"cross-encoder:<folder>"``, a :class:`Reranker`, a
ChatClient or a trained pair matcher."""


@contextmanager
def open_reranker(
    spec: RerankSpec,
    *,
    task: SelectTask | None = None,
    cache: str | Path | None = None,
    seed: int = 0,
    max_calls: int | None = None,
    report: dict[str, float] | None = None,
) -> Iterator[Reranker]:
    """Turn ``rerank=`` into a running :class:`Reranker`; a local server stops on exit.

    Args:
        spec: ``"local"`` (SmolLM2 via a llama.cpp server subprocess), ``"openai:<model>"``
            (any OpenAI-compatible endpoint: ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``), a
            :class:`~linker.protocols.ChatClient`, a fine-tuned cross-encoder
            (``"cross-encoder:<folder>"`` saved by ``lk.train``, or the matcher object), or a
            :class:`Reranker` of your own (used as it is).
        task: What an LLM judges: :data:`~linker.llm.select.RECORDS` (default),
            :data:`~linker.llm.tasks.COLUMNS` or :data:`~linker.llm.tasks.NODES` (its prompt
            and prompt version). Other rerankers need none.
        cache: SQLite file of the LLM call cache (default: the user cache).
        seed: Seed of the LLM's shuffled candidate orders.
        max_calls: Cap on new LLM calls.
        report: A dict to fill with the reranker's counters on exit (they are logged at INFO
            either way).

    Raises:
        ConfigError: an unknown spec, ``"cross-encoder"`` without a matcher folder, or an
            object whose ``rerank`` does not take the queries.

    Example:
        >>> from linker.llm.tasks import COLUMNS
        >>> with open_reranker("openai:gpt-4o-mini", task=COLUMNS, cache=":memory:") as rr:
        ...     rr.task.prompt_version
        'select-columns-v1'
    """
    with _open(spec, task=task, cache=cache, seed=seed, max_calls=max_calls) as reranker:
        try:
            yield reranker
        finally:
            counts = {k: float(v) for k, v in reranker.report().items()}
            _log(counts, "records" if task is None else task.name)
            if report is not None:
                report.update(counts)


@contextmanager
def _open(
    spec: RerankSpec,
    *,
    task: SelectTask | None,
    cache: str | Path | None,
    seed: int,
    max_calls: int | None,
) -> Iterator[Reranker]:
    from linker.rerank.cross_encoder import cross_encoder_reranker

    cross_encoder = cross_encoder_reranker(spec)  # "cross-encoder:<folder>" or a matcher
    if cross_encoder is not None:
        yield cross_encoder
        return
    if callable(getattr(spec, "rerank", None)):
        if not isinstance(spec, Reranker) or not takes_queries(spec):
            raise ConfigError(
                f"rerank={spec!r}: a reranker's rerank() must take the queries and return one "
                "list of scores per query, and it needs a report() of counters (see "
                "linker.protocols.Reranker)"
            )
        yield spec
        return
    if not isinstance(spec, str | ChatClient):
        raise ConfigError(
            f"rerank={spec!r} is not 'local', 'openai:<model>', 'cross-encoder:<folder>', a "
            "Reranker or a ChatClient"
        )
    from linker.llm.resolve import open_select  # the LLM part of this resolver
    from linker.llm.select import RECORDS

    with open_select(
        spec, task=task or RECORDS, cache=cache, seed=seed, max_calls=max_calls
    ) as reranker:
        yield reranker


def _log(counts: dict[str, float], what: str) -> None:
    from linker.llm.resolve import describe_report

    logger.info("rerank of %s: %s", what, describe_report(counts))


def open_rerank_option(
    rerank: RerankSpec | None,
    reranker: object | None,
    *,
    task: SelectTask,
    report: dict[str, float] | None = None,
) -> AbstractContextManager[object | None]:
    """The reranker of a schema or taxonomy matcher, from ``rerank=`` and the deprecated
    ``reranker=``.

    ``rerank`` is opened with :func:`open_reranker` for ``task``. ``reranker`` (deprecated:
    pass it as ``rerank=``) is used as it is; an older hook whose ``rerank`` takes the item
    and its candidates is handed on unopened, for the matcher to adapt.

    Raises:
        ConfigError: both were given.

    Example:
        >>> from linker.llm.tasks import NODES
        >>> with open_rerank_option(None, None, task=NODES) as rr:
        ...     rr is None
        True
    """
    if reranker is not None:
        if rerank is not None:
            raise ConfigError(
                "give rerank= (a spec such as 'local', 'openai:<model>' or "
                "'cross-encoder:<folder>', or a Reranker) or reranker= (deprecated), not both"
            )
        if not takes_queries(reranker):
            return nullcontext(reranker)  # an older hook: the matcher adapts it, and warns
        deprecated("reranker= is deprecated: pass the reranker as rerank= instead")
        rerank = reranker  # type: ignore[assignment]  # open_reranker checks it
    if rerank is None:
        return nullcontext(None)
    return open_reranker(rerank, task=task, report=report)
