"""Rare-token blocking in stages over row blocks and key partitions, run by a runner.

:func:`linker.blocking.rare_tokens.token_neighbours` is written as six stages, each a
function of one row block or one key partition, so that the same code runs in this process
(:class:`~linker.decide.runner.InProcess`: the calls one after the other) and on Ray workers
(:class:`~linker.backend.ray_decide.RayUnits`: each call a Ray task, the handles object
references, so the tables pass from task to task through the object store):

0. *context columns*, per block of right rows and partition of whole values
   (:func:`value_counts`, :func:`common_counts`);
a. *keys*, per block of rows, left and right (:func:`block_keys`), each block's keys cut into
   ``parts`` partitions by ``key % parts``;
b. *document frequencies* per key partition, over all right blocks (:func:`usable_counts`);
c. each left row's *rarest keys* within its budget: the left keys of a partition meet that
   partition's counts (:func:`left_counts`, cut back into left blocks), and each left block
   picks its rows' keys from all partitions (:func:`chosen_keys`);
d. the *postings join* per key partition: the right rows of the chosen keys
   (:func:`right_postings`), and each left row's right rows with the summed IDF of the keys
   they share in that partition (:func:`pair_weights`, cut back into left blocks);
e. per left block, the partitions' sums added and the candidates *ranked* by the pair score
   (or the summed IDF) and cut to ``k`` (:func:`best_of_block`).

Every stage gives the same rows whatever the blocks and partitions: counts are exact, a row's
keys and candidates are all in one call when it is ranked, and the IDF sums are taken in
float64 (each term is a float32 between ``log 2`` and about 21, so the sums are exact, in
any order). So one process and a cluster give the same lists. In this process there is one
partition and one right block, and the left blocks of ``_LEFT_CHUNK`` rows go through the
stages one at a time (the memory of the single-table steps); on a cluster, as many
partitions and blocks as workers, at least one block per ``_LEFT_CHUNK`` rows.

Example:
    >>> import polars as pl
    >>> from linker.decide.runner import InProcess
    >>> left, right = [pl.Series(["acme tools", "zeta"])], [pl.Series(["zeta", "acme tool"])]
    >>> ranked_lists(InProcess(), left, right, 1, max_df=10, pairs_per_left=10,
    ...              fuzzy_columns=0).tolist()
    [[1], [0]]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl

from linker._kernels import best_per_group, rarest_within
from linker.blocking.rare_keys import table_keys, whole_values

if TYPE_CHECKING:
    from linker.blocking.rare_tokens import PairScore
    from linker.decide.runner import UnitRunner

__all__ = [
    "best_of_block",
    "block_keys",
    "chosen_keys",
    "common_counts",
    "find_contexts",
    "left_counts",
    "pair_weights",
    "ranked_lists",
    "right_postings",
    "usable_counts",
    "value_counts",
]

logger = logging.getLogger(__name__)

_LEFT_CHUNK = 100_000  # left rows per block (bounds the join's memory)
_DF_PARTS = 4  # slices of a partition's keys whose right-row counts are taken in turn
_CONTEXT_SHARE = 0.5  # a column is a context when this share of its values is that common

Parts = pl.DataFrame | list[pl.DataFrame]
"""One frame when cut into one part, else a list of them (one Ray object each)."""


def _cut(frame: pl.DataFrame, by: pl.Expr, n: int) -> Parts:
    """``frame``'s rows cut by ``by`` (``0 .. n - 1``), in their order; itself when ``n`` is 1."""
    if n == 1:
        return frame
    found = frame.with_columns(by.cast(pl.Int64).alias("_part")).partition_by(
        "_part", as_dict=True, include_key=False
    )
    return [found.get((i,), frame.clear()) for i in range(n)]


