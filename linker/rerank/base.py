"""Second-stage reranking of the uncertain band: the protocol, and how the band is chosen.

Only left records whose best candidate scores inside ``band = (lo, hi)`` are reranked: above
``hi`` the first stage is sure of a match, below ``lo`` sure of none. Each such record becomes
a :class:`Query` holding its top candidates (those scoring at least ``lo``, best first). A
:class:`Reranker` returns a new score per candidate (``None``: undecided, the first-stage score
stays). Any object with ``rerank`` and ``report`` plugs in: the LLM select-among-candidates
reranker (:class:`linker.llm.select.LLMSelectReranker`) and the fine-tuned cross-encoder
(:class:`linker.rerank.cross_encoder.CrossEncoderReranker`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import polars as pl

from linker.errors import ConfigError

__all__ = [
    "Query",
    "Record",
    "Reranker",
    "band_pairs",
    "check_band",
    "rerank_band",
]

logger = logging.getLogger(__name__)

Record = dict[str, str]


@dataclass(frozen=True)
class Query:
    """One left record and the candidates a reranker should judge.

    Attributes:
        left_row: Row of the left record.
        left: The left record as ``{column: value}`` (text, nulls as empty).
        right_rows: Rows of the candidates, best first-stage score first.
        right: The candidate records, same order.
        scores: Their first-stage scores.
    """

    left_row: int
    left: Record
    right_rows: tuple[int, ...]
    right: tuple[Record, ...]
    scores: tuple[float, ...]


@runtime_checkable
class Reranker(Protocol):
    """A second-stage judge of the uncertain band."""

    def rerank(self, queries: Sequence[Query]) -> list[list[float | None]]:
        """A new score in ``[0, 1]`` (or ``None``: undecided) per candidate of each query."""
        ...

    def report(self) -> dict[str, float]:
        """Counters of the work done (calls, cache hits, seconds, ...)."""
        ...


def check_band(band: tuple[float, float]) -> tuple[float, float]:
    """Validate ``(lo, hi)`` with ``0 <= lo < hi <= 1``.

    Example:
        >>> check_band((0.3, 0.7))
        (0.3, 0.7)
    """
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"rerank_band must be two numbers (lo, hi), not {band!r}") from e
    if not 0.0 <= lo < hi <= 1.0:
        raise ConfigError(f"rerank_band must satisfy 0 <= lo < hi <= 1, not {band!r}")
    return lo, hi


def _records(frame: pl.DataFrame, columns: Sequence[str], rows: list[int]) -> list[Record]:
    sub = frame[rows].select([pl.col(c).cast(pl.Utf8).fill_null("") for c in columns])
    return [dict(zip(columns, r, strict=True)) for r in sub.iter_rows()]


def band_pairs(
    pairs: pl.DataFrame, band: tuple[float, float], *, max_candidates: int = 4
) -> pl.DataFrame:
    """The pairs a reranker sees: the top candidates (score ≥ lo) of the uncertain left records.

    Example:
        >>> p = pl.DataFrame({"left_row": [0, 0, 1, 1], "right_row": [0, 1, 0, 1],
        ...                   "score": [0.6, 0.2, 0.9, 0.5]})
        >>> band_pairs(p, (0.3, 0.7)).rows()
        [(0, 0, 0.6)]
    """
    lo, hi = check_band(band)
    p = pairs.select("left_row", "right_row", "score")
    best = p.group_by("left_row").agg(pl.col("score").max().alias("__lk_best"))
    uncertain = best.filter((pl.col("__lk_best") >= lo) & (pl.col("__lk_best") <= hi))
    return (
        p.join(uncertain.select("left_row"), on="left_row", how="semi")
        .filter(pl.col("score") >= lo)
        .sort(["left_row", "score", "right_row"], descending=[False, True, False])
        .group_by("left_row", maintain_order=True)
        .head(max_candidates)
    )


def rerank_band(
    pairs: pl.DataFrame,
    reranker: Reranker,
    *,
    left: pl.DataFrame,
    right: pl.DataFrame,
    left_on: Sequence[str],
    right_on: Sequence[str],
    band: tuple[float, float] = (0.3, 0.7),
    max_candidates: int = 4,
) -> tuple[pl.DataFrame, dict[str, float]]:
    """Rerank the uncertain band of ``pairs``; other pairs keep their scores.

    Args:
        pairs: Scored candidates (``left_row``, ``right_row``, ``score``, ...).
        reranker: The second stage.
        left: Left table (records are shown to the reranker by ``left_on`` columns).
        right: Right table.
        left_on: Left columns shown.
        right_on: Right columns shown, named as ``left_on`` so both sides read alike.
        band: ``(lo, hi)``: left records whose best score lies within are reranked.
        max_candidates: Candidates per query.

    Returns:
        ``pairs`` with ``score`` replaced where the reranker decided, the first-stage score
        kept in ``score_stage1`` and a ``reranked`` flag; and the reranker's report plus
        ``queries`` and ``reranked_pairs``.
    """
    chosen = band_pairs(pairs, band, max_candidates=max_candidates)
    groups = chosen.group_by("left_row", maintain_order=True).agg("right_row", "score")
    lrows = groups["left_row"].to_list()
    lrec = _records(left, left_on, lrows)
    rrec_all = _records(right, right_on, chosen["right_row"].to_list())
    rrec_all = [dict(zip(left_on, r.values(), strict=True)) for r in rrec_all]
    queries, at = [], 0
    for lrow, rec, rrows, scores in zip(
        lrows, lrec, groups["right_row"].to_list(), groups["score"].to_list(), strict=True
    ):
        n = len(rrows)
        queries.append(Query(lrow, rec, tuple(rrows), tuple(rrec_all[at : at + n]), tuple(scores)))
        at += n
    logger.info("reranking %d uncertain left records (%d pairs)", len(queries), chosen.height)
    new = reranker.rerank(queries) if queries else []
    rows = [
        (q.left_row, r, s)
        for q, got in zip(queries, new, strict=True)
        for r, s in zip(q.right_rows, got, strict=True)
        if s is not None
    ]
    decided = pl.DataFrame(
        rows,
        schema={"left_row": pairs["left_row"].dtype, "right_row": pairs["right_row"].dtype,
                "__lk_new": pl.Float64},
        orient="row",
    )  # fmt: skip
    out = (
        pairs.join(decided, on=["left_row", "right_row"], how="left")
        .with_columns(
            score_stage1=pl.col("score"),
            reranked=pl.col("__lk_new").is_not_null(),
            score=pl.coalesce(pl.col("__lk_new").cast(pairs["score"].dtype), pl.col("score")),
        )
        .drop("__lk_new")
    )
    stats = {**reranker.report(), "queries": float(len(queries)), "reranked_pairs": len(rows)}
    return out, {k: float(v) for k, v in stats.items()}
