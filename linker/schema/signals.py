"""The evidence that a source column and a target column mean the same thing.

Each signal is a number in ``[0, 1]`` per (source, target) pair, or NaN where it cannot be
measured (no values on one side, a name without meaning, no description anywhere):

- ``name_fuzzy``: rapidfuzz ``WRatio`` of the names' words (abbreviations spelled out);
- ``name_embed``: cosine of the names' embeddings;
- ``description``: cosine of "name: description" embeddings (a side without a description
  uses its name; a column without a meaningful name and description, its values);
- ``values_embed``: cosine of the embeddings of the most frequent values (text columns);
- ``value_overlap``: share of the source's distinct values (lower-cased) found among the
  target's values or allowed values;
- ``numeric_range``: overlap of the 5–95 % ranges of two numeric columns;
- ``type``: 1 when both columns hold the same kind of data, 0 when they differ.

:func:`encode_schemas` embeds every text of both schemas in one call of
:func:`linker.vectors.embed.embed_texts`; :func:`retrieve` finds the candidates with
:func:`linker.vectors.ann.search` and rapidfuzz; :func:`pair_signals` measures the candidates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linker.schema.names import has_meaning, name_text
from linker.schema.profiles import ColumnProfile
from linker.vectors.ann import search
from linker.vectors.embed import Encoder, embed_texts

__all__ = ["SIGNALS", "Encoded", "encode_schemas", "pair_signals", "retrieve"]

SIGNALS = (
    "name_fuzzy",
    "name_embed",
    "description",
    "values_embed",
    "value_overlap",
    "numeric_range",
    "type",
)
Vectors = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]
_DESC_WORDS = 40  # words of a description kept: the first sentences carry the meaning
_VALUES_IN_TEXT = 8


@dataclass
class Encoded:
    """Texts and vectors of one schema's columns (row ``i`` is column ``i``)."""

    profiles: list[ColumnProfile]
    words: list[str]  # the name's words, "" when the name has no meaning
    names: Vectors
    described: npt.NDArray[np.bool_]
    descriptions: Vectors  # "words: description", or the name's vector when not described
    has_values: npt.NDArray[np.bool_]
    values: Vectors
    value_sets: list[frozenset[str]]


def _desc_text(words: str, description: str | None) -> str | None:
    if not description:
        return None
    short = " ".join(description.split()[:_DESC_WORDS])
    return f"{words}: {short}" if words else short


def _values_text(p: ColumnProfile) -> str | None:
    if not p.values or p.kind == "number":
        return None
    return ", ".join(p.values[:_VALUES_IN_TEXT])


def _words(p: ColumnProfile, abbreviations: Mapping[str, str] | None) -> str:
    return name_text(p.name, abbreviations) if has_meaning(p.name) else ""


def encode_schemas(
    schemas: Sequence[Sequence[ColumnProfile]],
    encoder: Encoder,
    *,
    abbreviations: Mapping[str, str] | None = None,
    show_progress: bool | None = None,
) -> list[Encoded]:
    """Embed names, descriptions and value lists of several schemas in one model call.

    Example:
        >>> from linker.vectors.embed import get_encoder
        >>> src, = encode_schemas([[ColumnProfile("pt_age")]], get_encoder())
        >>> src.words
        ['pt age']
    """
    texts: list[str] = []
    parts = []
    for profiles in schemas:
        words = [_words(p, abbreviations) for p in profiles]
        descs = [_desc_text(w, p.description) for w, p in zip(words, profiles, strict=True)]
        vals = [_values_text(p) for p in profiles]
        # a column whose header says nothing is described by its values ("Male, Female")
        descs = [d or (None if w else v) for w, d, v in zip(words, descs, vals, strict=True)]
        parts.append((list(profiles), words, descs, vals))
        texts += [t for group in (words, descs, vals) for t in group if t]
    unique = list(dict.fromkeys(texts))
    vecs = embed_texts(encoder, unique, show_progress=show_progress) if unique else None
    row = {t: i for i, t in enumerate(unique)}
    dim = vecs.shape[1] if vecs is not None else 1

    def lookup(group: list[str | None], fallback: Vectors | None = None) -> Vectors:
        out = np.zeros((len(group), dim), np.float32) if fallback is None else fallback.copy()
        for i, t in enumerate(group):
            if t and vecs is not None:
                out[i] = vecs[row[t]]
        return out

    out = []
    for profiles, words, descs, vals in parts:
        names = lookup(list(words))
        out.append(
            Encoded(
                profiles=profiles,
                words=words,
                names=names,
                described=np.array([d is not None for d in descs], dtype=bool),
                descriptions=lookup(descs, names),
                has_values=np.array([v is not None for v in vals], dtype=bool),
                values=lookup(vals),
                value_sets=[frozenset(v.lower() for v in p.values) for p in profiles],
            )
        )
    return out


