"""``map_taxonomy``: the one-call form of the taxonomy matcher, and input coercion."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import polars as pl

from linker.errors import InputError
from linker.frames import (
    Frame,
    FrameKind,
    PolarsSource,
    as_polars,
    check_columns,
    text_values,
    to_kind,
)
from linker.llm.tasks import NODES
from linker.protocols import Encoder, Reranker
from linker.rerank.spec import RerankSpec, open_rerank_option
from linker.taxonomy.matcher import TaxonomyMatcher
from linker.taxonomy.obo import read_obo
from linker.taxonomy.rerank import NodeReranker
from linker.taxonomy.score import HierarchyParams
from linker.taxonomy.tree import Taxonomy

if TYPE_CHECKING:
    import pandas as pd


__all__ = ["as_examples", "as_phrases", "as_taxonomy", "map_taxonomy"]

logger = logging.getLogger(__name__)

OUTPUT_COLUMNS = ("phrase", "node_id", "label", "path", "score", "rank")


def as_taxonomy(taxonomy: Any, **columns: Any) -> Taxonomy:
    """A :class:`Taxonomy` from a taxonomy, an ``.obo`` path, or a table (frame or path).

    ``columns`` go to :meth:`Taxonomy.from_table` (``id``, ``label``, ``parent``,
    ``synonyms``, ``description``, ``separator``).

    Example:
        >>> as_taxonomy(Taxonomy.from_labels(["a"])) is not None
        True
    """
    if isinstance(taxonomy, Taxonomy):
        return taxonomy
    if isinstance(taxonomy, str | os.PathLike) and Path(taxonomy).suffix.lower() == ".obo":
        return read_obo(taxonomy)
    return Taxonomy.from_table(taxonomy, **columns)


def as_phrases(phrases: Any, *, column: str | None = None) -> tuple[list[str], FrameKind]:
    """Phrases from a list of strings, a polars Series, or a table (frame or path).

    A table's phrases are in ``column``; by default in ``phrase`` if there is one, else in
    its only (or first) column.

    Example:
        >>> as_phrases(["acme", "zeta"])
        (['acme', 'zeta'], 'polars')
    """
    if isinstance(phrases, pl.Series):
        return text_values(phrases.to_frame("p"), "p"), "polars"
    if isinstance(phrases, Sequence) and not isinstance(phrases, str):
        return ["" if p is None else str(p) for p in phrases], "polars"
    df, kind = as_polars(phrases, name="phrases")
    if column is None:
        column = "phrase" if "phrase" in df.columns else (df.columns[0] if df.columns else "")
    check_columns(df, [column], name="phrases")
    return text_values(df, column), kind


def as_examples(examples: Any) -> list[tuple[str, str]]:
    """Labelled examples from ``(phrase, node_id)`` pairs, a ``{phrase: node_id}`` mapping, or
    a table (frame or path) with the columns ``phrase`` and ``node_id``.

    Example:
        >>> as_examples({"hound": "dog"})
        [('hound', 'dog')]
    """
    if examples is None:
        return []
    if isinstance(examples, Mapping):
        return [(str(p), str(n)) for p, n in examples.items()]
    if isinstance(examples, Sequence) and not isinstance(examples, str):
        return [(str(pair[0]), str(pair[1])) for pair in examples]
    df, _ = as_polars(examples, name="examples")
    check_columns(df, ["phrase", "node_id"], name="examples")
    nulls = df.filter(pl.col("node_id").is_null()).height
    if nulls:
        raise InputError(f"examples: {nulls} row(s) have no node_id; fill or drop them")
    return list(zip(text_values(df, "phrase"), text_values(df, "node_id"), strict=True))


@overload
def map_taxonomy(
    phrases: Sequence[str | None] | pl.Series | PolarsSource,
    taxonomy: Taxonomy | Frame,
    *,
    top_k: int = 1,
    examples: Any = None,
    model: str | Encoder | None = None,
    phrase_column: str | None = None,
    hierarchy: HierarchyParams | None = None,
    rerank: RerankSpec | None = None,
    rerank_top: int = 5,
    rerank_report: dict[str, float] | None = None,
    reranker: Reranker | NodeReranker | None = None,
    show_progress: bool | None = None,
) -> pl.DataFrame: ...
@overload
def map_taxonomy(
    phrases: pd.DataFrame,
    taxonomy: Taxonomy | Frame,
    *,
    top_k: int = 1,
    examples: Any = None,
    model: str | Encoder | None = None,
    phrase_column: str | None = None,
    hierarchy: HierarchyParams | None = None,
    rerank: RerankSpec | None = None,
    rerank_top: int = 5,
    rerank_report: dict[str, float] | None = None,
    reranker: Reranker | NodeReranker | None = None,
    show_progress: bool | None = None,
) -> pd.DataFrame: ...
def map_taxonomy(
    phrases: Sequence[str | None] | pl.Series | Frame,
    taxonomy: Taxonomy | Frame,
    *,
    top_k: int = 1,
    examples: Any = None,
    model: str | Encoder | None = None,
    phrase_column: str | None = None,
    hierarchy: HierarchyParams | None = None,
    rerank: RerankSpec | None = None,
    rerank_top: int = 5,
    rerank_report: dict[str, float] | None = None,
    reranker: Reranker | NodeReranker | None = None,
    show_progress: bool | None = None,
) -> pl.DataFrame | pd.DataFrame:
    """Map each phrase to its best ``top_k`` nodes of a taxonomy.

    Args:
        phrases: Strings, a polars Series, or a table (polars/pandas frame or CSV path) whose
            ``phrase_column`` holds them.
        taxonomy: A :class:`Taxonomy`, an ``.obo`` file, or a table with the columns ``id``,
            ``label`` and optionally ``parent``, ``synonyms``, ``description``.
        top_k: Nodes returned per phrase.
        examples: Labelled examples (few-shot): ``(phrase, node_id)`` pairs, a mapping, or a
            table with ``phrase`` and ``node_id``.
        model: Embedding model name, path or encoder (default: packaged all-MiniLM-L6-v2).
        phrase_column: Column of a phrases table (default ``phrase``, else the first).
        hierarchy: Ancestor agreement, depth preference and back-off settings.
        rerank: Re-rank each phrase's best ``rerank_top`` nodes (shown with their paths),
            with the values of ``lk.merge(rerank=...)``. An LLM (``"local"``: SmolLM2 via a
            llama.cpp subprocess, ``pip install 'linker[llm]'``; ``"openai:<model>"``:
            ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``; or a ChatClient) picks one node or none
            over three shuffled rounds with a vote, in strict JSON, every call cached in
            SQLite; a phrase with only malformed answers keeps its order. A pair matcher
            trained on phrase and node records (:mod:`linker.taxonomy.rerank`),
            ``"cross-encoder:<folder>"`` or the matcher itself, scores every candidate
            offline. Any :class:`~linker.protocols.Reranker` plugs in. Nodes are reordered
            by the reranker's scores (scores travel with their nodes). ``None``: no rerank.
        rerank_top: Candidate nodes per phrase that the reranker sees.
        rerank_report: A dict to fill with the reranker's counters (an LLM's ``calls``,
            ``cache_hits``, ``seconds``, ``prompt_tokens``, ``completion_tokens``,
            ``malformed``, ``undecided``; a cross-encoder's ``pairs``, ``seconds``).
        reranker: Deprecated: pass a reranker as ``rerank=``. An older
            :class:`~linker.taxonomy.rerank.NodeReranker` hook still works here, with a
            ``DeprecationWarning``; not with ``rerank``.
        show_progress: Progress bars (``None``: when logging is at INFO).

    Returns:
        One row per phrase and rank: ``phrase``, ``node_id``, ``label``, ``path``, ``score``,
        ``rank`` (1 = best), in input order; pandas if ``phrases`` was pandas, else polars.
        A phrase without candidates (an empty one) gets one row with nulls.

    Raises:
        InputError: a bad taxonomy (duplicate ids, orphans, cycles), missing columns, or
            examples naming unknown nodes.
        ConfigError: an unknown ``rerank`` spec, or both ``rerank`` and ``reranker``.
        RerankError: the LLM server could not be reached or failed, or a reranker answered
            out of shape.

    Example:
        >>> import linker as lk
        >>> tax = lk.Taxonomy(["animal", "dog", "cat"], ["Animal", "Dog", "Cat"],
        ...                   [None, ["animal"], ["animal"]], synonyms=[[], ["hound"], []])
        >>> lk.map_taxonomy(["hound", "kitten"], tax)["node_id"].to_list()
        ['dog', 'cat']
    """
    tax = as_taxonomy(taxonomy)
    texts, kind = as_phrases(phrases, column=phrase_column)
    with open_rerank_option(rerank, reranker, task=NODES, report=rerank_report) as hook:
        matcher = TaxonomyMatcher(
            model,
            hierarchy=hierarchy,
            reranker=hook,  # type: ignore[arg-type]  # a Reranker, or an older hook
            rerank_top=rerank_top,
            show_progress=show_progress,
        ).fit(tax, as_examples(examples))
        match = matcher.predict(texts, top_k=top_k)
    return to_kind(_frame(texts, tax, match.nodes, match.scores), kind)


def _frame(texts: list[str], tax: Taxonomy, nodes: Any, scores: Any) -> pl.DataFrame:
    rows: dict[str, list[Any]] = {c: [] for c in OUTPUT_COLUMNS}
    for phrase, ns, ss in zip(texts, nodes.tolist(), scores.tolist(), strict=True):
        kept = [(n, s) for n, s in zip(ns, ss, strict=True) if n >= 0]
        for rank, (n, s) in enumerate(kept or [(-1, None)], start=1):
            rows["phrase"].append(phrase)
            rows["node_id"].append(tax.ids[n] if n >= 0 else None)
            rows["label"].append(tax.labels[n] if n >= 0 else None)
            rows["path"].append(tax.path(n) if n >= 0 else None)
            rows["score"].append(round(float(s), 6) if n >= 0 else None)
            rows["rank"].append(rank if n >= 0 else None)
    schema = {"phrase": pl.String, "node_id": pl.String, "label": pl.String, "path": pl.String}
    return pl.DataFrame(rows, schema={**schema, "score": pl.Float64, "rank": pl.Int64})
