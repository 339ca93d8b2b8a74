"""Character n-gram TF-IDF vectors: the cheap lexical signal that catches typos embeddings miss.

On short, noisy names (people, firms) character 2–4-grams find the true record more often than
any dense model (see ../shared/MODELS.md), so blocking unions their neighbours with the ANN ones.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

__all__ = ["NgramVectorizer"]

logger = logging.getLogger(__name__)


class NgramVectorizer:
    """TF-IDF over character n-grams within word boundaries, L2-normalised rows.

    Args:
        ngram_range: Smallest and largest n-gram length.
        sublinear_tf: Use ``1 + log(tf)``.
        max_features: Cap on the vocabulary (most frequent n-grams kept); ``None`` keeps all.

    Example:
        >>> v = NgramVectorizer().fit(["acme corp", "acme corporation", "zeta ltd"])
        >>> m = v.transform(["acme corp", "zeta ltd"])
        >>> m.shape[0], round(float((m[0] @ m[1].T).toarray()[0, 0]), 2)
        (2, 0.0)
    """

    def __init__(
        self,
        *,
        ngram_range: tuple[int, int] = (2, 4),
        sublinear_tf: bool = True,
        max_features: int | None = None,
    ):
        self.ngram_range = ngram_range
        self.sublinear_tf = sublinear_tf
        self.max_features = max_features

    def fit(self, texts: Sequence[str]) -> NgramVectorizer:
        """Learn the n-gram vocabulary and IDF weights from ``texts`` (both tables together)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            sublinear_tf=self.sublinear_tf,
            lowercase=True,
            max_features=self.max_features,
            dtype=np.float32,
        )
        try:
            self.vectorizer_.fit(list(texts))
        except ValueError as e:  # sklearn: "empty vocabulary"
            from linker.errors import InputError

            raise InputError(
                "the compared columns are empty in every row, so there is nothing to compare: "
                "choose other columns with on=... (or left_on/right_on)"
            ) from e
        logger.debug("n-gram vocabulary: %d", len(self.vectorizer_.vocabulary_))
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Return the L2-normalised TF-IDF rows of ``texts`` (float32 CSR)."""
        from linker.errors import NotFittedError

        if not hasattr(self, "vectorizer_"):
            raise NotFittedError("NgramVectorizer.transform before fit: call fit(texts) first")
        return sp.csr_matrix(self.vectorizer_.transform(list(texts)), dtype=np.float32)
