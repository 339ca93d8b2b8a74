"""Candidate generation: ranked lists of right records per left record, unioned, within key blocks.

For every left record the blocker keeps its ``k`` best right records from each list: below
20,000 right records its ``k`` nearest by embedding cosine and its ``k`` nearest by n-gram
TF-IDF cosine; from 20,000 (see :class:`Blockers`) the ``2k`` right records that share its
rarest words and numbers (:mod:`linker.blocking.rare_tokens`), ranked by n-gram cosine.
Where lists overlap, the free places of the budget (``k`` per list; ``2k`` for the rare-token
list alone) go to the next-best of each list in turn. Records identical on every compared column
(exact twins) always meet, whatever ``k``, through one more list (:mod:`linker.blocking.twins`), and
every pair says whether it is such a twin pair (``twin``). Both similarities are computed for
every kept pair. ``block_on`` restricts the search to records that agree exactly on some columns;
records whose key is null are searched against the whole other table, so no record is left out
because of a missing key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse as sp

from linker._kernels import near_best, positions
from linker._progress import progress, want_progress
from linker.blocking.rare_tokens import PairScore, token_neighbours
from linker.blocking.twins import find_twins, twin_flags, twin_pairs
from linker.decide.runner import runner_of
from linker.errors import ConfigError
from linker.vectors._keys import unique_codes
from linker.vectors.ann import AnnParams, SearchMethod, pair_dots, search

if TYPE_CHECKING:
    from linker.backend import Backend

__all__ = ["Blockers", "BlockingResult", "Representations", "block", "key_groups"]

logger = logging.getLogger(__name__)

Rows = npt.NDArray[np.int64]


@dataclass
class Representations:
    """One side as the blockers see it: dense embeddings, sparse n-gram TF-IDF rows, and the
    compared columns as text (rare-token and twin lists; ``None`` switches them off)."""

    dense: npt.NDArray[np.float32] | None
    sparse: sp.csr_matrix | None
    columns: Sequence[pl.Series] | None = None


@dataclass(frozen=True)
class Blockers:
    """Which candidate lists blocking unions, by the number of right records of a block.

    Below 20,000 right records: the embedding list and the n-gram list (exact searches).
    From there the rare-token list (:mod:`linker.blocking.rare_tokens`, its candidates ranked by
    n-gram cosine) alone: the exact searches grow with the square of the table, and on the
    demo firms at 30,000 and 60,000 rows and on pyJedAI's D10 (23,182 right rows) the
    rare-token list alone kept within 0.4 points of their blocking recall at a quarter to a
    twelfth of the link's CPU, with F1 0.2 points lower (D10) to 1.6 points higher. Below
    20,000 the two searches cost little, and on small product tables (Abt-Buy, pyJedAI D2)
    the rare-token list alone lost 0.5-0.9 points of F1. The measurements behind these sizes
    are in ``benchmarks/results/lists.md``.

    Args:
        dense_below: The embedding list is used below this many right records (``None``:
            always); embeddings are still computed, for the ``dense_sim`` of every pair.
        tokens_from: The rare-token list is added from this many right records (``None``:
            never).
        ngram_below: Where the rare-token list is used, the n-gram list is used beside it
            only below this many right records (``None``: always). Without the rare-token
            list the n-gram list is always used.
        token_max_df: Words held by more right records than this are not used.
        token_pairs_per_left: Budget of the rare-token list, in right records met per left
            record (see :func:`linker.blocking.rare_tokens.token_neighbours`).

    Example:
        >>> b = Blockers()
        >>> b.lists(10_000, dense=True, sparse=True, columns=True)
        ['dense', 'ngram']
        >>> b.lists(20_000, dense=True, sparse=True, columns=True)
        ['tokens']
        >>> Blockers(ngram_below=None).lists(20_000, dense=True, sparse=True, columns=True)
        ['ngram', 'tokens']
    """

    dense_below: int | None = 20_000
    tokens_from: int | None = 20_000
    ngram_below: int | None = 20_000
    token_max_df: int = 1000
    token_pairs_per_left: int = 100

    def __post_init__(self) -> None:
        if self.token_max_df < 1 or self.token_pairs_per_left < 1:
            raise ConfigError("token_max_df and token_pairs_per_left must be at least 1")

    def lists(self, n_right: int, *, dense: bool, sparse: bool, columns: bool) -> list[str]:
        """The lists used for a block of ``n_right`` right records, given what each side has
        (an embedding list is kept when it would be the only one)."""
        out = []
        use_tokens = columns and self.tokens_from is not None and n_right >= self.tokens_from
        small = self.dense_below is None or n_right < self.dense_below
        use_ngram = sparse and (
            not use_tokens or self.ngram_below is None or n_right < self.ngram_below
        )
        if dense and (small or not (use_ngram or use_tokens)):
            out.append("dense")
        if use_ngram:
            out.append("ngram")
        if use_tokens:
            out.append("tokens")
        return out


@dataclass
class BlockingResult:
    """Candidate pairs (``left_row``, ``right_row``, the ``*_sim`` columns, ``twin``), counts."""

    pairs: pl.DataFrame
    stats: dict[str, float] = field(default_factory=dict)


def key_groups(
    left_keys: pl.DataFrame | None, right_keys: pl.DataFrame | None, *, n_left: int, n_right: int
) -> list[tuple[Rows, Rows]]:
    """Split row numbers into blocks that agree exactly on every key column.

    A left row with a null key is searched against the whole right table; a right row with
    a null key joins every block (and is searched by the left rows whose key has no block).

    Example:
        >>> import polars as pl
        >>> g = key_groups(pl.DataFrame({"s": ["a", "b"]}), pl.DataFrame({"s": ["b", "a", "a"]}),
        ...                n_left=2, n_right=3)
        >>> [(a.tolist(), b.tolist()) for a, b in g]
        [([0], [1, 2]), ([1], [0])]
    """
    all_l, all_r = np.arange(n_left, dtype=np.int64), np.arange(n_right, dtype=np.int64)
    if left_keys is None or right_keys is None or left_keys.width == 0:
        return [(all_l, all_r)]
    cols = left_keys.columns

    def keyed(df: pl.DataFrame) -> pl.DataFrame:
        key = pl.concat_str([pl.col(c).cast(pl.Utf8) for c in df.columns], separator="\x1f")
        return df.with_row_index("__lk_row").select(pl.col("__lk_row"), key.alias("__lk_key"))

    lk_ = keyed(left_keys)
    rk_ = keyed(right_keys.rename(dict(zip(right_keys.columns, cols, strict=True))))
    groups: list[tuple[Rows, Rows]] = []
    lg = lk_.drop_nulls("__lk_key").group_by("__lk_key").agg("__lk_row")
    rg = rk_.drop_nulls("__lk_key").group_by("__lk_key").agg("__lk_row")
    joined = lg.join(rg, on="__lk_key", suffix="_r").sort("__lk_key")
    l_null = lk_.filter(pl.col("__lk_key").is_null())["__lk_row"].to_numpy().astype(np.int64)
    r_null = rk_.filter(pl.col("__lk_key").is_null())["__lk_row"].to_numpy().astype(np.int64)
    for lrows, rrows in zip(joined["__lk_row"], joined["__lk_row_r"], strict=True):
        right_rows = np.concatenate([np.asarray(rrows, np.int64), r_null])
        groups.append((np.asarray(lrows, np.int64), right_rows))
    if len(r_null):
        grouped = np.concatenate([g[0] for g in groups]) if groups else np.zeros(0, np.int64)
        unblocked = np.setdiff1d(all_l, np.concatenate([grouped, l_null]))
        if len(unblocked):
            groups.append((unblocked, r_null))
    if len(l_null):
        groups.append((l_null, all_r))
    return groups


def _neighbours(
    q: npt.NDArray[np.float32] | sp.csr_matrix,
    items: npt.NDArray[np.float32] | sp.csr_matrix,
    k: int,
    *,
    self_join: bool,
    lrows: Rows,
    rrows: Rows,
    method: SearchMethod,
    params: AnnParams,
    backend: Backend | None,
) -> npt.NDArray[np.int64]:
    """The ``k`` nearest right rows of each left row, best first (a row never meets itself)."""
    find = backend.search if backend is not None else search
    ids, _ = find(q, items, k + 1 if self_join else k, method=method, params=params)
    return _drop_self(rrows[ids], lrows, self_join=self_join)


def _drop_self(found: Rows, lrows: Rows, *, self_join: bool) -> Rows:
    """Without each left row's own row (self-join), or its farthest when it is not there."""
    if self_join and found.shape[1]:
        drop = found == lrows[:, None]
        drop[~drop.any(axis=1), -1] = True  # no self among them: drop the farthest instead
        found = found[~drop].reshape(len(lrows), -1)
    return found


