"""The Linker as a facade: one JSON config that reproduces a run, settings in groups, caches
declared up front, and no module outside it reaching into its private attributes."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import polars as pl
import pytest
from conftest import HashingEncoder, demo_tables

from linker._params import param_names
from linker.backend import LocalBackend
from linker.blocking.blockers import Blockers
from linker.errors import ConfigError
from linker.pipeline.config import RUNTIME
from linker.pipeline.linker import Linker
from linker.vectors.ann import AnnParams

ROOT = Path(__file__).resolve().parents[1]
ON = ["name", "street", "city", "zip"]


@pytest.fixture(scope="module")
def tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    left, right, truth = demo_tables()
    pairs = truth.head(100)  # 100 true pairs, and 20 records on each side without a match
    lin = pl.col("id").is_in(pairs["left_id"].to_list())
    rin = pl.col("id").is_in(pairs["right_id"].to_list())
    return (
        pl.concat([left.filter(lin), left.filter(~lin).tail(20)]),
        pl.concat([right.filter(rin), right.filter(~rin).tail(20)]),
    )


def _settings() -> Linker:
    """Every kind of setting away from its default: lists, pairs, dataclasses, options."""
    return Linker(
        on=ON, how="m:1", k=5, threshold=0.4, model="minilm", id="id", block_on=None,
        ann=AnnParams(exact_below=50, sparse_exact_below=50, M=12, seed=3),
        blockers=Blockers(dense_below=None, tokens_from=None), assign="greedy",
        cluster="average", representative=True, rerank_band=(0.2, 0.8), show_progress=False,
    )  # fmt: skip


def test_a_run_is_reproducible_from_its_config_file(
    tmp_path: Path, tables: tuple[pl.DataFrame, pl.DataFrame], default_model: object
) -> None:
    left, right = tables
    original = _settings()
    path = original.save_config(tmp_path / "run" / "linker.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc == original.to_config() and doc["format_version"] == 1
    again = Linker.from_config(path, show_progress=False)
    assert again.to_config() == original.to_config()
    assert isinstance(again.ann, AnnParams) and again.ann.M == 12
    assert again.rerank_band == (0.2, 0.8) and again.blockers == original.blockers
    a, b = original.link(left, right), again.link(left, right)
    assert a.frame.equals(b.frame) and a.pairs.equals(b.pairs)
    assert a.matches.height > 50  # a real linkage, not two empty ones
    c, d = original.dedup(left), Linker.from_config(original.to_config()).dedup(left)
    assert c.frame.equals(d.frame) and "_representative" in d.frame.columns


def test_the_config_holds_every_setting_but_how_a_run_reports() -> None:
    section = Linker().to_config()["linker"]
    assert list(section) == [n for n in param_names(Linker) if n not in RUNTIME]
    assert set(RUNTIME) == {"show_progress", "callback"}
    json.dumps(Linker(callback=print, show_progress=True).to_config())  # not written
    assert _settings().to_config()["linker"]["ann"] == {
        "M": 12, "ef_construction": None, "ef_search": None, "exact_below": 50,
        "sparse_exact_below": 50, "sketch_dim": 256, "seed": 3, "threads": None,
        "shards": None, "cells": None, "probes": None, "spill": None, "parallel_from": 100_000,
        "index_dir": None,
    }  # fmt: skip
    assert Linker(cache=Path("runs")).to_config()["linker"]["cache"] == "runs"
    assert Linker(id=("lid", "rid")).to_config()["linker"]["id"] == ["lid", "rid"]
    assert Linker.from_config(Linker(id=("lid", "rid")).to_config()).id == ("lid", "rid")


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ({"model": HashingEncoder()}, "model=<HashingEncoder> .*as a name"),
        ({"rerank": object()}, "rerank=<object> .*'openai:<model>'"),
        ({"matcher": object()}, r"matcher=<object> .*matcher.save\(folder\)"),
        ({"backend": LocalBackend()}, "backend=<LocalBackend> .*'local' or 'ray'"),
    ],
)
def test_objects_json_cannot_hold_are_named(setting: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Linker(**setting).to_config()  # type: ignore[arg-type]


def test_a_hand_written_config_takes_the_defaults_for_the_rest(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(
        '{"format_version": 1, "linker": {"on": ["name"], "k": 20}}', encoding="utf-8"
    )
    linker = Linker.from_config(tmp_path / "c.json", threshold=0.7)
    assert (linker.on, linker.k, linker.threshold, linker.how) == (["name"], 20, 0.7, "1:1")


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({"format_version": 1, "linker": {"treshold": 0.4}}, "'treshold' .*'threshold'"),
        ({"format_version": 1, "linker": {"ann": {"sed": 8}}}, "'ann' .*'sed' .*'seed'"),
        ({"format_version": 1, "linker": {"ann": 8}}, "ann must be an object of AnnParams"),
        ({"format_version": 9, "linker": {}}, "format 9, written by a newer linker"),
        ({"linker": {}}, 'no "format_version"'),
        ({"format_version": 1, "on": ["name"]}, 'no "linker" section'),
        ({"format_version": 1, "linker": {"callback": None}}, "unknown setting.*'callback'"),
    ],
)
def test_bad_configs_are_refused_with_what_to_do(doc: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Linker.from_config(doc)


def test_bad_files_and_overrides_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config"):
        Linker.from_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{on: name}", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.json is not JSON"):
        Linker.from_config(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="'threshhold' .*'threshold'"):
        Linker.from_config(Linker().to_config(), threshhold=0.2)


def test_a_review_export_from_before_the_format_reads() -> None:
    old = {
        "linkage": "link-0123456789ab", "kind": "link",
        "settings": {"command": "merge", "left": "a.csv", "right": "b.csv", "left_on": ["name"],
                     "right_on": ["name"], "id": "id", "how": "1:1", "threshold": 0.6, "k": 5},
        "cli": "linker merge a.csv b.csv --on name", "decisions": {}, "matcher": None,
    }  # fmt: skip
    linker = Linker.from_config(old)
    assert (linker.left_on, linker.id, linker.threshold, linker.k) == (["name"], "id", 0.6, 5)


def test_grouped_settings_read_and_write_through_their_names() -> None:
    linker = Linker(rerank_band=(0.2, 0.8), cache="runs")
    linker.rerank_band = (0.1, 0.9)
    linker.cluster = "average"
    linker.ann = AnnParams(M=8)
    assert linker.rerank_band == (0.1, 0.9) and linker.cluster == "average"
    section = linker.to_config()["linker"]
    assert section["rerank_band"] == [0.1, 0.9] and section["cluster"] == "average"
    assert linker.ann_params().M == 8 and Path(linker.ann_params().index_dir or "").name
    assert repr(linker) == (
        "Linker(ann=AnnParams(M=8, ef_construction=None, ef_search=None, exact_below=20000, "
        "sparse_exact_below=50000, sketch_dim=256, seed=0, threads=None, shards=None, "
        "cells=None, probes=None, spill=None, "
        "parallel_from=100000, index_dir=None), cluster='average', rerank_band=(0.1, 0.9), "
        "cache='runs')"
    )
    assert repr(Linker()) == "Linker()"


def test_caches_are_declared_in_init(
    firms: tuple[pl.DataFrame, pl.DataFrame], hashing_encoder: HashingEncoder
) -> None:
    linker = Linker(on=["name", "city"], model=hashing_encoder, show_progress=False)
    before = {name: type(value) for name, value in vars(linker).items()}
    resolved = set(vars(linker._resolved))
    linker.link(*firms)
    linker.dedup(firms[0])
    assert {name: type(value) for name, value in vars(linker).items()} == before
    assert set(vars(linker._resolved)) == resolved  # filled, none added


def test_public_columns_and_checks() -> None:
    df = pl.DataFrame({"id": ["L1", "L2"], "name": ["Acme", "Zeta"], "town": ["A", "B"]})
    other = df.rename({"name": "firm"})
    assert Linker(left_on="name", right_on=["firm"]).columns(df, other) == (["name"], ["firm"])
    assert Linker(id="id").columns(df) == (["name", "town"], ["name", "town"])
    with pytest.raises(ConfigError, match="not both"):
        Linker(on="name", left_on="name").columns(df, df)
    with pytest.raises(ConfigError, match=r"how='1:2' is not one of"):
        Linker(how="1:2").check()  # type: ignore[arg-type]


def _linker_privates() -> set[str]:
    instance = vars(Linker())
    return {n for n in [*vars(Linker), *instance] if n.startswith("_") and not n.endswith("__")}


def _private_uses(tree: ast.AST, private: set[str]) -> list[ast.Attribute]:
    """``x._name`` nodes with ``_name`` in ``private``, but not ``self._name``/``cls._name``."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in private
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]


