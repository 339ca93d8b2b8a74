"""Schema and glossary matching: which column means what.

- :func:`match_schema`: source columns to the columns of a target table or standard;
- :func:`match_glossary`: a table's columns to the terms of a business glossary;
- :func:`match_values` / :func:`map_values`: source values to a standard's allowed values;
- :class:`SchemaMatcher`: the retrieve-score-rerank-assign engine behind them, with
  :class:`Reranker`, the hook an LLM reranker plugs into.

Profiles (:mod:`linker.schema.profiles`), name handling (:mod:`linker.schema.names`) and the
signals (:mod:`linker.schema.signals`) live in their own modules; embedding and search reuse
:mod:`linker.vectors.embed` and :mod:`linker.vectors.ann`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr
from linker.schema.api import match_glossary, match_schema
from linker.schema.glossary import glossary_schema
from linker.schema.matcher import DEFAULT_WEIGHTS, Reranker, SchemaMatcher
from linker.schema.profiles import ColumnProfile, Schema, as_schema
from linker.schema.values import map_values, match_values

__all__ = [
    "DEFAULT_WEIGHTS",
    "ColumnProfile",
    "Reranker",
    "Schema",
    "SchemaMatcher",
    "as_schema",
    "glossary_schema",
    "map_values",
    "match_glossary",
    "match_schema",
    "match_values",
]

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.schema.<module>