def _rows(m: npt.NDArray[np.float32] | sp.csr_matrix | pl.Series, rows: Rows) -> Any:
    """``m[rows]`` (a column: ``gather``), without a copy when ``rows`` is every row in order
    (one block)."""
    if len(rows) == m.shape[0] and np.array_equal(rows, np.arange(len(rows))):
        return m
    return m.gather(rows) if isinstance(m, pl.Series) else m[rows]


def _interleave(lists: list[npt.NDArray[np.int64]], budget: int) -> npt.NDArray[np.int64]:
    """Merge ranked lists (one row per left record) turn by turn, keeping the first ``budget``
    distinct entries of each row; ``-1`` marks an empty place.

    Example:
        >>> import numpy as np
        >>> _interleave([np.array([[1, 2, 3]]), np.array([[2, 4, 5]])], 4).tolist()
        [[1, 2, 4, 3]]
    """
    width = max(x.shape[1] for x in lists)
    padded = [np.pad(x, ((0, 0), (0, width - x.shape[1])), constant_values=-1) for x in lists]
    merged = np.stack(padded, axis=2).reshape(len(padded[0]), -1)
    order = np.argsort(merged, axis=1, kind="stable")
    ranked = np.take_along_axis(merged, order, axis=1)
    repeat = np.zeros_like(merged, dtype=bool)
    repeat[:, 1:] = ranked[:, 1:] == ranked[:, :-1]
    dup = np.zeros_like(repeat)
    np.put_along_axis(dup, order, repeat, axis=1)
    keep = ~dup & (merged >= 0)
    keep &= np.cumsum(keep, axis=1) <= budget
    out = np.where(keep, merged, -1)
    # push the kept entries to the front of each row, in their merged order
    front = np.argsort(~keep, axis=1, kind="stable")[:, :budget]
    result: npt.NDArray[np.int64] = np.take_along_axis(out, front, axis=1)
    return result


