"""The static model (``model="static"``): distilled here from the packaged MiniLM into a temporary
``LINKER_STATIC_MODEL`` folder with the network shut, then loaded, compared with a direct token
average, used for blocking on the demo firms and by the taxonomy matcher."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import linker as lk
from linker.data.benchmarks import load_benchmark
from linker.errors import ModelError
from linker.taxonomy import Taxonomy, TaxonomyMatcher
from linker.vectors.ann import search
from linker.vectors.embed import StaticEncoder, build_static_model, get_encoder
from linker.vectors.static import (
    RECIPE,
    STATIC_MODEL_ENV,
    StaticVectors,
    _read_safetensors,
    distil,
    static_model_dir,
)

pytestmark = pytest.mark.slow


def _no_network(*args: object, **kwargs: object) -> None:
    raise OSError("the network is shut in this test")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The static model, built once for this module, offline, where the variable points."""
    folder = tmp_path_factory.mktemp("static") / "model"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(STATIC_MODEL_ENV, str(folder))
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        assert build_static_model(show_progress=False) == folder
        yield folder


@pytest.fixture(scope="module")
def static(built: Path) -> StaticEncoder:
    enc = get_encoder("static")  # reads $LINKER_STATIC_MODEL, set by `built`
    assert isinstance(enc, StaticEncoder)
    return enc


def test_the_build_writes_one_whole_folder(built: Path) -> None:
    assert sorted(p.name for p in built.iterdir()) == [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    ]
    assert [p.name for p in built.parent.iterdir()] == ["model"]  # no temporary folder left
    config = json.loads((built / "config.json").read_text())
    assert config["linker_recipe"] == RECIPE and config["hidden_dim"] == 256
    table = _read_safetensors(built / "model.safetensors")["embeddings"]
    assert table.shape == (30522, 256) and table.dtype == np.float16
    tokenizer = json.loads((built / "tokenizer.json").read_text())
    assert tokenizer["post_processor"] is None and tokenizer["padding"] is None
    assert build_static_model(built) == built  # a second call finds it and does nothing


def test_vectors_are_unit_float32_and_identical_for_identical_texts(static: StaticEncoder) -> None:
    texts = ["Acme Corporation", "acme corp.", "blue whale", "acme corp.", ""]
    a = static.encode(texts)
    assert a.shape == (5, 256) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a[:4], axis=1), 1.0, atol=1e-5)
    assert not a[4].any()  # no token: a zero vector
    assert np.array_equal(a[1], a[3])
    alone = static.encode(["acme corp."])  # another batch, other words around it
    assert np.array_equal(alone[0], a[1])
    assert static.encode([]).shape == (0, 256)


def test_word_by_word_tokens_equal_whole_text_tokens(built: Path) -> None:
    model = StaticVectors.load(built)
    texts = [
        "golden forge optics group limited 4659 sunset blvd +44 141 7979584",
        "Ünïcödé café,  double  space\tand a tab",
        "[CLS] x-ray (unknown) ☃☃ " + "z" * 120,
    ]
    got = model.encode(texts)
    for text, vec in zip(texts, got, strict=True):
        ids = [i for i in model.tokenizer.encode(text).ids if i != model.unk_id]
        want = model.table[ids].mean(axis=0)
        assert float(vec @ want / np.linalg.norm(want)) > 0.99999


def test_similar_names_are_closer_than_unrelated_ones(static: StaticEncoder) -> None:
    v = static.encode(["heart disease", "cardiac disorder", "bicycle", "football club", "soccer"])
    assert v[0] @ v[1] > v[0] @ v[2]
    assert v[3] @ v[4] > v[3] @ v[2]


def test_blocking_with_it_finds_the_demo_matches(static: StaticEncoder) -> None:
    bench = load_benchmark("demo")
    truth = set(bench.truth.iter_rows())
    lrow = {v: i for i, v in enumerate(bench.left[bench.left_id])}
    rrow = {v: i for i, v in enumerate(bench.right[bench.right_id])}

    def texts(frame: pl.DataFrame) -> list[str]:
        return [" ".join(v for v in row if v) for row in frame.select("name", "city").rows()]

    top, _ = search(static.encode(texts(bench.left)), static.encode(texts(bench.right)), 10)
    dense = sum(rrow[r] in top[lrow[lft]] for lft, r in truth) / len(truth)
    assert dense > 0.85  # the vectors alone, on name and city
    on = ["name", "street", "city", "state", "zip", "phone"]
    pairs = lk.candidates(bench.left, bench.right, on=on, model="static")
    found = set(pairs.select("left_row", "right_row").iter_rows())
    rows = {(lrow[lft], rrow[r]) for lft, r in truth}
    assert len(found & rows) / len(rows) > 0.99  # linker's blocking: vectors and n-grams


