"""``rerank=``: what a user may name as the second stage, turned into a running reranker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from linker.errors import ConfigError
from linker.rerank.base import Reranker

__all__ = ["RerankSpec", "open_reranker"]

RerankSpec = str | Reranker | object  # "local", "openai:<model>", a Reranker or a ChatClient


@contextmanager
def open_reranker(
    spec: RerankSpec, *, cache: str | None = None, seed: int = 0, max_calls: int | None = None
) -> Iterator[Reranker]:
    """Turn ``rerank=`` into a running :class:`Reranker`; a local server stops on exit.

    Args:
        spec: ``"local"`` (SmolLM2 via a llama.cpp server subprocess), ``"openai:<model>"``
            (any OpenAI-compatible endpoint: ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``), a
            :class:`Reranker`, a :class:`~linker.llm.client.ChatClient`, or a fine-tuned
            cross-encoder: ``"cross-encoder:<folder>"`` (saved by ``lk.train``) or a
            :class:`~linker.scoring.ditto.DittoMatcher`.
        cache: SQLite file of the LLM call cache (default: the user cache).
        seed: Seed of the shuffled candidate orders.
        max_calls: Cap on new LLM calls.

    Raises:
        ConfigError: an unknown spec, or ``"cross-encoder"`` without a matcher folder.
    """
    from linker.rerank.cross_encoder import cross_encoder_reranker

    cross_encoder = cross_encoder_reranker(spec)  # "cross-encoder:<folder>" or a DittoMatcher
    if cross_encoder is not None:
        yield cross_encoder
        return
    if isinstance(spec, Reranker):
        yield spec
        return
    from linker.llm.client import ChatClient
    from linker.llm.resolve import open_select  # the one LLM spec resolver (schema, taxonomy)

    if not isinstance(spec, str | ChatClient):
        raise ConfigError(
            f"rerank={spec!r} is not 'local', 'openai:<model>', a Reranker or a ChatClient"
        )
    with open_select(spec, cache=cache, seed=seed, max_calls=max_calls) as reranker:
        yield reranker
