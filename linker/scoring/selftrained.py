"""The fast feature matcher: a logistic model over pair similarities, with or without labels.

With labels, :meth:`FastMatcher.fit` is plain (balanced) logistic regression. Without labels,
:meth:`FastMatcher.fit_unlabelled` trains on pseudo-labels that the candidate graph itself gives:

- *positives*: mutual best pairs (each side's best candidate is the other) whose lead over
  the runner-up is in the upper half of all such leads: almost surely true matches when most
  records have a match (linking two tables). In dedup most records are singletons, so many
  mutual best pairs are two strangers that happen to be each other's nearest; there the cut is
  also raised to the natural split of the leads (Otsu's two-group split), which keeps only the
  clearly separated pairs (measured on Febrl 2: ``benchmarks/results/overlap_notes.md``);
- *negatives*: every other candidate of those records. In a one-to-one linkage these are
  non-matches, and they are the hardest ones: the records that look most like the match.

The model thus learns where, for this data set, "looks like the match" ends and "looks like the
closest non-match" begins, which turns raw cosines of any scale into a probability with a
meaningful 0.5 (the default threshold).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.errors import InputError, NotFittedError

__all__ = ["FastMatcher", "mean_similarity", "pseudo_labels", "split_point"]

logger = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]


def _best_two(groups: npt.NDArray[np.int64], score: Vector) -> tuple[Vector, Vector]:
    """For each pair: the best and second-best score within its group (0 when none)."""
    from linker._kernels import group_best_two

    return group_best_two(groups, np.ascontiguousarray(score, dtype=np.float32))


def mean_similarity(features: pl.DataFrame) -> Vector:
    """Each pair's mean over its similarity features: the score before any model.

    Example:
        >>> mean_similarity(pl.DataFrame({"a": [1.0, 0.2], "b": [0.5, 0.4]})).tolist()
        [0.75, 0.30000001192092896]
    """
    step = 1_000_000  # rows per chunk: bounds the copy on millions of pairs
    parts = [
        features[i : i + step].to_numpy().astype(np.float32).mean(axis=1)
        for i in range(0, max(features.height, 1), step)
    ]
    return np.concatenate(parts).astype(np.float32)


def split_point(values: npt.NDArray[np.floating]) -> float:
    """Otsu's threshold: the cut that maximises the between-group variance of two groups.

    Example:
        >>> split_point(np.array([0.1, 0.12, 0.11, 0.8, 0.82]))
        0.46
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    if n < 2:
        return float(x[0]) if n else 0.0
    below = np.cumsum(x)[:-1]
    k = np.arange(1, n, dtype=np.float64)
    between = k * (n - k) * ((x.sum() - below) / (n - k) - below / k) ** 2
    i = int(np.argmax(between))
    return round(float((x[i] + x[i + 1]) / 2), 12)


def pseudo_labels(
    left_rows: npt.NDArray[np.int64],
    right_rows: npt.NDArray[np.int64],
    base: Vector,
    *,
    mostly_matched: bool = True,
) -> npt.NDArray[np.int8]:
    """Label candidate pairs 1 (confident match), 0 (confident non-match) or -1 (unknown).

    ``mostly_matched=False`` (dedup) also requires positives to lie above the natural split of
    the mutual pairs' leads (see the module docstring).

    Example:
        >>> import numpy as np
        >>> l = np.array([0, 0, 1, 1]); r = np.array([0, 1, 0, 1])
        >>> pseudo_labels(l, r, np.array([0.9, 0.2, 0.3, 0.8], dtype=np.float32)).tolist()
        [1, 0, 0, -1]
    """
    lb, l2 = _best_two(left_rows, base)
    rb, r2 = _best_two(right_rows, base)
    mutual = (base >= lb) & (base >= rb)
    margin = np.minimum(base - l2, base - r2)
    labels = np.full(len(base), -1, dtype=np.int8)
    if not mutual.any():
        return labels
    cut = max(float(np.median(margin[mutual])), 1e-6)
    if not mostly_matched:
        cut = max(cut, split_point(margin[mutual]))
    pos = mutual & (margin >= cut)
    # the other candidates of a positive's records (a mask per side: no sort of millions)
    has_left = np.zeros(int(left_rows.max()) + 1, dtype=bool)
    has_left[left_rows[pos]] = True
    has_right = np.zeros(int(right_rows.max()) + 1, dtype=bool)
    has_right[right_rows[pos]] = True
    neg = (has_left[left_rows] | has_right[right_rows]) & ~pos
    labels[neg] = 0
    labels[pos] = 1
    return labels