class _Reused:
    """The pair similarities the rare-token list ranked its candidates by, kept for the pairs
    each left row's top list can hold (its best ``k``, ties included): the candidates'
    similarity of that space is then read back instead of computed a second time.

    Args:
        n_right: Right rows of the whole table (pairs are kept as one ``int64`` each).
    """

    def __init__(self, n_right: int) -> None:
        self.n_right = max(n_right, 1)
        self.space: str | None = None
        self.codes: list[Rows] = []
        self.sims: list[npt.NDArray[np.float32]] = []

    def ranking(
        self, left: Representations, right: Representations, lrows: Rows, rrows: Rows, k: int
    ) -> PairScore | None:
        """How the rare-token list ranks the candidates of one group, keeping what it can
        reuse: n-gram cosine, else embedding cosine (``None``: neither side has vectors)."""
        spaces = (("ngram_sim", left.sparse, right.sparse), ("dense_sim", left.dense, right.dense))
        usable = [(space, lv, rv) for space, lv, rv in spaces if lv is not None and rv is not None]
        if not usable:
            return None
        self.space, lv, rv = usable[0]
        lm, rm = _rows(lv, lrows), _rows(rv, rrows)

        def score(li: Rows, ri: Rows) -> npt.NDArray[np.float32]:
            sims = pair_dots(lm, rm, li, ri)
            if len(li):
                low = int(li.min())
                keep = near_best(li - low, sims, int(li.max()) - low + 1, k)
                self.codes.append(lrows[li[keep]] * self.n_right + rrows[ri[keep]])
                self.sims.append(sims[keep])
            return sims

        return score

    def read(self, space: str, li: Rows, ri: Rows, dots: PairScore) -> npt.NDArray[np.float32]:
        """The ``space`` similarity of the pairs ``(li, ri)`` (global rows): kept ones read
        back, the others from ``dots``."""
        if space != self.space or not self.codes:
            return dots(li, ri)
        at = positions(np.concatenate(self.codes), li * self.n_right + ri)
        out = np.concatenate(self.sims)[np.maximum(at, 0)]
        missing = np.flatnonzero(at < 0)
        if len(missing):
            out[missing] = dots(li[missing], ri[missing])
        return out


