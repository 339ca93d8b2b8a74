from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import linker as lk
import linker.vectors.ann
from linker.data.demo import make_demo
from linker.errors import ConfigError, InputError
from linker.vectors.ann import AnnParams
from linker.vectors.embed import Encoder

Frames = tuple[pl.DataFrame, pl.DataFrame]
ON = ["name", "city"]
DEMO_ON = ["name", "street", "city", "state", "zip", "phone"]


def matched(out: pl.DataFrame, left_id: str = "id", right_id: str = "id_right") -> set[tuple]:
    both = out.filter(pl.col("_merge") == "both")
    return set(both.select(left_id, right_id).iter_rows())


def accepted(cands: pl.DataFrame, threshold: float = 0.5) -> set[tuple[str, str]]:
    return set(cands.filter(pl.col("score") >= threshold).select("id", "id_right").iter_rows())


@pytest.fixture
def cands(firms: Frames, minilm: Encoder) -> pl.DataFrame:
    left, right = firms
    return lk.candidates(left, right, on=ON, id="id", model=minilm)


# ----------------------------------------------------------------------------- merge output


def test_merge_one_to_one_keeps_every_row_exactly_once(firms: Frames, minilm: Encoder) -> None:
    left, right = firms
    out = lk.merge(left, right, on=ON, model=minilm)
    left_rows = out.filter(pl.col("_merge") != "right_only")
    right_rows = out.filter(pl.col("_merge") != "left_only")
    assert left_rows.height == left.height
    assert right_rows.height == right.height
    assert Counter(left_rows["id"].to_list()) == Counter(left["id"].to_list())
    assert Counter(right_rows["id_right"].to_list()) == Counter(right["id"].to_list())
    assert out.height == left.height + right.height - out.filter(pl.col("_merge") == "both").height


def test_merge_columns_suffix_and_merge_values(firms: Frames, minilm: Encoder) -> None:
    left, right = firms
    out = lk.merge(left, right, on=ON, model=minilm)
    assert out.columns == ["id", "name", "city", "id_right", "name_right", "city_right"] + [
        "_score",
        "_merge",
    ]
    assert set(out["_merge"].unique()) <= {"both", "left_only", "right_only"}
    both = out.filter(pl.col("_merge") == "both")
    assert both.height > 0
    assert both["_score"].null_count() == 0
    assert ((both["_score"] >= 0.5) & (both["_score"] <= 1.0)).all()
    assert out.filter(pl.col("_merge") != "both")["_score"].null_count() == out.height - both.height
    only_left = out.filter(pl.col("_merge") == "left_only")
    assert only_left["id_right"].null_count() == only_left.height
    only_right = out.filter(pl.col("_merge") == "right_only")
    assert only_right["id"].null_count() == only_right.height


def test_merge_finds_obvious_matches(minilm: Encoder) -> None:
    left = pl.DataFrame({"name": ["Acme Corp", "Zeta Ltd", "Blue Sky Inc"]})
    right = pl.DataFrame({"name": ["ACME Corporation", "Blue Sky Incorporated"]})
    out = lk.merge(left, right, on="name", model=minilm)
    assert matched(out, "name", "name_right") == {
        ("Acme Corp", "ACME Corporation"),
        ("Blue Sky Inc", "Blue Sky Incorporated"),
    }
    assert out.filter(pl.col("name") == "Zeta Ltd")["_merge"].to_list() == ["left_only"]


def test_merge_pandas_in_pandas_out(firms: Frames, minilm: Encoder) -> None:
    left, right = firms
    expected = lk.merge(left, right, on=ON, model=minilm)
    out = lk.merge(left.to_pandas(), right.to_pandas(), on=ON, model=minilm)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == expected.columns
    assert pl.from_pandas(out).drop("_score").equals(expected.drop("_score"))
    assert out["_score"].notna().sum() == expected["_score"].is_not_null().sum()


def test_merge_csv_paths_in_polars_out(tmp_path: Path, firms: Frames, minilm: Encoder) -> None:
    left, right = firms
    left.write_csv(tmp_path / "left.csv")
    right.write_csv(tmp_path / "right.csv")
    out = lk.merge(str(tmp_path / "left.csv"), tmp_path / "right.csv", on=ON, model=minilm)
    assert isinstance(out, pl.DataFrame)
    assert matched(out) == matched(lk.merge(left, right, on=ON, model=minilm))


def test_merge_left_on_right_on(firms: Frames, minilm: Encoder) -> None:
    left, right = firms
    renamed = right.rename({"name": "firm", "city": "town"})
    out = lk.merge(left, renamed, left_on=["name", "city"], right_on=["firm", "town"], model=minilm)
    assert "firm" in out.columns and "town" in out.columns
    assert matched(out) == matched(lk.merge(left, right, on=ON, model=minilm))
    assert ("L0", "R0") in matched(out)