def _monotone_logistic(
    X: npt.NDArray[np.float64], y: npt.NDArray[np.float64], *, C: float
) -> tuple[npt.NDArray[np.float64], float]:
    """Class-balanced, L2-penalised logistic regression with non-negative weights.

    Every feature is a similarity, so more similarity must never lower the match
    probability: the weights are bounded below by 0 (L-BFGS-B). Unconstrained fits gave
    negative weights to correlated features (embedding cosine next to n-gram cosine on
    Febrl4) and missed true pairs that the constrained fit keeps.

    Runs with one BLAS thread: the products are small (tens of thousands of rows, a few
    dozen features) and L-BFGS-B's own steps tiny, so a BLAS thread pool only adds its
    start-up and spin-waits to each of the hundred-odd calls, many times the work itself on
    a busy machine; the fitted weights are the same up to rounding.
    """
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    n_pos, n_neg = max(float(y.sum()), 1.0), max(float(len(y) - y.sum()), 1.0)
    weight = np.where(y == 1, len(y) / (2 * n_pos), len(y) / (2 * n_neg))
    d = X.shape[1]

    def loss(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        w, b = theta[:d], theta[d]
        z = X @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.sum(weight * (np.logaddexp(0.0, z) - y * z)) + 0.5 / C * w @ w)
        g = weight * (p - y)
        return value, np.append(X.T @ g + w / C, g.sum())

    bounds = [(0.0, None)] * d + [(None, None)]
    with threadpool_limits(limits=1, user_api="blas"):
        res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    return np.asarray(res.x[:d], dtype=np.float64), float(res.x[d])