def retrieve(src: Encoded, tgt: Encoded, k: int) -> tuple[Rows, Rows]:
    """Candidate pairs: the union of each source column's top-``k`` targets by description
    embedding, name embedding, rapidfuzz name similarity and value overlap.

    Returns:
        ``(source_rows, target_rows)``, unique pairs sorted by source then target row.
    """
    from rapidfuzz import fuzz, process

    n_t = len(tgt.profiles)
    found: list[Rows] = []
    src_named = np.array([bool(w) for w in src.words])
    dense = (
        (src.descriptions, tgt.descriptions, src_named | src.described),
        (src.names, tgt.names, src_named),
        (src.values, tgt.values, src.has_values),
    )
    for queries, items, usable in dense:
        ids, _ = search(queries, items, k)
        ids[~usable] = -1
        found.append(ids)
    named = [i for i, w in enumerate(src.words) if w]
    if named and any(tgt.words):
        fuzzy = process.cdist(
            [src.words[i] for i in named], tgt.words, scorer=fuzz.WRatio, dtype=np.uint8
        )
        top = np.argsort(-fuzzy.astype(np.int16), axis=1, kind="stable")[:, :k]
        full = np.full((len(src.profiles), top.shape[1]), -1, np.int64)
        full[named] = top
        found.append(full)
    found.append(_overlap_top(src, tgt, k))
    n_s = len(src.profiles)
    codes = np.concatenate(
        [
            (np.repeat(np.arange(n_s), ids.shape[1]) * n_t + ids.ravel())[ids.ravel() >= 0]
            for ids in found
        ]
    )
    codes = np.unique(codes)
    return (codes // n_t).astype(np.int64), (codes % n_t).astype(np.int64)


def _overlap_top(src: Encoded, tgt: Encoded, k: int) -> Rows:
    """Top-``k`` targets of each source column by shared values (-1 pads)."""
    index: dict[str, list[int]] = {}
    for j, values in enumerate(tgt.value_sets):
        for v in values:
            index.setdefault(v, []).append(j)
    out = np.full((len(src.profiles), k), -1, np.int64)
    for i, (p, values) in enumerate(zip(src.profiles, src.value_sets, strict=True)):
        if p.kind == "number" or not values:
            continue
        hits: dict[int, int] = {}
        for v in values:
            for j in index.get(v, ()):
                hits[j] = hits.get(j, 0) + 1
        best = sorted(hits.items(), key=lambda item: (-item[1], item[0]))[:k]
        out[i, : len(best)] = [j for j, _ in best]
    return out


def _range_overlap(a: ColumnProfile, b: ColumnProfile) -> float:
    if a.low is None or a.high is None or b.low is None or b.high is None:
        return math.nan
    inter = min(a.high, b.high) - max(a.low, b.low)
    union = max(a.high, b.high) - min(a.low, b.low)
    if union <= 0:
        return 1.0 if inter >= 0 else 0.0
    return max(inter, 0.0) / union


def _type_match(a: ColumnProfile, b: ColumnProfile) -> float:
    known = {"text", "number", "date", "bool"}
    if a.kind not in known or b.kind not in known:
        return math.nan
    return 1.0 if a.kind == b.kind else 0.0


def pair_signals(src: Encoded, tgt: Encoded, left: Rows, right: Rows) -> dict[str, Vectors]:
    """Every signal of :data:`SIGNALS` for the pairs ``(left[i], right[i])``; NaN = unknown."""
    from rapidfuzz import fuzz

    n = len(left)
    nan = np.float32(np.nan)
    src_named = np.array([bool(w) for w in src.words])[left]
    tgt_named = np.array([bool(w) for w in tgt.words])[right]
    both_named = src_named & tgt_named

    def cos(a: Vectors, b: Vectors) -> Vectors:
        sims: Vectors = np.einsum("ij,ij->i", a[left], b[right]).astype(np.float32)
        clipped: Vectors = np.clip(sims, 0.0, 1.0)
        return clipped

    fuzzy = np.array(
        [fuzz.WRatio(src.words[i], tgt.words[j]) / 100.0 for i, j in zip(left, right, strict=True)],
        dtype=np.float32,
    )
    out = {
        "name_fuzzy": np.where(both_named, fuzzy, nan),
        "name_embed": np.where(both_named, cos(src.names, tgt.names), nan),
    }
    s_desc, t_desc = src.described[left], tgt.described[right]
    desc_ok = (s_desc | t_desc) & (s_desc | src_named) & (t_desc | tgt_named)
    out["description"] = np.where(desc_ok, cos(src.descriptions, tgt.descriptions), nan)
    vals_ok = src.has_values[left] & tgt.has_values[right]
    out["values_embed"] = np.where(vals_ok, cos(src.values, tgt.values), nan)
    overlap = np.full(n, nan, np.float32)
    ranges = np.full(n, nan, np.float32)
    types = np.full(n, nan, np.float32)
    for p, (i, j) in enumerate(zip(left.tolist(), right.tolist(), strict=True)):
        a, b = src.profiles[i], tgt.profiles[j]
        s_vals, t_vals = src.value_sets[i], tgt.value_sets[j]
        if s_vals and t_vals and a.kind != "number":
            overlap[p] = len(s_vals & t_vals) / len(s_vals)
        ranges[p] = _range_overlap(a, b)
        types[p] = _type_match(a, b)
    out.update(value_overlap=overlap, numeric_range=ranges, type=types)
    return out
