"""Scores of (phrase, node) candidates: dense and lexical evidence, then the hierarchy.

The matcher retrieves candidate nodes per phrase (embedding and n-gram neighbours among the
nodes' prototypes) and scores every candidate with:

``base = (1 - lexical_weight) * dense + lexical_weight * lexical``, where ``dense`` is the best
cosine between the phrase and any prototype of the node and ``lexical`` the best n-gram
TF-IDF cosine (0 when no prototype of the node is among the phrase's n-gram neighbours);

``score = base + ancestor_weight * (agreement - base) + depth_weight * depth / max_depth``,
where ``agreement`` is the mean cosine between the phrase and the labels of the node's
proper ancestors (roots have none and keep ``base``): of two nodes named "jaguar", the one
under "Cat" wins for "jaguar, the big cat"; the depth term prefers the specific node when
scores tie.

Back-off (:func:`back_off`): when the best score is below ``backoff_threshold`` the
candidates' softmax weights are summed up the tree, and the deepest node holding at least
``backoff_mass`` of them becomes the answer: a phrase that sits between two sibling nodes is
mapped to their parent instead of a random sibling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linker.taxonomy.tree import Taxonomy

__all__ = ["HierarchyParams", "back_off", "candidate_pairs", "max_over_groups", "rank_pairs"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float32]
_CHUNK_ROWS = 1 << 16  # gathered vector rows per step of a pair-wise dot product


@dataclass(frozen=True)
class HierarchyParams:
    """How the hierarchy shapes the scores.

    Args:
        ancestor_weight: Weight of the ancestors' agreement with the phrase (0 turns it off).
        depth_weight: Bonus for depth, scaled to ``[0, depth_weight]`` (0 turns it off).
        backoff_threshold: Back off to an ancestor when the best score is below this;
            ``None`` never backs off.
        backoff_mass: Share of the candidates' softmax weight an ancestor must hold.
        temperature: Softmax temperature of the back-off weights.

    Example:
        >>> HierarchyParams(backoff_threshold=None).ancestor_weight
        0.1
    """

    ancestor_weight: float = 0.1
    depth_weight: float = 0.02
    backoff_threshold: float | None = 0.45
    backoff_mass: float = 0.6
    temperature: float = 0.05


def candidate_pairs(hit_nodes: list[Ints], n_nodes: int) -> tuple[Ints, Ints]:
    """Distinct ``(phrase, node)`` pairs from per-search ``(n_phrases, k)`` node hits.

    Example:
        >>> import numpy as np
        >>> q, c = candidate_pairs([np.array([[2, 1]]), np.array([[1, 0]])], 3)
        >>> q.tolist(), c.tolist()
        ([0, 0, 0], [0, 1, 2])
    """
    keys = np.unique(
        np.concatenate(
            [
                (np.arange(h.shape[0], dtype=np.int64)[:, None] * n_nodes + h).ravel()
                for h in hit_nodes
            ]
        )
    )
    return keys // n_nodes, keys % n_nodes


def max_over_groups(
    queries: Floats,
    items: Floats,
    q: Ints,
    starts: Ints,
    groups: Ints,
    *,
    reduce: str = "max",
    index: Ints | None = None,
) -> Floats:
    """Per pair ``(q[i], groups[i])``: the max (or mean) dot product of the query vector with
    the item rows ``starts[g]:starts[g + 1]`` of its group (rows of ``items[index]`` when
    ``index`` is given, without building that matrix). Empty groups give NaN.

    Example:
        >>> import numpy as np
        >>> v = np.eye(2, dtype=np.float32)
        >>> max_over_groups(v, v, np.array([0, 1]), np.array([0, 2]), np.array([0, 0])).tolist()
        [1.0, 1.0]
    """
    counts = starts[groups + 1] - starts[groups]
    out = np.full(len(q), np.nan, np.float32)
    pairs = np.flatnonzero(counts > 0)
    # expand in slices of pairs so that each slice gathers about _CHUNK_ROWS vectors
    bounds = np.searchsorted(np.cumsum(counts[pairs]), np.arange(0, counts.sum(), _CHUNK_ROWS))
    for lo, hi in zip(bounds, [*bounds[1:], len(pairs)], strict=True):
        part = pairs[lo:hi]
        if len(part) == 0:
            continue
        n = counts[part]
        offsets = np.concatenate([[0], np.cumsum(n)[:-1]])
        rep = np.repeat(np.arange(len(part)), n)
        rows = starts[groups[part]][rep] + np.arange(n.sum()) - offsets[rep]
        dots = np.einsum(
            "ij,ij->i", queries[q[part][rep]], items[rows if index is None else index[rows]]
        )
        if reduce == "max":
            out[part] = np.maximum.reduceat(dots, offsets)
        else:
            out[part] = np.add.reduceat(dots, offsets) / n
    return out


def rank_pairs(q: Ints, c: Ints, scores: Floats, n_phrases: int) -> tuple[Ints, Floats]:
    """Per phrase, its candidate nodes best first (ties by node row), padded with -1/NaN.

    Example:
        >>> import numpy as np
        >>> ids, s = rank_pairs(np.array([0, 0, 1]), np.array([3, 4, 3]),
        ...                     np.array([0.2, 0.9, 0.5], np.float32), 2)
        >>> ids.tolist()
        [[4, 3], [3, -1]]
    """
    order = np.lexsort((c, -scores, q))
    q, c, scores = q[order], c[order], scores[order]
    counts = np.bincount(q, minlength=n_phrases)
    width = int(counts.max()) if len(counts) else 0
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(q)) - starts[q]
    ids = np.full((n_phrases, width), -1, np.int64)
    out = np.full((n_phrases, width), np.nan, np.float32)
    ids[q, pos] = c
    out[q, pos] = scores
    return ids, out


def back_off(
    taxonomy: Taxonomy, ids: Ints, scores: Floats, params: HierarchyParams
) -> tuple[Ints, Floats, npt.NDArray[np.bool_]]:
    """Replace weak answers by the deepest ancestor that holds most of the candidates' weight.

    Rows whose best score is at least ``params.backoff_threshold`` are unchanged. In the
    others, the ancestor (if any) moves to rank 1 with the best score, and the candidates
    follow. Returns the new ids, scores and, per row, whether it backed off.

    Example:
        >>> import numpy as np
        >>> t = Taxonomy(["dog", "beagle", "poodle"], ["Dog", "Beagle", "Poodle"],
        ...              [None, ["dog"], ["dog"]])
        >>> ids, s, off = back_off(t, np.array([[1, 2, 0]]),
        ...                        np.array([[0.40, 0.39, 0.2]], np.float32), HierarchyParams())
        >>> [t.ids[i] for i in ids[0]], off.tolist()
        (['dog', 'beagle', 'poodle'], [True])
    """
    ids, scores = ids.copy(), scores.copy()
    backed = np.zeros(len(ids), np.bool_)
    if params.backoff_threshold is None or taxonomy.max_depth == 0 or ids.shape[1] == 0:
        return ids, scores, backed
    weak = np.flatnonzero((ids[:, 0] >= 0) & (scores[:, 0] < params.backoff_threshold))
    if len(weak) == 0:
        return ids, scores, backed
    best, held_any = _backoff_targets(taxonomy, ids[weak], scores[weak], params)
    moved = held_any & (best != ids[weak, 0])
    rows, best = weak[moved], best[moved]
    if len(rows) == 0:
        return ids, scores, backed
    # new row: the ancestor first (with the best score), then the candidates without it
    width = ids.shape[1]
    ext_ids = np.concatenate([best[:, None], ids[rows]], axis=1)
    ext_scores = np.concatenate([scores[rows, :1], scores[rows]], axis=1)
    drop = np.zeros_like(ext_ids, dtype=np.bool_)
    drop[:, 1:] = ids[rows] == best[:, None]
    order = np.argsort(drop, axis=1, kind="stable")[:, :width]
    ids[rows] = np.take_along_axis(ext_ids, order, axis=1)
    scores[rows] = np.take_along_axis(ext_scores, order, axis=1)
    backed[rows] = True
    return ids, scores, backed


def _backoff_targets(
    taxonomy: Taxonomy, ids: Ints, scores: Floats, params: HierarchyParams
) -> tuple[Ints, npt.NDArray[np.bool_]]:
    """Per row, the deepest node (candidate or ancestor) holding ``backoff_mass`` of the
    candidates' softmax weight (ties: more weight, then lower row), and whether any does."""
    n_rows, n_nodes = len(ids), len(taxonomy)
    valid = ids >= 0
    s = np.where(valid, scores.astype(np.float64), -np.inf)
    w = np.exp((s - s.max(axis=1, keepdims=True)) / params.temperature)
    w /= w.sum(axis=1, keepdims=True)
    row, col = np.nonzero(valid)
    node, weight = ids[row, col], w[row, col]
    # expand each candidate to itself and its proper ancestors
    starts, anc = taxonomy.ancestor_index
    counts = 1 + starts[node + 1] - starts[node]
    rep = np.repeat(np.arange(len(node)), counts)
    pos = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    up = np.where(pos == 0, node[rep], anc[np.maximum(starts[node[rep]] + pos - 1, 0)])
    keys, inverse = np.unique(row[rep] * n_nodes + up, return_inverse=True)
    mass = np.bincount(inverse.reshape(-1), weights=weight[rep], minlength=len(keys))
    held = mass >= params.backoff_mass - 1e-9
    keys, mass = keys[held], mass[held]
    best = np.full(n_rows, -1, np.int64)
    if len(keys) == 0:  # the weight is split between trees: no node holds enough of it
        return best, best >= 0
    key_row, key_node = keys // n_nodes, keys % n_nodes
    order = np.lexsort((key_node, -mass, -taxonomy.depth[key_node], key_row))
    first = order[np.flatnonzero(np.r_[True, key_row[order][1:] != key_row[order][:-1]])]
    best[key_row[first]] = key_node[first]
    return best, best >= 0
