from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from linker.data.demo import make_demo
from linker.errors import InputError, NotFittedError
from linker.pipeline.serialize import Serializer
from linker.vectors import ngrams as lexical
from linker.vectors.ngrams import NgramVectorizer

TRICKY = [
    "Müller GmbH & Co. KG",
    "MÜLLER gmbh",
    "北京 市 朝阳区",
    "café 😀 ok 👩‍👩‍👧",
    "  lots   of\tspace\nand\r\nnewlines  ",
    "",
    "   ",
    "a",
    "ab",
    "x y z",
    "ΟΔΟΣ ΑΘΗΝΑΣ",  # final sigma
    "İstanbul",  # lower() makes two code points
    "A\u00a0B\u2003C\x1cD\x85E\u3000F",  # str.split() separators beyond ASCII
    "zero\u200bwidth",  # not a separator
    "O'Brien & Sons, Inc.",
    "STRASSE ß ﬁne",
    "\x00nul",
]


@pytest.fixture(scope="module")
def demo_texts() -> list[str]:
    left, right, _ = make_demo(1000, seed=3)
    ser = Serializer(["name", "street", "city", "state", "zip", "phone"], style="values")
    return ser.texts(left) + ser.texts(right)


def sklearn_matrix(fit: Sequence[str], texts: Sequence[str], **kw: Any) -> sp.csr_matrix:
    kw = {"ngram_range": (2, 4), "sublinear_tf": True} | kw  # NgramVectorizer's defaults
    v = TfidfVectorizer(analyzer="char_wb", lowercase=True, dtype=np.float32, **kw)
    return sp.csr_matrix(v.fit(fit).transform(texts))


def assert_same(ours: sp.csr_matrix, theirs: sp.csr_matrix) -> None:
    assert isinstance(ours, sp.csr_matrix) and ours.dtype == np.float32
    assert ours.has_canonical_format
    assert ours.shape == theirs.shape
    assert (ours != theirs).nnz == 0 or abs(ours - theirs).max() < 1e-6
    assert ours.nnz == theirs.nnz


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"sublinear_tf": False},
        {"ngram_range": (1, 1)},
        {"ngram_range": (1, 3)},
        {"ngram_range": (3, 5)},
        {"ngram_range": (5, 6)},  # padded words shorter than min_n are yielded whole
        {"ngram_range": (2, 8)},
    ],
)
def test_same_matrix_as_sklearn(demo_texts: list[str], kw: dict[str, Any]) -> None:
    texts = demo_texts + TRICKY
    ours = NgramVectorizer(**kw).fit(texts).transform(texts)
    assert_same(ours, sklearn_matrix(texts, texts, **kw))


def test_unseen_texts_ignore_unknown_ngrams(demo_texts: list[str]) -> None:
    fit, unseen = demo_texts[:1500], demo_texts[1500:] + TRICKY + ["qqqq ẞ", "東京 Zürich"]
    ours = NgramVectorizer().fit(fit).transform(unseen)
    assert_same(ours, sklearn_matrix(fit, unseen))


@pytest.mark.parametrize("max_features", [1, 7, 2000, 10**6])
def test_max_features_keeps_what_sklearn_keeps(demo_texts: list[str], max_features: int) -> None:
    texts = demo_texts + TRICKY  # many n-grams tie on their total count
    ours = NgramVectorizer(max_features=max_features).fit(texts).transform(texts)
    assert_same(ours, sklearn_matrix(texts, texts, max_features=max_features))


