"""Assemble what the user gets back: the Stata-style merged frame, and the dedup frame.

Every input row appears in the merged frame: matched rows as ``both``, the rest as
``left_only`` / ``right_only`` (Stata's ``_merge`` 3 / 1 / 2). Right columns whose names are
already taken get a ``_right`` suffix. Rows come in left order (each left row followed by its
matches), then the unmatched right rows in right order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from linker.errors import ConfigError, InputError

if TYPE_CHECKING:
    from linker.scoring.zero_label import ZeroLabelScorer

__all__ = ["OUTPUT_COLUMNS", "LinkResult", "merged_frame", "right_renames", "row_origins"]

OUTPUT_COLUMNS = ("_score", "_merge", "_cluster", "_representative")
_L, _R = "__lk_left_row", "__lk_right_row"


@dataclass
class LinkResult:
    """Everything a linkage produced.

    Attributes:
        frame: The merged output (polars), as :func:`linker.merge` returns it.
        pairs: Every scored candidate pair: ``left_row``, ``right_row``, the features,
            ``score`` and ``rank`` (1 = the left record's best candidate).
        matches: The accepted pairs (``left_row``, ``right_row``, ``score``).
        timings: Seconds per stage.
        stats: Counts (rows, candidates, matches, ...; ``rerank_*``: the reranker's calls,
            cache hits, seconds).
        clusters: Dedup only: ``_cluster`` and ``size`` of every cluster, largest first.
        columns: The (left) columns compared: those given, or the default (shared columns
            less ids and row-unique codes, see :func:`linker.pipeline.columns.default_on`).
        scorer: The fitted zero-label scorer (``None`` when a trained matcher scored):
            :meth:`explain` reads it.

    Example:
        >>> import linker as lk, polars as pl
        >>> left = pl.DataFrame({"name": ["Acme Corp", "Zeta Ltd", "Blue Sky Inc"]})
        >>> right = pl.DataFrame({"name": ["ACME Corporation", "Blue Sky Incorporated"]})
        >>> res = lk.Linker(on="name").link(left, right)
        >>> why = res.explain(0, 0)
        >>> why.columns
        ['feature', 'value', 'contribution']
        >>> why["feature"][0]
        'prior'
    """

    frame: pl.DataFrame
    pairs: pl.DataFrame
    matches: pl.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    clusters: pl.DataFrame | None = None
    columns: list[str] = field(default_factory=list)
    scorer: ZeroLabelScorer | None = None

    def explain(self, left_row: int, right_row: int) -> pl.DataFrame:
        """Why the pair ``(left_row, right_row)`` scored what it did.

        Returns one row per feature: ``feature``, ``value`` (the similarity) and
        ``contribution`` to the log-odds of a match; the first row, ``prior``, is what a
        pair starts from (the estimated match rate), and the contributions add up to the
        pair's log-odds: ``score = 1 / (1 + exp(-sum))``. Row numbers are 0-based, as in
        ``pairs`` (in dedup both are rows of the one table).

        Raises:
            ConfigError: The pairs were scored by a trained matcher (no explanation here).
            InputError: The pair is not among the candidates.
        """
        if self.scorer is None:
            raise ConfigError(
                "explain() needs the zero-label scorer; this result was scored by a trained "
                "matcher (see its own documentation for feature importances)"
            )
        hit = self.pairs.with_row_index("__lk_i").filter(
            (pl.col("left_row") == left_row) & (pl.col("right_row") == right_row)
        )
        if hit.height == 0:
            raise InputError(
                f"pair (left_row={left_row}, right_row={right_row}) is not a candidate: "
                "pick one from result.pairs"
            )
        if bool(hit["twin"][0]) if "twin" in hit.columns else False:
            return pl.DataFrame(
                {"feature": ["identical on every compared column"], "value": [1.0],
                 "contribution": [float("inf")]}
            )  # fmt: skip
        features = self.pairs.drop("left_row", "right_row", "score", "rank", "twin", strict=False)
        rows = self.pairs["left_row"].to_numpy(), self.pairs["right_row"].to_numpy()
        i = int(hit["__lk_i"][0])
        out = self.scorer.explain(features, *rows)
        return out.filter(pl.col("pair") == i).drop("pair")


def right_renames(left_columns: list[str], right_columns: list[str]) -> dict[str, str]:
    """Rename map for right columns that collide with left ones (``name`` → ``name_right``).

    Example:
        >>> right_renames(["id", "name"], ["id", "city"])
        {'id': 'id_right'}
    """
    taken = set(left_columns) | set(right_columns)
    out: dict[str, str] = {}
    for c in right_columns:
        if c in left_columns:
            new = f"{c}_right"
            while new in taken:
                new += "_"
            taken.add(new)
            out[c] = new
    return out


def merged_frame(left: pl.DataFrame, right: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
    """Join ``left`` and ``right`` through ``matches`` keeping every row of both.

    Example:
        >>> import polars as pl
        >>> l = pl.DataFrame({"name": ["a", "b"]}); r = pl.DataFrame({"name": ["a2", "c"]})
        >>> m = pl.DataFrame({"left_row": [0], "right_row": [0], "score": [0.9]})
        >>> merged_frame(l, r, m).rows()
        [('a', 'a2', 0.9, 'both'), ('b', None, None, 'left_only'), (None, 'c', None, 'right_only')]
    """
    lf = left.with_row_index(_L).with_columns(pl.col(_L).cast(pl.Int64))
    rf = (
        right.rename(right_renames(left.columns, right.columns))
        .with_row_index(_R)
        .with_columns(pl.col(_R).cast(pl.Int64))
    )
    m = matches.select(
        pl.col("left_row").cast(pl.Int64).alias(_L),
        pl.col("right_row").cast(pl.Int64).alias(_R),
        pl.col("score").cast(pl.Float64).alias("_score"),
    )
    both = m.join(lf, on=_L, how="left").join(rf, on=_R, how="left")
    both = both.with_columns(pl.lit("both").alias("_merge"))
    left_only = lf.join(m, on=_L, how="anti").with_columns(pl.lit("left_only").alias("_merge"))
    right_only = rf.join(m, on=_R, how="anti").with_columns(pl.lit("right_only").alias("_merge"))
    out = pl.concat([both, left_only, right_only], how="diagonal_relaxed")
    order = [c for c in lf.columns if c != _L] + [c for c in rf.columns if c != _R]
    out = out.sort([_L, _R], nulls_last=True)
    return out.select([*order, "_score", "_merge"])


def row_origins(n_left: int, n_right: int, matches: pl.DataFrame) -> pl.DataFrame:
    """The ``left_row`` and ``right_row`` (null where none) of each row of :func:`merged_frame`,
    in its order.

    Example:
        >>> m = pl.DataFrame({"left_row": [0], "right_row": [0], "score": [0.9]})
        >>> row_origins(2, 2, m).rows()
        [(0, 0), (1, None), (None, 1)]
    """
    m = matches.select(pl.col("left_row").cast(pl.Int64), pl.col("right_row").cast(pl.Int64))
    left_only = pl.DataFrame({"left_row": range(n_left)}, schema={"left_row": pl.Int64})
    right_only = pl.DataFrame({"right_row": range(n_right)}, schema={"right_row": pl.Int64})
    parts = [
        m,
        left_only.join(m, on="left_row", how="anti"),
        right_only.join(m, on="right_row", how="anti"),
    ]
    out = pl.concat(parts, how="diagonal")
    return out.sort(["left_row", "right_row"], nulls_last=True)