def _rowwise_sims(
    left: Representations, right: Representations, li: Rows, ri: Rows, reused: _Reused
) -> dict[str, npt.NDArray[np.float32]]:
    out: dict[str, npt.NDArray[np.float32]] = {}
    spaces = (("dense_sim", left.dense, right.dense), ("ngram_sim", left.sparse, right.sparse))
    for space, lv, rv in spaces:
        if lv is not None and rv is not None:

            def dots(a: Rows, b: Rows, lv: Any = lv, rv: Any = rv) -> npt.NDArray[np.float32]:
                return pair_dots(lv, rv, a, b)

            out[space] = reused.read(space, li, ri, dots)
    return {k: np.clip(v, 0.0, 1.0) for k, v in out.items()}


def _lists(
    left: Representations,
    right: Representations,
    lrows: Rows,
    rrows: Rows,
    *,
    k: int,
    self_join: bool,
    method: SearchMethod,
    params: AnnParams,
    blockers: Blockers,
    backend: Backend | None,
    reused: _Reused,
) -> tuple[list[Rows], int]:
    """Each blocker's best right rows of every left row in one group (``-1``: none), as many
    as the group's budget (``k`` per list; ``2k`` for the rare-token list alone), and the budget."""
    names = blockers.lists(
        len(rrows),
        dense=left.dense is not None and right.dense is not None,
        sparse=left.sparse is not None and right.sparse is not None,
        columns=left.columns is not None and right.columns is not None,
    )
    spaces = {
        "dense": (left.dense, right.dense, method),
        "ngram": (left.sparse, right.sparse, "exact" if method == "exact" else "auto"),
    }
    # k per list; the rare-token list alone (from ngram_below) keeps the budget of the two
    # lists it stands for: with 2k, 0.9913 of the true pairs at 100k demo firms against 0.9891
    # with k, and F1 0.907 against 0.896 (the matcher's pseudo-labels take their negatives
    # among the candidates)
    budget = k * (2 if names == ["tokens"] else len(names))
    out = []
    for name in names:
        if name == "tokens":
            lcols = [_rows(c, lrows) for c in left.columns or ()]
            rcols = [_rows(c, rrows) for c in right.columns or ()]
            width = budget + 1 if self_join else budget
            ids = token_neighbours(
                lcols, rcols, width, max_df=blockers.token_max_df,
                pairs_per_left=blockers.token_pairs_per_left,
                score=reused.ranking(left, right, lrows, rrows, width), runner=runner_of(backend),
            )  # fmt: skip
            found = np.where(ids >= 0, rrows[np.maximum(ids, 0)], -1)
            out.append(_drop_self(found, lrows, self_join=self_join))
            continue
        lv, rv, how = spaces[name]
        out.append(
            _neighbours(
                _rows(lv, lrows), _rows(rv, rrows), budget, self_join=self_join, lrows=lrows,
                rrows=rrows, method=how, params=params, backend=backend,
            )
        )  # fmt: skip
    return out, budget