def test_chunks_give_the_same_matrix(
    demo_texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = NgramVectorizer(max_features=500).fit(demo_texts).transform(demo_texts)
    monkeypatch.setattr(lexical, "_TEXT_BITS", 5)  # 32 texts per chunk
    monkeypatch.setattr(lexical, "_MIN_TEXT_BITS", 5)
    chunked = NgramVectorizer(max_features=500).fit(demo_texts).transform(demo_texts)
    assert_same(chunked, whole)


def test_huge_alphabet_falls_back_to_sklearn() -> None:
    texts = ["".join(chr(0x4E00 + i) for i in range(k, k + 40)) for k in range(0, 400, 7)]
    v = NgramVectorizer(ngram_range=(1, 8)).fit(texts)
    assert hasattr(v, "vectorizer_")  # 400 characters: 8 ids do not fit in 64 bits
    assert_same(v.transform(texts), sklearn_matrix(texts, texts, ngram_range=(1, 8)))
    assert v.fit(["acme corp"]).vectorizer_ is None  # a later fit on a small alphabet: numpy


def test_null_texts_are_empty_rows() -> None:
    texts = ["acme corp", None, "zeta ltd", None]
    m = NgramVectorizer().fit(texts).transform(texts)
    assert m.getnnz(axis=1).tolist()[1::2] == [0, 0]
    ref = sklearn_matrix(["acme corp", "", "zeta ltd", ""], ["acme corp", "", "zeta ltd", ""])
    assert_same(m, ref)


def test_rows_are_unit_length_and_transform_of_nothing_is_empty() -> None:
    v = NgramVectorizer().fit(["acme corp", "zeta"])
    m = v.transform(["acme corp", "", "unknown qq"])
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    assert np.allclose(norms, [1.0, 0.0, 0.0], atol=1e-6)
    assert v.transform([]).shape == (0, m.shape[1])


def test_whitespace_is_what_str_split_splits_on() -> None:
    spaces = {c for c in range(0x110000) if chr(c).isspace()}
    assert set(lexical._WHITESPACE) == spaces


@pytest.mark.parametrize("texts", [[], [""], ["   ", "\t\n"], [None]])
def test_empty_vocabulary_is_an_input_error(texts: list[str | None]) -> None:
    with pytest.raises(InputError, match="empty in every row"):
        NgramVectorizer().fit(texts)


def test_non_string_is_an_input_error() -> None:
    with pytest.raises(InputError, match="strings"):
        NgramVectorizer().fit(["acme", 3.5])  # type: ignore[list-item]


def test_transform_before_fit_is_not_fitted() -> None:
    with pytest.raises(NotFittedError, match="call fit"):
        NgramVectorizer().transform(["acme"])


def test_ngram_texts_join_digits_within_a_column_only() -> None:
    import polars as pl

    from linker.vectors.ngrams import ngram_texts

    cols = [pl.Series(["Main St 12", "x"]), pl.Series(["(614) 452-3372", "614.452.3372"])]
    assert ngram_texts(cols) == ["Main St 12 6144523372", "x 6144523372"]
    assert ngram_texts([pl.Series(["+49 89 6916-088", ""]), pl.Series(["", ""])]) == [
        "49896916088",
        "",
    ]


def _bitwise(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype and a.has_canonical_format
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("chunk_bits", [None, 5])
@pytest.mark.parametrize("max_features", [None, 500])
def test_fit_transform_is_fit_then_transform_bit_for_bit(
    demo_texts: list[str], monkeypatch: pytest.MonkeyPatch, chunk_bits: int | None,
    max_features: int | None,
) -> None:  # fmt: skip
    if chunk_bits is not None:  # 32 texts per chunk: parts end mid-chunk
        monkeypatch.setattr(lexical, "_TEXT_BITS", chunk_bits)
        monkeypatch.setattr(lexical, "_MIN_TEXT_BITS", chunk_bits)
    parts: list[list[str | None]] = [demo_texts[:1001] + [None], TRICKY + demo_texts[1001:], []]
    got = NgramVectorizer(max_features=max_features).fit_transform(parts)
    v = NgramVectorizer(max_features=max_features).fit([t for p in parts for t in p])
    assert len(got) == 3
    for part, matrix in zip(parts, got, strict=True):
        _bitwise(matrix, v.transform(part))


def test_fit_transform_with_a_huge_alphabet_is_sklearns() -> None:
    texts = ["".join(chr(0x4E00 + i) for i in range(k, k + 40)) for k in range(0, 400, 7)]
    a, b = NgramVectorizer(ngram_range=(1, 8)).fit_transform([texts[:20], texts[20:]])
    v = NgramVectorizer(ngram_range=(1, 8)).fit(texts)
    _bitwise(a, v.transform(texts[:20]))
    _bitwise(b, v.transform(texts[20:]))
