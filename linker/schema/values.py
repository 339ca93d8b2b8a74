"""Value mapping: each distinct source value to the closest allowed value of a standard.

The same two kinds of evidence as the column matcher, on a smaller scale: rapidfuzz
similarity of the spellings and the cosine of the embeddings (of ``"value: definition"``
where the standard defines its values, as GDC does). A case-insensitive exact match scores 1.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from linker.errors import ConfigError, InputError
from linker.frames import as_polars, check_columns, to_kind
from linker.schema.profiles import Schema, as_schema
from linker.vectors.embed import Encoder, embed_texts, get_encoder

__all__ = ["map_values", "match_values"]

logger = logging.getLogger(__name__)


def match_values(
    values: Sequence[str],
    allowed: Sequence[str] | Mapping[str, str | None],
    *,
    top_k: int = 1,
    model: str | Encoder | None = None,
    show_progress: bool | None = None,
) -> pl.DataFrame:
    """Rank the allowed values for each distinct source value.

    Args:
        values: Source values (repeats and nulls are dropped).
        allowed: Allowed values, or ``{allowed value: definition}``.
        top_k: Allowed values kept per source value.
        model: Embedding model name, path or encoder (default: packaged all-MiniLM-L6-v2).
        show_progress: Progress bars (``None``: when logging is at INFO).

    Returns:
        ``value``, ``allowed_value``, ``score`` (0–1) and ``rank`` (1 = best), in the order of
        first appearance of each value.

    Raises:
        InputError: No allowed values.
        ConfigError: ``top_k`` below 1.

    Example:
        >>> out = match_values(["Male", "F"], ["female", "male"])
        >>> out["allowed_value"].to_list()
        ['male', 'female']
    """
    from rapidfuzz import fuzz, process

    if top_k < 1:
        raise ConfigError(f"top_k must be at least 1, not {top_k}")
    definitions = dict(allowed) if isinstance(allowed, Mapping) else dict.fromkeys(allowed)
    targets = [str(t) for t in definitions]
    if not targets:
        raise InputError("there are no allowed values to map to: give at least one")
    sources = list(dict.fromkeys(str(v).strip() for v in values if v is not None))
    sources = [s for s in sources if s]
    if not sources:
        return pl.DataFrame(
            schema={
                "value": pl.String,
                "allowed_value": pl.String,
                "score": pl.Float64,
                "rank": pl.Int64,
            }  # fmt: skip
        )
    target_texts = [f"{t}: {d}" if d else t for t, d in definitions.items()]
    vecs = embed_texts(
        get_encoder(model), sources + targets + target_texts, show_progress=show_progress
    )
    n_s, n_t = len(sources), len(targets)
    s_vec, t_vec, d_vec = vecs[:n_s], vecs[n_s : n_s + n_t], vecs[n_s + n_t :]
    embed = np.maximum(s_vec @ t_vec.T, s_vec @ d_vec.T).clip(0.0, 1.0)
    low_s, low_t = [s.lower() for s in sources], [t.lower() for t in targets]
    fuzzy = process.cdist(low_s, low_t, scorer=fuzz.WRatio, dtype=np.float32) / 100.0
    scores = 0.5 * fuzzy + 0.5 * embed
    scores[np.array(low_s)[:, None] == np.array(low_t)[None, :]] = 1.0
    order = np.lexsort((np.tile(np.arange(n_t), (n_s, 1)), -scores), axis=1)[:, :top_k]
    rows = [
        (sources[i], targets[j], round(float(scores[i, j]), 4), r + 1)
        for i in range(n_s)
        for r, j in enumerate(order[i])
    ]
    return pl.DataFrame(
        rows, schema=["value", "allowed_value", "score", "rank"], orient="row"
    ).with_columns(pl.col("score").cast(pl.Float64), pl.col("rank").cast(pl.Int64))


def map_values(
    source: Any,
    target: Schema,
    mapping: Any,
    *,
    top_k: int = 1,
    model: str | Encoder | None = None,
    show_progress: bool | None = None,
) -> Any:
    """Map the distinct values of mapped source columns to the target's allowed values.

    Args:
        source: The source data (polars/pandas frame or path).
        target: The target :class:`~linker.schema.profiles.Schema`; columns whose profile has
            values (allowed values of a standard) are mapped.
        mapping: ``{source column: target column}``, or a frame with ``source_column`` and
            ``target_column`` (e.g. the rank-1 rows of ``match_schema``).
        top_k: Allowed values kept per source value.
        model: Embedding model name, path or encoder.
        show_progress: Progress bars.

    Returns:
        ``source_column``, ``target_column``, ``value``, ``allowed_value``, ``score``,
        ``rank``; the frame kind of ``source``.

    Example:
        >>> import polars as pl
        >>> from linker.schema.profiles import ColumnProfile, Schema
        >>> std = Schema([ColumnProfile("gender", values=("female", "male"))])
        >>> out = map_values(pl.DataFrame({"sex": ["Male", "Female"]}), std,
        ...                  {"sex": "gender"})
        >>> out.select("value", "allowed_value").rows()
        [('Male', 'male'), ('Female', 'female')]
    """
    df, kind = as_polars(source, name="source")
    if not isinstance(mapping, Mapping):
        frame, _ = as_polars(mapping, name="mapping")
        check_columns(frame, ["source_column", "target_column"], name="mapping")
        mapping = dict(frame.select("source_column", "target_column").drop_nulls().iter_rows())
    check_columns(df, list(mapping), name="source")
    target = as_schema(target, name="target")
    profiles = {c.name: c for c in target.columns}
    unknown = sorted(set(mapping.values()) - set(profiles))
    if unknown:
        raise InputError(f"target has no column(s) {unknown}; check the mapping")
    encoder = get_encoder(model)
    parts = []
    for src_col, tgt_col in mapping.items():
        allowed = profiles[tgt_col].values
        if not allowed:
            logger.info("target column %r has no allowed values; skipped", tgt_col)
            continue
        found = match_values(
            df[src_col].cast(pl.String).to_list(), allowed, top_k=top_k, model=encoder,
            show_progress=show_progress,
        )  # fmt: skip
        parts.append(found.select(pl.lit(src_col).alias("source_column"),
                                  pl.lit(tgt_col).alias("target_column"), pl.all()))  # fmt: skip
    schema = {"source_column": pl.String, "target_column": pl.String, "value": pl.String,
              "allowed_value": pl.String, "score": pl.Float64, "rank": pl.Int64}  # fmt: skip
    out = pl.concat(parts) if parts else pl.DataFrame(schema=schema)
    return to_kind(out, kind)