def block(
    left: Representations,
    right: Representations,
    *,
    k: int = 10,
    groups: Sequence[tuple[Rows, Rows]] | None = None,
    self_join: bool = False,
    method: SearchMethod = "auto",
    params: AnnParams | None = None,
    blockers: Blockers | None = None,
    show_progress: bool | None = None,
    backend: Backend | None = None,
) -> BlockingResult:
    """Candidates of every left row from the blockers' neighbour lists, within each group.

    Each left row gets its top ``k`` of every list, and the budget of ``k`` × (number of lists;
    2 for the rare-token list alone) candidates is then filled with the next-best of each list
    in turn, so the places that overlapping lists leave free are not wasted. Which lists a group
    uses depends on its number of right rows (:class:`Blockers`). When both sides have
    ``columns``, the records identical on all of them also meet each other through the twin list
    (:func:`linker.blocking.twins.twin_pairs`, ``k`` twins per twin and turn), beyond the budget.

    Args:
        left: Left vectors (either kind may be ``None`` to switch that blocker off).
        right: Right vectors, in the same spaces.
        k: Neighbours per blocker per left record (the budget is ``k`` per blocker; ``2k`` for
            the rare-token list alone).
        groups: ``(left_rows, right_rows)`` blocks from :func:`key_groups`; default one block.
        self_join: Left and right are the same table (dedup): drop each row's pair with itself.
        method: Dense search method (see :func:`linker.vectors.ann.search`).
        params: hnswlib settings.
        blockers: Which lists to use at which size (default :class:`Blockers`).
        show_progress: Show a bar over blocks (``None`` follows the log level).
        backend: Runs the searches and the rare-token list's stages (:mod:`linker.backend`);
            default: this process.

    Returns:
        Unique pairs sorted by ``(left_row, right_row)`` with their similarities, and
        ``twin``: the two records are identical (not all empty) on every compared column,
        whichever list found them (always ``False`` without ``columns``).

    Example:
        >>> import numpy as np
        >>> v = np.eye(3, dtype=np.float32)
        >>> r = block(Representations(v, None), Representations(v, None), k=1)
        >>> r.pairs.select("left_row", "right_row").rows()
        [(0, 0), (1, 1), (2, 2)]
    """
    p = params or AnnParams()
    chosen = blockers or Blockers()
    n_left = (left.dense if left.dense is not None else left.sparse).shape[0]  # type: ignore[union-attr]
    n_right = (right.dense if right.dense is not None else right.sparse).shape[0]  # type: ignore[union-attr]
    if groups is None:
        groups = [(np.arange(n_left, dtype=np.int64), np.arange(n_right, dtype=np.int64))]
    show = want_progress(show_progress, logger) and len(groups) > 1
    twins = find_twins(left.columns, right.columns, self_join=self_join)
    lefts: list[Rows] = []
    rights: list[Rows] = []
    reused = _Reused(n_right)
    for lrows, rrows in progress(groups, total=len(groups), desc="block", show=show):
        if len(lrows) == 0 or len(rrows) == 0:
            continue
        lists, budget = _lists(
            left, right, lrows, rrows, k=k, self_join=self_join, method=method, params=p,
            blockers=chosen, backend=backend, reused=reused,
        )  # fmt: skip
        found = _interleave(lists, budget)
        kept = found >= 0
        lefts.append(np.repeat(lrows, kept.sum(axis=1)))
        rights.append(found[kept])
        if twins is not None:  # the twin list: identical records meet whatever k
            tl, tr = twin_pairs(lrows, rrows, *twins, width=k, self_join=self_join)
            lefts.append(tl)
            rights.append(tr)
    li = np.concatenate(lefts) if lefts else np.zeros(0, np.int64)
    ri = np.concatenate(rights) if rights else np.zeros(0, np.int64)
    codes = unique_codes(li * max(n_right, 1) + ri)  # one int64 per pair: a radix sort
    li, ri = codes // max(n_right, 1), codes % max(n_right, 1)
    sims = _rowwise_sims(left, right, li, ri, reused)
    del reused
    twin = twin_flags(*twins, li, ri) if twins is not None else np.zeros(len(li), dtype=bool)
    frame = pl.DataFrame({"left_row": li, "right_row": ri, **sims, "twin": twin})
    stats = {
        "candidates": float(frame.height),
        "candidates_per_left": frame.height / max(n_left, 1),
        "blocks": float(len(groups)),
        "twin_pairs": float(twin.sum()),
    }
    logger.info(
        "blocking: %d candidate pairs (%.1f per left record)",
        frame.height,
        stats["candidates_per_left"],
    )
    return BlockingResult(pairs=frame, stats=stats)
