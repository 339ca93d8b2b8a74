"""What the review screens show, as data: field differences, why a pair scored what it did,
score histogram, dedup clusters (the P/R/F1 curve is :func:`linker.measures.threshold_curve`).
The app only draws these; scripts and tests read them directly."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from linker.review.build import ID

__all__ = [
    "Explanation",
    "FieldDiff",
    "clusters",
    "explanation",
    "field_diffs",
    "histogram",
    "waterfall",
]

Status = Literal["same", "similar", "different", "missing"]


@dataclass(frozen=True)
class FieldDiff:
    """One compared field of a pair.

    Attributes:
        column: Column name (the left name when names differ).
        left: Left value as text (``""`` when null).
        right: Right value as text.
        similarity: ``difflib`` ratio of the lower-cased values, 0–1.
        status: ``same`` (equal ignoring case and spaces), ``similar`` (ratio ≥ 0.8),
            ``different`` or ``missing`` (a side is empty).
        left_spans: ``(text, changed)`` pieces of the left value; changed pieces are what
            the right value lacks.
        right_spans: The same for the right value.
    """

    column: str
    left: str
    right: str
    similarity: float
    status: Status
    left_spans: tuple[tuple[str, bool], ...]
    right_spans: tuple[tuple[str, bool], ...]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _pieces(text: str, words: bool) -> list[str]:
    return re.findall(r"\s+|[^\s]+", text) if words else list(text)


def _spans(a: str, b: str) -> tuple[tuple[tuple[str, bool], ...], tuple[tuple[str, bool], ...]]:
    """Changed pieces: whole words when a value has several words, else characters."""
    words = " " in a.strip() or " " in b.strip()
    pa, pb = _pieces(a, words), _pieces(b, words)
    sm = difflib.SequenceMatcher(
        None, [p.lower() for p in pa], [p.lower() for p in pb], autojunk=False
    )
    left: list[tuple[str, bool]] = []
    right: list[tuple[str, bool]] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if i2 > i1:
            left.append(("".join(pa[i1:i2]), op != "equal"))
        if j2 > j1:
            right.append(("".join(pb[j1:j2]), op != "equal"))
    return tuple(left), tuple(right)


def field_diffs(
    left: dict[str, Any], right: dict[str, Any], left_on: list[str], right_on: list[str]
) -> list[FieldDiff]:
    """Field-by-field comparison of two records over the compared columns.

    Example:
        >>> d = field_diffs({"name": "Acme Corp"}, {"name": "ACME Corp."}, ["name"], ["name"])[0]
        >>> d.status, d.right_spans[-1]
        ('similar', ('Corp.', True))
    """
    out = []
    for lc, rc in zip(left_on, right_on, strict=True):
        a, b = _text(left.get(lc)), _text(right.get(rc))
        if not a or not b:
            ratio, status = 0.0, "missing"
        else:
            ratio = difflib.SequenceMatcher(None, a.lower(), b.lower(), autojunk=False).ratio()
            same = " ".join(a.lower().split()) == " ".join(b.lower().split())
            status = "same" if same else "similar" if ratio >= 0.8 else "different"
        ls, rs = _spans(a, b)
        out.append(FieldDiff(lc, a, b, round(ratio, 3), status, ls, rs))  # type: ignore[arg-type]
    return out


@dataclass(frozen=True)
class Explanation:
    """Why a pair scored what it did: its contributions to the log-odds of a match.

    Attributes:
        steps: ``feature``, ``value`` (the similarity; null for the prior and for the
            Fellegi-Sunter model's column groups), ``contribution`` (natural log-odds) and
            ``total`` (the running sum): ``prior`` first, then the features by absolute
            contribution, largest first.
        probability: What the contributions add up to: ``1 / (1 + exp(-total))``.
        identical: The records are identical on every compared column (a twin: scored 1,
            one step of ``+inf``).
    """

    steps: pl.DataFrame
    probability: float
    identical: bool


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def explanation(rows: pl.DataFrame) -> Explanation:
    """Order one pair's contributions as a waterfall, with the running total and the score.

    Args:
        rows: ``feature``, ``value`` and ``contribution`` of one pair, as
            :meth:`linker.pipeline.result.LinkResult.explain` returns them.

    Example:
        >>> rows = pl.DataFrame({"feature": ["prior", "city", "name"], "value": [None, 0.2, 0.9],
        ...                      "contribution": [-3.0, -0.5, 4.5]})
        >>> e = explanation(rows)
        >>> e.steps["feature"].to_list(), e.steps["total"].to_list()
        (['prior', 'name', 'city'], [-3.0, 1.5, 1.0])
        >>> round(e.probability, 3), e.identical
        (0.731, False)
    """
    steps = (
        rows.select("feature", pl.col("value").cast(pl.Float64), pl.col("contribution"))
        .sort(
            [pl.col("feature") != "prior", pl.col("contribution").abs(), "feature"],
            descending=[False, True, False],
        )
        .with_columns(total=pl.col("contribution").cum_sum())
    )
    total = float(steps["total"][-1]) if steps.height else 0.0
    identical = math.isinf(total) and total > 0
    return Explanation(steps, 1.0 if identical else _sigmoid(total), identical)


def waterfall(why: Explanation, *, fold_below: float = 0.05) -> pl.DataFrame:
    """The bars of a waterfall chart of an :class:`Explanation`.

    Features that move the log-odds by less than ``fold_below`` are folded into one
    ``others (n)`` bar, drawn last. An identical pair (a twin) has no bars.

    Returns:
        ``bar`` (its label), ``value``, ``contribution``, ``start`` and ``end`` (the running
        log-odds before and after it) and ``kind``: ``prior``, ``for`` (evidence for a
        match) or ``against``.

    Example:
        >>> rows = pl.DataFrame({"feature": ["prior", "name", "zip", "city"],
        ...                      "value": [None, 0.9, 0.5, 0.2],
        ...                      "contribution": [-3.0, 4.5, 0.01, -0.02]})
        >>> w = waterfall(explanation(rows)).with_columns(pl.col("end").round(2))
        >>> w.select("bar", "kind", "end").rows()
        [('prior', 'prior', -3.0), ('name', 'for', 1.5), ('others (2)', 'against', 1.49)]
    """
    steps = why.steps.select("feature", "value", "contribution")
    if why.identical:
        steps = steps.clear()
    prior = pl.col("feature") == "prior"
    tiny = ~prior & (pl.col("contribution").abs() < fold_below)
    small = steps.filter(tiny)
    bars = steps.filter(~tiny).rename({"feature": "bar"})
    if small.height:
        others = pl.DataFrame(
            {"bar": [f"others ({small.height})"], "value": [None],
             "contribution": [float(small["contribution"].sum())]},
            schema=bars.schema,
        )  # fmt: skip
        bars = pl.concat([bars, others])
    end = pl.col("contribution").cum_sum()
    return bars.with_columns(
        start=end - pl.col("contribution"),
        end=end,
        kind=pl.when(pl.col("bar") == "prior")
        .then(pl.lit("prior"))
        .when(pl.col("contribution") >= 0)
        .then(pl.lit("for"))
        .otherwise(pl.lit("against")),
    )


def histogram(scores: np.ndarray[Any, Any], *, bins: int = 20) -> pl.DataFrame:
    """Counts of scores in ``bins`` equal bins over [0, 1]: ``start``, ``end``, ``count``.

    Example:
        >>> histogram(np.array([0.1, 0.15, 0.9]), bins=2)["count"].to_list()
        [2, 1]
    """
    counts, edges = np.histogram(np.clip(scores, 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    return pl.DataFrame({"start": edges[:-1], "end": edges[1:], "count": counts.astype(np.int64)})


def clusters(
    records: pl.DataFrame, pairs: pl.DataFrame, *, threshold: float, method: str = "components"
) -> pl.DataFrame:
    """Dedup clusters of ``records`` from scored pairs (``left_id``, ``right_id``, ``score``).

    Returns ``records`` plus ``_cluster`` and ``_size``, largest clusters first.
    """
    from linker.decide.cluster import cluster

    at = {v: i for i, v in enumerate(records[ID].to_list())}
    edges = pairs.select(
        pl.col("left_id").replace_strict(at, return_dtype=pl.Int64).alias("left_row"),
        pl.col("right_id").replace_strict(at, return_dtype=pl.Int64).alias("right_row"),
        pl.col("score"),
    )
    labels = cluster(records.height, edges, threshold=threshold, method=method)  # type: ignore[arg-type]
    out = records.with_columns(_cluster=pl.Series(labels, dtype=pl.Int64))
    out = out.with_columns(_size=pl.len().over("_cluster"))
    return out.sort(["_size", "_cluster", ID], descending=[True, False, False])