class FastMatcher:
    """Monotone logistic regression over pair similarity features, giving match probabilities.

    Args:
        C: Inverse regularisation strength.
        rounds: Self-training rounds of :meth:`fit_unlabelled`: each round re-labels the
            candidates with the previous round's scores (3 gained 1–2 points of top-1
            accuracy over 1 on Abt-Buy and Amazon-Google; more changed little).
        seed: Seed of the sample drawn when there are more than ``max_fit_pairs``
            pseudo-labelled pairs (the fit itself is deterministic, L-BFGS-B).
        max_fit_pairs: At most this many pseudo-labelled pairs are fitted on per round (a
            seeded sample; the labels themselves come from every candidate). Bounds the
            fit's time and memory on millions of candidates.

    Example:
        >>> import polars as pl
        >>> X = pl.DataFrame({"sim": [0.9, 0.8, 0.2, 0.1]})
        >>> m = FastMatcher().fit(X, [1, 1, 0, 0])
        >>> bool(m.predict_proba(X)[0] > 0.5)
        True
    """

    def __init__(
        self, *, C: float = 1.0, rounds: int = 3, seed: int = 0, max_fit_pairs: int = 500_000
    ):
        self.C = C
        self.rounds = rounds
        self.seed = seed
        self.max_fit_pairs = max_fit_pairs

    def fit(
        self, features: pl.DataFrame, labels: Sequence[int] | npt.NDArray[np.integer]
    ) -> FastMatcher:
        """Fit on labelled pairs (``1`` match, ``0`` non-match)."""
        y = np.asarray(labels, dtype=np.float64)
        if len(np.unique(y)) < 2:
            raise InputError(
                "FastMatcher.fit needs both matches (1) and non-matches (0) among the labels"
            )
        X = features.to_numpy().astype(np.float64)
        coef, intercept = _monotone_logistic(X, y, C=self.C)
        self.feature_names_ = list(features.columns)
        self.coef_ = coef.tolist()
        self.intercept_ = intercept
        self.n_train_ = {"matches": int((y == 1).sum()), "non_matches": int((y == 0).sum())}
        logger.info("fast matcher fitted on %s", self.n_train_)
        return self

    def fit_unlabelled(
        self,
        features: pl.DataFrame,
        left_rows: npt.NDArray[np.int64],
        right_rows: npt.NDArray[np.int64],
        *,
        mostly_matched: bool = True,
    ) -> FastMatcher:
        """Fit on pseudo-labels from the candidate graph (see the module docstring).

        ``mostly_matched``: ``True`` when most records have a match among the candidates
        (linking two tables), ``False`` for dedup, where most records are singletons.

        Falls back to the mean similarity as the score when too few confident pairs exist
        (fewer than 5 of either kind), and logs a warning saying so.
        """
        base = mean_similarity(features)
        rng = np.random.default_rng(self.seed)
        for round_ in range(max(self.rounds, 1)):
            labels = pseudo_labels(left_rows, right_rows, base, mostly_matched=mostly_matched)
            n_pos, n_neg = int((labels == 1).sum()), int((labels == 0).sum())
            if n_pos < 5 or n_neg < 5:
                if round_ == 0:
                    return self._mean_fallback(features, n_pos, n_neg)
                break
            known = np.flatnonzero(labels >= 0)
            if len(known) > self.max_fit_pairs:  # a seeded sample fits the same few weights
                known = np.sort(rng.choice(known, self.max_fit_pairs, replace=False))
            self.fit(features[known], labels[known])
            self.link_ = "logistic"
            base = self.predict_proba(features)
        return self

    def _mean_fallback(self, features: pl.DataFrame, n_pos: int, n_neg: int) -> FastMatcher:
        logger.warning(
            "only %d confident matches and %d confident non-matches: scoring by mean "
            "similarity (uncalibrated); train a matcher with labels for probabilities",
            n_pos,
            n_neg,
        )
        k = features.width
        self.feature_names_ = list(features.columns)
        self.coef_ = [1.0 / k] * k
        self.intercept_ = 0.0
        self.n_train_ = {"matches": n_pos, "non_matches": n_neg}
        self.link_ = "identity"
        return self

    def decision_function(self, features: pl.DataFrame) -> Vector:
        """The linear score before the link function."""
        if not hasattr(self, "coef_"):
            raise NotFittedError("FastMatcher used before fit: call fit or fit_unlabelled first")
        missing = [c for c in self.feature_names_ if c not in features.columns]
        if missing:
            raise InputError(
                f"features {missing} are missing; the matcher was fitted on {self.feature_names_}"
            )
        coef = np.asarray(self.coef_, dtype=np.float64)
        z: Vector = np.empty(features.height, np.float32)
        step = 1_000_000  # rows per chunk: bounds the float64 copy on millions of pairs
        for start in range(0, features.height, step):
            X = features[start : start + step].select(self.feature_names_).to_numpy()
            z[start : start + step] = X.astype(np.float64) @ coef + self.intercept_
        return z

    def predict_proba(self, features: pl.DataFrame) -> Vector:
        """Match probability of each pair, in ``[0, 1]``."""
        z = self.decision_function(features)
        if getattr(self, "link_", "logistic") == "identity":
            return np.clip(z, 0.0, 1.0).astype(np.float32)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def save(self, path: str | Path) -> None:
        """Write the fitted matcher as JSON."""
        state = {
            "type": "FastMatcher",
            "params": {"C": self.C, "rounds": self.rounds, "seed": self.seed},
            "feature_names": self.feature_names_,
            "coef": self.coef_,
            "intercept": self.intercept_,
            "link": getattr(self, "link_", "logistic"),
        }
        Path(path).write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> FastMatcher:
        """Read a matcher written by :meth:`save`."""
        state = json.loads(Path(path).read_text())
        m = cls(**state["params"])
        m.feature_names_, m.coef_ = state["feature_names"], state["coef"]
        m.intercept_, m.link_ = state["intercept"], state["link"]
        return m
