"""The stacked matcher: the cross-encoder and the boosted feature matcher, combined on valid.

The two see different evidence: the fine-tuned transformer reads the records as text, the
boosted trees compare them column by column (numbers, codes, exact agreement). A logistic
regression on their two logits, fitted on the validation pairs, weighs them; the threshold is
again the best F1 on those pairs. On ER-Magellan's test splits (``benchmarks/results/
er_magellan.md``) it beat both parts on five of the eight tasks, by up to 1.5 points over the
boosted matcher (Amazon-Google: cross-encoder 71.1, boosted 71.3, stack 72.8; Abt-Buy 76.0,
89.4 -> 90.4), tied on two and fell below the boosted matcher on iTunes-Amazon (100 -> 98.1):
with a few hundred validation pairs its threshold is noisy, so compare it with its parts on
your own test pairs.

When the cross-encoder's time budget binds (thousands of training pairs on a CPU), let it
train on the pairs that need it: ``hard_negatives=K`` fits the boosted matcher first and
gives the cross-encoder every match and only the ``K`` non-matches per match that the trees,
out of fold, find hardest (:func:`hard_pairs`). On Amazon-Google (15 minutes, 2 CPU cores)
the stack went from 72.8 to 74.9 (Ditto, RoBERTa on a GPU: 75.6).

    >>> import linker as lk
    >>> m = lk.train("datasets/my_pairs", model="stack", epochs=5)  # doctest: +SKIP
    >>> m = lk.train("datasets/my_pairs", model="stack", hard_negatives=1.7,
    ...              max_train_seconds=900)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from linker.errors import ConfigError, ModelError, NotFittedError
from linker.io.write import atomic_folder
from linker.scoring.base import CONFIG_FILE, ThresholdMatcher, read_state
from linker.scoring.boosted import BoostedMatcher
from linker.scoring.labelled_pairs import PairSet, Record, holdout

__all__ = ["StackedMatcher", "first_stage", "fit_stack", "hard_pairs", "logits"]

FORMAT_VERSION = 1
_PARTS = ("ditto", "boosted")


def logits(p: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``log(p / (1 - p))``, with ``p`` kept inside ``[1e-5, 1 - 1e-5]``.

    Example:
        >>> logits([0.5, 1.0]).round(2).tolist()
        [0.0, 11.51]
    """
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-5, 1 - 1e-5)
    out: npt.NDArray[np.float64] = np.log(q / (1 - q))
    return out


def fit_stack(
    scores: Sequence[npt.ArrayLike], labels: npt.ArrayLike
) -> tuple[list[float], float, float, float]:
    """Logistic regression on the logits of several matchers' probabilities.

    Returns:
        ``(weights, intercept, threshold, f1)``: the threshold with the best F1 on these
        pairs, and that F1.

    Example:
        >>> w, b, t, f1 = fit_stack([[0.9, 0.8, 0.2, 0.3], [0.7, 0.9, 0.1, 0.4]], [1, 1, 0, 0])
        >>> f1
        1.0
    """
    from sklearn.linear_model import LogisticRegression

    from linker.measures import best_threshold

    X = np.column_stack([logits(s) for s in scores])
    y = np.asarray(labels, dtype=np.int64)
    model = LogisticRegression(C=1.0).fit(X, y)
    weights, intercept = model.coef_[0].tolist(), float(model.intercept_[0])
    combined = _combine(X, weights, intercept)
    threshold, f1 = best_threshold(combined, y)
    return weights, intercept, threshold, f1


