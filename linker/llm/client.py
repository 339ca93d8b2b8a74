"""Chat-completion clients: the protocol the reranker needs, and an OpenAI-compatible one.

The HTTP client is the standard library's ``urllib``; no SDK is needed. Any server that
speaks ``POST {base_url}/chat/completions`` works: OpenAI, vLLM, llama.cpp's servers, Ollama's
``/v1``, LM Studio.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from linker.errors import ConfigError, RerankError
from linker.protocols import ChatClient, Message

__all__ = ["ChatClient", "Message", "OpenAIClient", "check_spec", "client_from_spec"]

logger = logging.getLogger(__name__)


class OpenAIClient:
    """Chat completions from any OpenAI-compatible endpoint.

    Args:
        model: Model name sent with each request.
        base_url: Endpoint root (``.../v1``); default ``$OPENAI_BASE_URL`` or OpenAI's.
        api_key: Bearer token; default ``$<api_key_env>``. Local servers need none.
        api_key_env: Environment variable holding the key.
        timeout: Seconds per request.
        retries: Extra attempts after a connection error or a 429/5xx answer.

    Attributes:
        usage_: Prompt and completion tokens of all answers so far, as the server reported
            them (the cost of the calls; servers that report no usage add nothing).

    Example:
        >>> c = OpenAIClient("gpt-4o-mini", base_url="http://127.0.0.1:8000/v1", api_key="x")
        >>> c.url
        'http://127.0.0.1:8000/v1/chat/completions'
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        retries: int = 2,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.retries = retries
        self.usage_: dict[str, int] = {"prompt_tokens": 0, "completion_tokens": 0}

    @property
    def url(self) -> str:
        """The chat-completions URL."""
        base = self.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        return base.rstrip("/") + "/chat/completions"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = self.api_key or os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def chat(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 64,
        temperature: float = 0.0,
        response_format: dict[str, Any] | None = None,
    ) -> str:
        """Send one request; return the first choice's message content.

        Raises:
            RerankError: the server failed after the retries, or answered without content.
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if response_format is not None:
            body["response_format"] = response_format
        data = json.dumps(body).encode("utf-8")
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=data, headers=self._headers())
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = json.loads(response.read().decode("utf-8"))
                text = str(payload["choices"][0]["message"]["content"] or "")
                self._count(payload.get("usage"))
                return text
            except urllib.error.HTTPError as e:
                if e.code not in (429, 500, 502, 503, 504) or attempt == self.retries:
                    detail = e.read().decode("utf-8", "replace")[:300]
                    raise RerankError(f"{self.url} answered HTTP {e.code}: {detail}") from e
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                if attempt == self.retries:
                    raise RerankError(
                        f"cannot reach {self.url} ({e}): is the server running? "
                        "Check base_url / OPENAI_BASE_URL"
                    ) from e
            except (KeyError, IndexError, TypeError, json.JSONDecodeError) as e:
                raise RerankError(f"{self.url} gave no chat completion: {e!r}") from e
            logger.warning("LLM request failed (attempt %d), retrying", attempt + 1)
            time.sleep(min(2.0**attempt, 10.0))
        raise RerankError(f"{self.url}: no answer")  # pragma: no cover - loop always returns

    def _count(self, usage: object) -> None:
        if isinstance(usage, dict):
            for name in self.usage_:
                value = usage.get(name)
                if isinstance(value, int) and not isinstance(value, bool):
                    self.usage_[name] += value


def client_from_spec(spec: str) -> ChatClient:
    """``"openai:<model>"`` → :class:`OpenAIClient` for that model (URL and key from env).

    Example:
        >>> client_from_spec("openai:gpt-4o-mini").model
        'gpt-4o-mini'
    """
    kind, _, model = spec.partition(":")
    if kind != "openai" or not model:
        raise ConfigError(
            f"rerank={spec!r}: use 'local', 'openai:<model>' (with OPENAI_BASE_URL and "
            "OPENAI_API_KEY set as needed) or a Reranker / ChatClient object"
        )
    return OpenAIClient(model)


def check_spec(spec: object, *, environ: Mapping[str, str] | None = None) -> None:
    """Check a ``rerank=`` string before any work starts: its form, the key it needs, and
    that its extra or folder is there. Objects (a Reranker, a ChatClient) pass.

    ``"openai:<model>"`` against OpenAI's own endpoint (``OPENAI_BASE_URL`` unset) needs
    ``OPENAI_API_KEY``; a server of your own (``OPENAI_BASE_URL`` set) may need none.

    Raises:
        ConfigError: a malformed spec, a missing key, a missing ``linker[llm]`` extra for
            ``"local"``, or a ``"cross-encoder:<folder>"`` that does not exist.

    Example:
        >>> check_spec("openai:gpt-4o-mini", environ={})
        Traceback (most recent call last):
        ...
        linker.errors.ConfigError: rerank='openai:gpt-4o-mini' needs an API key: OPENAI_API_KEY is not set. Export it (export OPENAI_API_KEY=...), or point OPENAI_BASE_URL at a server that needs none.
    """  # noqa: E501
    if not isinstance(spec, str):
        return
    env = os.environ if environ is None else environ
    kind, _, rest = spec.partition(":")
    if kind == "openai":
        client_from_spec(spec)  # the form
        if not env.get("OPENAI_API_KEY") and not env.get("OPENAI_BASE_URL"):
            raise ConfigError(
                f"rerank={spec!r} needs an API key: OPENAI_API_KEY is not set. Export it "
                "(export OPENAI_API_KEY=...), or point OPENAI_BASE_URL at a server that needs none."
            )
    elif spec == "local":
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError(
                "rerank='local' needs the LLM extra: pip install 'linker[llm]' (see the README)"
            )
    elif kind == "cross-encoder":
        if not rest or not Path(rest).exists():
            raise ConfigError(
                f"rerank={spec!r}: no matcher folder {rest!r}; pass the folder `linker train` "
                "saved (cross-encoder:<folder>)"
            )
    else:
        client_from_spec(spec)  # raises the error that lists the choices
