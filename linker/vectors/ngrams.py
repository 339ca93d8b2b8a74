"""Character n-gram TF-IDF vectors: the cheap lexical signal that catches typos embeddings miss.

On short, noisy names (people, firms) character 2–4-grams find the true record more often than
any dense model (``benchmarks/results/blocking.md``: TF-IDF against dense recall@k), so blocking
unions their neighbours with the ANN ones.

The matrix is the one of sklearn's ``TfidfVectorizer(analyzer="char_wb", lowercase=True,
dtype=float32)``, columns in the same order, but built with numpy array operations instead of
sklearn's Python loop over the n-grams of each text (2M short texts took sklearn ~10 minutes).
Texts go in chunks of 65,536, so the working memory is bounded; per chunk:

1. texts are lower-cased with ``str.lower`` (as sklearn) and laid out as one array of code
   points; ``None`` is an empty text;
2. words are the runs between ``str.isspace`` characters (what ``str.split()`` cuts on), each
   padded with a space on both sides, laid back to back;
3. every character gets an id from the alphabet seen at fit (1.. in code-point order; 0 is "no
   character", unseen characters get the last id), and every n-gram that sklearn's
   ``_char_wb_ngrams`` yields becomes one number: its ids as digits in base ``alphabet + 2``,
   first character highest, shorter n-grams padded with 0. Numeric order of these codes is the
   string order sklearn sorts its vocabulary by, so columns come out in sklearn's order;
4. ``code << 16 | text`` goes into one ``uint64``; sorting those keys (a radix sort,
   :func:`linker.vectors._keys.radix_sort`) and counting runs gives the count of every
   (n-gram, text) pair, i.e. the CSR entries.

Keys must fit in 64 bits: with more than ~11,500 distinct characters for 4-grams (fewer for longer
n-grams) the vectorizer falls back to sklearn itself, which gives the same matrix, slowly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse as sp

from linker.errors import InputError, ModelError, NotFittedError

__all__ = ["NgramVectorizer", "join_digit_gaps", "ngram_texts"]

logger = logging.getLogger(__name__)

Ints = npt.NDArray[np.int64]
Int32s = npt.NDArray[np.int32]
Codes = npt.NDArray[np.uint64]
_IntArray = npt.NDArray[np.integer[Any]]
# one chunk's (n-gram, text) counts, kept by fit_transform: distinct n-grams, entries of each,
# text of each entry, count of each entry, texts in the chunk
_Chunk = tuple[Codes, Int32s, npt.NDArray[np.uint16], _IntArray, int]

# Code points for which ``str.isspace()`` holds: the separators of ``str.split()``, which
# sklearn's char_wb analyzer cuts words with (tests/test_lexical.py checks this list).
_WHITESPACE = (
    *range(0x9, 0xE),
    *range(0x1C, 0x21),
    0x85,
    0xA0,
    0x1680,
    *range(0x2000, 0x200B),
    0x2028,
    0x2029,
    0x202F,
    0x205F,
    0x3000,
)
_SPACE = 0x20
_UNICODE = 0x110000
_TEXT_BITS = 16  # 65,536 texts per chunk: ~200 n-grams each, so ~13M n-gram keys at once
_MIN_TEXT_BITS = 10  # fewer texts per chunk than 1,024 (huge alphabets): sklearn is as fast
_EMPTY = (
    "the compared columns are empty in every row, so there is nothing to compare: "
    "choose other columns with on=... (or left_on/right_on)"
)


# Digits separated only by spaces or punctuation: "(614) 452-3372", "614.452.3372" both
# become "6144523372". Two passes, because a match consumes the digit after the separator;
# then the punctuation around a digit goes ("+49" -> "49", "(614" -> "614").
_DIGIT_GAP = r"(\d)[^\p{L}\p{N}]+(\d)"
_DIGIT_PUNCT = (r"[^\p{L}\p{N}\s]+(\d)", r"(\d)[^\p{L}\p{N}\s]+")


def join_digit_gaps(text: pl.Expr) -> pl.Expr:
    """``text`` with digits separated only by spaces or punctuation joined (two passes).

    Example:
        >>> pl.select(join_digit_gaps(pl.lit("(614) 452-3372"))).item()
        '(6144523372'
    """
    return text.str.replace_all(_DIGIT_GAP, "$1$2").str.replace_all(_DIGIT_GAP, "$1$2")


def ngram_texts(columns: Sequence[pl.Series]) -> list[str]:
    """One text per row for the n-gram blocker: the columns joined by spaces, each with its
    runs of digits joined across spaces and punctuation first.

    Phones, postcodes and other codes are written with varying separators ("(614) 452-3372",
    "614.452.3372", "+1 614 452 3372"); joined, they share most of their character n-grams
    instead of few. Digits are joined within a column only, never across two columns.
    On the 1M x 1M demo firms, the exact n-gram recall@20 of the true pair rises from 0.984
    to 0.991 (a sample of 1,000 left records).

    Args:
        columns: Cleaned column texts (as :meth:`~linker.pipeline.serialize.Serializer.column_texts`
            returns them), all of the same length.

    Returns:
        The texts, one per row.

    Example:
        >>> import polars as pl
        >>> ngram_texts([pl.Series(["acme inc"]), pl.Series(["(614) 452-3372"])])
        ['acme inc 6144523372']
    """
    joined = [
        join_digit_gaps(pl.lit(c))
        .str.replace_all(_DIGIT_PUNCT[0], "$1")
        .str.replace_all(_DIGIT_PUNCT[1], "$1")
        for c in columns
    ]
    text = pl.select(pl.concat_str(joined, separator=" ").alias("t")).get_column("t")
    return text.str.replace_all(r"\s+", " ").str.strip_chars().to_list()


class NgramVectorizer:
    """TF-IDF over character n-grams within word boundaries, L2-normalised rows.

    The same matrix as sklearn's ``TfidfVectorizer(analyzer="char_wb")`` with smooth IDF
    ``log((1 + n) / (1 + df)) + 1``; null texts count as empty ones.

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

    def fit(self, texts: Sequence[str | None]) -> NgramVectorizer:
        """Learn the n-gram vocabulary and IDF weights from ``texts`` (both tables together).

        Args:
            texts: The texts; ``None`` counts as an empty text.

        Returns:
            ``self``.

        Raises:
            InputError: No text has a non-space character, or a text is not a string.
        """
        self._fit([texts], keep=False)
        return self

    def fit_transform(self, parts: Sequence[Sequence[str | None]]) -> list[sp.csr_matrix]:
        """:meth:`fit` on the texts of all ``parts`` together, then :meth:`transform` each
        part, finding every text's n-grams once instead of twice.

        The (n-gram, text) counts found by the fit are kept until their part is transformed,
        at 4 bytes each: half what the finished matrices take, and freed as they fill.

        Example:
            >>> left, right = ["acme corp", "zeta ltd"], ["acme corporation"]
            >>> a, b = NgramVectorizer().fit_transform([left, right])
            >>> v = NgramVectorizer().fit(left + right)
            >>> (a != v.transform(left)).nnz, (b != v.transform(right)).nnz
            (0, 0)
        """
        kept = self._fit(parts, keep=True)
        if kept is None:  # scikit-learn's vocabulary: transform as usual
            return [self.transform(part) for part in parts]
        out = []
        for part, chunks in zip(parts, kept, strict=True):
            blocks = []
            while chunks:
                blocks.append(self._rows(*chunks.pop(0)))
            out.append(_stack(blocks, len(self.codes_)) if blocks else self.transform(part))
        return out

    def _fit(
        self, texts_of: Sequence[Sequence[str | None]], *, keep: bool
    ) -> list[list[_Chunk]] | None:
        """Fit on all ``texts_of`` together; with ``keep``, return each one's chunk counts
        (``None`` when scikit-learn's vectorizer was fitted instead)."""
        self.vectorizer_: Any = None  # sklearn's, when the alphabet is too large for uint64 keys
        texts = [t for part in texts_of for t in part] if len(texts_of) > 1 else texts_of[0]
        alphabet = _alphabet(texts)
        if _text_bits(len(alphabet), self.ngram_range[1]) < _MIN_TEXT_BITS:
            self._fit_sklearn(texts)
            return None
        self.alphabet_: Ints = alphabet
        table = self._table()
        parts, kept = [], []
        for part_texts in texts_of:
            chunks: list[_Chunk] = []
            for chunk in self._chunks(part_texts):
                codes, doc, count = self._pairs(chunk, table)
                vocab = _vocab_counts(codes, doc, count)
                parts.append(vocab)
                if keep:  # a chunk holds at most 2**16 texts; a count rarely reaches 2**16
                    small = np.uint16 if len(count) == 0 or count.max() < 2**16 else np.int32
                    distinct, size = vocab[0], vocab[1].astype(np.int32)  # entries per n-gram
                    chunks.append(
                        (distinct, size, doc.astype(np.uint16), count.astype(small), len(chunk))
                    )
            kept.append(chunks)
        if not parts or not sum(len(codes) for codes, _, _ in parts):
            raise InputError(_EMPTY)
        codes, where = np.unique(np.concatenate([c for c, _, _ in parts]), return_inverse=True)
        df = np.bincount(where, np.concatenate([d for _, d, _ in parts]), len(codes))
        if self.max_features is not None and len(codes) > self.max_features:
            # sklearn's _limit_features: the same argsort of the float32 total counts, over the
            # n-grams in string order, so ties are broken as sklearn breaks them
            tf = np.bincount(where, np.concatenate([t for _, _, t in parts]), len(codes))
            top = np.sort((-tf.astype(np.float32)).argsort()[: self.max_features])
            codes, df = codes[top], df[top]
        self.codes_: Codes = codes
        df32 = df.astype(np.float32) + np.float32(1)
        idf = np.full_like(df32, len(texts) + 1) / df32
        self.idf_: npt.NDArray[np.float32] = np.log(idf) + np.float32(1)
        logger.debug("n-gram vocabulary: %d", len(codes))
        return kept if keep else None

    def transform(self, texts: Sequence[str | None]) -> sp.csr_matrix:
        """Return the L2-normalised TF-IDF rows of ``texts`` (float32 CSR).

        Args:
            texts: The texts; n-grams not seen at fit are ignored.

        Returns:
            One row per text, one column per n-gram of the vocabulary.

        Raises:
            NotFittedError: Called before :meth:`fit`.
        """
        if not hasattr(self, "idf_"):
            raise NotFittedError("NgramVectorizer.transform before fit: call fit(texts) first")
        if self.vectorizer_ is not None:
            return sp.csr_matrix(self.vectorizer_.transform(_strings(texts)), dtype=np.float32)
        table = self._table()
        blocks = [self._transform_chunk(part, table) for part in self._chunks(texts)]
        return _stack(blocks, len(self.codes_))

    def state(self) -> dict[str, Any]:
        """The fitted vocabulary as JSON-ready values (see :meth:`from_state`).

        Raises:
            NotFittedError: Called before :meth:`fit`.
            ModelError: The vocabulary came from scikit-learn's vectorizer (texts with too many
                distinct characters for 64-bit n-gram codes), which has no such form.

        Example:
            >>> v = NgramVectorizer().fit(["acme corp", "zeta ltd"])
            >>> w = NgramVectorizer.from_state(v.state())
            >>> bool((w.transform(["acme"]) != v.transform(["acme"])).nnz == 0)
            True
        """
        if not hasattr(self, "idf_"):
            raise NotFittedError("NgramVectorizer.state before fit: call fit(texts) first")
        if self.vectorizer_ is not None:
            raise ModelError(
                "this n-gram vocabulary came from scikit-learn's vectorizer (the texts hold "
                "too many distinct characters) and cannot be written as JSON"
            )
        return {
            "ngram_range": list(self.ngram_range),
            "sublinear_tf": self.sublinear_tf,
            "alphabet": self.alphabet_.tolist(),
            "codes": [str(c) for c in self.codes_],  # uint64: JSON numbers would lose digits
            "idf": self.idf_.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NgramVectorizer:
        """A fitted vectorizer from :meth:`state`'s values."""
        v = cls(ngram_range=tuple(state["ngram_range"]), sublinear_tf=state["sublinear_tf"])
        v.vectorizer_ = None
        v.alphabet_ = np.asarray(state["alphabet"], dtype=np.int64)
        v.codes_ = np.asarray([int(c) for c in state["codes"]], dtype=np.uint64)
        v.idf_ = np.asarray(state["idf"], dtype=np.float32)
        return v

    def _transform_chunk(self, texts: Sequence[str | None], table: Codes) -> sp.csr_matrix:
        codes, doc, count = self._pairs(texts, table)
        first, size = _runs(codes)
        return self._rows(codes[first], size, doc, count, len(texts))

    def _rows(
        self, distinct: Codes, size: _IntArray, doc: _IntArray, count: _IntArray, n_texts: int
    ) -> sp.csr_matrix:
        """The TF-IDF rows of one chunk from its (n-gram, text) counts: the ``distinct``
        n-grams, each over ``size`` entries of ``doc`` (text) and ``count``."""
        col = np.minimum(np.searchsorted(self.codes_, distinct), len(self.codes_) - 1)
        col = np.where(self.codes_[col] == distinct, col, -1).astype(np.int32)
        col = np.repeat(col, size)
        known = col >= 0
        if not known.all():  # n-grams unseen at fit are dropped, as sklearn does
            col, doc, count = col[known], doc[known], count[known]
        tf = count.astype(np.float32)
        if self.sublinear_tf:
            np.log(tf, out=tf)
            tf += np.float32(1)
        from linker.vectors._keys import unit_rows  # numba: imported when first needed

        # entries in n-gram order, so each row's columns come out sorted
        rows = unit_rows(doc, col, tf * self.idf_[col], n_texts)
        return sp.csr_matrix(rows[::-1], shape=(n_texts, len(self.codes_)))

    def _chunks(self, texts: Sequence[str | None]) -> Iterator[Sequence[str | None]]:
        return _chunks(texts, 1 << _text_bits(len(self.alphabet_), self.ngram_range[1]))

    def _pairs(self, texts: Sequence[str | None], table: Codes) -> tuple[Codes, Int32s, Ints]:
        """Distinct (n-gram code, text) pairs of ``texts`` in that order, and their counts."""
        from linker.vectors._keys import radix_sort  # numba: imported when first needed

        bits = _text_bits(len(self.alphabet_), self.ngram_range[1])
        cps, lengths = _codepoints(texts)
        keys = _char_wb(cps, lengths, table, ngram_range=self.ngram_range, text_bits=bits)
        keys = radix_sort(keys)
        first, count = _runs(keys)
        keys = keys[first]
        return keys >> np.uint64(bits), (keys & np.uint64((1 << bits) - 1)).astype(np.int32), count

    def _table(self) -> Codes:
        """Character id of each code point: 0 is no character, then the alphabet, then unknown."""
        table = np.full(_UNICODE, len(self.alphabet_) + 1, np.uint64)
        table[self.alphabet_] = np.arange(1, len(self.alphabet_) + 1, dtype=np.uint64)
        return table

    def _fit_sklearn(self, texts: Sequence[str | None]) -> NgramVectorizer:
        from sklearn.feature_extraction.text import TfidfVectorizer

        logger.info("too many distinct characters for 64-bit n-gram codes: sklearn's vectorizer")
        self.vectorizer_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            sublinear_tf=self.sublinear_tf,
            lowercase=True,
            max_features=self.max_features,
            dtype=np.float32,
        )
        try:
            self.vectorizer_.fit(_strings(texts))
        except ValueError as e:  # sklearn: "empty vocabulary"
            raise InputError(_EMPTY) from e
        self.idf_ = self.vectorizer_.idf_
        return self


