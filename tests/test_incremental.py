"""Incremental linking: a saved LinkIndex links new records without re-embedding the reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import linker.vectors.embed
from linker.data.demo import make_demo
from linker.errors import InputError
from linker.pipeline.incremental import LinkIndex
from linker.vectors.ann import AnnParams

ON = ["name", "street", "city", "state", "zip", "phone"]
# small tables, but above these sizes the graphs are hnswlib ones, saved in the folder
SMALL_ANN = AnnParams(exact_below=100, sparse_exact_below=100)


@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return make_demo(400, overlap=0.8, seed=5)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, demo: tuple[pl.DataFrame, ...]) -> Path:
    folder = tmp_path_factory.mktemp("index")
    LinkIndex.build(demo[1], folder, on=ON, ann=SMALL_ANN, show_progress=False)
    return folder


def _recall(frame: pl.DataFrame, truth: pl.DataFrame) -> float:
    found = frame.filter(pl.col("_merge") == "both").select(
        pl.col("id").alias("left_id"), pl.col("id_right").alias("right_id")
    )
    return truth.join(found, on=["left_id", "right_id"], how="semi").height / truth.height


def test_link_new_records_reads_the_reference_back(
    built: Path, demo: tuple[pl.DataFrame, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    left, right, truth = demo
    graphs = sorted((built / "cache" / "indexes").glob("hnsw-*.bin"))
    assert len(graphs) == 2  # the embedding graph and the n-gram sketch graph
    stamps = [g.stat().st_mtime_ns for g in graphs]
    embedded: list[int] = []
    real = linker.vectors.embed.embed_texts

    def spy(encoder, texts, **kw):  # type: ignore[no-untyped-def]
        embedded.append(len(texts))
        return real(encoder, texts, **kw)

    monkeypatch.setattr(linker.vectors.embed, "embed_texts", spy)
    batch = left.head(150).with_columns(pl.lit("x").alias("note"))
    out = LinkIndex.load(built).link(batch, show_progress=False)
    assert embedded == [150]  # only the new records went through the model
    assert [g.stat().st_mtime_ns for g in graphs] == stamps  # graphs read, not rebuilt
    assert sorted((built / "cache" / "indexes").glob("hnsw-*.bin")) == graphs
    assert out.frame.height == 150  # every new row, no reference-only rows
    assert set(out.frame["_merge"].unique()) <= {"both", "left_only"}
    in_batch = truth.filter(pl.col("left_id").is_in(batch["id"].to_list()))
    assert _recall(out.frame, in_batch) > 0.9


@pytest.mark.slow
def test_link_is_repeatable_and_in_batches(built: Path, demo: tuple[pl.DataFrame, ...]) -> None:
    left, _, truth = demo
    index = LinkIndex.load(built)
    whole = index.link(left, show_progress=False).frame
    again = index.link(left, show_progress=False).frame
    assert whole.equals(again)
    assert _recall(whole, truth) > 0.9
    parts = [index.link(left[i : i + 200], show_progress=False).frame for i in (0, 200)]
    assert _recall(pl.concat(parts), truth) > 0.9


@pytest.mark.slow
def test_scores_match_a_fresh_index(
    tmp_path: Path, built: Path, demo: tuple[pl.DataFrame, ...]
) -> None:
    left, right, _ = demo
    fresh = LinkIndex.build(right, tmp_path, on=ON, ann=SMALL_ANN, show_progress=False)
    a = fresh.link(left.head(100), show_progress=False).pairs
    b = LinkIndex.load(built).link(left.head(100), show_progress=False).pairs
    assert a.equals(b)


def test_bad_folder_and_columns(tmp_path: Path, demo: tuple[pl.DataFrame, ...]) -> None:
    with pytest.raises(InputError, match="holds no link index"):
        LinkIndex.load(tmp_path)
    with pytest.raises(InputError, match="no column"):
        LinkIndex.build(demo[1], tmp_path / "x", on=["name", "nope"])


def test_new_table_missing_a_column(built: Path, demo: tuple[pl.DataFrame, ...]) -> None:
    with pytest.raises(InputError, match="street"):
        LinkIndex.load(built).link(demo[0].drop("street"), show_progress=False)


@pytest.mark.slow
def test_cache_reuses_embeddings_between_runs(
    tmp_path: Path, demo: tuple[pl.DataFrame, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    from linker.pipeline.linker import Linker

    left, right, _ = demo
    first = Linker(on=ON, cache=tmp_path, ann=SMALL_ANN).link(left, right)
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 2
    assert len(list((tmp_path / "indexes").glob("hnsw-*.bin"))) == 2
    calls: list[int] = []
    monkeypatch.setattr(linker.vectors.embed, "embed_texts", lambda *a, **k: calls.append(1))
    second = Linker(on=ON, cache=tmp_path, ann=SMALL_ANN).link(left, right)
    assert calls == []  # everything came from the cache
    assert first.frame.equals(second.frame)
    np.testing.assert_array_equal(first.pairs["score"], second.pairs["score"])


def test_cli_index_then_link(tmp_path: Path, demo: tuple[pl.DataFrame, ...]) -> None:
    from linker.cli import main

    left, right, truth = demo
    right.write_csv(tmp_path / "ref.csv")
    left.head(100).write_csv(tmp_path / "new.csv")
    on = ",".join(ON)
    assert (
        main(["index", str(tmp_path / "ref.csv"), "--on", on, "-o", str(tmp_path / "ix"), "-q"])
        == 0
    )
    out = tmp_path / "out.csv"
    assert (
        main(
            [
                "link",
                str(tmp_path / "new.csv"),
                "--index",
                str(tmp_path / "ix"),
                "-o",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    frame = pl.read_csv(out, infer_schema=False)
    assert frame.height == 100
    assert _recall(frame, truth.filter(pl.col("left_id").is_in(frame["id"].to_list()))) > 0.9
    assert main(["link", str(tmp_path / "new.csv"), "--index", str(tmp_path), "-q"]) == 2


def test_the_settings_are_a_linker_config(built: Path) -> None:
    import json

    from linker.pipeline.linker import Linker

    doc = json.loads((built / "linkindex.json").read_text(encoding="utf-8"))
    assert doc["format_version"] == 1 and doc["index"]["rows"] == 400
    assert doc["linker"]["on"] == ON and doc["linker"]["ann"]["index_dir"] is None
    linker = Linker.from_config(built / "linkindex.json")  # the same file reads as a config
    assert (linker.on, linker.how, linker.ann) == (ON, "m:1", SMALL_ANN)
    index = LinkIndex.load(built)
    assert index.settings["on"] == ON and index.settings["rows"] == 400
    ready = index.linker(threshold=0.7)
    assert ready.threshold == 0.7 and ready.cache == built / "cache"
    assert ready.ann_params().index_dir == str(built / "cache" / "indexes")


def test_an_index_from_before_the_config_format_links_the_same(
    tmp_path: Path, built: Path, demo: tuple[pl.DataFrame, ...]
) -> None:
    import json
    import shutil
    from dataclasses import asdict

    old = tmp_path / "old"
    shutil.copytree(built, old)
    doc = json.loads((built / "linkindex.json").read_text(encoding="utf-8"))
    legacy = {  # what LinkIndex.build wrote before the linker config format
        "format": 1, "on": ON, "model": doc["linker"]["model"], "k": 10,
        "ann": {k: v for k, v in asdict(SMALL_ANN).items() if k != "index_dir"},
        "dense_columns": doc["index"]["dense_columns"], "rows": 400,
    }  # fmt: skip
    (old / "linkindex.json").write_text(json.dumps(legacy, indent=2), encoding="utf-8")
    index = LinkIndex.load(old)
    assert index.settings["on"] == ON and index.settings["dense_columns"] == legacy["dense_columns"]
    a = index.link(demo[0].head(100), show_progress=False).pairs
    b = LinkIndex.load(built).link(demo[0].head(100), show_progress=False).pairs
    assert a.equals(b)
    (old / "linkindex.json").write_text('{"format": 2, "on": ["name"]}', encoding="utf-8")
    with pytest.raises(InputError, match="not an index this linker reads"):
        LinkIndex.load(old)


def test_an_index_saved_without_a_model_name_keeps_minilm(tmp_path: Path, built: Path) -> None:
    import json
    import shutil

    doc = json.loads((built / "linkindex.json").read_text(encoding="utf-8"))
    assert doc["linker"]["model"] == "static"  # the default, saved by name
    old = tmp_path / "old"
    shutil.copytree(built, old)
    doc["linker"]["model"] = None  # what build() saved while MiniLM was the default
    (old / "linkindex.json").write_text(json.dumps(doc), encoding="utf-8")
    index = LinkIndex.load(old)
    assert index.settings["model"] == "minilm"
    assert index.linker().model == "minilm"
    assert LinkIndex.load(built).linker().model == "static"
