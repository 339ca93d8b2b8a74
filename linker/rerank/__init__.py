"""The second stage: a reranker rescores the uncertain band of the first stage's pairs.

- :mod:`~linker.rerank.base`: the contract (:class:`Query`, :class:`Record`, :class:`Reranker`);
- :mod:`~linker.rerank.cross_encoder`: a trained pair matcher as an offline reranker;
- the LLM reranker lives in :mod:`linker.llm`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.rerank.<module>
