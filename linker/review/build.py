"""Turn a linkage into what the review store keeps: records, scored pairs and the config.

Three ways in: run the pipeline on two tables (or one, for dedup) with
:func:`linkage_from_tables`, or read back the output of ``linker merge`` with
:func:`linkage_from_merged` (a CSV or Parquet file, or a frame). Every pair is keyed by the
records' ids (an ``id=`` column, or the row number when there is none) and every linkage by
an id hashed from its data and settings, so opening the same inputs again resumes the same
review. A linkage scored by the zero-label scorer also keeps why each pair scored what it
did: every pair's contributions to its log-odds (:data:`EXPLANATIONS`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from linker._progress import ProgressCallback
from linker.errors import InputError, NotFittedError

if TYPE_CHECKING:
    from linker.pipeline.linker import Linker
    from linker.pipeline.result import LinkResult

__all__ = [
    "EXPLANATIONS",
    "ID",
    "IDENTICAL",
    "Linkage",
    "linkage_from_merged",
    "linkage_from_tables",
]

logger = logging.getLogger(__name__)

#: The id column the store gives every record: the user's id, or the row number.
ID = "__lk_id"
#: The store's frame of each pair's contributions: ``left_id``, ``right_id``, ``feature``,
#: ``value``, ``contribution`` (natural log-odds; ``prior`` first), one pair after another.
EXPLANATIONS = "explanations"
#: The one row that explains a twin (identical on every compared column): contribution +inf.
IDENTICAL = "identical on every compared column"
_NOT_FEATURES = {"left_row", "right_row", "score", "rank", "reranked", "score_stage1", "twin"}


@dataclass
class Linkage:
    """A linkage ready for review: ``left``/``right`` records (with :data:`ID`) and pairs.

    ``pairs`` has ``left_id``, ``right_id``, the feature columns named in
    ``config["features"]``, ``score`` (current) and ``base_score`` (as first scored).
    ``explanations`` (zero-label links only, else ``None``) holds why each pair got its
    ``base_score``, as the store keeps it (see :data:`EXPLANATIONS`).
    """

    kind: Literal["link", "dedup"]
    left: pl.DataFrame
    right: pl.DataFrame
    pairs: pl.DataFrame
    config: dict[str, Any] = field(default_factory=dict)
    explanations: pl.DataFrame | None = None

    @property
    def id(self) -> str:
        """A stable id: the hash of the records, the pairs' ids and the settings, less the
        linker settings left at their defaults (so a setting a later linker adds leaves it)."""
        from linker.pipeline.linker import Linker

        defaults = Linker().to_config()["linker"]
        settings = {k: v for k, v in self.config.items() if k not in defaults or v != defaults[k]}
        h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
        for frame in (self.left, self.right, self.pairs.select("left_id", "right_id")):
            h.update(frame.write_csv().encode())
        return f"{self.kind}-{h.hexdigest()[:12]}"


def _with_ids(df: pl.DataFrame, id_col: str | None, *, name: str) -> pl.DataFrame:
    if ID in df.columns:
        raise InputError(f"table {name!r} already has the reserved column {ID!r}: rename it")
    if id_col is None:
        return df.with_columns(pl.int_range(pl.len()).cast(pl.Utf8).alias(ID))
    if id_col not in df.columns:
        raise InputError(f"id column {id_col!r} is not in table {name!r} (columns: {df.columns})")
    ids = df[id_col].cast(pl.Utf8)
    if ids.null_count() or ids.n_unique() != df.height:
        dup = df.filter(ids.is_duplicated() | ids.is_null()).head(3)[id_col].to_list()
        raise InputError(
            f"id column {id_col!r} of table {name!r} has null or repeated values (e.g. {dup})"
        )
    return df.with_columns(ids.alias(ID))


def _explanations(
    result: LinkResult, features: list[str], left_ids: pl.Series, right_ids: pl.Series,
    keep: npt.NDArray[np.bool_],
) -> pl.DataFrame | None:  # fmt: skip
    """The contributions of the kept pairs of ``result`` (ids of every pair given), or ``None``.

    One call of the scorer over all candidates, as :meth:`LinkResult.explain` makes it: the
    context features (a pair's lead over its records' other candidates) need them all.
    """
    scorer, pairs = result.scorer, result.pairs
    if scorer is None:  # a trained matcher scored
        return None
    twin = pairs["twin"].to_numpy() if "twin" in pairs.columns else np.zeros(pairs.height, bool)
    schema = pl.Schema(
        {"pair": pl.Int64, "feature": pl.Utf8, "value": pl.Float64, "contribution": pl.Float64}
    )
    twins = np.flatnonzero(keep & twin)
    parts = [
        pl.DataFrame({"pair": twins, "feature": IDENTICAL, "value": 1.0,
                      "contribution": float("inf")}, schema=schema)
    ]  # fmt: skip
    try:
        long = scorer.explain(
            pairs.select(features), pairs["left_row"].to_numpy(), pairs["right_row"].to_numpy()
        )
        parts.append(long.filter(pl.col("pair").is_in(np.flatnonzero(keep & ~twin))))
    except NotFittedError:  # every candidate is a twin: the scorer was never fitted
        pass
    out = pl.concat([p.cast(schema) for p in parts]).sort("pair", maintain_order=True)
    return out.select(
        left_ids.gather(out["pair"]).alias("left_id"),
        right_ids.gather(out["pair"]).alias("right_id"),
        "feature", "value", "contribution",
    )  # fmt: skip


def _config(linker: Linker, **review: Any) -> dict[str, Any]:
    """What the store keeps of a linkage's settings: the linker's config (flat: the review
    reads ``left_on``, ``how``, ``threshold`` at the top) and the review's own keys
    (``features``, the source files)."""
    return {**linker.to_config()["linker"], **review}


def linkage_from_tables(
    left: pl.DataFrame,
    right: pl.DataFrame | None = None,
    *,
    on: Sequence[str] | str | None = None,
    left_on: Sequence[str] | str | None = None,
    right_on: Sequence[str] | str | None = None,
    id: str | None = None,  # noqa: A002 - as in lk.merge
    how: str = "1:1",
    threshold: float = 0.5,
    k: int = 10,
    sources: tuple[str | None, str | None] = (None, None),
    callback: ProgressCallback | None = None,
) -> Linkage:
    """Score the candidates of ``left`` × ``right`` (or of ``left`` alone: dedup).

    Args:
        left: Left table (or the one table to de-duplicate).
        right: Right table; ``None`` for dedup.
        on: Compared columns (``left_on``/``right_on`` when names differ).
        left_on: Left compared columns.
        right_on: Right compared columns.
        id: Id column of both tables; row numbers when ``None``.
        how: Merge kind used when the review is exported.
        threshold: Decision threshold: the queue starts with the pairs closest to it.
        k: Candidates per record per blocker.
        sources: Paths the tables came from, kept for the exported config.
        callback: ``callback(stage, done, total)`` progress.

    Returns:
        The :class:`Linkage`.
    """
    from linker.pipeline.linker import Linker

    linker = Linker(on=on, left_on=left_on, right_on=right_on, how=how,  # type: ignore[arg-type]
                    k=k, threshold=threshold, id=id, callback=callback)  # fmt: skip
    kind: Literal["link", "dedup"] = "dedup" if right is None else "link"
    if right is None:
        result = linker.dedup(left)
        pairs = result.pairs.filter(pl.col("left_row") < pl.col("right_row"))
    else:
        result = linker.link(left, right)
        pairs = result.pairs
    lo, ro = linker.columns(left, right)
    lf = _with_ids(left, id, name="left")
    rf = lf if right is None else _with_ids(right, id, name="right")
    features = [c for c in pairs.columns if c not in _NOT_FEATURES]
    why = _explanations(
        result, features, lf[ID].gather(result.pairs["left_row"]),
        rf[ID].gather(result.pairs["right_row"]),
        (result.pairs["left_row"] < result.pairs["right_row"]).to_numpy() if right is None
        else np.ones(result.pairs.height, bool),
    )  # fmt: skip
    pairs = pairs.select(
        lf[ID].gather(pairs["left_row"]).alias("left_id"),
        rf[ID].gather(pairs["right_row"]).alias("right_id"),
        *[pl.col(c).cast(pl.Float32) for c in features],
        pl.col("score").cast(pl.Float64),
        pl.col("score").cast(pl.Float64).alias("base_score"),
        *([pl.col("score_stage1").cast(pl.Float64)] if "score_stage1" in pairs.columns else []),
    )
    linker.on, linker.left_on, linker.right_on = None, lo, ro  # the columns as resolved
    config = _config(linker, features=features, left=sources[0], right=sources[1])
    return Linkage(kind, lf, rf, pairs, config, explanations=why)


def _split_columns(merged: pl.DataFrame) -> int:
    """Where the right columns start in a ``linker merge`` output (left block, then right)."""
    cols = [c for c in merged.columns if c not in ("_score", "_merge")]
    left_only = merged.filter(pl.col("_merge") == "left_only")
    right_only = merged.filter(pl.col("_merge") == "right_only")
    left_null = [left_only[c].null_count() == left_only.height for c in cols]
    right_null = [right_only[c].null_count() == right_only.height for c in cols]
    for k in range(1, len(cols)):
        suffixed = [c for c in cols[k:] if c.endswith("_right") and c[: -len("_right")] in cols[:k]]
        if all(right_null[:k]) and all(left_null[k:]) and (suffixed or k == len(cols) - 1):
            return k
    raise InputError(
        "cannot tell the left columns from the right ones in this merge output: pass "
        "left_columns=[...] (the columns of the left table)"
    )


def _clean(series: pl.Series) -> pl.Series:
    return series.cast(pl.Utf8).fill_null("").str.to_lowercase().str.strip_chars()


def linkage_from_merged(
    merged: pl.DataFrame | str | Path,
    *,
    id: str | None = None,  # noqa: A002 - as in lk.merge
    left_columns: Sequence[str] | None = None,
    how: str = "1:1",
    threshold: float = 0.5,
) -> Linkage:
    """Read the output of ``linker merge`` / ``lk.merge`` back as a linkage to review.

    The matched rows (``_merge == "both"``) become the pairs, scored by ``_score``; their
    features are the per-column similarities of the columns both sides have (``c`` and
    ``c_right``), so "retrain" can learn from the labels. Unmatched rows are records
    without a candidate (re-run the merge in the app to review missed links).

    Args:
        merged: The merge output (frame, ``.csv`` or ``.parquet`` path).
        id: Left id column (the right one is ``<id>_right`` or ``<id>``); default: ``id``
            when present, else row numbers.
        left_columns: The left table's columns, when they cannot be told apart.
        how: Merge kind for the export.
        threshold: Decision threshold.

    Raises:
        InputError: not a merge output (no ``_merge``/``_score``), or no matched row.

    Example:
        >>> merged = pl.DataFrame({"id": ["L1", "L2", None], "name": ["Acme", "Bolt", None],
        ...                        "id_right": ["R1", None, "R2"],
        ...                        "name_right": ["ACME", None, "Cog"],
        ...                        "_score": [0.8, None, None],
        ...                        "_merge": ["both", "left_only", "right_only"]})
        >>> link = linkage_from_merged(merged)
        >>> link.pairs.select("left_id", "right_id", "score").rows()
        [('L1', 'R1', 0.8)]
    """
    from linker.frames import read
    from linker.scoring.features import column_features

    source = None if isinstance(merged, pl.DataFrame) else str(merged)
    frame = merged if isinstance(merged, pl.DataFrame) else read(merged)
    name = source or "the merged frame"
    missing = [c for c in ("_score", "_merge") if c not in frame.columns]
    if missing:
        raise InputError(f"{name} has no column(s) {missing}: it is not a `linker merge` output")
    cols = [c for c in frame.columns if c not in ("_score", "_merge")]
    split = len(list(left_columns)) if left_columns else _split_columns(frame)
    lcols, rcols = cols[:split], cols[split:]
    base = {
        c[: -len("_right")] if c.endswith("_right") and c[:-6] in lcols else c: c for c in rcols
    }
    if id is None and "id" in lcols and "id" in base:
        id = "id"  # noqa: A001
    rid = base.get(id) if id else None
    left = frame.filter(pl.col("_merge") != "right_only").select(lcols)
    right = (
        frame.filter(pl.col("_merge") != "left_only")
        .select(rcols)
        .rename({v: k for k, v in base.items()})
    )
    lf, rf = _with_ids(left, id, name="left"), _with_ids(right, id if rid else None, name="right")
    both = frame.with_row_index("__lk_row").filter(pl.col("_merge") == "both")
    if both.height == 0:
        raise InputError(f"{name} has no matched row (_merge == 'both'): nothing to review")
    on = [c for c in lcols if c in base and c != id]
    lrow = frame.with_row_index().filter(pl.col("_merge") != "right_only")["index"]
    rrow = frame.with_row_index().filter(pl.col("_merge") != "left_only")["index"]
    l_at = np.searchsorted(lrow.to_numpy(), both["__lk_row"].to_numpy())
    r_at = np.searchsorted(rrow.to_numpy(), both["__lk_row"].to_numpy())
    feats = column_features(
        [_clean(left[c]) for c in on], [_clean(right[c]) for c in on],
        l_at.astype(np.int64), r_at.astype(np.int64), names=on,
    )  # fmt: skip
    pairs = pl.DataFrame(
        {
            "left_id": lf[ID].gather(l_at), "right_id": rf[ID].gather(r_at),
            **{k: pl.Series(v, dtype=pl.Float32) for k, v in feats.items()},
            "score": both["_score"].cast(pl.Float64), "base_score": both["_score"].cast(pl.Float64),
        }
    )  # fmt: skip
    from linker.pipeline.linker import Linker

    linker = Linker(left_on=on, right_on=on, id=id, how=how, threshold=threshold)  # type: ignore[arg-type]
    linker.check()
    config = _config(linker, features=list(feats), left=None, right=None, merged=source)
    return Linkage("link", lf, rf, pairs, config)
