"""The counts and estimates a :class:`~linker.pipeline.result.LinkResult` reports in ``stats``.

Row, candidate and match counts; for dedup the cluster sizes; with the zero-label scorer its
estimates of the match rate (and a warning when the compared columns cannot tell records
apart); with a rerank, the reranker's report as ``rerank_*``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from linker.scoring.separation import separation_warning

if TYPE_CHECKING:
    from linker.scoring.zero_label import ZeroLabelScorer

__all__ = ["dedup_stats", "estimates", "link_stats"]


def estimates(
    scorer: ZeroLabelScorer | None, pairs: pl.DataFrame, n_matches: int
) -> dict[str, float]:
    """The zero-label scorer's estimates (none with a trained matcher); warns when the
    compared columns cannot tell records apart (no match at all)."""
    if scorer is None:
        return {}
    if n_matches == 0:
        separation_warning(scorer, pairs)
    return scorer.estimates(pairs["left_row"].to_numpy(), pairs["score"].to_numpy())


def link_stats(
    left: pl.DataFrame,
    right: pl.DataFrame,
    pairs: pl.DataFrame,
    matches: pl.DataFrame,
    *,
    scorer: ZeroLabelScorer | None,
    rerank: dict[str, float],
) -> dict[str, float]:
    """The ``stats`` of a link."""
    return {
        "left_rows": float(left.height),
        "right_rows": float(right.height),
        "candidates": float(pairs.height),
        "matches": float(matches.height),
        **estimates(scorer, pairs, matches.height),
        **{f"rerank_{k}": v for k, v in rerank.items()},
    }


def dedup_stats(
    df: pl.DataFrame,
    pairs: pl.DataFrame,
    matches: pl.DataFrame,
    sizes: pl.DataFrame,
    *,
    candidates: int,
    scorer: ZeroLabelScorer | None,
) -> dict[str, float]:
    """The ``stats`` of a dedup: ``candidates`` counts each undirected pair once."""
    size = sizes["size"].to_numpy()
    return {
        "rows": float(df.height),
        "candidates": float(candidates),
        "matches": float(matches.height),
        "clusters": float(len(size)),
        "largest_cluster": float(size.max()) if len(size) else 0.0,
        "singletons": float((size == 1).sum()),
        **estimates(scorer, pairs, matches.height),
    }
