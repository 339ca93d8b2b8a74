from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from linker.errors import ModelError
from linker.vectors.embed import (
    EmbeddingCache,
    Encoder,
    OnnxMiniLM,
    SentenceTransformerEncoder,
    embed_texts,
    get_encoder,
)

VARIED = [
    "Acme Corp",
    "ACME Corporation, 12 Main Street, Boston MA 02110",
    "Zeta Ltd",
    "Müller & Söhne GmbH, Königstraße 5, München",
    "Blue Sky Incorporated 555-123-4567",
    "blue sky inc.",
    "O'Brien Plumbing & Heating LLC",
    "",
    "a",
    "1234567890",
    "Pacific Freight Logistics - Seattle, WA",
    "Société Générale S.A.",
    "東京株式会社",
    "the quick brown fox jumps over the lazy dog " * 6,
    "COL name VAL acme corp COL city VAL boston",
    "Dr. Jane Smith, MD",
    "St. Mary's Hospital",
    "   spaced    out   text  ",
    "UPPER CASE ONLY",
    "email@example.com http://example.com/path?q=1",
]


def cos(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(np.dot(a, b))


class CountingEncoder:
    """Wraps an encoder and records every batch it is asked to embed."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls: list[list[str]] = []

    def encode(
        self, texts: Sequence[str], *, show_progress: bool | None = None
    ) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        return self.inner.encode(texts, show_progress=show_progress)


# ----------------------------------------------------------------------------- the real model


def test_minilm_vectors_are_unit_float32(minilm: Encoder) -> None:
    assert isinstance(minilm, OnnxMiniLM)
    v = minilm.encode(VARIED)
    assert v.shape == (len(VARIED), 384)
    assert v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(v).all()


def test_minilm_similar_strings_are_closer(minilm: Encoder) -> None:
    v = minilm.encode(
        ["Acme Corp", "ACME Corporation", "Zeta Ltd", "Blue Sky Inc", "blue sky inc."]
    )
    assert cos(v[0], v[1]) > cos(v[0], v[2])
    assert cos(v[0], v[1]) > cos(v[0], v[3])
    assert cos(v[3], v[4]) > 0.9
    assert cos(v[3], v[4]) > cos(v[3], v[2])


def test_minilm_vector_does_not_depend_on_batch(minilm: Encoder) -> None:
    together = minilm.encode(VARIED)  # mixed lengths: padded, length-bucketed batches
    for i in (0, 3, 13):
        alone = minilm.encode([VARIED[i]])[0]
        assert cos(alone, together[i]) > 0.999


def test_minilm_small_batches_give_same_vectors(
    monkeypatch: pytest.MonkeyPatch, minilm: Encoder
) -> None:
    b = minilm.encode(VARIED)
    monkeypatch.setattr(minilm, "batch_size", 3)  # reuse the loaded session
    a = minilm.encode(VARIED)
    assert np.einsum("ij,ij->i", a, b).min() > 0.999


def test_minilm_truncates_long_texts() -> None:
    enc = OnnxMiniLM(max_length=8)
    v = enc.encode(["word " * 500, "word " * 20])
    assert v.shape == (2, 384)
    assert cos(v[0], v[1]) > 0.999  # both cut to the same first 8 tokens


def test_minilm_empty_input(minilm: Encoder) -> None:
    assert minilm.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_onnx_int8_agrees_with_sentence_transformers_fp32(minilm: Encoder) -> None:
    torch_enc = get_encoder("minilm-torch")
    assert isinstance(torch_enc, SentenceTransformerEncoder)
    fp32 = torch_enc.encode(VARIED)
    int8 = minilm.encode(VARIED)
    assert fp32.shape == int8.shape and fp32.dtype == np.float32
    sims = np.einsum("ij,ij->i", fp32, int8)
    assert sims.min() >= 0.99


# ----------------------------------------------------------------------------- resolution


def test_get_encoder_resolves_names_and_instances(hashing_encoder: Encoder) -> None:
    assert isinstance(get_encoder(), OnnxMiniLM)
    assert isinstance(get_encoder("minilm"), OnnxMiniLM)
    assert get_encoder(hashing_encoder) is hashing_encoder
    other = get_encoder("some/local-folder")
    assert isinstance(other, SentenceTransformerEncoder) and other.name == "some/local-folder"


def test_get_encoder_rejects_other_objects() -> None:
    with pytest.raises(ModelError, match="int"):
        get_encoder(3)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- embed_texts, cache


def test_embed_texts_runs_the_model_once_per_distinct_text(minilm: Encoder) -> None:
    counting = CountingEncoder(minilm)
    texts = ["acme", "zeta", "acme", "blue sky", "zeta", "acme"]
    out = embed_texts(counting, texts)
    assert len(counting.calls) == 1
    assert sorted(counting.calls[0]) == ["acme", "blue sky", "zeta"]
    assert out.shape == (6, 384)
    direct = minilm.encode(texts)
    assert np.einsum("ij,ij->i", out, direct).min() > 0.999  # row i is text i's vector
    np.testing.assert_array_equal(out[0], out[2])


def test_embed_texts_with_a_fake_encoder(hashing_encoder: Encoder) -> None:
    out = embed_texts(hashing_encoder, ["b", "a", "b"])
    np.testing.assert_array_equal(out[0], hashing_encoder.encode(["b"])[0])
    np.testing.assert_array_equal(out[1], hashing_encoder.encode(["a"])[0])


def test_embedding_cache_returns_same_object_and_embeds_once(hashing_encoder: Encoder) -> None:
    counting = CountingEncoder(hashing_encoder)
    cache = EmbeddingCache(counting)
    a = cache.get(["acme", "zeta"])
    b = cache.get(["acme", "zeta"])
    assert a is b
    assert len(counting.calls) == 1
    c = cache.get(["zeta", "acme"])
    assert c is not a and len(counting.calls) == 2
    np.testing.assert_array_equal(c[0], a[1])


def test_embedding_cache_key_depends_on_model_and_texts() -> None:
    base = EmbeddingCache.key("minilm", ["a", "b"])
    assert base == EmbeddingCache.key("minilm", ["a", "b"])
    assert base != EmbeddingCache.key("other", ["a", "b"])
    assert base != EmbeddingCache.key("minilm", ["ab"])
    assert base != EmbeddingCache.key("minilm", ["a", "b", ""])


def test_embedding_cache_texts_with_nul_do_not_collide(hashing_encoder: Encoder) -> None:
    cache = EmbeddingCache(hashing_encoder)
    first = cache.get(["a", "b"])
    second = cache.get(["a\x00b"])
    assert second.shape == (1, first.shape[1])


def test_cache_keeps_one_copy_in_the_dtype_asked_for(hashing_encoder: Encoder) -> None:
    counting = CountingEncoder(hashing_encoder)
    cache = EmbeddingCache(counting)
    full = cache.get(["acme", "zeta"])
    half = cache.get(["acme", "zeta"], dtype=np.float16)
    assert full.dtype == np.float32 and half.dtype == np.float16
    np.testing.assert_allclose(half, full, atol=1e-3)
    assert cache.get(["acme", "zeta"]) is half  # the float32 copy is not kept beside it
    assert len(counting.calls) == 1  # embedded once