def hard_pairs(pairs: PairSet, scores: npt.ArrayLike, per_match: float) -> PairSet:
    """Every match of ``pairs`` and its ``per_match * matches`` highest-scored non-matches.

    ``scores``: a first matcher's probability for each pair (out of fold, for training
    pairs). The pairs keep their order; ties go to the earlier pair.

    Example:
        >>> p = PairSet([{"a": str(i)} for i in range(5)], [{"a": "x"}] * 5, [1, 0, 0, 0, 0])
        >>> [r["a"] for r in hard_pairs(p, [0.9, 0.1, 0.8, 0.3, 0.7], per_match=2).left]
        ['0', '2', '4']
    """
    if per_match <= 0:
        raise ConfigError(
            f"hard_negatives must be above 0 (non-matches per match), not {per_match}"
        )
    y = np.asarray(pairs.labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if len(s) != len(y):
        raise ConfigError(f"{len(s)} scores for {len(y)} pairs; give one score per pair")
    negatives = np.flatnonzero(y == 0)
    keep = negatives[np.argsort(-s[negatives], kind="stable")][: round(per_match * int(y.sum()))]
    return pairs.subset(np.sort(np.r_[np.flatnonzero(y == 1), keep]).tolist())


def first_stage(
    train: PairSet,
    valid: PairSet,
    *,
    hard_negatives: float | None,
    columns: Sequence[str] | None = None,
    seed: int = 0,
    **boosted: Any,
) -> tuple[BoostedMatcher, PairSet]:
    """The boosted matcher, fitted on ``train``, and the pairs the cross-encoder trains on.

    With ``hard_negatives``, those are :func:`hard_pairs` of the boosted matcher's
    out-of-fold scores; without, all of ``train``.
    """
    m = BoostedMatcher(columns=columns, seed=seed, **boosted)
    m.fit(train, valid, out_of_fold=hard_negatives is not None)
    if hard_negatives is None:
        return m, train
    return m, hard_pairs(train, m.train_oof_, hard_negatives)


def _combine(
    X: npt.NDArray[np.float64], weights: Sequence[float], intercept: float
) -> npt.NDArray[np.float32]:
    z = X @ np.asarray(weights, dtype=np.float64) + intercept
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


class StackedMatcher(ThresholdMatcher):
    """A fine-tuned cross-encoder and a boosted feature matcher, stacked by a logistic model.

    Args:
        ditto: Settings of the :class:`~linker.scoring.ditto.DittoMatcher` (``backbone``,
            ``epochs``, ``max_len``, ``lr`` ...).
        boosted: Settings of the :class:`~linker.scoring.boosted.BoostedMatcher`.
        columns: Compared columns (default: all columns of the training pairs).
        hard_negatives: Train the cross-encoder on every match and only this many
            non-matches per match: those the boosted matcher (fitted first) scores highest
            out of fold. Most non-matches of a blocked candidate set are easy, the trees
            already call them, and the cross-encoder's epochs go further on the rest: on
            ER-Magellan's Amazon-Google, ``hard_negatives=1.7`` kept 1,188 of the 6,175
            training non-matches, and the cross-encoder ran 7 epochs within 15 minutes,
            where 2 fit on all pairs; the stack's test F1 rose from 72.8 to 74.9.
            ``None`` (default): all pairs.
        seed: Seed of both matchers and of the validation hold-out.

    A ``max_train_seconds`` among the ``ditto`` settings bounds the whole ``fit``: the
    cross-encoder gets what the boosted matcher left of it.

    Example:
        >>> StackedMatcher().predict_proba(([], []))
        Traceback (most recent call last):
        ...
        linker.errors.NotFittedError: StackedMatcher used before fit: call fit or StackedMatcher.load
    """  # noqa: E501

    def __init__(
        self,
        *,
        ditto: dict[str, Any] | None = None,
        boosted: dict[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        hard_negatives: float | None = None,
        seed: int = 0,
    ):
        self.ditto = dict(ditto or {})
        self.boosted = dict(boosted or {})
        self.columns = columns
        self.hard_negatives = hard_negatives
        self.seed = seed

    def fit(self, train: PairSet, valid: PairSet | None = None) -> StackedMatcher:
        """Train both matchers on ``train``; fit the stack and the threshold on ``valid``.

        Raises:
            InputError: unlabelled pairs, or only one class among the labels.
        """
        from linker.scoring.ditto import DittoMatcher

        start = time.perf_counter()
        train, valid = holdout(train, valid, seed=self.seed)
        cols = list(self.columns) if self.columns else None
        boosted, ditto_train = first_stage(
            train, valid, hard_negatives=self.hard_negatives, columns=cols, seed=self.seed,
            **self.boosted,
        )  # fmt: skip
        settings = dict(self.ditto)
        if settings.get("max_train_seconds") is not None:
            left = settings["max_train_seconds"] - (time.perf_counter() - start)
            settings["max_train_seconds"] = max(left, 1.0)
        ditto = DittoMatcher(columns=cols, seed=self.seed, **settings).fit(ditto_train, valid)
        self.parts_: dict[str, Any] = {"ditto": ditto, "boosted": boosted}
        self.ditto_pairs_ = {"pairs": len(ditto_train), "matches": int(sum(ditto_train.labels))}
        self.columns_: list[str] = ditto.columns_
        scores = [self.parts_[k].predict_proba(valid) for k in _PARTS]
        self.weights_, self.intercept_, self.threshold_, self.valid_f1_ = fit_stack(
            scores, valid.labels
        )
        self.n_train_ = {"pairs": len(train), "matches": int(sum(train.labels))}
        self.train_seconds_ = time.perf_counter() - start
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "parts_"):
            raise NotFittedError("StackedMatcher used before fit: call fit or StackedMatcher.load")

    def predict_proba(
        self, pairs: PairSet | tuple[Sequence[Record], Sequence[Record]]
    ) -> npt.NDArray[np.float32]:
        """Match probability of each pair (a :class:`PairSet` or ``(left, right)`` records)."""
        self._fitted()
        X = np.column_stack([logits(self.parts_[k].predict_proba(pairs)) for k in _PARTS])
        return _combine(X, self.weights_, self.intercept_)

    def save(self, path: str | Path) -> Path:
        """Write a folder: ``ditto/`` and ``boosted/`` (saved matchers) and the stack's JSON."""
        self._fitted()
        folder = Path(path)
        state = {
            "type": "StackedMatcher", "format_version": FORMAT_VERSION, "seed": self.seed,
            "hard_negatives": self.hard_negatives, "ditto_pairs": self.ditto_pairs_,
            "columns": self.columns_, "weights": self.weights_, "intercept": self.intercept_,
            "threshold": self.threshold_, "valid_f1": self.valid_f1_, "n_train": self.n_train_,
            "train_seconds": self.train_seconds_,
        }  # fmt: skip
        try:  # the parts and the stack's JSON move in together, the JSON last
            with atomic_folder(folder, marker=CONFIG_FILE) as tmp:
                for k in _PARTS:
                    self.parts_[k].save(tmp / k)
                (tmp / CONFIG_FILE).write_text(json.dumps(state, indent=1), encoding="utf-8")
        except OSError as e:
            raise ModelError(f"cannot write the matcher to {folder}: {e}") from e
        return folder

    @classmethod
    def load(cls, path: str | Path) -> StackedMatcher:
        """Read a matcher written by :meth:`save`.

        Raises:
            ModelError: the folder holds no stacked matcher, or one from a newer linker.
        """
        from linker.scoring.ditto import DittoMatcher

        folder = Path(path)
        state = read_state(folder, "StackedMatcher", FORMAT_VERSION)
        m = cls(seed=state["seed"], hard_negatives=state.get("hard_negatives"))
        m.ditto_pairs_ = state.get("ditto_pairs", state["n_train"])
        m.parts_ = {
            "ditto": DittoMatcher.load(folder / "ditto"),
            "boosted": BoostedMatcher.load(folder / "boosted"),
        }
        m.columns_, m.weights_ = state["columns"], state["weights"]
        m.intercept_ = state["intercept"]
        m.threshold_, m.valid_f1_ = state["threshold"], state["valid_f1"]
        m.n_train_, m.train_seconds_ = state["n_train"], state["train_seconds"]
        return m
