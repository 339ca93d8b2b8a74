"""Tables as folders of files: reading folders and URIs of Parquet/CSV files, writing Parquet parts.

Real files in ``tmp_path``, read and written with pyarrow and polars; the CLI runs the real
static model (the linking verbs' default) on the demo firms.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import linker as lk
from linker.cli import main
from linker.data.demo import make_demo
from linker.errors import ConfigError, InputError
from linker.io.dataset import read_dataset, table_files
from linker.io.parts import atomic_parts, part_name, write_parts

ON = "name,street,city"


def _split(df: pl.DataFrame, folder: Path, parts: int, *, kind: str = "parquet") -> Path:
    folder.mkdir(parents=True)
    for i in range(parts):
        piece = df[i::parts]
        path = folder / f"part-{i}.{kind}"
        piece.write_parquet(path) if kind == "parquet" else piece.write_csv(path)
    return folder


@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, pl.DataFrame]:
    left, right, _ = make_demo(400, seed=3)
    return left, right


# -- reading -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_folder_reads_as_the_table(
    tmp_path: Path, demo: tuple[pl.DataFrame, pl.DataFrame], kind: str
) -> None:
    left = demo[0]
    folder = _split(left, tmp_path / "left", 3, kind=kind)
    got = lk.read(folder)
    assert got.columns == left.columns
    assert_frame_equal(got.sort("id"), left.sort("id"))  # values in = values out (text too)


def test_csv_folder_keeps_values_as_written(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.csv").write_text("id,zip\n001, 02139 \n", encoding="utf-8")
    (tmp_path / "t" / "b.csv").write_text("zip;id\n\n00501;002\n", encoding="utf-8")
    assert lk.read(tmp_path / "t").rows() == [("001", " 02139 "), ("002", "00501")]


def test_hive_partitions_become_text_columns(tmp_path: Path) -> None:
    for state, city, ids in (("NY", "New York", ["a", "b"]), ("CA", "San Jose", ["c"])):
        folder = tmp_path / "t" / f"state={state}" / f"city={city.replace(' ', '%20')}"
        folder.mkdir(parents=True)
        pl.DataFrame({"id": ids, "zip": [1, 2][: len(ids)]}).write_parquet(folder / "p.parquet")
    (tmp_path / "t" / "_SUCCESS").write_text("")  # markers that Spark writes are skipped
    got = lk.read(tmp_path / "t")
    assert got.schema == pl.Schema({"id": pl.String, "zip": pl.Int64, "state": pl.String,
                                    "city": pl.String})  # fmt: skip
    assert got.rows() == [("c", 1, "CA", "San Jose"), ("a", 1, "NY", "New York"),
                          ("b", 2, "NY", "New York")]  # fmt: skip


def test_uri_reads_through_pyarrow_filesystems(
    tmp_path: Path, demo: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    folder = _split(demo[0], tmp_path / "left", 2)
    assert_frame_equal(lk.read(folder.as_uri()), lk.read(folder))
    one = folder / "part-0.parquet"
    assert_frame_equal(lk.read(one.as_uri()), lk.read(one))


def test_all_null_column_takes_the_other_files_type(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    pl.DataFrame({"id": ["a"], "note": ["x"]}).write_parquet(tmp_path / "t" / "a.parquet")
    pl.DataFrame({"id": ["b"], "note": [None]}).write_parquet(tmp_path / "t" / "b.parquet")
    got = lk.read(tmp_path / "t")
    assert got.schema["note"] == pl.String and got["note"].to_list() == ["x", None]


def test_text_is_text_whichever_arrow_type_a_writer_chose(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "t").mkdir()
    pq.write_table(pa.table({"id": pa.array(["a"], pa.string())}), tmp_path / "t" / "a.parquet")
    pl.DataFrame({"id": ["b"]}).write_parquet(tmp_path / "t" / "b.parquet")  # large_string
    assert lk.read(tmp_path / "t")["id"].to_list() == ["a", "b"]


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({}, "holds no file"),
        ({"a.parquet": "p", "b.csv": "id\n1\n"}, "mixes Parquet and text"),
        ({"a.csv": "id\n1\n", "notes.md": "# hi"}, "neither Parquet"),
        ({"a.csv": "id,x\n1,2\n", "b.csv": "id,y\n1,2\n"}, r"missing \['x'\], extra \['y'\]"),
        ({"a.parquet": "p", "b.parquet": "q"}, "column 'id' is large_string in .* but int64"),
        ({"a.parquet": "p", "b.parquet": "extra"}, r"extra \['more'\]"),
        ({"k=1/a.parquet": "p", "b.parquet": "p"}, "partition keys"),
        ({"id=1/a.parquet": "p"}, "columns of its files too"),
    ],
)
def test_bad_folders_name_the_path_and_what_to_do(
    tmp_path: Path, files: dict[str, str], match: str
) -> None:
    root = tmp_path / "t"
    root.mkdir()
    frames = {
        "p": pl.DataFrame({"id": ["a"]}),
        "q": pl.DataFrame({"id": [1]}),
        "extra": pl.DataFrame({"id": ["a"], "more": [1]}),
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".parquet"):
            frames[content].write_parquet(path)
        else:
            path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=match) as info:
        lk.read(root)
    assert str(root) in str(info.value)


def test_missing_uri_and_unknown_scheme_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        table_files((tmp_path / "nope").as_uri())
    with pytest.raises(InputError, match="Cannot open 'nosuch://x/y'"):
        read_dataset("nosuch://x/y", delimiter=None, encoding=None)


# -- writing -----------------------------------------------------------------------------------
def test_parts_are_bounded_and_read_back_whole(tmp_path: Path) -> None:
    df = pl.DataFrame({"id": [f"{i:03d}" for i in range(10)], "x": [None, *range(9)]})
    paths = write_parts(df, tmp_path / "out", rows_per_part=4)
    assert [p.name for p in paths] == [part_name(i) for i in range(3)]
    assert [pl.read_parquet(p).height for p in paths] == [4, 4, 2]
    assert_frame_equal(pl.read_parquet(tmp_path / "out" / "*.parquet"), df)
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temporary folder left beside it
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o777 & ~umask  # not made private


def test_empty_table_is_one_empty_part_with_the_schema(tmp_path: Path) -> None:
    df = pl.DataFrame(schema={"id": pl.String, "score": pl.Float64})
    write_parts(df, tmp_path / "out", rows_per_part=4)
    assert_frame_equal(pl.read_parquet(tmp_path / "out" / "*.parquet"), df)


def test_rewrite_replaces_every_old_part(tmp_path: Path) -> None:
    write_parts(pl.DataFrame({"id": range(10)}), tmp_path / "out", rows_per_part=2)
    write_parts(pl.DataFrame({"id": range(3)}), tmp_path / "out", rows_per_part=2)
    assert len(list((tmp_path / "out").iterdir())) == 2  # none of the five old parts is left
    assert pl.read_parquet(tmp_path / "out" / "*.parquet")["id"].to_list() == [0, 1, 2]


def test_a_failed_write_leaves_the_old_parts(tmp_path: Path) -> None:
    write_parts(pl.DataFrame({"id": [1, 2]}), tmp_path / "out", rows_per_part=1)
    with pytest.raises(RuntimeError), atomic_parts(tmp_path / "out") as tmp:
        pl.DataFrame({"id": [9]}).write_parquet(tmp / part_name(0))
        raise RuntimeError("stopped half way")
    assert pl.read_parquet(tmp_path / "out" / "*.parquet")["id"].to_list() == [1, 2]
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_folder_of_other_files_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigError, match="other files"):
        write_parts(pl.DataFrame({"id": [1]}), tmp_path / "mine")
    assert os.listdir(tmp_path / "mine") == ["thesis.tex"]


# -- the CLI -----------------------------------------------------------------------------------
def test_cli_merges_folders_into_parts_same_as_single_file(
    tmp_path: Path, demo: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    left, right = demo
    _split(left, tmp_path / "left", 3)
    _split(right, tmp_path / "right", 2, kind="csv")
    args = ["merge", str(tmp_path / "left"), str(tmp_path / "right") + "/", "--on", ON, "-q"]
    assert main([*args, "-o", str(tmp_path / "out") + "/", "--part-rows", "150"]) == 0
    assert main([*args, "-o", str(tmp_path / "one.parquet")]) == 0
    parts = sorted((tmp_path / "out").iterdir())
    assert len(parts) >= 3 and all(pl.read_parquet(p).height <= 150 for p in parts)
    folder = pl.read_parquet(tmp_path / "out" / "*.parquet")
    single = pl.read_parquet(tmp_path / "one.parquet")
    keys = ["id", "id_right"]
    assert_frame_equal(folder.sort(keys, nulls_last=True), single.sort(keys, nulls_last=True))
    # every input row survives with its values
    assert (folder["_merge"] == "both").sum() > 200
    assert_frame_equal(folder.filter(pl.col("_merge") != "right_only").select(left.columns)
                       .sort("id"), left.sort("id"))  # fmt: skip
    mine = folder.filter(pl.col("_merge") != "left_only").select(
        pl.col(f"{c}_right" if f"{c}_right" in folder.columns else c).alias(c)
        for c in right.columns
    )
    assert_frame_equal(mine.sort("id"), right.sort("id"))


def test_cli_output_folder_checked_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    code = main(["merge", "no/", "such/", "-o", str(tmp_path / "mine"), "-q"])
    assert code == 2 and "other files" in capsys.readouterr().err
    code = main(["merge", "no/", "such/", "-o", str(tmp_path / "x") + "/", "--part-rows", "0"])
    assert code == 2 and "--part-rows must be at least 1" in capsys.readouterr().err