def test_merge_left_on_without_right_on_is_config_error(firms: Frames) -> None:
    left, right = firms
    with pytest.raises(ConfigError, match="right_on"):
        lk.merge(left, right, left_on=["name", "city"], right_on=["name"])


# ----------------------------------------------------------------------------- how


def test_how_one_to_one_never_reuses_a_record(
    firms: Frames, minilm: Encoder, cands: pl.DataFrame
) -> None:
    left, right = firms
    pairs = matched(lk.merge(left, right, on=ON, how="1:1", model=minilm))
    assert len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs})
    assert pairs <= accepted(cands)
    assert {("L0", "R0"), ("L3", "R2")} <= pairs


def test_how_m1_lets_two_left_rows_share_a_right_row(
    firms: Frames, minilm: Encoder, cands: pl.DataFrame
) -> None:
    left, right = firms
    pairs = matched(lk.merge(left, right, on=ON, how="m:1", model=minilm))
    assert {("L0", "R0"), ("L1", "R0")} <= pairs
    assert len({a for a, _ in pairs}) == len(pairs)  # each left row at most once
    best = cands.filter(pl.col("rank") == 1, pl.col("score") >= 0.5)
    assert pairs == set(best.select("id", "id_right").iter_rows())


def test_how_1m_lets_one_left_row_take_two_right_rows(
    firms: Frames, minilm: Encoder, cands: pl.DataFrame
) -> None:
    left, right = firms
    pairs = matched(lk.merge(left, right, on=ON, how="1:m", model=minilm))
    assert {("L3", "R1"), ("L3", "R2")} <= pairs
    assert len({b for _, b in pairs}) == len(pairs)  # each right row at most once
    assert ("L1", "R0") not in pairs  # R0's best left record is L0


def test_how_mm_keeps_every_pair_above_threshold(
    firms: Frames, minilm: Encoder, cands: pl.DataFrame
) -> None:
    left, right = firms
    out = lk.merge(left, right, on=ON, how="m:m", model=minilm)
    assert matched(out) == accepted(cands)
    assert {("L0", "R0"), ("L1", "R0"), ("L3", "R1"), ("L3", "R2")} <= matched(out)


