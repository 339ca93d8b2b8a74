from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from linker.data.demo import COLUMNS, make_demo, write_demo
from linker.errors import ConfigError

DEMO_DIR = Path(__file__).resolve().parents[1] / "datasets" / "demo"


def _tokens(name: str) -> set[str]:
    return set(name.lower().replace(",", " ").replace("-", " ").split())


@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return make_demo(600, overlap=0.75, seed=7)


def test_same_seed_gives_identical_frames(
    demo: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    again = make_demo(600, overlap=0.75, seed=7)
    for first, second in zip(demo, again, strict=True):
        assert first.equals(second)


def test_other_seed_gives_other_frames(
    demo: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    left, right, _ = make_demo(600, overlap=0.75, seed=8)
    assert not left.equals(demo[0])
    assert not right.equals(demo[1])


def test_write_demo_is_byte_identical(tmp_path: Path) -> None:
    write_demo(tmp_path / "a", n=300, seed=3)
    write_demo(tmp_path / "b", n=300, seed=3)
    for name in ("left.csv", "right.csv", "truth.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "left.csv",
        "right.csv",
        "truth.csv",
    ]  # no temporary files left behind


def test_shapes_columns_and_ids(demo: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    left, right, truth = demo
    assert left.columns == COLUMNS and right.columns == COLUMNS
    assert all(dtype == pl.Utf8 for dtype in [*left.dtypes, *right.dtypes, *truth.dtypes])
    assert left.height == 600
    assert truth.height == 450  # round(0.75 * 600) matched firms
    assert right.height == 450 + 150  # matched firms plus (1 - overlap) * n new ones
    assert left["id"].n_unique() == left.height and right["id"].n_unique() == right.height
    assert left["name"].n_unique() == left.height  # distinct firm names
    assert truth["left_id"].is_in(left["id"].implode()).all()
    assert truth["right_id"].is_in(right["id"].implode()).all()
    assert truth["left_id"].n_unique() == truth.height  # one-to-one
    assert truth["right_id"].n_unique() == truth.height
    assert truth.equals(truth.sort("left_id", "right_id"))
    assert left["name"].null_count() == 0 and right["name"].null_count() == 0


def test_noise_is_applied_but_names_stay_related(
    demo: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    left, right, truth = demo
    pairs = truth.join(left, left_on="left_id", right_on="id").join(
        right, left_on="right_id", right_on="id", suffix="_r"
    )
    names = list(zip(pairs["name"], pairs["name_r"], strict=True))
    identical = sum(a == b for a, b in names) / len(names)
    shared = sum(bool(_tokens(a) & _tokens(b)) for a, b in names) / len(names)
    assert identical < 0.5
    assert shared > 0.9
    for column in ("street", "zip", "phone"):
        missing = pairs[f"{column}_r"].null_count() / pairs.height
        assert 0.05 < missing < 0.3, column
    assert (pairs["phone"] != pairs["phone_r"]).sum() > 0  # other phone formats


def test_overlap_extremes() -> None:
    _, right, truth = make_demo(50, overlap=0.0, seed=1)
    assert truth.height == 0 and right.height == 50
    _, right, truth = make_demo(50, overlap=1.0, seed=1)
    assert truth.height == 50 and right.height == 50


@pytest.mark.parametrize(("n", "overlap"), [(0, 0.5), (10, -0.1), (10, 1.5)])
def test_bad_arguments_raise_config_error(n: int, overlap: float) -> None:
    with pytest.raises(ConfigError):
        make_demo(n, overlap=overlap)


def test_committed_files_match_the_generator(tmp_path: Path) -> None:
    write_demo(tmp_path, n=3000, overlap=0.8, seed=0)
    for name in ("left.csv", "right.csv", "truth.csv"):
        assert (DEMO_DIR / name).read_bytes() == (tmp_path / name).read_bytes(), (
            f"datasets/demo/{name} is stale: run python datasets/make_demo.py"
        )
