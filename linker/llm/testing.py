"""A :class:`~linker.protocols.ChatClient` that answers from a script: for examples and tests.

:class:`ScriptedChatClient` stands in for an LLM wherever a ChatClient goes
(``rerank=ScriptedChatClient(...)``, :class:`~linker.llm.select.LLMSelectReranker`). It answers
with a fixed text, with the texts of a list in turn, or with what a function of the select
prompt's query and candidates returns, and it keeps every request it got. :func:`picks` makes
such a function: vote for the candidate whose field has a given value.

It is shipped with the client protocol, as an HTTP library ships a mock transport: code that
drives the LLM reranker can be tested without a model, and the tests of the LLM itself run the
real local model (``tests/conftest.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from linker.errors import RerankError
from linker.protocols import Message, Record

__all__ = ["Judge", "ScriptedChatClient", "picks", "select_prompt"]

Judge = Callable[[Record, list[Record]], str]
"""``judge(query, candidates) -> reply``: the reply to one select prompt."""


def select_prompt(messages: Sequence[Message]) -> tuple[Record, list[Record]]:
    """The query and candidate records of a select-among-candidates prompt
    (:func:`linker.llm.select.build_messages`); empty fields were left out of the prompt.

    Example:
        >>> from linker.llm.select import build_messages
        >>> select_prompt(build_messages({"name": "Acme"}, [{"name": "ACME"}, {"name": "Zeta"}]))
        ({'name': 'Acme'}, [{'name': 'ACME'}, {'name': 'Zeta'}])
    """
    lines = messages[1]["content"].splitlines()
    query = json.loads(lines[0].removeprefix("QUERY: "))
    return query, [json.loads(line.split(": ", 1)[1]) for line in lines[2:-1]]


def picks(field: str, value: str) -> Judge:
    """A judge that votes for the first candidate whose ``field`` is ``value``, else none.

    Example:
        >>> picks("name", "Zeta")({"name": "Acme"}, [{"name": "ACME"}, {"name": "Zeta"}])
        '{"match": 2}'
    """

    def judge(query: Record, candidates: list[Record]) -> str:
        hit = [i for i, c in enumerate(candidates, 1) if c.get(field) == value]
        return json.dumps({"match": hit[0] if hit else 0})

    return judge


class ScriptedChatClient:
    """A chat client whose replies come from a script.

    Args:
        script: What to reply: one text (every time), a list of texts (in turn; running out
            is a :class:`~linker.errors.RerankError`), or a :data:`Judge` called with the
            query and candidate records of the select prompt.
        model: The model name (part of the LLM cache key).

    Attributes:
        requests: The messages of every request, in order.

    Example:
        >>> from linker.llm import CallCache, LLMSelectReranker
        >>> from linker.protocols import Query
        >>> client = ScriptedChatClient(picks("name", "ACME Inc"))
        >>> q = Query(0, {"name": "Acme"}, (5, 6), ({"name": "Zeta"}, {"name": "ACME Inc"}),
        ...           (0.6, 0.5))
        >>> LLMSelectReranker(client, cache=CallCache(":memory:"), rounds=1).rerank([q])
        [[0.0, 1.0]]
        >>> len(client.requests)
        1
    """

    def __init__(self, script: str | Sequence[str] | Judge, *, model: str = "scripted") -> None:
        self.script = script
        self.model = model
        self.requests: list[list[Message]] = []

    def chat(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 64,
        temperature: float = 0.0,
        response_format: dict[str, Any] | None = None,
    ) -> str:
        """The scripted reply to ``messages`` (recorded in :attr:`requests`)."""
        self.requests.append(list(messages))
        if isinstance(self.script, str):
            return self.script
        if callable(self.script):
            return self.script(*select_prompt(messages))
        at = len(self.requests) - 1
        if at >= len(self.script):
            raise RerankError(
                f"ScriptedChatClient: the script has {len(self.script)} replies and this is "
                f"request {at + 1}; give more replies"
            )
        return self.script[at]
