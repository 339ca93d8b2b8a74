from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest

from linker.data.benchmarks import Benchmark, list_benchmarks, load_benchmark, load_dedup_benchmark
from linker.errors import ConfigError, InputError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"

# name: (left rows, right rows, truth pairs), as in ../shared/datasets/README.md
EXPECTED = {
    "DBLP-ACM": (2616, 2294, 2220),
    "Amazon-Google": (1363, 3226, 1167),
    "Abt-Buy": (1081, 1092, 1028),
    "Beer": (4345, 3000, 68),
    "Fodors-Zagats": (533, 331, 110),
    "Dirty/DBLP-ACM": (2616, 2294, 2220),
    "D1": (339, 2256, 89),
    "D2": (1076, 1076, 1076),
    "D3": (1354, 3039, 1103),
    "D4": (2616, 2294, 2224),
    "D10": (27615, 23182, 22863),
    "febrl4": (5000, 5000, 5000),
    "demo": (3000, 3000, 2400),
}


@pytest.fixture(scope="module")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED}")
    return SHARED


def _check_contract(bench: Benchmark) -> None:
    for frame in (bench.left, bench.right, bench.truth):
        assert all(dtype == pl.Utf8 for dtype in frame.dtypes)
    assert bench.truth.columns == ["left_id", "right_id"]
    assert bench.truth.is_duplicated().sum() == 0
    assert bench.truth["left_id"].is_in(bench.left[bench.left_id].implode()).all()
    assert bench.truth["right_id"].is_in(bench.right[bench.right_id].implode()).all()
    assert bench.on and bench.left_id not in bench.on and bench.right_id not in bench.on
    assert all(c in bench.left.columns and c in bench.right.columns for c in bench.on)


def test_every_registered_name_has_expected_counts() -> None:
    assert set(list_benchmarks()) == set(EXPECTED)


@pytest.mark.parametrize("name", [n for n in EXPECTED if n != "demo"])
def test_registered_benchmark(name: str, shared: Path) -> None:
    bench = load_benchmark(name, data_root=shared)
    assert bench.name == name
    assert (bench.left.height, bench.right.height, bench.truth.height) == EXPECTED[name]
    _check_contract(bench)


def test_demo_needs_no_shared_data(tmp_path: Path) -> None:
    bench = load_benchmark("demo", data_root=tmp_path)
    assert (bench.left.height, bench.right.height, bench.truth.height) == EXPECTED["demo"]
    assert bench.left_id == bench.right_id == "id"
    assert bench.on == ["name", "street", "city", "state", "zip", "phone", "founded"]
    _check_contract(bench)


def test_cleaning_details(shared: Path) -> None:
    febrl = load_benchmark("febrl4", data_root=shared)
    assert febrl.left_id == "rec_id" and "given_name" in febrl.on  # headers stripped
    assert febrl.left["surname"].str.starts_with(" ").sum() == 0  # values stripped
    assert febrl.right["surname"].null_count() > 0  # blank values are null
    assert load_benchmark("D1", data_root=shared).on == ["name", "phone_number", "street"]
    assert "class" not in load_benchmark("Fodors-Zagats", data_root=shared).on  # truth leak
    d4 = load_benchmark("D4", data_root=shared)
    first = d4.truth.row(0, named=True)
    left_title = d4.left.filter(pl.col("id") == first["left_id"])["title"].item()
    right_title = d4.right.filter(pl.col("id") == first["right_id"])["title"].item()
    assert left_title.lower()[:20] == right_title.lower()[:20]  # D4 left is DBLP, right ACM


def test_dedup_benchmarks(shared: Path) -> None:
    expected = {"febrl1": (1000, 500), "febrl2": (5000, 1934), "febrl3": (5000, 6538)}
    for name, (rows, pairs) in expected.items():
        records, id_column, truth = load_dedup_benchmark(name, data_root=shared)
        assert (records.height, truth.height) == (rows, pairs)
        assert id_column == "rec_id" and truth.columns == ["id_a", "id_b"]
        assert (truth["id_a"] < truth["id_b"]).all()
    with pytest.raises(ConfigError, match="febrl1"):
        load_dedup_benchmark("febrl9", data_root=shared)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_generic_deepmatcher_folder(tmp_path: Path) -> None:
    _write(tmp_path / "tableA.csv", "id,title,year\n0, Alpha ,2001\n1,Beta,\n2,Gamma,2003\n")
    _write(tmp_path / "tableB.csv", "id,title,year\n10,alpha,2001\n11,gamma,2003\n")
    _write(tmp_path / "train.csv", "ltable_id,rtable_id,label\n0,10,1\n1,10,0\n")
    _write(tmp_path / "test.csv", "ltable_id,rtable_id,label\n2,11,1\n0,10,1\n")
    bench = load_benchmark(str(tmp_path))
    assert bench.truth.rows() == [("0", "10"), ("2", "11")]
    assert bench.on == ["title", "year"]
    assert bench.left["title"][0] == "Alpha" and bench.left["year"][1] is None
    _check_contract(bench)


def test_generic_matches_file_without_label(tmp_path: Path) -> None:
    _write(tmp_path / "tableA.csv", "id,name\na,x\nb,y\n")
    _write(tmp_path / "tableB.csv", "id,name\nc,x\n")
    _write(tmp_path / "matches.csv", "ltable_id,rtable_id\na,c\n")
    assert load_benchmark(str(tmp_path)).truth.rows() == [("a", "c")]


def test_generic_demo_style_folder(tmp_path: Path) -> None:
    _write(tmp_path / "left.csv", "key,name,city\nk1,Acme Inc,Boston\nk2,Beta LLC,\n")
    _write(tmp_path / "right.csv", "id,name,city\nr1,ACME,Boston\n")
    _write(tmp_path / "truth.csv", "left_id,right_id\nk1,r1\n")
    bench = load_benchmark(str(tmp_path))
    assert (bench.left_id, bench.right_id) == ("key", "id")  # first column when no `id`
    assert bench.on == ["name", "city"]
    assert bench.truth.rows() == [("k1", "r1")]


def test_truth_pointing_at_missing_records_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path / "left.csv", "id,name\n1,a\n")
    _write(tmp_path / "right.csv", "id,name\n2,a\n")
    _write(tmp_path / "truth.csv", "left_id,right_id\n1,2\n9,2\n")
    with caplog.at_level(logging.WARNING, logger="linker.data.benchmarks"):
        load_benchmark(str(tmp_path))
    assert "1 of 2 truth pairs" in caplog.text


def test_bad_folders_and_ids_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="neither"):
        load_benchmark(str(tmp_path))
    _write(tmp_path / "left.csv", "id,name\n1,a\n1,b\n")
    _write(tmp_path / "right.csv", "id,name\n2,a\n")
    _write(tmp_path / "truth.csv", "left_id,right_id\n1,2\n")
    with pytest.raises(InputError, match="duplicate"):
        load_benchmark(str(tmp_path))
    with pytest.raises(InputError, match="data_root"):
        load_benchmark("D4", data_root=tmp_path / "nowhere")


def test_unknown_name_raises_config_error_listing_names() -> None:
    with pytest.raises(ConfigError) as info:
        load_benchmark("no-such-benchmark")
    for name in list_benchmarks():
        assert name in str(info.value)
