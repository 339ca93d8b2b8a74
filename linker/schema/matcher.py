"""Retrieve, score, rerank, assign: the schema matcher behind ``match_schema`` and
``match_glossary``.

For each source column the matcher (1) retrieves candidate target columns from name and
description embeddings, value embeddings, rapidfuzz name similarity and shared values
(:func:`linker.schema.signals.retrieve`); (2) scores each candidate with a weighted sum of its
signals, each standardised among the source column's candidates (:func:`combine_signals`;
weights :data:`DEFAULT_WEIGHTS`, chosen on the GDC benchmark, see
``benchmarks/results/schema.md``); (3) optionally lets a :class:`~linker.protocols.Reranker`
(an LLM, a cross-encoder) re-score the best few (:mod:`linker.schema.rerank`); (4) optionally
keeps a one-to-one mapping, with the same :func:`linker.decide.assign.assign` as record
linkage.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.decide.assign import assign
from linker.errors import ConfigError
from linker.protocols import Reranker
from linker.schema.profiles import Schema
from linker.schema.rerank import ColumnReranker, rerank_scores, warn_if_old
from linker.schema.signals import SIGNALS, Encoded, encode_schemas, pair_signals, retrieve
from linker.vectors.embed import Encoder, get_encoder

__all__ = ["DEFAULT_WEIGHTS", "Reranker", "SchemaMatcher", "combine_signals"]

logger = logging.getLogger(__name__)

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "name_fuzzy": 0.25,
    "name_embed": 0.20,
    "description": 0.25,
    "values_embed": 0.10,
    "value_overlap": 0.15,
    "numeric_range": 0.03,
    "type": 0.02,
}
_LABELS = {
    "name_fuzzy": "name",
    "name_embed": "name meaning",
    "description": "description",
    "values_embed": "similar values",
    "value_overlap": "shared values",
    "numeric_range": "numeric range",
}
_MIN_SPREAD = 0.05  # floor of a signal's spread among candidates (few or alike candidates)
_AGREES = 0.6  # a signal at or above this counts as agreeing, in the reason text


@dataclass
class SchemaMatcher:
    """Maps the columns of a source schema to the columns of a target schema.

    Args:
        top_k: Targets kept per source column.
        candidates: Targets retrieved per source column by each retriever before scoring.
        weights: Weight of each signal (:data:`linker.schema.signals.SIGNALS`); missing names
            count as 0. Default :data:`DEFAULT_WEIGHTS`.
        model: Embedding model name, path or encoder (default: packaged all-MiniLM-L6-v2).
        abbreviations: Extra ``{short: long}`` spellings for column names.
        one_to_one: Keep at most one target per source column and one source per target
            (greedy best-first assignment); ranks are then all 1.
        reranker: Optional :class:`~linker.protocols.Reranker` of the best ``rerank_top``
            candidates (an older :class:`~linker.schema.rerank.ColumnReranker` hook still
            works, deprecated).
        rerank_top: Candidates per source column given to the reranker.
        show_progress: Progress bars (``None``: when logging is at INFO).

    Example:
        >>> from linker.schema.profiles import Schema
        >>> m = SchemaMatcher(top_k=1)
        >>> src, tgt = Schema.from_names(["cust_dob"]), Schema.from_names(["birth_date", "total"])
        >>> out = m.match(src, tgt)
        >>> out.select("source_column", "target_column", "rank").rows()
        [('cust_dob', 'birth_date', 1)]
    """

    top_k: int = 5
    candidates: int = 30
    weights: Mapping[str, float] | None = None
    model: str | Encoder | None = None
    abbreviations: Mapping[str, str] | None = None
    one_to_one: bool = False
    reranker: Reranker | ColumnReranker | None = None
    rerank_top: int = 10
    show_progress: bool | None = None
    _encoder: Encoder | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        warn_if_old(self.reranker)

    def _check(self) -> dict[str, float]:
        if self.top_k < 1 or self.candidates < 1 or self.rerank_top < 1:
            raise ConfigError(
                f"top_k, candidates and rerank_top must be at least 1; got {self.top_k}, "
                f"{self.candidates}, {self.rerank_top}"
            )
        weights = dict(DEFAULT_WEIGHTS if self.weights is None else self.weights)
        unknown = sorted(set(weights) - set(SIGNALS))
        if unknown or any(w < 0 for w in weights.values()) or not any(weights.values()):
            raise ConfigError(
                f"weights must map signal names {list(SIGNALS)} to non-negative numbers, at "
                f"least one positive; got {weights}"
            )
        return weights

    def encoder(self) -> Encoder:
        """The embedding model, loaded once per matcher."""
        if self._encoder is None:
            self._encoder = get_encoder(self.model)
        return self._encoder

    def scored_pairs(self, source: Schema, target: Schema) -> pl.DataFrame:
        """Every retrieved candidate with its signals, ``score`` and ``rank`` (all ranks).

        Columns: ``source_row``, ``target_row``, one per signal, ``score``, ``rank``.
        """
        weights = self._check()
        src, tgt = encode_schemas(
            [source.columns, target.columns],
            self.encoder(),
            abbreviations=self.abbreviations,
            show_progress=self.show_progress,
        )
        left, right = retrieve(src, tgt, self.candidates)
        signals = pair_signals(src, tgt, left, right)
        score = combine_signals(signals, weights, left)
        pairs = pl.DataFrame({"source_row": left, "target_row": right, **signals, "score": score})
        pairs = pairs.filter(pl.col("score").is_not_nan())
        pairs = _ranked(pairs)
        if self.reranker is not None:
            pairs = _ranked(self._rerank(pairs, src, tgt))
        return pairs

    def _rerank(self, pairs: pl.DataFrame, src: Encoded, tgt: Encoded) -> pl.DataFrame:
        assert self.reranker is not None  # for mypy: the caller checked
        head = pairs.filter(pl.col("rank") <= self.rerank_top)  # grouped by source, best first
        groups = head.group_by("source_row", maintain_order=True).agg("target_row", "score")
        heads = list(
            zip(*(groups[c].to_list() for c in ("source_row", "target_row", "score")), strict=True)
        )
        new = rerank_scores(self.reranker, src.profiles, tgt.profiles, heads)
        new_scores = np.array([s for scores in new for s in scores], np.float32)
        # reranked candidates stay above the others: their scores are shifted above the tail's
        return pl.concat(
            [
                head.with_columns(score=pl.Series(new_scores, dtype=pl.Float32)),
                pairs.filter(pl.col("rank") > self.rerank_top).with_columns(
                    score=pl.col("score") - 1.0
                ),
            ]
        )

    def match(self, source: Schema, target: Schema) -> pl.DataFrame:
        """Rank target columns for every source column.

        Returns:
            ``source_column``, ``target_column``, ``score`` (0–1), ``rank`` (1 = best) and
            ``reason`` (the signals that agree); sorted by source column order, then rank. A
            source column with nothing to compare (no meaningful name, no description, no
            values) gets one row with null target, score and rank.
        """
        pairs = self.scored_pairs(source, target)
        if self.one_to_one:
            chosen = assign(
                pairs.rename({"source_row": "left_row", "target_row": "right_row"}),
                how="1:1",
                threshold=0.0,
            )
            pairs = chosen.rename({"left_row": "source_row", "right_row": "target_row"})
            pairs = pairs.with_columns(rank=pl.lit(1, dtype=pl.UInt32))
        pairs = pairs.filter(pl.col("rank") <= self.top_k).sort(["source_row", "rank"])
        return _named(pairs, source, target)


def combine_signals(
    signals: Mapping[str, npt.NDArray[np.float32]],
    weights: Mapping[str, float],
    source_rows: npt.NDArray[np.int64],
) -> npt.NDArray[np.float32]:
    """Score of each pair: how far its signals stand out among its source column's candidates.

    Each signal is standardised within the candidates of one source column (z-score, the
    spread floored at :data:`_MIN_SPREAD`), so a signal that separates the candidates counts
    more than one that rates them all alike; an unmeasured signal counts as average (0). The
    weighted sum of z-scores goes through a logistic function, giving a score in ``(0, 1)``
    (0.5: an average candidate). NaN when no weighted signal was measured for the pair.

    Args:
        signals: One array per signal name, one value per pair (NaN: not measured).
        weights: Weight per signal name; names without a positive weight are ignored.
        source_rows: The source column of each pair (the groups that are standardised).

    Example:
        >>> import numpy as np
        >>> sig = {"name_fuzzy": np.array([0.9, 0.5, 0.4], np.float32)}
        >>> scores = combine_signals(sig, {"name_fuzzy": 1.0}, np.zeros(3, np.int64))
        >>> [round(float(x), 2) for x in scores]
        [0.8, 0.39, 0.28]
    """
    n_rows = int(source_rows.max()) + 1 if len(source_rows) else 0
    norm = sum(w for w in weights.values() if w > 0)
    total = np.zeros(len(source_rows), np.float64)
    measured = np.zeros(len(source_rows), bool)
    for name, w in weights.items():
        if w <= 0:
            continue
        s = signals[name].astype(np.float64)
        ok = ~np.isnan(s)
        count = np.bincount(source_rows[ok], minlength=n_rows)
        mean = np.bincount(source_rows[ok], s[ok], minlength=n_rows) / np.maximum(count, 1)
        dev = np.where(ok, s - mean[source_rows], 0.0)
        var = np.bincount(source_rows, dev**2, minlength=n_rows) / np.maximum(count, 1)
        spread = np.maximum(np.sqrt(var), _MIN_SPREAD)
        total += (w / norm) * dev / spread[source_rows]
        measured |= ok
    score = 1.0 / (1.0 + np.exp(-total))
    return np.where(measured, score, np.nan).astype(np.float32)


def _ranked(pairs: pl.DataFrame) -> pl.DataFrame:
    pairs = pairs.sort(["source_row", "score", "target_row"], descending=[False, True, False])
    return pairs.with_columns(
        rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("source_row")
    )


def reason(row: Mapping[str, float | None]) -> str:
    """Which signals agree on a pair, e.g. ``"name 0.95, shared values 1.00"``.

    Example:
        >>> reason({"name_fuzzy": 0.95, "description": 0.41, "type": 0.0})
        'name 0.95; types differ'
        >>> reason({"name_fuzzy": 0.3, "description": 0.41})
        'weak: best is description 0.41'
    """
    measured = {k: v for k, v in row.items() if k in _LABELS and v is not None and v == v}
    agree = sorted(
        ((k, v) for k, v in measured.items() if v >= _AGREES), key=lambda kv: (-kv[1], kv[0])
    )
    if agree:
        text = ", ".join(f"{_LABELS[k]} {v:.2f}" for k, v in agree)
    elif measured:
        k, v = max(measured.items(), key=lambda kv: (kv[1], kv[0]))
        text = f"weak: best is {_LABELS[k]} {v:.2f}"
    else:
        text = "type only"
    if row.get("type") == 0.0:
        text += "; types differ"
    return text


def _named(pairs: pl.DataFrame, source: Schema, target: Schema) -> pl.DataFrame:
    src_names, tgt_names = source.names, target.names
    reasons = [reason(r) for r in pairs.select(list(SIGNALS)).iter_rows(named=True)]
    out = pl.DataFrame(
        {
            "source_column": [src_names[i] for i in pairs["source_row"]],
            "target_column": [tgt_names[j] for j in pairs["target_row"]],
            "score": pairs["score"].cast(pl.Float64).round(4),
            "rank": pairs["rank"].cast(pl.Int64),
            "reason": reasons,
        },
        schema={
            "source_column": pl.String,
            "target_column": pl.String,
            "score": pl.Float64,
            "rank": pl.Int64,
            "reason": pl.String,
        },
    )
    missing = sorted(set(range(len(src_names))) - set(pairs["source_row"].to_list()))
    if missing:
        logger.warning(
            "no evidence for source column(s) %s (no meaningful name, description or values); "
            "they get a row with no target",
            ", ".join(repr(src_names[i]) for i in missing),
        )
        empty = pl.DataFrame(
            {"source_column": [src_names[i] for i in missing], "reason": "nothing to compare"},
        )
        out = pl.concat([out, empty], how="diagonal_relaxed")
    order = {n: i for i, n in enumerate(src_names)}
    return out.sort(
        pl.col("source_column").replace_strict(order, return_dtype=pl.Int64), pl.col("rank")
    )