def _text_bits(n_chars: int, max_n: int) -> int:
    """Bits for the text index next to the n-gram code in a uint64 key (chunks of 2**bits)."""
    span = int((n_chars + 2) ** max_n)  # codes in base n_chars + 2, max_n digits
    return min(_TEXT_BITS, (2**64 // span).bit_length() - 1)


def _chunks(texts: Sequence[str | None], size: int) -> Iterator[Sequence[str | None]]:
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


def _strings(texts: Sequence[str | None]) -> list[str]:
    return ["" if t is None else t for t in texts]


def _runs(values: Codes) -> tuple[Ints, Ints]:
    """Start and length of each run of equal values in the sorted ``values``."""
    change = np.ones(len(values), bool)
    np.not_equal(values[1:], values[:-1], out=change[1:])
    first = np.flatnonzero(change)
    return first, np.diff(first, append=len(values))


def _vocab_counts(codes: Codes, doc: Int32s, count: Ints) -> tuple[Codes, Ints, Ints]:
    """Distinct n-grams of sorted (n-gram, text) pairs, their text counts and total counts."""
    first, size = _runs(codes)
    if not len(first):
        return codes, count, count
    return codes[first], size, np.add.reduceat(count, first)


def _codepoints(texts: Sequence[str | None]) -> tuple[npt.NDArray[np.uint32], Ints]:
    """Lower-cased code points of ``texts`` back to back, and the length of each text."""
    try:
        lowered = [t.lower() if t is not None else "" for t in texts]
        joined = "".join(lowered).encode("utf-32-le", "surrogatepass")
    except (AttributeError, TypeError) as e:
        raise InputError("NgramVectorizer takes strings (or None): convert the texts") from e
    lengths = np.fromiter(map(len, lowered), dtype=np.int64, count=len(lowered))
    return np.frombuffer(joined, dtype=np.uint32), lengths


def _alphabet(texts: Sequence[str | None]) -> npt.NDArray[np.int64]:
    """Sorted code points of the lower-cased non-space characters of ``texts``, and the space."""
    seen = np.zeros(_UNICODE, bool)
    seen[_SPACE] = True
    for part in _chunks(texts, 1 << _TEXT_BITS):
        cps, _ = _codepoints(part)
        seen |= np.bincount(cps, minlength=_UNICODE).astype(bool)
    seen[list(_WHITESPACE)] = False
    seen[_SPACE] = True
    return np.flatnonzero(seen)


def _char_wb(
    cps: npt.NDArray[np.uint32],
    lengths: Ints,
    table: Codes,
    *,
    ngram_range: tuple[int, int],
    text_bits: int,
) -> Codes:
    """``code << text_bits | text`` for every n-gram sklearn's ``_char_wb_ngrams`` yields.

    ``code`` packs the character ids (``table`` maps code points to ids) in base
    ``table.max() + 1``, first character in the highest digit, missing ones as 0.
    """
    from linker.vectors._keys import char_wb_keys  # numba: imported when first needed

    white = np.zeros(len(table), bool)
    white[list(_WHITESPACE)] = True
    return char_wb_keys(
        cps, lengths, table, white, ngram_range=ngram_range, text_bits=text_bits
    )  # fmt: skip


def _stack(blocks: list[sp.csr_matrix], n_cols: int) -> sp.csr_matrix:
    """Stack row blocks, dropping each once copied: pages of ``np.empty`` only take memory once
    written, so the peak is about one copy of the result rather than two (``sp.vstack``)."""
    nnz, n_rows = sum(b.nnz for b in blocks), sum(b.shape[0] for b in blocks)
    index = np.int32 if max(nnz, n_cols) < 2**31 else np.int64
    data, indices = np.empty(nnz, np.float32), np.empty(nnz, index)
    indptr = np.zeros(n_rows + 1, index)
    at = row = 0
    blocks.reverse()
    while blocks:
        b = blocks.pop()
        data[at : at + b.nnz], indices[at : at + b.nnz] = b.data, b.indices
        indptr[row + 1 : row + 1 + b.shape[0]] = b.indptr[1:] + at
        at, row = at + b.nnz, row + b.shape[0]
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))