def test_no_module_reaches_into_the_linkers_privates() -> None:
    """Outside ``pipeline/linker.py`` (and this test), no ``x._name`` where ``_name`` is a
    private attribute or method of :class:`Linker`; an object's own ``self._name`` is its own
    business. Attribute access by name (``getattr(x, "_name")``) is not seen."""
    private = _linker_privates()
    assert {"_rerank", "_scale", "_resolved", "_reference", "_block", "_score"} <= private
    files = [
        *sorted((ROOT / "linker").rglob("*.py")), *sorted((ROOT / "app").glob("*.py")),
        *sorted((ROOT / "benchmarks").glob("*.py")), *sorted((ROOT / "tests").glob("*.py")),
    ]  # fmt: skip
    skip = {ROOT / "linker" / "pipeline" / "linker.py", Path(__file__).resolve()}
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
        for path in files
        if path not in skip
        for node in _private_uses(ast.parse(path.read_text(encoding="utf-8")), private)
    ]
    assert not found, "modules that use Linker privates:\n" + "\n".join(found)


def test_the_private_scan_can_fail() -> None:
    code = "lk = Linker()\nlk._block(1)\nlinker._reference = None\nself._score()\n"
    hits = [ast.unparse(n) for n in _private_uses(ast.parse(code), _linker_privates())]
    assert sorted(hits) == ["linker._reference", "lk._block"]
