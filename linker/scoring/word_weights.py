"""Which words matter: a logistic model over the words two records share and the words they don't.

Similarity scores treat every word alike, but labels say more: on Amazon-Google, "upgrade"
on one side only, or "mac" against "win", means another product however similar the titles
are. :class:`TokenDiffModel` learns one weight per word for "both records have it"
(``s:word``) and one for "only one has it" (``d:word``), an L2-regularised logistic
regression on the training pairs. The boosted matcher reads its log-odds as one more
feature; on the training pairs it reads out-of-fold log-odds (each pair scored by a model
fitted without its fold), so the trees do not learn to trust a score that has seen their
labels. On ER-Magellan it raised Amazon-Google's test F1 from 66.5 to 72.6 (valid 70.9 ->
73.6; ``benchmarks/results/er_magellan.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["TokenDiffModel"]

Words = frozenset[str]


def _bag(a: Words, b: Words) -> list[str]:
    return [f"s:{w}" for w in a & b] + [f"d:{w}" for w in a ^ b]


class TokenDiffModel:
    """Logistic regression on the shared (``s:``) and one-sided (``d:``) words of a pair.

    Args:
        C: Inverse L2 strength (scikit-learn's ``C``; 0.3 had the best validation F1 of 0.3,
            1 and 3 on Amazon-Google and Abt-Buy).
        folds: Folds of the out-of-fold scores of the training pairs.
        seed: Seed of the fold assignment.

    Example:
        >>> a = [frozenset({"acme", "tools"}), frozenset({"acme", "mac"})] * 20
        >>> b = [frozenset({"acme", "tools"}), frozenset({"acme", "win"})] * 20
        >>> m = TokenDiffModel().fit(a, b, [1, 0] * 20)
        >>> z = m.decision_function(a[:2], b[:2]); bool(z[0] > z[1])
        True
    """

    def __init__(self, *, C: float = 0.3, folds: int = 5, seed: int = 0):
        self.C = C
        self.folds = folds
        self.seed = seed

    def _matrix(self, left: Sequence[Words], right: Sequence[Words]) -> Any:
        from scipy import sparse

        index = self.vocabulary_
        indptr, cols = [0], list[int]()
        for a, b in zip(left, right, strict=True):
            cols.extend(j for j in (index.get(t) for t in _bag(a, b)) if j is not None)
            indptr.append(len(cols))
        data = np.ones(len(cols), dtype=np.float64)
        shape = (len(indptr) - 1, len(index))
        return sparse.csr_matrix((data, np.asarray(cols, np.int64), indptr), shape=shape)

    def fit(
        self, left: Sequence[Words], right: Sequence[Words], labels: Sequence[int]
    ) -> TokenDiffModel:
        """Fit on the word sets of labelled pairs; keeps out-of-fold scores in ``oof_``."""
        from sklearn.linear_model import LogisticRegression

        words = sorted({t for a, b in zip(left, right, strict=True) for t in _bag(a, b)})
        self.vocabulary_ = {t: j for j, t in enumerate(words)}
        X, y = self._matrix(left, right), np.asarray(labels, dtype=np.int64)

        def model() -> LogisticRegression:
            return LogisticRegression(C=self.C, max_iter=2000)

        full = model().fit(X, y)
        self.coef_ = full.coef_.ravel().astype(np.float64)
        self.intercept_ = float(full.intercept_[0])
        fold = np.random.default_rng(self.seed).integers(0, self.folds, len(y))
        self.oof_ = np.zeros(len(y), dtype=np.float32)
        for f in range(self.folds):
            inside = fold != f
            if (fold == f).any() and len(set(y[inside].tolist())) == 2:
                part = model().fit(X[inside], y[inside])
                self.oof_[fold == f] = part.decision_function(X[fold == f])
            else:  # a fold too small to leave out: score it with the full model
                self.oof_[fold == f] = full.decision_function(X[fold == f])
        return self

    def decision_function(
        self, left: Sequence[Words], right: Sequence[Words]
    ) -> npt.NDArray[np.float32]:
        """The log-odds of a match of each pair; words never seen in training count nothing."""
        z = self._matrix(left, right) @ self.coef_ + self.intercept_
        return np.asarray(z, dtype=np.float32)

    def state(self) -> dict[str, Any]:
        """JSON-ready state: settings and the non-zero weight of each word."""
        weights = {t: float(self.coef_[j]) for t, j in self.vocabulary_.items()
                   if self.coef_[j] != 0.0}  # fmt: skip
        return {"C": self.C, "folds": self.folds, "seed": self.seed,
                "intercept": self.intercept_, "weights": weights}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TokenDiffModel:
        """The model saved by :meth:`state` (for scoring; ``oof_`` is not kept)."""
        m = cls(C=state["C"], folds=state["folds"], seed=state["seed"])
        m.vocabulary_ = {t: j for j, t in enumerate(state["weights"])}
        m.coef_ = np.asarray(list(state["weights"].values()), dtype=np.float64)
        m.intercept_ = float(state["intercept"])
        return m