def _joined(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    return parts[0] if len(parts) == 1 else pl.concat(parts)


def value_counts(columns: Sequence[pl.Series], start: int, stop: int, parts: int) -> Parts:
    """Stage 0: ``(column, value, n)``: how many of rows ``start`` to ``stop`` hold each whole
    value (hashed) of each column, cut by ``value % parts``."""
    counts = [
        pl.DataFrame({"value": whole_values(col.slice(start, stop - start)).drop_nulls().hash()})
        .group_by("value")
        .len("n")
        .select(pl.lit(i, pl.Int64).alias("column"), "value", "n")
        for i, col in enumerate(columns)
    ]
    return _cut(pl.concat(counts), pl.col("value") % parts, parts)


def common_counts(max_df: int, *counts: pl.DataFrame) -> pl.DataFrame:
    """Stage 0, per value partition: ``(column, common, total)``: the rows of each column whose
    whole value more than ``max_df`` rows hold, and the rows with a value."""
    found = _joined(counts)
    if len(counts) > 1:
        found = found.group_by("column", "value").agg(pl.col("n").sum())
    return found.group_by("column").agg(
        pl.col("n").filter(pl.col("n") > max_df).sum().alias("common"),
        pl.col("n").sum().alias("total"),
    )


def find_contexts(
    runner: UnitRunner, columns: object, n_columns: int, blocks: list[tuple[int, int]], max_df: int
) -> list[int]:
    """The context columns (see :func:`linker.blocking.rare_tokens.context_columns`) of the
    table whose ``columns`` handle the runner holds, counted per row block and value partition."""
    parts = max(1, runner.workers)
    counts = _fan(runner, value_counts, [(columns, a, b, parts) for a, b in blocks], parts)
    shares = runner.map(common_counts, [(max_df, *(c[p] for c in counts)) for p in range(parts)])
    got: list[pl.DataFrame] = runner.get(shares)  # type: ignore[assignment]
    total = pl.concat(got).group_by("column").sum()
    found = sorted(
        int(c) for c, common, n in total.select("column", "common", "total").iter_rows()
        if n > 0 and common >= _CONTEXT_SHARE * n
    )  # fmt: skip
    return found if len(found) < n_columns else []


def block_keys(
    columns: Sequence[pl.Series],
    start: int,
    stop: int,
    contexts: Sequence[int],
    fuzzy: Sequence[int],
    parts: int,
) -> Parts:
    """Stage a: ``(key, row)`` of rows ``start`` to ``stop``, cut by ``key % parts``."""
    keys = table_keys(columns, contexts, fuzzy, start=start, stop=stop)
    return _cut(keys, pl.col("key") % parts, parts)


def usable_counts(max_df: int, parts: int, *blocks: pl.DataFrame) -> pl.DataFrame:
    """Stage b: ``(key, df_r)`` of one partition's right keys held by at most ``max_df`` rows.

    Counted over ``_DF_PARTS`` slices of the partition in turn: one group-by over all the
    keys at once takes far more memory at its peak than the keys themselves
    (``benchmarks/results/scale_notes.md``).
    """
    keys = _joined(blocks)
    slices = [
        keys.filter(pl.col("key") // parts % _DF_PARTS == s)
        .group_by("key")
        .len("df_r")
        .filter(pl.col("df_r") <= max_df)
        for s in range(_DF_PARTS)
    ]
    return pl.concat(slices)


def left_counts(
    counts: pl.DataFrame, first: int, size: int, n_blocks: int, *keys: pl.DataFrame
) -> Parts:
    """Stage c, first half: ``(key, row, df_r)``: one partition's left keys (of ``n_blocks``
    blocks of ``size`` rows from row ``first``) that are usable, cut back into those blocks."""
    met = _joined(keys).join(counts, on="key")
    return _cut(met, (pl.col("row") - first) // size, n_blocks)


def chosen_keys(
    n_right: int, pairs_per_left: int, start: int, rows: int, parts: int, *met: pl.DataFrame
) -> Parts:
    """Stage c, second half: ``(key, left_row, idf)``: the rarest keys of each of rows ``start``
    to ``start + rows`` within its budget (``met``: its usable keys from every partition),
    cut by ``key % parts``."""
    keys = _joined(met)
    # by row, then rarest first (ties by key), within the budget: one short sort per row
    at = rarest_within(
        keys["row"].to_numpy().astype(np.int64) - start, keys["df_r"].to_numpy(),
        keys["key"].to_numpy(), rows, pairs_per_left,
    )  # fmt: skip
    weight = (1.0 + n_right / pl.col("df_r").cast(pl.Float32)).log().cast(pl.Float32)
    chosen = keys[at].select("key", pl.col("row").alias("left_row"), weight.alias("idf"))
    return _cut(chosen, pl.col("key") % parts, parts)


def right_postings(n_chosen: int, *parts: pl.DataFrame) -> pl.DataFrame:
    """Stage d, first half: ``(key, right_row)`` of one partition's chosen keys.

    ``parts``: the partition's chosen keys from ``n_chosen`` left blocks, then its right keys
    from every right block.
    """
    wanted = _joined(parts[:n_chosen]).select("key").unique()
    return _joined(parts[n_chosen:]).join(wanted, on="key").rename({"row": "right_row"})


def pair_weights(
    n_right: int,
    first: int,
    size: int,
    n_blocks: int,
    postings: pl.DataFrame,
    *chosen: pl.DataFrame,
) -> Parts:
    """Stage d, second half: ``(code, idf)``: each pair of a left row (of ``n_blocks`` blocks
    from row ``first``) and a right row that share chosen keys of this partition, as one int64
    code ``left_row * n_right + right_row``, with the float64 sum of those keys' IDF; cut back
    into the left blocks."""
    joined = _joined(chosen).join(postings, on="key")
    # one int64 code per pair: a one-column group-by (two columns cost far more)
    code = joined["left_row"].cast(pl.Int64) * n_right + joined["right_row"].cast(pl.Int64)
    met = (
        pl.DataFrame({"code": code, "idf": joined["idf"].cast(pl.Float64)})
        .group_by("code")
        .agg(pl.col("idf").sum())
    )
    return _cut(met, (pl.col("code") // n_right - first) // size, n_blocks)


def best_of_block(
    k: int,
    n_right: int,
    start: int,
    rows: int,
    score: PairScore | None,
    *weights: pl.DataFrame,
) -> npt.NDArray[np.int64]:
    """Stage e: the ``k`` best right rows of left rows ``start`` to ``start + rows``.

    ``weights``: the block's pairs from every partition; a pair met in several is summed.
    Ranked by ``score``, ties by summed IDF (the only rank without a score), then lower row.
    """
    met = _joined(weights)
    if len(weights) > 1:
        met = met.group_by("code").agg(pl.col("idf").sum())
    code = met["code"].to_numpy()
    li, ri = code // n_right, code % n_right
    ranked = np.zeros(len(li), np.float32) if score is None else score(li, ri)
    idf = met["idf"].to_numpy().astype(np.float32)
    return best_per_group(li - start, ri, ranked, idf, rows, k)


def _fan(
    runner: UnitRunner, fn: object, calls: list[tuple[object, ...]], n: int
) -> list[list[object]]:
    """``runner.map`` of a function that cuts its result into ``n`` parts: the parts' handles."""
    out = runner.map(fn, calls, returns=n)  # type: ignore[arg-type]
    return [h if n > 1 else [h] for h in out]  # type: ignore[misc]


def row_blocks(n: int, workers: int, *, one: bool = False) -> list[tuple[int, int]]:
    """``(start, stop)`` of the blocks of ``n`` rows: as many as ``workers``, and at least one
    per ``_LEFT_CHUNK`` rows; with one worker, one block (``one``) or ``_LEFT_CHUNK`` each."""
    if workers == 1:
        size = max(n, 1) if one else _LEFT_CHUNK
    else:
        size = max(1, -(-n // max(workers, -(-n // _LEFT_CHUNK))))
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def ranked_lists(
    runner: UnitRunner,
    left: Sequence[pl.Series],
    right: Sequence[pl.Series],
    k: int,
    *,
    max_df: int,
    pairs_per_left: int,
    fuzzy_columns: int,
    score: PairScore | None = None,
) -> npt.NDArray[np.int64]:
    """``(n_left, k)``: the stages 0 and a to e, each call run by ``runner`` (see the module
    docstring; the arguments are :func:`~linker.blocking.rare_tokens.token_neighbours`').

    Both tables are non-empty. The columns, and ``score`` (with the vectors it reads), are
    put with the runner once; the calls get handles.
    """
    n_left, n_right = len(left[0]), len(right[0])
    workers = parts = max(1, runner.workers)
    # here one right block, one partition, and left blocks one after the other
    lblocks, rblocks = row_blocks(n_left, workers), row_blocks(n_right, workers, one=True)
    lsize = lblocks[0][1]
    # a left-block group meets a partition in one call: on a cluster every block (each
    # partition's tables read once), here one block at a time (bounded memory)
    groups = [list(range(len(lblocks)))] if workers > 1 else [[b] for b in range(len(lblocks))]
    rcols = runner.put(list(right))
    same = len(left) == len(right) and all(a is b for a, b in zip(left, right, strict=True))
    lcols = rcols if same else runner.put(list(left))
    contexts = find_contexts(runner, rcols, len(right), rblocks, max_df)
    fuzzy = [i for i in range(len(right)) if i not in contexts][:fuzzy_columns]
    logger.debug("token blocking: contexts %s, fuzzy %s", contexts, fuzzy)
    ckeys = (contexts, fuzzy)

    rkeys = _fan(runner, block_keys, [(rcols, a, b, *ckeys, parts) for a, b in rblocks], parts)
    counts = runner.map(
        usable_counts, [(max_df, parts, *(r[p] for r in rkeys)) for p in range(parts)]
    )
    chosen: list[list[object]] = []  # [left block][partition]
    for g in groups:  # here one left block at a time: its keys never all exist at once
        bounds = [lblocks[b] for b in g]
        lkeys = _fan(runner, block_keys, [(lcols, a, b, *ckeys, parts) for a, b in bounds], parts)
        calls = [
            (counts[p], bounds[0][0], lsize, len(g), *(c[p] for c in lkeys)) for p in range(parts)
        ]
        met = _fan(runner, left_counts, calls, len(g))  # [partition][block of g]
        del lkeys
        calls = [
            (n_right, pairs_per_left, a, b - a, parts, *(m[i] for m in met))
            for i, (a, b) in enumerate(bounds)
        ]
        chosen.extend(_fan(runner, chosen_keys, calls, parts))
        del met
    del counts
    postings = runner.map(
        right_postings,
        [(len(lblocks), *(c[p] for c in chosen), *(r[p] for r in rkeys)) for p in range(parts)],
    )
    del rkeys
    sref = None if score is None else runner.put(score)
    best: list[object] = []
    for g in groups:  # here one left block at a time: its pairs never all exist at once
        bounds = [lblocks[b] for b in g]
        calls = [
            (n_right, bounds[0][0], lsize, len(g), postings[p], *(chosen[b][p] for b in g))
            for p in range(parts)
        ]
        weights = _fan(runner, pair_weights, calls, len(g))  # [partition][block of g]
        calls = [
            (k, n_right, a, b - a, sref, *(w[i] for w in weights))
            for i, (a, b) in enumerate(bounds)
        ]
        best.extend(runner.map(best_of_block, calls))
        del weights
    del chosen, postings
    logger.debug("token blocking: %d left blocks, %d key partitions", len(lblocks), parts)
    return np.concatenate(runner.get(best))  # type: ignore[arg-type]
