"""The second stage: a reranker rescores the best candidates of records, columns or nodes.

- the contract (:class:`~linker.protocols.Query`, :class:`~linker.protocols.Record`,
  :class:`~linker.protocols.Reranker`) is in :mod:`linker.protocols`;
- :mod:`~linker.rerank.base`: the checks every caller shares, and the uncertain band of
  record linkage;
- :mod:`~linker.rerank.spec`: :func:`~linker.rerank.spec.open_reranker`, the one resolver of
  ``rerank=`` for ``lk.merge``, ``lk.match_schema``, ``lk.match_glossary`` and
  ``lk.map_taxonomy``;
- :mod:`~linker.rerank.cross_encoder`: a trained pair matcher as an offline reranker;
- the LLM reranker lives in :mod:`linker.llm`; the schema and taxonomy score policies in
  :mod:`linker.schema.rerank` and :mod:`linker.taxonomy.rerank`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.rerank.<module>
