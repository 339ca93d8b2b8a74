"""The zero-label scorer: calibrated match probabilities without labels, at any overlap.

What every ``lk.merge`` without a trained matcher runs. Three parts:

1. **How many matches** (:class:`~linker.scoring.fellegi_sunter.FellegiSunter`): the expected
   number of matching pairs among all left x right pairs, with u from random pairs and the
   match side anchored to pairs that really agree. Tables that do not overlap give about none.
2. **A ranking learned on trusted pairs**: the monotone logistic model of
   :class:`~linker.scoring.selftrained.FastMatcher` over every pair similarity, plus two context
   features, each pair's lead over the best other candidate of its left and of its right
   record (a true match stands out from its record's other candidates; the best stranger
   does so much less). Its first positives are the mutual best pairs that the Fellegi-Sunter
   model also calls matches: when the tables overlap little, mutual best pairs are mostly
   strangers ("same city"), and they are not learned from. Later rounds take the mutual best
   pairs that the previous round's calibrated scores put at 0.5 or more. (Taking as many as
   the model estimates there are instead raised Abt-Buy's recall at full overlap from 0.767
   to 0.795 but cut the demo firms' precision from 0.985 to 0.939: the count includes sibling
   firms.)
3. **Calibration to the count**: the logistic's intercept is shifted so that the scores of
   all candidates add up to the expected number of matches (linking: each left record's
   scores count at most 1, one partner a record), downwards only: the count errs high where
   near-duplicates abound, so it may lower the self-trained model's scores when the tables
   overlap little, never raise them. The shift goes all the way to the count: a tolerance
   of two Poisson standard deviations let a 500 x 500 link at 5% overlap keep 40% more
   links than the count (sibling firms at one address, their own partner absent), and a
   small count is exactly where that matters. What protects recall at high overlap
   instead is the count itself: the prior on the match side weighs at most half a pair per
   left record (``prior_weight``), so in a small batch the data can move it (firms that
   moved agree on the name only, and a prior held by 500 pairs against a batch of 150
   records undercounted them).
   ``_score`` is then a probability whose 0.5 means about the same at full overlap and at
   none.

Without any trusted pair (tables that share no record), the Fellegi-Sunter posterior is the
score. Tables with fewer than ``SMALL`` possible pairs are too small to estimate anything from:
they get the plain self-trained model (mutual best pairs taken as matches, uncalibrated).
Records identical on every compared column (twins) are scored 1 by the pipeline and left out
of the fit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.errors import NotFittedError
from linker.scoring.fellegi_sunter import FellegiSunter, comparison_levels, value_groups
from linker.scoring.selftrained import FastMatcher, _best_two, mean_similarity, pseudo_labels

__all__ = ["CONTEXT_FEATURES", "ZeroLabelScorer", "context_features", "score_candidates"]

logger = logging.getLogger(__name__)

Rows = npt.NDArray[np.int64]
Vector = npt.NDArray[np.float32]
CONTEXT_FEATURES = ("lead_left", "lead_right")
# Below this many possible pairs (about 45 x 45 records) random pairs cannot show what
# strangers look like, nor can the count of matches be estimated: such toy tables get the
# plain self-trained model of FastMatcher.fit_unlabelled (mutual best pairs as matches).
SMALL = 2_000


def context_features(base: Vector, left_rows: Rows, right_rows: Rows) -> dict[str, Vector]:
    """Each pair's lead in ``base`` over the best *other* candidate of its left / right record.

    Positive for a record's best candidate, negative for the others; a record with one
    candidate leads by its own score.

    Example:
        >>> import numpy as np
        >>> f = context_features(np.array([0.9, 0.3, 0.4], dtype=np.float32),
        ...                      np.array([0, 0, 1]), np.array([0, 1, 0]))
        >>> [round(float(x), 2) for x in f["lead_left"]]
        [0.6, -0.6, 0.4]
        >>> [round(float(x), 2) for x in f["lead_right"]]
        [0.5, 0.3, -0.5]
    """
    out: dict[str, Vector] = {}
    score = np.ascontiguousarray(base, dtype=np.float32)
    for name, rows in zip(CONTEXT_FEATURES, (left_rows, right_rows), strict=True):
        best, second = _best_two(rows, score)
        other = np.where(score >= best, second, best)
        out[name] = np.clip(score - other, -1.0, 1.0).astype(np.float32)
    return out


def _shift(z: npt.NDArray[np.float64], total: float, rows: Rows | None = None) -> float:
    """The intercept shift ``b`` with ``sum(sigmoid(z + b)) == total``.

    With ``rows`` (each pair's left record), each record's sum counts at most 1: the scores
    then make ``total`` left records likely to have a partner, as in ``estimated_matches``.
    The sum rises with ``b``, so Newton steps inside a shrinking bracket find it (a dozen
    passes over the scores, where plain bisection took 80).

    Example:
        >>> z = np.array([2.0, 0.0, -2.0])
        >>> b = _shift(z, 1.0)
        >>> round(float(np.sum(1 / (1 + np.exp(-(z + b))))), 6)
        1.0
    """
    if total <= 0.0:
        return -60.0
    if total >= (len(z) if rows is None else np.count_nonzero(np.bincount(rows))):
        return 60.0  # out of reach: as high as the scores go
    lo, hi, b = -60.0, 60.0, 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z + b, -60, 60)))
        dp = p * (1.0 - p)
        if rows is None:
            s, slope = float(p.sum()), float(dp.sum())
        else:
            per = np.bincount(rows, weights=p)
            open_ = per < 1.0  # records past 1 no longer move the count
            s = float(np.minimum(per, 1.0).sum())
            slope = float(np.bincount(rows, weights=dp)[open_].sum())
        if abs(s - total) <= 1e-9 * max(total, 1.0):
            return b
        lo, hi = (b, hi) if s < total else (lo, b)
        step = b + (total - s) / slope if slope > 0 else np.nan
        b = step if lo < step < hi else (lo + hi) / 2
        if hi - lo < 1e-12:
            break
    return b


class ZeroLabelScorer:
    """Match probabilities for candidate pairs without labels (see the module docstring).

    Args:
        rounds: Self-training rounds (the first learns from the anchored pairs).
        seed: Seed of the sample fitted on when there are many pairs.
        max_fit_pairs: At most this many pseudo-labelled pairs are fitted on per round (a
            seeded sample: the labels and the scores still cover every candidate). The model
            has a few dozen weights; past about 150,000 pairs more of them only cost time.
        prior_weight: Weight of the Fellegi-Sunter model's prior on the match side, in
            pairs; at most half a pair per left record is used (a batch of 150 records
            could otherwise never outweigh it).

    Example:
        >>> import numpy as np, polars as pl
        >>> rng = np.random.default_rng(0)
        >>> li = np.repeat(np.arange(50), 4); ri = (li + np.tile([0, 7, 13, 21], 50)) % 50
        >>> same = (li == ri)
        >>> sim = np.where(same, 0.95, rng.uniform(0.1, 0.5, 200)).astype(np.float32)
        >>> X = pl.DataFrame({"name_ratio": sim, "name_token_set_ratio": sim})
        >>> rl, rr = rng.integers(0, 50, 2000), rng.integers(0, 50, 2000)
        >>> R = pl.DataFrame({"name_ratio": np.where(rl == rr, 0.95, rng.uniform(0, .5, 2000)),
        ...                   "name_token_set_ratio": np.full(2000, 0.3)})
        >>> s = ZeroLabelScorer().fit(X, li, ri, random=R, n_pairs=2500, names=["name"])
        >>> p = s.predict_proba(X, li, ri)
        >>> bool(p[same].min() > 0.5), bool(p[~same].max() < 0.5)
        (True, True)
    """

    def __init__(
        self,
        *,
        rounds: int = 3,
        seed: int = 0,
        max_fit_pairs: int = 150_000,
        prior_weight: float = 500.0,
    ):
        self.rounds = rounds
        self.seed = seed
        self.max_fit_pairs = max_fit_pairs
        self.prior_weight = prior_weight

    def fit(
        self,
        features: pl.DataFrame,
        left_rows: Rows,
        right_rows: Rows,
        *,
        random: pl.DataFrame,
        n_pairs: float,
        names: list[str],
        mostly_matched: bool = True,
        groups: list[list[str]] | None = None,
    ) -> ZeroLabelScorer:
        """Fit on the candidates' features and those of a uniform sample of all pairs.

        Args:
            features: One row of similarities per candidate pair (no row numbers).
            left_rows: Left row of each candidate.
            right_rows: Right row of each candidate.
            random: The per-column similarities of random pairs (``<name>_ratio`` and
                ``<name>_token_set_ratio`` for each of ``names``).
            n_pairs: All possible pairs (``n_left * n_right``; ordered pairs in dedup).
            names: The compared columns' short names, as in the feature names.
            mostly_matched: ``False`` for dedup (see
                :func:`~linker.scoring.selftrained.pseudo_labels`).
            groups: Correlated columns (see
                :meth:`~linker.scoring.fellegi_sunter.FellegiSunter.fit`).
        """
        self.names_ = names
        self.feature_names_ = list(features.columns)
        self.shift_ = 0.0
        self.fs_: FellegiSunter | None = None
        self.model_: FastMatcher | None = None
        if n_pairs < SMALL:
            self.model_ = FastMatcher(seed=self.seed).fit_unlabelled(
                features, left_rows, right_rows, mostly_matched=mostly_matched
            )
            self.expected_ = float(np.sum(self.model_.predict_proba(features)))
            self.prior_ = self.expected_ / max(n_pairs, 1.0)
            return self
        cand = comparison_levels({c: features[c].to_numpy() for c in features.columns}, names)
        rand = comparison_levels({c: random[c].to_numpy() for c in random.columns}, names)
        weight = min(self.prior_weight, 0.5 * len(np.unique(left_rows)))
        fs = FellegiSunter(prior_weight=weight).fit(cand, rand, n_pairs=n_pairs, groups=groups)
        self.fs_, self.expected_, self.prior_ = fs, fs.expected_matches_, fs.prior_
        anchor = fs.posterior(cand) >= 0.5
        base = mean_similarity(features)
        X = self.design(features, left_rows, right_rows, base=base)
        rng = np.random.default_rng(self.seed)
        for round_ in range(max(self.rounds, 1)):
            labels = pseudo_labels(left_rows, right_rows, base, mostly_matched=mostly_matched)
            labels[(labels == 1) & ~(anchor if round_ == 0 else base >= 0.5)] = -1
            n_pos, n_neg = int((labels == 1).sum()), int((labels == 0).sum())
            if n_pos < 5 or n_neg < 5:
                logger.info("round %d: %d trusted matches, %d non-matches", round_, n_pos, n_neg)
                break
            known = np.flatnonzero(labels >= 0)
            if len(known) > self.max_fit_pairs:
                known = np.sort(rng.choice(known, self.max_fit_pairs, replace=False))
            model = FastMatcher().fit(X[known], labels[known])
            z = model.decision_function(X).astype(np.float64)
            rows = left_rows if mostly_matched else None  # linking: one partner a record
            self.model_, self.shift_ = model, min(0.0, _shift(z, self.expected_, rows))
            base = (1.0 / (1.0 + np.exp(-np.clip(z + self.shift_, -60, 60)))).astype(np.float32)
        if self.model_ is None:
            logger.info("no trusted matches: scoring by the Fellegi-Sunter posterior")
        return self

    def _check(self) -> None:
        if not hasattr(self, "fs_"):
            raise NotFittedError("ZeroLabelScorer used before fit: call fit first")

    def decision_function(
        self, features: pl.DataFrame, left_rows: Rows, right_rows: Rows
    ) -> npt.NDArray[np.float64]:
        """Log-odds of a match per pair (shift included)."""
        self._check()
        if self.model_ is None:
            assert self.fs_ is not None  # fitted: one of the two exists
            return self.fs_.log_odds(self._levels(features))
        X = self.design(features, left_rows, right_rows)
        return self.model_.decision_function(X).astype(np.float64) + self.shift_

    def design(
        self,
        features: pl.DataFrame,
        left_rows: Rows,
        right_rows: Rows,
        *,
        base: Vector | None = None,
    ) -> pl.DataFrame:
        """The model's inputs: the features plus the context features of their mean (``base``,
        when the caller has it already)."""
        features = features.select(self.feature_names_)
        if self.fs_ is None:  # small tables: the plain self-trained model
            return features
        base = mean_similarity(features) if base is None else base
        ctx = context_features(base, left_rows, right_rows)
        return features.with_columns(**{k: pl.Series(k, v) for k, v in ctx.items()})

    def _levels(self, features: pl.DataFrame) -> Mapping[str, npt.NDArray[np.int8]]:
        cols = {c: features[c].to_numpy() for c in features.columns}
        return comparison_levels(cols, self.names_)

    def explain(self, features: pl.DataFrame, left_rows: Rows, right_rows: Rows) -> pl.DataFrame:
        """Per-feature contributions to each pair's log-odds of a match.

        Returns a long frame: ``pair`` (row number in ``features``), ``feature``, ``value``
        (the similarity; null for the prior) and ``contribution`` (natural log-odds). The
        first row of each pair is ``prior``: the intercept, shifted so the scores add up to
        the estimated number of matches; the contributions of a pair add up to its log-odds,
        ``score = 1 / (1 + exp(-sum))``. Without trusted matches (scored by the
        Fellegi-Sunter model) the features are the compared columns, each with its
        comparison level's log(m/u), correlated columns as one group.
        """
        self._check()
        n = features.height
        names: list[str] = []
        values: list[npt.NDArray[np.float64]] = []
        contrib: list[npt.NDArray[np.float64]] = []
        if self.model_ is not None:
            X = self.design(features, left_rows, right_rows)
            prior = float(self.model_.intercept_) + self.shift_
            for name, w in zip(self.model_.feature_names_, self.model_.coef_, strict=True):
                x = X[name].to_numpy().astype(np.float64)
                names.append(name)
                values.append(x)
                contrib.append(w * x)
        else:
            assert self.fs_ is not None  # fitted: one of the two exists
            levels = self._levels(features)
            prior = float(np.log(self.fs_.prior_ / (1 - self.fs_.prior_)))
            for group, part in self.fs_.group_log_ratios(levels).items():
                names.append(group)
                values.append(np.full(n, np.nan))
                contrib.append(part)
        pair = np.arange(n, dtype=np.int64)
        frames = [
            pl.DataFrame({"pair": pair, "feature": "prior", "value": None, "contribution": prior},
                         schema_overrides={"value": pl.Float64})
        ] + [
            pl.DataFrame({"pair": pair, "feature": name, "value": v, "contribution": c})
            for name, v, c in zip(names, values, contrib, strict=True)
        ]  # fmt: skip
        out = pl.concat(frames).with_columns(pl.col("value").fill_nan(None))
        order = {name: i for i, name in enumerate(["prior", *names])}
        return out.sort(pl.col("pair"), pl.col("feature").replace_strict(order))

    def estimates(self, left_rows: Rows, scores: npt.NDArray[np.floating]) -> dict[str, float]:
        """What the model believes about the match count, for ``LinkResult.stats``.

        ``estimated_matches``: left records believed to have a partner (each record's
        scores summed, at most 1); ``expected_pairs``: the Fellegi-Sunter model's expected
        number of matching pairs; ``match_prior``: its estimated share of all pairs that
        match.
        """
        self._check()
        per_left = np.bincount(left_rows, weights=np.asarray(scores, dtype=np.float64))
        return {
            "estimated_matches": float(np.minimum(per_left, 1.0).sum()),
            "expected_pairs": float(self.expected_),
            "match_prior": float(self.prior_),
        }

    def predict_proba(self, features: pl.DataFrame, left_rows: Rows, right_rows: Rows) -> Vector:
        """Match probability of each candidate pair."""
        if self.fs_ is None and self.model_ is not None:  # small tables (its link function)
            return self.model_.predict_proba(features.select(self.feature_names_))
        z = self.decision_function(features, left_rows, right_rows)
        return (1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))).astype(np.float32)


def score_candidates(
    features: pl.DataFrame,
    left_rows: Rows,
    right_rows: Rows,
    *,
    left_columns: list[pl.Series],
    right_columns: list[pl.Series],
    names: list[str],
    twin: npt.NDArray[np.bool_] | None = None,
    self_join: bool = False,
    seed: int = 0,
    n_random: int = 200_000,
) -> tuple[Vector, ZeroLabelScorer | None]:
    """Fit a :class:`ZeroLabelScorer` on the candidates and score them (twins score 1).

    Random pairs (``n_random``, seeded, at most all pairs) give the non-match side; in
    dedup a record is never paired with itself. Linking two tables, the correlated columns
    come from each table's records
    (:func:`~linker.scoring.fellegi_sunter.value_groups`).

    Returns:
        The probability of each candidate, and the fitted scorer (for explanations; ``None``
        when there was nothing to fit: no pairs, or twins only).
    """
    from linker.scoring.features import code_features, column_features, digit_features

    n_left, n_right = len(left_columns[0]), len(right_columns[0])
    n_pairs = float(n_left * (n_left - 1)) if self_join else float(n_left * n_right)
    rng = np.random.default_rng(seed)
    size = int(min(n_random, max(n_pairs, 1)))
    rl = rng.integers(0, n_left, size)
    rr = rng.integers(0, n_right, size)
    groups = None
    if self_join:
        # in dedup the random pairs hold the clusters' pairs, and many are not mutual best:
        # the mutual best candidates (the likely duplicates) are left out, and so is a record
        # paired with itself
        base = mean_similarity(features)
        lb, _ = _best_two(left_rows, base)
        rb, _ = _best_two(right_rows, base)
        mutual = (base >= lb) & (base >= rb)
        likely = np.unique(left_rows[mutual] * n_right + right_rows[mutual])
        keep = ~np.isin(rl * n_right + rr, likely) & (rl != rr)
        rl, rr = rl[keep], rr[keep]
    else:
        # linking, no rule leaves random pairs out: the non-matches that look most alike
        # (sibling firms at one address) are what u must know about, and the Fellegi-Sunter
        # fit itself drops the few it calls matches; the correlated columns come from each
        # table's own records, which are not matches
        groups = value_groups([left_columns, right_columns], names, seed=seed)
    random = pl.DataFrame(
        column_features(left_columns, right_columns, rl, rr, names=names)
        | digit_features(left_columns, right_columns, rl, rr, names=names)
        | code_features(left_columns, right_columns, rl, rr, names=names)
    )
    scorer = ZeroLabelScorer(seed=seed)
    if twin is not None and twin.any():  # twins are scored 1 below, and not fitted on
        fit_rows = np.flatnonzero(~twin)
        fit = (features[fit_rows], left_rows[fit_rows], right_rows[fit_rows])
    else:  # no copy of what may be millions of pairs
        fit = (features, left_rows, right_rows)
    if fit[0].height:
        scorer.fit(
            *fit,
            random=random,
            n_pairs=n_pairs,
            names=names,
            mostly_matched=not self_join,
            groups=groups,
        )
        proba = scorer.predict_proba(features, left_rows, right_rows)
    else:  # every candidate is a twin, or there is no pair at all: nothing to fit
        proba = np.zeros(features.height, np.float32)
    if twin is not None:
        proba[twin] = 1.0
    return proba, (scorer if hasattr(scorer, "names_") else None)