def test_merge_with_the_static_model_links_the_obvious_pairs(static: StaticEncoder) -> None:
    left = {"name": ["Acme Corporation", "Zeta Logistics Ltd", "Blue Sky Bakery Inc"]}
    right = {"name": ["ACME Corp.", "Blue Sky Bakery Incorporated", "Northwind Traders"]}
    out = lk.merge(pl.DataFrame(left), pl.DataFrame(right), on="name", model="static")
    both = out.filter(pl.col("_merge") == "both").select("name", "name_right").rows()
    assert sorted(both) == [
        ("Acme Corporation", "ACME Corp."),
        ("Blue Sky Bakery Inc", "Blue Sky Bakery Incorporated"),
    ]


def test_the_default_folder_is_in_the_environment_or_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STATIC_MODEL_ENV, raising=False)
    assert static_model_dir().parts[-3:] == ("share", "linker", f"static-minilm-256-r{RECIPE}")
    assert static_model_dir().is_relative_to(sys.prefix)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(sys, "prefix", str(blocked / "env"))  # nothing can be created there
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert static_model_dir() == tmp_path / "cache" / "linker" / f"static-minilm-256-r{RECIPE}"
    monkeypatch.setenv(STATIC_MODEL_ENV, str(tmp_path / "mine"))
    assert static_model_dir() == tmp_path / "mine"


def test_a_missing_folder_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model='static' needs.*holds none"):
        StaticEncoder(tmp_path / "nowhere").encode(["acme"])


def test_an_explicit_folder_is_loaded(built: Path, static: StaticEncoder) -> None:
    enc = StaticEncoder(built)
    assert enc.name == f"static:{built}"
    assert static.name == f"static-r{RECIPE}"  # embedding caches keep distillations apart
    assert np.array_equal(enc.encode(["acme"]), static.encode(["acme"]))


def _tiny_teacher_and_tokenizer() -> tuple[object, str]:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = ["[UNK]", "[CLS]", "[SEP]", "[unused0]", "acme", "corp", "zeta"]
    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    table = np.random.default_rng(0).normal(size=(len(vocab), 6))

    def teacher(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        assert (ids[:, 0] == 1).all() and (ids[:, 2] == 2).all() and mask.all()
        assert 3 not in ids[:, 1]  # [unusedN] never reaches the teacher
        return np.asarray(table[ids].mean(axis=1))

    return teacher, tok.to_str()


def test_a_second_writer_keeps_the_first_folder(tmp_path: Path) -> None:
    teacher, tok = _tiny_teacher_and_tokenizer()
    first = distil(teacher, tok, tmp_path / "m", dims=3)  # type: ignore[arg-type]
    before = (first / "model.safetensors").read_bytes()
    again = distil(teacher, tok, tmp_path / "m", dims=3, sif=0.5)  # type: ignore[arg-type]
    assert again == first and (first / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    table = StaticVectors.load(first).table
    assert not table[3].any()  # the placeholder token has no vector


def test_a_reference_safetensors_file_reads_the_same(tmp_path: Path) -> None:
    numpy_io = pytest.importorskip("safetensors.numpy")
    teacher, tok = _tiny_teacher_and_tokenizer()
    folder = distil(teacher, tok, tmp_path / "m", dims=3)  # type: ignore[arg-type]
    ours = _read_safetensors(folder / "model.safetensors")["embeddings"]
    assert np.array_equal(numpy_io.load_file(str(folder / "model.safetensors"))["embeddings"], ours)
    numpy_io.save_file({"embeddings": ours.astype(np.float32)}, str(folder / "model.safetensors"))
    assert np.array_equal(StaticVectors.load(folder).table, ours.astype(np.float32))


def test_taxonomy_matcher_on_the_static_model(static: StaticEncoder) -> None:
    tax = Taxonomy(
        ["thing", "animal", "dog", "cat", "vehicle", "car", "bicycle"],
        ["Thing", "Animal", "Dog", "Cat", "Vehicle", "Car", "Bicycle"],
        [None, ["thing"], ["animal"], ["animal"], ["thing"], ["vehicle"], ["vehicle"]],
        synonyms=[[], [], ["hound", "puppy"], ["kitty"], [], ["automobile"], ["bike"]],
    )
    m = TaxonomyMatcher(static).fit(tax)
    got = m.predict(["a hound", "my kitty", "automobiles", "mountain bike"], top_k=1).nodes[:, 0]
    assert [tax.ids[n] for n in got] == ["dog", "cat", "car", "bicycle"]