def test_threshold_one_keeps_all_rows_without_matches(firms: Frames, minilm: Encoder) -> None:
    left, right = firms
    out = lk.merge(left, right, on=ON, threshold=1.0, model=minilm)
    assert out.height == left.height + right.height
    assert out.filter(pl.col("_merge") == "both").height == 0
    assert out["_score"].null_count() == out.height


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"threshold": 1.5}, "threshold"), ({"threshold": -0.1}, "threshold"), ({"k": 0}, "k")],
)
def test_out_of_range_arguments_are_config_errors(
    firms: Frames, kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        lk.merge(*firms, on=ON, **kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- block_on


@pytest.fixture
def stated() -> Frames:
    left = pl.DataFrame(
        {
            "id": ["L0", "L1", "L2", "L3"],
            "name": ["Acme Corp", "Acme Corp", "Blue Sky Inc", "Orion Labs"],
            "state": ["MA", "TX", None, "CA"],
        }
    )
    right = pl.DataFrame(
        {
            "id": ["R0", "R1", "R2", "R3", "R4"],
            "name": ["ACME Corp.", "Acme Corporation", "Blue Sky Inc.", "Orion Lab", "Zeta"],
            "state": ["MA", "NY", "CO", "CA", "TX"],
        }
    )
    return left, right


def test_block_on_never_pairs_different_states(stated: Frames, minilm: Encoder) -> None:
    left, right = stated
    c = lk.candidates(left, right, on="name", block_on=["state"], id="id", model=minilm)
    states = c.select(
        left["state"].gather(c["left_row"]).alias("ls"),
        right["state"].gather(c["right_row"]).alias("rs"),
    )
    keyed = states.drop_nulls()
    assert keyed.height > 0
    assert (keyed["ls"] == keyed["rs"]).all()
    assert ("L1", "R1") not in set(c.select("id", "id_right").iter_rows())  # TX vs NY


def test_block_on_null_key_rows_are_searched_against_everything(
    stated: Frames, minilm: Encoder
) -> None:
    left, right = stated
    c = lk.candidates(left, right, on="name", block_on="state", id="id", model=minilm)
    null_row = c.filter(pl.col("id") == "L2")
    assert null_row["id_right"].n_unique() == right.height  # k=10 covers all five
    out = lk.merge(left, right, on="name", block_on="state", id="id", model=minilm)
    assert ("L2", "R2") in matched(out)
    assert ("L0", "R0") in matched(out)


def test_block_on_with_null_right_keys_keeps_at_most_2k_candidates(minilm: Encoder) -> None:
    left = pl.DataFrame(
        {"name": [f"firm {i}" for i in range(6)], "state": ["A", "A", "A", "B", "B", None]}
    )
    right = pl.DataFrame(
        {
            "name": [f"firm {i}x" for i in range(8)],
            "state": ["A", "A", "A", "B", "B", None, None, None],
        }
    )
    c = lk.candidates(left, right, on="name", block_on="state", k=1, model=minilm)
    assert c.group_by("left_row").len()["len"].max() <= 2


# ----------------------------------------------------------------------------- input errors


def test_duplicate_ids_are_input_error_naming_the_column(firms: Frames) -> None:
    left, right = firms
    dup = left.with_columns(pl.Series("key", ["a", "a", "b", "c", "d"]))
    with pytest.raises(InputError, match="'key'"):
        lk.merge(dup, right.with_columns(key=pl.col("id")), on=ON, id="key")


def test_null_ids_are_input_error(firms: Frames) -> None:
    left, right = firms
    with pytest.raises(InputError, match="null id"):
        lk.merge(left.with_columns(pl.lit(None, pl.Utf8).alias("id")), right, on=ON, id="id")


def test_missing_on_column_lists_available_columns(firms: Frames) -> None:
    left, right = firms
    with pytest.raises(InputError) as info:
        lk.merge(left, right, on=["name", "zipcode"])
    msg = str(info.value)
    assert "'zipcode'" in msg
    assert all(f"'{c}'" in msg for c in left.columns)


@pytest.mark.parametrize("side", ["left", "right"])
def test_empty_table_is_input_error(firms: Frames, side: str) -> None:
    left, right = firms
    tables = {"left": left, "right": right}
    tables[side] = tables[side].clear()
    with pytest.raises(InputError, match=side):
        lk.merge(tables["left"], tables["right"], on=ON)


@pytest.mark.parametrize("column", ["_merge", "_score", "__lk_x"])
@pytest.mark.parametrize("side", [0, 1])
def test_reserved_or_output_column_in_input_is_input_error(
    firms: Frames, column: str, side: int
) -> None:
    tables = list(firms)
    tables[side] = tables[side].with_columns(pl.lit("x").alias(column))
    with pytest.raises(InputError, match=column):
        lk.merge(*tables, on=ON)


def test_nulls_in_on_columns_are_kept(firms: Frames, minilm: Encoder) -> None:
    left, right = firms
    holey = left.with_columns(
        name=pl.when(pl.col("id") == "L2").then(None).otherwise(pl.col("name")),
        city=pl.when(pl.col("id").is_in(["L2", "L4"])).then(None).otherwise(pl.col("city")),
    )
    out = lk.merge(holey, right, on=ON, model=minilm)
    assert sorted(out.filter(pl.col("_merge") != "right_only")["id"].to_list()) == sorted(
        left["id"].to_list()
    )
    assert ("L0", "R0") in matched(out)


def test_all_null_on_columns_give_input_error(minilm: Encoder) -> None:
    left = pl.DataFrame(
        {"id": [1, 2], "name": [None, None]}, schema={"id": pl.Int64, "name": pl.Utf8}
    )
    right = pl.DataFrame({"id": [3], "name": [None]}, schema={"id": pl.Int64, "name": pl.Utf8})
    with pytest.raises(InputError, match="empty in every row"):
        lk.merge(left, right, on="name", model=minilm)


def test_user_frames_are_not_mutated(firms: Frames, minilm: Encoder) -> None:
    left, right = firms
    before = left.clone(), right.clone()
    lk.merge(left, right, on=ON, id="id", model=minilm)
    assert left.equals(before[0]) and right.equals(before[1])
    pl_left, pl_right = left.to_pandas(), right.to_pandas()
    copies = pl_left.copy(deep=True), pl_right.copy(deep=True)
    lk.merge(pl_left, pl_right, on=ON, id="id", model=minilm)
    pd.testing.assert_frame_equal(pl_left, copies[0])
    pd.testing.assert_frame_equal(pl_right, copies[1])


# ----------------------------------------------------------------------------- candidates


def test_candidates_columns_ranks_and_bounds(firms: Frames, minilm: Encoder) -> None:
    left, right = firms
    k = 2
    c = lk.candidates(left, right, on=ON, k=k, model=minilm)
    assert c.columns[:4] == ["left_row", "right_row", "dense_sim", "ngram_sim"]
    assert {"score", "rank"} <= set(c.columns)
    assert not c.select("left_row", "right_row").is_duplicated().any()
    per_left = c.group_by("left_row").agg(pl.len(), pl.col("rank").min().alias("best"))
    assert per_left.height == left.height
    assert (per_left["len"] <= 2 * k).all()
    assert (per_left["best"] == 1).all()
    for sim in ("dense_sim", "ngram_sim", "score"):
        assert c[sim].is_between(0.0, 1.0).all()
    # rank 1 is the best score of its left row
    best = c.group_by("left_row").agg(pl.col("score").max().alias("top"))
    firsts = c.filter(pl.col("rank") == 1).join(best, on="left_row")
    assert (firsts["score"] == firsts["top"]).all()


def test_candidates_include_id_columns_when_asked(cands: pl.DataFrame, firms: Frames) -> None:
    left, right = firms
    assert cands.columns[:2] == ["id", "id_right"]
    for row in cands.select("id", "left_row", "id_right", "right_row").iter_rows():
        assert row[0] == left["id"][row[1]]
        assert row[2] == right["id"][row[3]]


def test_candidates_with_two_id_names(firms: Frames, minilm: Encoder) -> None:
    left, right = firms
    c = lk.candidates(
        left.rename({"id": "lid"}),
        right.rename({"id": "rid"}),
        on=ON,
        id=("lid", "rid"),
        model=minilm,
    )
    assert c.columns[:2] == ["lid", "rid"]


# ----------------------------------------------------------------------------- dedup


def test_dedup_clusters_duplicates_together(minilm: Encoder) -> None:
    df = pl.DataFrame(
        {
            "pid": [1, 2, 3, 4, 5],
            "name": ["Acme Corp", "Orion Labs", "ACME Corp.", "Blue Sky Inc", "Orion Lab"],
        }
    )
    out = lk.dedup(df, id="pid", model=minilm)
    assert out.columns == ["pid", "name", "_cluster"]
    assert out.drop("_cluster").equals(df)
    c = dict(zip(out["pid"].to_list(), out["_cluster"].to_list(), strict=True))
    assert c[1] == c[3]
    assert c[2] == c[5]
    assert len({c[1], c[2], c[4]}) == 3
    assert out["_cluster"].to_list()[0] == 0  # numbered by first appearance


def test_dedup_duplicate_ids_are_input_error() -> None:
    with pytest.raises(InputError, match="'pid'"):
        lk.dedup(pl.DataFrame({"pid": [1, 1], "name": ["a", "b"]}), id="pid")


# ----------------------------------------------------------------------------- determinism


def test_two_merges_give_identical_frames(firms: Frames, minilm: Encoder) -> None:
    left, right = firms
    first = lk.merge(left, right, on=ON, how="m:m", model=minilm)
    second = lk.merge(left, right, on=ON, how="m:m", model=minilm)
    assert first.equals(second)


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return make_demo(n=400, seed=1)


@pytest.fixture(scope="module")
def demo_exact(
    demo: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], memo_minilm: Encoder
) -> pl.DataFrame:
    left, right, _ = demo
    return lk.merge(left, right, on=DEMO_ON, id="id", model=memo_minilm)


@pytest.mark.slow
def test_demo_merge_with_packaged_model_reaches_f1_floor(
    demo: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], demo_exact: pl.DataFrame
) -> None:
    left, right, truth = demo
    ev = lk.evaluate(
        demo_exact,
        truth,
        left_id="id",
        right_id="id_right",
        truth_left_id="left_id",
        truth_right_id="right_id",
    )
    assert ev.f1 > 0.8
    assert ev.precision > 0.85
    assert demo_exact.filter(pl.col("_merge") != "right_only").height == left.height
    assert demo_exact.filter(pl.col("_merge") != "left_only").height == right.height


@pytest.mark.slow
def test_demo_merge_through_hnswlib_matches_exact_search(
    monkeypatch: pytest.MonkeyPatch,
    demo: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
    demo_exact: pl.DataFrame,
    memo_minilm: Encoder,
) -> None:
    left, right, _ = demo
    calls = []
    real_hnsw = linker.vectors.ann._hnsw

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real_hnsw(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(linker.vectors.ann, "_hnsw", spy)
    out = lk.merge(
        left, right, on=DEMO_ON, id="id", model=memo_minilm, ann=AnnParams(exact_below=0)
    )
    assert calls, "hnswlib was not used"

    def links(frame: pl.DataFrame) -> dict[str, str | None]:
        rows = frame.filter(pl.col("_merge") != "right_only").select("id", "id_right")
        return dict(rows.iter_rows())

    exact, approx = links(demo_exact), links(out)
    assert exact.keys() == approx.keys() == set(left["id"].to_list())
    same = sum(exact[i] == approx[i] for i in exact)
    assert same >= 0.98 * len(exact)
