"""LLM ``rerank=`` specs → a running select-among-candidates reranker.

The LLM half of the one ``rerank=`` resolver (:func:`linker.rerank.spec.open_reranker`, used by
``lk.merge``, ``lk.match_schema``, ``lk.match_glossary`` and ``lk.map_taxonomy``):

- ``"local"``: SmolLM2-135M served by a llama.cpp subprocess (:class:`LocalServer`), started
  on entry and stopped on exit; its answers are constrained to the JSON schema;
- ``"openai:<model>"``: any OpenAI-compatible endpoint (``OPENAI_BASE_URL``,
  ``OPENAI_API_KEY``);
- a :class:`~linker.protocols.ChatClient` object.

Each caller passes its :class:`~linker.llm.select.SelectTask` (records, columns, nodes); the
prompting, votes, cache and counters are :class:`~linker.llm.select.LLMSelectReranker`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from linker.errors import ConfigError
from linker.llm.cache import CallCache
from linker.llm.client import ChatClient, client_from_spec
from linker.llm.local import LocalServer
from linker.llm.select import RECORDS, LLMSelectReranker, SelectTask

__all__ = ["LLMSpec", "describe_report", "open_select"]

logger = logging.getLogger(__name__)

LLMSpec = str | ChatClient
"""``"local"``, ``"openai:<model>"`` or a :class:`~linker.llm.client.ChatClient`."""


@contextmanager
def open_select(
    spec: LLMSpec,
    *,
    task: SelectTask = RECORDS,
    cache: str | Path | None = None,
    seed: int = 0,
    max_calls: int | None = None,
) -> Iterator[LLMSelectReranker]:
    """Turn an LLM ``rerank=`` spec into a :class:`LLMSelectReranker` for ``task``.

    Args:
        spec: ``"local"``, ``"openai:<model>"`` or a ChatClient.
        task: What the items are (records, columns, nodes): system prompt, prompt version.
        cache: SQLite file of the call cache (default: the user cache,
            :func:`~linker.llm.cache.default_cache_path`).
        seed: Seed of the shuffled candidate orders.
        max_calls: Cap on new LLM calls (the rest stay undecided).

    Raises:
        ConfigError: ``spec`` is none of the above.

    Example:
        >>> with open_select("openai:gpt-4o-mini", cache=":memory:") as r:
        ...     r.client.model, r.task.name
        ('gpt-4o-mini', 'records')
    """

    def make(client: ChatClient, *, json_schema: bool) -> LLMSelectReranker:
        return LLMSelectReranker(client, task=task, cache=CallCache(cache), seed=seed,
                                 json_schema=json_schema, max_calls=max_calls)  # fmt: skip

    if isinstance(spec, ChatClient):
        yield make(spec, json_schema=False)
    elif spec == "local":
        with LocalServer() as server:
            yield make(server.client(), json_schema=True)
    elif isinstance(spec, str):
        yield make(client_from_spec(spec), json_schema=False)
    else:
        raise ConfigError(
            f"rerank={spec!r} is not 'local', 'openai:<model>' or a ChatClient (an object with "
            "a `model` name and a `chat(messages, ...)` method)"
        )


def describe_report(report: Mapping[str, float]) -> str:
    """One line of a reranker's counters (an LLM's, or a cross-encoder's), for logs and the CLI.

    Example:
        >>> describe_report({"calls": 4, "seconds": 2.0, "cache_hits": 2, "malformed": 1,
        ...                  "undecided": 0, "prompt_tokens": 800, "completion_tokens": 20})
        '4 calls (0.50 s each, 800 prompt + 20 completion tokens), 2 cache hits, 1 malformed answers, 0 undecided'
        >>> describe_report({"pairs": 12, "seconds": 0.5})
        '12 pairs scored in 0.50 s'
        >>> describe_report({"queries": 3})
        'queries 3'
    """  # noqa: E501
    if "calls" not in report:  # a cross-encoder's counters, or a reranker of your own
        if "pairs" in report:
            return f"{int(report['pairs'])} pairs scored in {report.get('seconds', 0.0):.2f} s"
        return ", ".join(f"{k} {v:g}" for k, v in sorted(report.items())) or "no counters"
    calls = int(report.get("calls", 0))
    each = report.get("seconds", 0.0) / calls if calls else 0.0
    text = f"{calls} calls ({each:.2f} s each"
    if report.get("prompt_tokens") or report.get("completion_tokens"):
        text += (
            f", {int(report.get('prompt_tokens', 0))} prompt + "
            f"{int(report.get('completion_tokens', 0))} completion tokens"
        )
    text += (
        f"), {int(report.get('cache_hits', 0))} cache hits, "
        f"{int(report.get('malformed', 0))} malformed answers, "
        f"{int(report.get('undecided', 0))} undecided"
    )
    if report.get("skipped_calls"):
        text += f", {int(report['skipped_calls'])} calls skipped (max_calls)"
    return text
