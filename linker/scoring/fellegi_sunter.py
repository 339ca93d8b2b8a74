"""How many candidate pairs match: a Fellegi-Sunter model with the prior estimated, not assumed.

The zero-label scorer (:mod:`linker.scoring.zero_label`) needs two things no pair feature
gives: the *number* of true matches (so that ``_score`` is a probability at any overlap, down
to none) and a set of pairs it can trust as matches to learn from. Both come from this model:

- **Comparison levels.** Each compared column of a pair gets a level from the mean of its two
  similarities (rapidfuzz ``ratio`` and ``token_set_ratio``): exact (>= 0.999), close
  (>= 0.9), similar (>= 0.75), weak (>= 0.55), different, or missing (a side is empty; such a
  column is no evidence either way).
- **u, the non-match side, from random pairs** (Splink's ``estimate_u_using_random_sampling``):
  a uniform sample of left x right pairs is almost all non-matches, and shows how often
  strangers agree on each column. Linking two tables, no rule leaves any of them out: the pairs
  that agree most among them are mostly the non-matches that look most alike (a sibling firm at
  the same address), which are exactly what u must know about; only after a first fit do the
  pairs that this model itself calls matches (the sample's few true matches) leave it.
- **Correlated columns as one piece of evidence.** City, state, zip and a street address agree
  together: scored as independent they give strangers in one town about +21 bits (Splink on the
  demo firms). Linking two tables, columns are grouped when, among the records of one table
  (pairs that are not matches), sharing a value of one makes sharing the other's both likely
  and far likelier than chance: :func:`value_groups` (a street address within a zip code
  within a city). A group's u is the Fréchet upper bound, the smallest of its columns' u: a
  pair agreeing on the street agrees on the zip too, so the zip adds nothing (a group's joint
  level patterns are too many to count among random pairs: most are never seen there).
  Without the tables (dedup, or a caller with levels only), :func:`_groups` tests the random
  pairs.
- **m, the match side, anchored.** Left free, EM at low overlap fits its "match" class on the
  best non-matches (on the demo at f = 0 it learned that an exact name is rare among matches).
  Here each column's m starts from a prior (a match agrees exactly or closely on most
  columns, disagrees on few) held with the weight of ``prior_weight`` pairs: with many matches
  the data outweigh it, with none it stays where agreement means a match.
- **The prior λ** (the share of all left x right pairs that match) is estimated by EM over
  every pair, the pairs outside the candidates counting as non-matches.

Its own ranking of pairs is coarse (five levels a column; no word weights), so the scorer
learns its ranking elsewhere and takes from here the count of matches and the anchor pairs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.errors import NotFittedError

__all__ = ["LEVEL_NAMES", "FellegiSunter", "comparison_levels", "value_groups"]

logger = logging.getLogger(__name__)

Levels = Mapping[str, npt.NDArray[np.int8]]
_CUTS = np.array([0.999, 0.9, 0.75, 0.55])
LEVEL_NAMES = ("exact", "close", "similar", "weak", "different", "missing")
MISSING_LEVEL = 5
_N = len(LEVEL_NAMES)
_LIKELY = 0.5
# A match's level on a column it has on both sides: mostly exact or close (typos, abbreviations
# and formats move it down), sometimes different (a moved firm, a new phone number).
_PRIOR_M = np.array([0.55, 0.2, 0.12, 0.08, 0.05])
# Two strangers' level on a column, before the random pairs say otherwise (tiny tables only).
_PRIOR_U = np.array([0.001, 0.001, 0.005, 0.03, 0.963, 0.0])


def comparison_levels(
    features: Mapping[str, npt.NDArray[np.floating]], names: Sequence[str]
) -> dict[str, npt.NDArray[np.int8]]:
    """Each column's comparison level per pair (0 exact .. 4 different, 5 missing).

    ``features`` holds ``<name>_ratio`` and ``<name>_token_set_ratio`` per column, as
    :func:`linker.scoring.features.column_features` makes them; both at exactly ``0.5`` (its value
    for an empty side) reads as missing. A column of digits with ``<name>_digits``
    (:func:`linker.scoring.features.digit_features`) is exact or different by its digits alone; a
    column with ``<name>_codes`` (:func:`linker.scoring.features.code_features`) adds the comparison
    ``<name>_codes``: model codes shared (exact) or not (different).

    Example:
        >>> import numpy as np
        >>> f = {"name_ratio": np.array([1.0, 0.8, 0.5]),
        ...      "name_token_set_ratio": np.array([1.0, 1.0, 0.5])}
        >>> comparison_levels(f, ["name"])["name"].tolist()
        [0, 1, 5]
    """
    out: dict[str, npt.NDArray[np.int8]] = {}
    for name in names:
        a = np.asarray(features[f"{name}_ratio"], dtype=np.float64)
        b = np.asarray(features[f"{name}_token_set_ratio"], dtype=np.float64)
        level = np.searchsorted(-_CUTS, -(a + b) / 2, side="left").astype(np.int8)
        level[(a == 0.5) & (b == 0.5)] = MISSING_LEVEL
        digits = features.get(f"{name}_digits")
        if digits is not None:  # a phone, a postcode, a year: the digits agree or they do not
            d = np.asarray(digits)
            level = np.where(d == 1.0, 0, np.where(d == 0.0, 4, MISSING_LEVEL)).astype(np.int8)
        out[name] = level
        codes = features.get(f"{name}_codes")
        if codes is not None:  # model codes shared, or not: one more comparison
            c = np.asarray(codes)
            out[f"{name}_codes"] = np.where(
                c == 1.0, 0, np.where(c == 0.0, 4, MISSING_LEVEL)
            ).astype(np.int8)
    return out


def _groups(random: Levels, names: Sequence[str], *, lift: float = 10.0) -> list[list[str]]:
    """Columns whose agreement is correlated among random non-matching pairs, joined."""
    n = len(next(iter(random.values())))
    agree = {c: random[c] <= 2 for c in names}
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            x, y = agree[a], agree[names[j]]
            both = int((x & y).sum())
            if both >= 20 and both * n > lift * int(x.sum()) * int(y.sum()):
                parent[root(j)] = root(i)
    groups: dict[int, list[str]] = {}
    for i, c in enumerate(names):
        groups.setdefault(root(i), []).append(c)
    return list(groups.values())


def _shared_pairs(frame: pl.DataFrame, columns: list[str]) -> int:
    """Row pairs of ``frame`` with equal values in all of ``columns``."""
    counts = frame.group_by(columns).len()["len"].to_numpy().astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def value_groups(
    tables: Sequence[Sequence[pl.Series]],
    names: Sequence[str],
    *,
    lift: float = 10.0,
    share: float = 0.5,
    max_rows: int = 200_000,
    seed: int = 0,
) -> list[list[str]]:
    """Columns that vary together among the records of each table (not matches), joined.

    Two columns are joined when, over the pairs of records of one table that both have a
    value in both columns, sharing the value of one goes with sharing the other's: at least
    ``share`` of the pairs sharing one share the other (a street address lies in one zip
    code), and that is at least ``lift`` times more often than chance, on at least one pair per
    hundred records (and 3): a few records that happen to share two values (two firms of one
    name in one town) say nothing about the rest. Rows equal on every column count once (a
    chain's stores are one record here). The tables' counts are added up; each table is
    sampled to at most ``max_rows`` rows.

    Args:
        tables: Per table, one cleaned text Series per compared column (``""`` when empty),
            in the order of ``names``.
        names: The compared columns' short names.
        lift: How much likelier than chance sharing both must be.
        share: The share of pairs sharing one column's value that must share the other's.
        max_rows: Rows sampled per table (seeded) when it has more.
        seed: Seed of that sample.

    Example:
        >>> import polars as pl
        >>> city = pl.Series([c for c in "abcdefgh" for _ in range(4)])
        >>> zip_ = pl.Series([f"{c}{i % 2}" for c in "abcdefgh" for i in range(4)])
        >>> name = pl.Series([f"firm {i}" for i in range(32)])
        >>> value_groups([[name, city, zip_]], ["name", "city", "zip"])
        [['name'], ['city', 'zip']]
    """
    k = len(names)
    counts = {(i, j): np.zeros(5) for i in range(k) for j in range(i + 1, k)}
    for columns in tables:
        frame = pl.DataFrame({f"c{i}": col for i, col in enumerate(columns)}).unique()
        if frame.height > max_rows:
            frame = frame.sample(max_rows, seed=seed)
        for (i, j), total in counts.items():
            a, b = f"c{i}", f"c{j}"
            both = frame.select(a, b).filter((pl.col(a) != "") & (pl.col(b) != ""))
            n = both.height
            total += [n, n * (n - 1) // 2, _shared_pairs(both, [a]), _shared_pairs(both, [b]),
                      _shared_pairs(both, [a, b])]  # fmt: skip
    parent = list(range(k))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for (i, j), (rows, pairs, one, other, together) in counts.items():
        if (
            together >= max(3, rows / 100)
            and together >= share * min(one, other)
            and (together * pairs >= lift * one * other)
        ):
            parent[root(j)] = root(i)
    groups: dict[int, list[str]] = {}
    for i, c in enumerate(names):
        groups.setdefault(root(i), []).append(c)
    return list(groups.values())


def _patterns(levels: Levels, names: Sequence[str]) -> tuple[Levels, npt.NDArray[np.float64]]:
    """The distinct level patterns of ``levels`` (one per pair) and how many pairs show each.

    Example:
        >>> lv = {"a": np.array([0, 0, 4], np.int8), "b": np.array([1, 1, 1], np.int8)}
        >>> pat, count = _patterns(lv, ["a", "b"])
        >>> pat["a"].tolist(), pat["b"].tolist(), count.tolist()
        ([0, 4], [1, 1], [2.0, 1.0])
    """
    n = len(levels[names[0]])
    if n == 0:
        return {c: levels[c][:0] for c in names}, np.zeros(0)
    if len(names) <= 24:  # 6**24 < 2**63: one integer key per pattern
        key = np.zeros(n, np.int64)
        for c in names:
            key = key * _N + levels[c].astype(np.int64)
        _, first, count = np.unique(key, return_index=True, return_counts=True)
    else:
        stacked = np.stack([levels[c] for c in names], axis=1)
        _, first, count = np.unique(stacked, axis=0, return_index=True, return_counts=True)
    return {c: levels[c][first] for c in names}, count.astype(np.float64)


class FellegiSunter:
    """Unsupervised Fellegi-Sunter model: u from random pairs, anchored m, prior by EM.

    Args:
        prior_weight: How many pairs the prior on m weighs (see the module docstring).
        smoothing: Pseudo-count of pairs pulling each column's u towards strangers' usual
            levels (decides only when the sample of random pairs is tiny).
        max_iter: EM iterations at most.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> random = {"name": rng.choice([3, 4], 5000, p=[0.02, 0.98]).astype(np.int8)}
        >>> cand = {"name": np.array([0] * 40 + [4] * 360, dtype=np.int8)}
        >>> fs = FellegiSunter().fit(cand, random, n_pairs=200 * 200)
        >>> round(fs.expected_matches_)
        40
    """

    def __init__(
        self, *, prior_weight: float = 500.0, smoothing: float = 20.0, max_iter: int = 100
    ):
        self.prior_weight = prior_weight
        self.smoothing = smoothing
        self.max_iter = max_iter

    def fit(
        self,
        candidates: Levels,
        random: Levels,
        *,
        n_pairs: float,
        groups: Sequence[Sequence[str]] | None = None,
    ) -> FellegiSunter:
        """Estimate u, m and the prior from the candidates' and random pairs' levels.

        Args:
            candidates: Levels of the candidate pairs, per column.
            random: Levels of a uniform sample of all pairs, per column.
            n_pairs: How many pairs there are in all (``n_left * n_right``).
            groups: The correlated columns, when the caller knows them (linking two tables:
                :func:`value_groups`); comparisons in no group stand alone. Then every random
                pair counts towards u, and after a first fit the pairs that this model calls
                matches leave it before the final fit. Without them, the random pairs that
                agree on most of three or more columns are taken for matches and left out
                (in dedup a cluster's pairs are many among them), and the groups come from
                the rest (:func:`_groups`).
        """
        names = list(candidates)
        given = groups is not None
        if groups is None:
            agree = sum((random[c] <= 2).astype(np.int64) for c in names)
            stranger = np.asarray(agree <= max(2, len(names) // 2))
            random = {c: random[c][stranger] for c in names}
            groups = _groups(random, names)
        grouped = {c for g in groups for c in g}
        self.groups_ = [[c for c in g if c in candidates] for g in groups]
        self.groups_ = [g for g in self.groups_ if g] + [[c] for c in names if c not in grouped]
        self.names_ = names
        self.n_pairs_ = float(n_pairs)
        self._estimate_u(random)
        self._em(candidates)
        if given:  # the sample's own likely matches, by this model, leave u; then refit
            strangers = self.posterior(random) < _LIKELY
            self._estimate_u({c: random[c][strangers] for c in names})
            self._em(candidates)
        logger.info(
            "Fellegi-Sunter: groups %s, prior %.3g, %.1f expected matching pairs (%d iterations)",
            self.groups_, self.prior_, self.expected_matches_, self.iterations_,
        )  # fmt: skip
        return self

    def _estimate_u(self, random: Levels) -> None:
        """Each column's u: the random pairs' levels, pulled towards strangers' usual levels
        with the weight of ``smoothing`` pairs (decides only when the sample is tiny)."""
        n_random = len(next(iter(random.values())))
        prior = self.smoothing * _PRIOR_U + 0.01
        marg = {c: (np.bincount(random[c], minlength=_N) + prior) / (n_random + prior.sum())
                for c in self.names_}  # fmt: skip
        self.u_marginal_ = {c: marg[c].tolist() for c in self.names_}
        self.n_random_ = n_random

    def _em(self, candidates: Levels) -> None:
        """m (anchored) and the prior by EM over every pair, given u.

        Pairs with the same levels on every column have the same posterior, so the EM runs
        over the distinct level patterns (a few thousand, where there may be millions of
        pairs), each weighted by how many pairs show it: the same sums, far fewer terms.
        """
        n_pairs = self.n_pairs_
        patterns, count = _patterns(candidates, self.names_)
        self.m_ = {c: _PRIOR_M.tolist() for c in self.names_}
        log_u = self._log_u(patterns)
        lam = min(0.5, 0.5 * np.sqrt(n_pairs) / n_pairs)
        post = np.zeros(len(log_u))
        for it in range(self.max_iter):  # noqa: B007 - reported after the loop
            lo = np.log(lam / (1 - lam)) + self._log_m(patterns) - log_u
            post = count / (1.0 + np.exp(-np.clip(lo, -50, 50)))  # expected matches per pattern
            new = min(max(float(post.sum()) / n_pairs, 1e-12), 0.5)
            for c in self.names_:
                lv = np.minimum(patterns[c], MISSING_LEVEL).astype(np.int64)
                w = np.bincount(lv, weights=post, minlength=_N)[: _N - 1]
                m = (w + self.prior_weight * _PRIOR_M) / (w.sum() + self.prior_weight)
                self.m_[c] = m.tolist()
            done = abs(new - lam) <= 1e-4 * lam
            lam = new
            if done:
                break
        self.prior_ = lam
        self.expected_matches_ = float(post.sum())
        self.iterations_ = it + 1

    def _check(self) -> None:
        if not hasattr(self, "m_"):
            raise NotFittedError("FellegiSunter used before fit: call fit first")

    def _log_u_group(self, levels: Levels, i: int) -> npt.NDArray[np.float64]:
        """log u of group ``i``: the smallest of its columns' u (the Fréchet upper bound)."""
        group = self.groups_[i]
        out = np.zeros(len(levels[group[0]]))
        for c in group:
            u = np.asarray(self.u_marginal_[c])[levels[c].astype(np.int64)]
            out = np.minimum(out, np.log(u))
        return out

    def _log_m_column(self, levels: Levels, c: str) -> npt.NDArray[np.float64]:
        """log m of column ``c``; a missing value counts as u's missing share (no evidence)."""
        lv = levels[c].astype(np.int64)
        m = np.log(np.append(np.asarray(self.m_[c]), 1.0))  # the 1.0 is never used
        out: npt.NDArray[np.float64] = np.where(
            lv == MISSING_LEVEL, np.log(self.u_marginal_[c][MISSING_LEVEL]), m[lv]
        )
        return out

    def _log_m(
        self, levels: Levels, columns: Sequence[str] | None = None
    ) -> npt.NDArray[np.float64]:
        out = np.zeros(len(levels[self.names_[0]]))
        for c in self.names_ if columns is None else columns:
            out += self._log_m_column(levels, c)
        return out

    def _log_u(self, levels: Levels) -> npt.NDArray[np.float64]:
        out = np.zeros(len(levels[self.names_[0]]))
        for i in range(len(self.groups_)):
            out += self._log_u_group(levels, i)
        return out

    def group_log_ratios(self, levels: Levels) -> dict[str, npt.NDArray[np.float64]]:
        """Each column group's log(m/u) per pair, named ``a+b`` for a group of a and b."""
        self._check()
        return {
            "+".join(g): self._log_m(levels, g) - self._log_u_group(levels, i)
            for i, g in enumerate(self.groups_)
        }

    def log_odds(self, levels: Levels, *, prior: float | None = None) -> npt.NDArray[np.float64]:
        """Posterior log-odds of a match for each pair (the estimated prior, or ``prior``)."""
        self._check()
        lam = self.prior_ if prior is None else prior
        out: npt.NDArray[np.float64] = np.log(lam / (1 - lam)) + self._log_m(levels)
        return out - self._log_u(levels)

    def posterior(self, levels: Levels) -> npt.NDArray[np.float64]:
        """Match probability of each pair under this model."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.log_odds(levels), -50, 50)))

    def best_possible(self) -> float:
        """The probability of a pair exact on every column if the tables overlapped fully.

        With the prior of one partner per record (``1 / sqrt(n_pairs)``), not the estimated
        one: below 0.5, these columns cannot link anything whatever the overlap.
        """
        self._check()
        levels = {c: np.zeros(1, np.int8) for c in self.names_}
        lo = self.log_odds(levels, prior=min(0.5, 1.0 / np.sqrt(self.n_pairs_)))
        return float(1.0 / (1.0 + np.exp(-np.clip(lo[0], -50, 50))))
