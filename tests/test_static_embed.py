"""The static model (``model="static"``): the real model2vec model that ``make install-static``
distils from the packaged MiniLM, its errors, and the taxonomy matcher running on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from linker.errors import ModelError
from linker.taxonomy import Taxonomy, TaxonomyMatcher
from linker.vectors.embed import STATIC_MODEL_ENV, StaticEncoder, get_encoder, static_model_dir


@pytest.fixture(scope="module")
def static() -> StaticEncoder:
    enc = get_encoder("static")
    assert isinstance(enc, StaticEncoder)
    return enc


def test_vectors_are_unit_float32_and_deterministic(static: StaticEncoder) -> None:
    texts = ["Acme Corporation", "acme corp.", "blue whale", ""]
    a, b = static.encode(texts), static.encode(texts)
    assert a.shape == (4, 256) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a[:3], axis=1), 1.0, atol=1e-5)
    assert static.encode([]).shape == (0, 256)


def test_similar_names_are_closer_than_unrelated_ones(static: StaticEncoder) -> None:
    v = static.encode(["heart disease", "cardiac disorder", "bicycle", "football club", "soccer"])
    assert v[0] @ v[1] > v[0] @ v[2]
    assert v[3] @ v[4] > v[3] @ v[2]


def test_the_default_folder_lives_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STATIC_MODEL_ENV, raising=False)
    assert static_model_dir().parts[-3:] == ("share", "linker", "static-minilm-256")
    assert (static_model_dir() / "model.safetensors").is_file()


def test_a_missing_model_says_which_step_builds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATIC_MODEL_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match=r"make install-static.*LINKER_STATIC_MODEL"):
        get_encoder("static").encode(["acme"])
    with pytest.raises(ModelError, match="make install-static"):
        StaticEncoder(tmp_path).encode(["acme"])


def test_an_explicit_folder_is_loaded(static: StaticEncoder) -> None:
    enc = StaticEncoder(static_model_dir())
    assert enc.name.startswith("static:")
    assert np.allclose(enc.encode(["acme"]), static.encode(["acme"]))


def test_taxonomy_matcher_on_the_static_model(static: StaticEncoder) -> None:
    tax = Taxonomy(
        ["thing", "animal", "dog", "cat", "vehicle", "car", "bicycle"],
        ["Thing", "Animal", "Dog", "Cat", "Vehicle", "Car", "Bicycle"],
        [None, ["thing"], ["animal"], ["animal"], ["thing"], ["vehicle"], ["vehicle"]],
        synonyms=[[], [], ["hound", "puppy"], ["kitty"], [], ["automobile"], ["bike"]],
    )
    m = TaxonomyMatcher("static").fit(tax)
    got = m.predict(["a hound", "my kitty", "automobiles", "mountain bike"], top_k=1).nodes[:, 0]
    assert [tax.ids[n] for n in got] == ["dog", "cat", "car", "bicycle"]
