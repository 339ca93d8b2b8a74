"""The boosted feature matcher: gradient-boosted trees over pair similarities, trained on labels.

The fast, no-transformer matcher for users with labelled pairs. Each pair becomes a row of
similarities (see :class:`PairFeatures`): per compared column the rapidfuzz ``ratio`` and
``token_set_ratio``, the static embedding cosine, the character n-gram TF-IDF cosine and the
agreement of the first number (prices, years, model numbers); over the whole record the same
two rapidfuzz scores, the n-gram cosine and the embedding cosine. (The per-column n-gram
cosine raised the validation F1 on five of the eight ER-Magellan tasks, lowered it on two.)
Then the word evidence of :mod:`linker.scoring.evidence` (IDF-weighted word overlap, model
codes, number sets, each column's words found anywhere in the other record, each column's
core words: those no other column holds) and the log-odds of
:class:`~linker.scoring.word_weights.TokenDiffModel`, which learns from the labels which shared
or one-sided words matter. Boosted trees (:mod:`linker.scoring.trees`: five models, each
split choosing among half the features, averaged) learn how they combine; the threshold is
the best F1 on the validation pairs.

Trees rather than the monotone logistic model of :class:`~linker.scoring.selftrained.FastMatcher`
(which fits on pseudo-labels, where a constrained model is the safer choice) because labels
let them learn interactions such as "titles agree but prices differ" (what that gained on
ER-Magellan: ``benchmarks/results/er_magellan_notes.md``).

    >>> import linker as lk
    >>> m = lk.train("datasets/my_pairs", model="boosted")  # doctest: +SKIP
    >>> lk.merge(left, right, on=["title", "price"], matcher=m)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.errors import ModelError, NotFittedError
from linker.io.write import atomic_write
from linker.scoring.base import CONFIG_FILE, ThresholdMatcher, read_state
from linker.scoring.evidence import TokenStats, evidence_features, record_words
from linker.scoring.labelled_pairs import PairSet, Record, holdout
from linker.scoring.trees import CompiledTrees, compile_trees, fit_trees, predict_trees
from linker.scoring.trees import out_of_fold as trees_out_of_fold
from linker.scoring.word_weights import TokenDiffModel

__all__ = ["BoostedMatcher", "PairFeatures", "number_similarity"]

logger = logging.getLogger(__name__)


FORMAT_VERSION = 2  # 2: word evidence and the token model (version-1 folders still load)
TOKEN_FEATURE = "record_token_model"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
Vector = npt.NDArray[np.float32]
_SINGLE_MODEL = {"l2_regularization": 0.0, "max_features": 1.0, "n_models": 1}


def number_similarity(left: Sequence[str], right: Sequence[str]) -> Vector:
    """Agreement of the first number in each text: ``1 - |a - b| / max(|a|, |b|)``.

    ``0.5`` (no evidence) when either side has no number.

    Example:
        >>> number_similarity(["$ 20.00", "1999", "n/a"], ["25", "1999", "7"]).tolist()
        [0.800000011920929, 1.0, 0.5]
    """
    out = np.full(len(left), 0.5, dtype=np.float32)
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        x, y = _NUMBER.search(a or ""), _NUMBER.search(b or "")
        if x is None or y is None:
            continue
        fx, fy = (float(m.group().replace(",", "")) for m in (x, y))
        top = max(abs(fx), abs(fy))
        out[i] = 1.0 if top == 0 else 1.0 - min(abs(fx - fy) / top, 1.0)
    return out


class PairFeatures:
    """Similarity features of record pairs; the n-gram vocabulary is learned on training records.

    Args:
        columns: Compared columns, in order.
        embedding: ``"static"`` (the packaged static model; cheap) adds embedding cosines;
            ``None`` leaves them out.
        evidence: Add the word evidence of :func:`~linker.scoring.evidence.evidence_features`
            (``False`` gives the features of version-1 matchers).

    Example:
        >>> f = PairFeatures(["name"], embedding=None).fit([{"name": "acme corp"}])
        >>> x = f.transform([{"name": "acme corp"}], [{"name": "acme corporation"}])
        >>> x.columns[:4], x.columns[-1]
        (['c0_ratio', 'c0_token_set_ratio', 'c0_number', 'c0_ngram'], 'c0_in_left')
    """

    def __init__(
        self, columns: Sequence[str], *, embedding: str | None = "static", evidence: bool = True
    ):
        self.columns = list(columns)
        self.embedding = embedding
        self.evidence = evidence

    def fit(self, records: Sequence[Record]) -> PairFeatures:
        """Learn the n-gram vocabulary and IDFs from ``records`` (both sides of the pairs)."""
        from linker.vectors.ngrams import NgramVectorizer

        texts = self._texts(records)
        self.vectorizer_ = NgramVectorizer().fit(texts)
        if self.evidence:
            self.words_ = TokenStats().fit(texts)
        return self

    def record_words(self, records: Sequence[Record]) -> list[frozenset[str]]:
        """The word set of each record over the compared columns."""
        return [record_words(t) for t in self._texts(records)]

    def _texts(self, records: Sequence[Record]) -> list[str]:
        return [" ".join(r.get(c) or "" for c in self.columns).lower() for r in records]

    def _column(self, records: Sequence[Record], c: str) -> list[str]:
        return [(r.get(c) or "").lower() for r in records]

    def transform(self, left: Sequence[Record], right: Sequence[Record]) -> pl.DataFrame:
        """One row of similarities per ``(left[i], right[i])`` pair."""
        from linker.scoring.features import MISSING, column_features

        if not hasattr(self, "vectorizer_"):
            raise NotFittedError("PairFeatures.transform before fit: call fit(records) first")
        rows = np.arange(len(left), dtype=np.int64)
        out: dict[str, Vector] = {}
        for i, c in enumerate(self.columns):
            a, b = self._column(left, c), self._column(right, c)
            names = [f"c{i}"]
            out |= column_features([pl.Series(a)], [pl.Series(b)], rows, rows, names=names)
            if self.embedding is not None:
                empty = np.array([not x or not y for x, y in zip(a, b, strict=True)], dtype=bool)
                out[f"c{i}_embedding"] = np.where(empty, MISSING, self._cosines(a, b))
            out[f"c{i}_number"] = number_similarity(a, b)
            out[f"c{i}_ngram"] = self._ngram_cosines(a, b)
        a, b = self._texts(left), self._texts(right)
        out |= column_features([pl.Series(a)], [pl.Series(b)], rows, rows, names=["record"])
        out["record_ngram"] = self._ngram_cosines(a, b)
        if self.embedding is not None:
            out["record_embedding"] = self._cosines(a, b)
        if self.evidence:
            out |= evidence_features(left, right, self.columns, self.words_)
        return pl.DataFrame({k: np.asarray(v, np.float32) for k, v in out.items()})

    def _ngram_cosines(self, a: list[str], b: list[str]) -> Vector:
        """N-gram TF-IDF cosine of each pair, over the vocabulary of the training records."""
        va, vb = self.vectorizer_.transform(a), self.vectorizer_.transform(b)
        return np.asarray(va.multiply(vb).sum(axis=1), np.float32).ravel()

    def _cosines(self, a: list[str], b: list[str]) -> Vector:
        """Embedding cosine of each pair; each distinct text is embedded once."""
        from linker.vectors.embed import get_encoder

        encoder = self._encoder = getattr(self, "_encoder", None) or get_encoder(self.embedding)
        uniq, where = np.unique(np.array(a + b, dtype=object), return_inverse=True)
        vecs = encoder.encode([str(t) for t in uniq], show_progress=False)
        va, vb = vecs[where[: len(a)]], vecs[where[len(a) :]]
        cos: Vector = np.clip(np.einsum("ij,ij->i", va, vb), 0.0, 1.0).astype(np.float32)
        return cos


class BoostedMatcher(ThresholdMatcher):
    """Gradient-boosted trees over pair similarity features, trained on labelled pairs.

    Args:
        columns: Compared columns (default: all columns of the training pairs).
        embedding: ``"static"`` adds embedding cosines (:class:`PairFeatures`); ``None`` not.
        token_model: Add the log-odds of a :class:`~linker.scoring.word_weights.TokenDiffModel`
            fitted on the training pairs (out-of-fold on those pairs) as a feature.
        max_iter: Boosting rounds.
        learning_rate: Shrinkage of each round.
        l2_regularization: L2 penalty on the leaf values.
        max_features: Share of the features each split chooses among.
        n_models: Boosted models averaged (seeds ``seed``, ``seed + 1``, ...).
        seed: Seed of the trees and of the validation hold-out.

    Example:
        >>> from linker.scoring.labelled_pairs import PairSet
        >>> recs = [{"name": n} for n in ["acme", "acme inc", "zeta", "zeta ltd"] * 10]
        >>> pairs = PairSet(recs[0::2], recs[1::2] + [], [1] * 20)
        >>> BoostedMatcher(embedding=None).fit(pairs)
        Traceback (most recent call last):
        ...
        linker.errors.InputError: train pairs (<memory>) need labels with both matches (1) and non-matches (0)
    """  # noqa: E501

    def __init__(
        self,
        *,
        columns: Sequence[str] | None = None,
        embedding: str | None = "static",
        token_model: bool = True,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        l2_regularization: float = 1.0,
        max_features: float = 0.5,
        n_models: int = 5,
        seed: int = 0,
    ):
        self.columns = columns
        self.embedding = embedding
        self.token_model = token_model
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.l2_regularization = l2_regularization
        self.max_features = max_features
        self.n_models = n_models
        self.seed = seed

    def _params(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns) if self.columns else None,
            "embedding": self.embedding,
            "token_model": self.token_model,
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "l2_regularization": self.l2_regularization,
            "max_features": self.max_features,
            "n_models": self.n_models,
            "seed": self.seed,
        }

    def fit(
        self, train: PairSet, valid: PairSet | None = None, *, out_of_fold: bool = False
    ) -> BoostedMatcher:
        """Fit on ``train``; choose the threshold on ``valid`` (default: a seeded 20% of train).

        With ``out_of_fold``, also ``train_oof_``: each training pair's match probability from
        trees fitted without it (5-fold, the same settings), which
        :class:`~linker.scoring.stack.StackedMatcher` uses to find the hard non-matches.

        Raises:
            InputError: unlabelled pairs, or only one class among the labels.
        """
        start = time.perf_counter()
        train, valid = holdout(train, valid, seed=self.seed)
        self.columns_ = list(self.columns) if self.columns else train.columns
        self.features_ = PairFeatures(self.columns_, embedding=self.embedding)
        self.features_.fit([*train.left, *train.right])
        X = self.features_.transform(train.left, train.right)
        self.tokens_: TokenDiffModel | None = None
        if self.token_model:
            words = self.features_.record_words
            self.tokens_ = TokenDiffModel(seed=self.seed).fit(
                words(train.left), words(train.right), train.labels
            )
            X = X.with_columns(pl.Series(TOKEN_FEATURE, self.tokens_.oof_))
        self.feature_names_ = X.columns
        X_train, y = X.to_numpy().astype(np.float64), np.asarray(train.labels, dtype=np.int64)
        settings: dict[str, Any] = {
            "max_iter": self.max_iter, "learning_rate": self.learning_rate,
            "l2_regularization": self.l2_regularization, "max_features": self.max_features,
            "n_models": self.n_models, "seed": self.seed,
        }  # fmt: skip
        self.trees_ = fit_trees(X_train, y, **settings)
        if out_of_fold:
            z = trees_out_of_fold(X_train, y, **settings)
            self.train_oof_ = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
        from linker.measures import best_threshold

        scores = self.predict_proba(valid)
        self.threshold_, self.valid_f1_ = best_threshold(scores, np.asarray(valid.labels))
        self.n_train_ = {"pairs": len(train), "matches": int(sum(train.labels))}
        self.train_seconds_ = time.perf_counter() - start
        logger.info(
            "boosted matcher: %d pairs, valid F1 %.3f at threshold %.3f",
            len(train), self.valid_f1_, self.threshold_,
        )  # fmt: skip
        return self

    def _flat_trees(self) -> CompiledTrees:
        """:func:`compile_trees` of ``trees_``, made once per set of trees."""
        cached = self.__dict__.get("_flat")
        if cached is None or cached[0] is not self.trees_:
            cached = self._flat = (self.trees_, compile_trees(self.trees_))
        return cached[1]

    def _fitted(self) -> None:
        if not hasattr(self, "trees_"):
            raise NotFittedError("BoostedMatcher used before fit: call fit or BoostedMatcher.load")

    def predict_proba(
        self, pairs: PairSet | tuple[Sequence[Record], Sequence[Record]]
    ) -> npt.NDArray[np.float32]:
        """Match probability of each pair (a :class:`PairSet` or ``(left, right)`` records)."""
        self._fitted()
        left, right = (pairs.left, pairs.right) if isinstance(pairs, PairSet) else pairs
        if len(left) == 0:
            return np.zeros(0, dtype=np.float32)
        X = self.features_.transform(left, right)
        if self.tokens_ is not None:
            words = self.features_.record_words
            z_tokens = self.tokens_.decision_function(words(left), words(right))
            X = X.with_columns(pl.Series(TOKEN_FEATURE, z_tokens))
        X = X.select(self.feature_names_)
        z = predict_trees(self._flat_trees(), X.to_numpy())
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the matcher as a folder: one JSON file (settings, n-gram vocabulary, trees)."""
        self._fitted()
        state = {
            "type": "BoostedMatcher", "format_version": FORMAT_VERSION, "params": self._params(),
            "columns": self.columns_, "feature_names": self.feature_names_,
            "threshold": self.threshold_, "valid_f1": self.valid_f1_, "n_train": self.n_train_,
            "train_seconds": self.train_seconds_,
            "ngrams": self.features_.vectorizer_.state(),
            "words": self.features_.words_.state() if self.features_.evidence else None,
            "token_model": self.tokens_.state() if self.tokens_ is not None else None,
            "trees": self.trees_,
        }  # fmt: skip
        folder = Path(path)
        try:
            with atomic_write(folder / CONFIG_FILE) as tmp:
                tmp.write_text(json.dumps(state), encoding="utf-8")
        except OSError as e:
            raise ModelError(f"cannot write the matcher to {folder}: {e}") from e
        return folder

    @classmethod
    def load(cls, path: str | Path) -> BoostedMatcher:
        """Read a matcher written by :meth:`save`.

        Raises:
            ModelError: the folder holds no boosted matcher, or one from a newer linker.
        """
        from linker.vectors.ngrams import NgramVectorizer

        state = read_state(path, "BoostedMatcher", FORMAT_VERSION)
        version = state["format_version"]
        params = {**_SINGLE_MODEL, **state["params"]}  # folders from before the averaged trees
        m = cls(**params) if version >= 2 else cls(**params, token_model=False)
        m.columns_, m.feature_names_ = state["columns"], state["feature_names"]
        m.threshold_, m.valid_f1_ = state["threshold"], state["valid_f1"]
        m.n_train_, m.train_seconds_ = state["n_train"], state["train_seconds"]
        m.trees_ = state["trees"]
        words = state.get("words")
        m.features_ = PairFeatures(m.columns_, embedding=m.embedding, evidence=words is not None)
        m.features_.vectorizer_ = NgramVectorizer.from_state(state["ngrams"])
        if words is not None:
            m.features_.words_ = TokenStats.from_state(words)
        tokens = state.get("token_model")
        m.tokens_ = TokenDiffModel.from_state(tokens) if tokens is not None else None
        return m
