"""Export a review: the linked table with the decisions applied, the labels, the config.

Every file is written to a temporary name beside the target and renamed, so a reader never
sees half a file. CSV cells that a spreadsheet would run as a formula (text starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) get a leading ``'``.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import polars as pl

from linker.io.write import atomic_write
from linker.review.build import ID
from linker.review.session import ReviewSession

__all__ = ["export_config", "export_labels", "export_linked", "neutralise", "write_table"]

_FORMULA = r"^[=+\-@\t\r]"


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix ``'`` to text cells that start like a spreadsheet formula.

    Example:
        >>> neutralise(pl.DataFrame({"a": ["=1+1", "ok", "@x", None]}))["a"].to_list()
        ["'=1+1", 'ok', "'@x", None]
    """
    text = [c for c, t in frame.schema.items() if t == pl.Utf8]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA))
        .then("'" + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )


def write_table(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write ``.csv`` (formula cells neutralised) or ``.parquet`` atomically."""
    target = Path(path)
    with atomic_write(target) as tmp:
        if target.suffix.lower() in (".parquet", ".pq"):
            frame.write_parquet(tmp)
        else:
            neutralise(frame).write_csv(tmp)
    return target


def _decisions(session: ReviewSession) -> pl.DataFrame:
    return session.decided().filter(pl.col("label") != "skip")


def linked_frame(session: ReviewSession) -> pl.DataFrame:
    """The linkage's output with the reviewer's decisions applied.

    Pairs labelled ``match`` are linked whatever their score (for ``how="1:1"`` they take
    their records out of the other pairs), pairs labelled ``non_match`` never are, and the
    model decides the rest with the linkage's threshold. Links get ``_review``
    (``match``/``None``); dedup output gets ``_cluster`` (a rejected pair can still share a
    cluster through other links).
    """
    from linker.decide.assign import assign
    from linker.pipeline.result import merged_frame

    labels = _decisions(session).select("left_id", "right_id", pl.col("label").alias("_review"))
    lat = {v: i for i, v in enumerate(session.left[ID].to_list())}
    rat = {v: i for i, v in enumerate(session.right[ID].to_list())}
    pairs = session.pairs.select("left_id", "right_id", "score").join(
        labels, on=["left_id", "right_id"], how="left"
    )
    pairs = pairs.filter(pl.col("_review").fill_null("") != "non_match").with_columns(
        pl.col("left_id").replace_strict(lat, return_dtype=pl.Int64).alias("left_row"),
        pl.col("right_id").replace_strict(rat, return_dtype=pl.Int64).alias("right_row"),
        pl.when(pl.col("_review") == "match").then(1.0).otherwise(pl.col("score")).alias("w"),
    )
    t = session.threshold
    if session.kind == "dedup":
        from linker.decide.cluster import cluster

        labels_ = cluster(session.left.height, pairs.select("left_row", "right_row",
                          pl.col("w").alias("score")), threshold=t)  # fmt: skip
        return session.left.with_columns(_cluster=pl.Series(labels_, dtype=pl.Int64)).drop(ID)
    how = str(session.config.get("how", "1:1"))
    chosen = assign(pairs.select("left_row", "right_row", pl.col("w").alias("score")),
                    how=how, threshold=min(t, 1.0))  # type: ignore[arg-type]  # fmt: skip
    matches = chosen.select("left_row", "right_row").join(
        pairs.select("left_row", "right_row", "score", "_review"), on=["left_row", "right_row"]
    )
    out = merged_frame(
        session.left, session.right, matches.select("left_row", "right_row", "score")
    )
    rid = f"{ID}_right"  # merged_frame's name for the right copy of the id column
    review = matches.select(
        pl.col("left_row")
        .replace_strict(dict(enumerate(session.left[ID])), return_dtype=pl.Utf8)
        .alias(ID),
        pl.col("right_row")
        .replace_strict(dict(enumerate(session.right[ID])), return_dtype=pl.Utf8)
        .alias(rid),
        "_review",
    )
    return out.join(review, on=[ID, rid], how="left", maintain_order="left").drop(ID, rid)


def export_linked(session: ReviewSession, path: str | Path) -> Path:
    """Write :func:`linked_frame` to ``path`` (``.csv`` or ``.parquet``)."""
    return write_table(linked_frame(session), path)


def export_labels(session: ReviewSession, path: str | Path) -> Path:
    """Write the labels as a training file.

    Columns: ``left_id``, ``right_id``, ``label`` (1 match, 0 non-match), ``note``,
    ``reviewer``, ``score``, then the compared fields as ``left_<col>`` and ``right_<col>``.
    """
    d = _decisions(session)
    lo, ro = session.config.get("left_on", []), session.config.get("right_on", [])
    left = session.left.select(pl.col(ID).alias("left_id"), *[pl.col(c).alias(f"left_{c}")
                                                               for c in lo])  # fmt: skip
    right = session.right.select(pl.col(ID).alias("right_id"), *[pl.col(c).alias(f"right_{c}")
                                                                  for c in ro])  # fmt: skip
    out = (
        d.select(
            "left_id",
            "right_id",
            (pl.col("label") == "match").cast(pl.Int8).alias("label"),
            "note",
            "reviewer",
            "score",
        )  # fmt: skip
        .join(left, on="left_id", how="left")
        .join(right, on="right_id", how="left")
        .sort("left_id", "right_id")
    )
    return write_table(out, path)


def run_config(session: ReviewSession) -> dict[str, Any]:
    """The settings that reproduce the linkage: a linker config document (see
    :meth:`Linker.from_config <linker.pipeline.linker.Linker.from_config>`, which reads it back)
    with the review's own keys beside it: the source files, the CLI line, the decisions and
    the retrained matcher's weights. Stores written before the config format read the same.
    """
    from linker._params import param_names
    from linker.pipeline.config import FORMAT_VERSION
    from linker.pipeline.linker import Linker

    c = session.config  # the store keeps the linker's settings flat, beside the review's keys
    names = param_names(Linker)
    settings = Linker.from_config(
        {"format_version": FORMAT_VERSION, "linker": {k: v for k, v in c.items() if k in names}}
    )
    verb = "dedup" if session.kind == "dedup" else "merge"
    args = ["linker", verb, c.get("left") or "LEFT.csv"]
    if verb == "merge":
        args.append(c.get("right") or "RIGHT.csv")
    given = settings.on or settings.left_on  # a hand-made linkage may name none
    lo, ro = settings.columns(session.left, session.right) if given else ([], [])
    args += ["--on", ",".join(lo)] if lo == ro else ["--left-on", ",".join(lo),
                                                       "--right-on", ",".join(ro)]  # fmt: skip
    if verb == "merge":
        args += ["--how", str(settings.how)]
    args += ["--threshold", str(settings.threshold), "-k", str(settings.k)]
    if settings.id:
        args += ["--id", str(settings.id)]
    args += ["-o", "linked.csv"]
    retrains = session.store.retrains(session.linkage_id)
    return {
        **settings.to_config(),
        "linkage": session.linkage_id,
        "kind": session.kind,
        **{k: c.get(k) for k in ("left", "right", "merged") if c.get(k) is not None},
        "cli": shlex.join(args),
        "decisions": session.progress(),
        "matcher": retrains[-1]["matcher"] if retrains else None,
        "note": "the CLI reproduces the model's linkage; the reviewer's decisions are applied "
        "by the review export (linked file) and kept in the labels file",
    }


def export_config(session: ReviewSession, path: str | Path) -> Path:
    """Write :func:`run_config` as JSON."""
    text = json.dumps(run_config(session), indent=2, default=str)
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
