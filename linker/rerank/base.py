"""Second-stage reranking: the checks every user of the one contract shares, and the
uncertain band of record linkage.

The contract itself (:class:`Query`, :class:`Record`, :class:`Reranker`) is defined in
:mod:`linker.protocols` and re-exported here. :func:`checked_rerank` runs a reranker and checks
its answer (one score in ``[0, 1]`` or ``None`` per candidate), for records, schema columns and
taxonomy nodes alike.

In record linkage only left records whose best candidate scores inside ``band = (lo, hi)``
are reranked: above ``hi`` the first stage is sure of a match, below ``lo`` sure of none. Each
such record becomes a :class:`Query` holding its top candidates (those scoring at least
``lo``, best first). A :class:`Reranker` returns a new score per candidate (``None``:
undecided, the first-stage score stays).
"""

from __future__ import annotations

import inspect
import logging
import sys
import warnings
from collections.abc import Callable, Sequence

import polars as pl

from linker.errors import ConfigError, RerankError
from linker.protocols import Query, Record, Reranker

__all__ = [
    "Query",
    "Record",
    "Reranker",
    "band_pairs",
    "check_band",
    "checked_rerank",
    "deprecated",
    "rerank_band",
    "takes_queries",
]

logger = logging.getLogger(__name__)


def takes_queries(obj: object) -> bool:
    """Whether ``obj.rerank`` takes one argument (the queries), as :class:`Reranker` says.

    The matchers' older hooks took ``rerank(column, candidates, scores)`` (schema) or
    ``rerank(phrase, candidates)`` (taxonomy); those are told apart by this.

    Example:
        >>> class Old:
        ...     def rerank(self, phrase, candidates):
        ...         return [0]
        >>> class New:
        ...     def rerank(self, queries):
        ...         return [[None] * len(q.right) for q in queries]
        >>> takes_queries(Old()), takes_queries(New())
        (False, True)
    """
    method = getattr(obj, "rerank", None)
    if not callable(method):
        return False
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin): trust it
        return True
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.kind in positional and p.default is p.empty]
    return len(required) <= 1


def deprecated(message: str) -> None:
    """Warn with a :class:`DeprecationWarning` that points at the first caller outside linker.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     deprecated("old")
        >>> seen[0].category.__name__
        'DeprecationWarning'
    """
    level, frame = 2, sys._getframe(1)
    while frame.f_back is not None and str(frame.f_globals.get("__name__", "")).startswith(
        "linker."
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, DeprecationWarning, stacklevel=level)


def checked_rerank(
    reranker: Reranker, queries: Sequence[Query], *, name: Callable[[Query], str]
) -> list[list[float | None]]:
    """Run ``reranker`` on ``queries`` and check its answer: one score in ``[0, 1]`` or
    ``None`` per candidate of each query.

    Args:
        reranker: The second stage.
        queries: What it judges.
        name: What a query is called in a message (``"source column 'age'"``).

    Raises:
        RerankError: a wrong number of answers or scores, or a score outside ``[0, 1]``.

    Example:
        >>> class Half:
        ...     def rerank(self, queries):
        ...         return [[0.5] * len(q.right) for q in queries]
        ...     def report(self):
        ...         return {}
        >>> q = Query(0, {"name": "a"}, (3,), ({"name": "b"},), (0.9,))
        >>> checked_rerank(Half(), [q], name=lambda q: f"row {q.left_row}")
        [[0.5]]
    """
    if not queries:
        return []
    got = list(reranker.rerank(queries))
    if len(got) != len(queries):
        raise RerankError(
            f"the reranker answered {len(got)} queries of {len(queries)}: it must return one "
            "list of scores per query, in order"
        )
    out: list[list[float | None]] = []
    for q, scores in zip(queries, got, strict=True):
        row = list(scores)
        if len(row) != len(q.right):
            raise RerankError(
                f"the reranker returned {len(row)} scores for {len(q.right)} candidates of "
                f"{name(q)}; it must return one each (None: undecided)"
            )
        bad = [s for s in row if s is not None and not (0.0 <= float(s) <= 1.0)]
        if bad:  # NaN fails the comparison too
            raise RerankError(
                f"the reranker returned {bad} for {name(q)}: scores must lie in [0, 1] "
                "(None: undecided)"
            )
        out.append([None if s is None else float(s) for s in row])
    return out


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
    new = checked_rerank(reranker, queries, name=lambda q: f"left row {q.left_row}")
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
