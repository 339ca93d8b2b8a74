from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from linker.cli import main
from linker.data.demo import write_demo
from linker.vectors.embed import Encoder

SUBCOMMANDS = ["merge", "candidates", "dedup", "evaluate", "demo"]


@pytest.fixture
def tables(tmp_path: Path) -> tuple[Path, Path]:
    left = tmp_path / "left.csv"
    right = tmp_path / "right.csv"
    left.write_text(
        "id,name,city\nL0,Acme Corp,Boston\nL1,Zeta Ltd,Paris\nL2,Blue Sky Inc,Denver\n"
        "L3,Quantum Widgets,Austin\n"
    )
    right.write_text(
        "id,name,city\nR0,ACME Corporation,Boston\nR1,Blue Sky Incorporated,Denver\n"
        "R2,Harbor Freight,Miami\n"
    )
    return left, right


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_merge_writes_csv_with_every_row(
    tmp_path: Path,
    tables: tuple[Path, Path],
    default_model: Encoder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "linked.csv"
    rc = main(
        ["merge", str(tables[0]), str(tables[1]), "--on", "name,city", "--id", "id", "-o", str(out)]
    )
    assert rc == 0
    df = pl.read_csv(out)
    assert df.filter(pl.col("_merge") != "right_only")["id"].sort().to_list() == [
        "L0",
        "L1",
        "L2",
        "L3",
    ]
    assert df.filter(pl.col("_merge") != "left_only")["id_right"].sort().to_list() == [
        "R0",
        "R1",
        "R2",
    ]
    pairs = set(df.filter(pl.col("_merge") == "both").select("id", "id_right").iter_rows())
    assert pairs == {("L0", "R0"), ("L2", "R1")}
    err = capsys.readouterr().err
    assert "4 left rows, 3 right rows: 2 matched" in err
    assert leftovers(tmp_path) == []


def test_merge_to_stdout(
    tables: tuple[Path, Path], default_model: Encoder, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["merge", str(tables[0]), str(tables[1]), "--on", "name", "-q"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0].endswith("_score,_merge")
    assert len(lines) == 1 + 4 + 3 - 2
    assert "matched" not in captured.err  # -q: no summary


def test_merge_writes_parquet(
    tmp_path: Path, tables: tuple[Path, Path], default_model: Encoder
) -> None:
    out = tmp_path / "sub" / "linked.parquet"
    assert (
        main(["merge", str(tables[0]), str(tables[1]), "--on", "name,city", "-o", str(out), "-q"])
        == 0
    )
    df = pl.read_parquet(out)  # fails unless it really is parquet
    assert df.height == 5
    assert df.schema["_score"] == pl.Float64


def test_merge_left_on_right_on(
    tmp_path: Path, tables: tuple[Path, Path], default_model: Encoder
) -> None:
    renamed = tmp_path / "renamed.csv"
    pl.read_csv(tables[1]).rename({"name": "firm"}).write_csv(renamed)
    out = tmp_path / "o.csv"
    rc = main(
        [
            "merge",
            str(tables[0]),
            str(renamed),
            "--left-on",
            "name",
            "--right-on",
            "firm",
            "-o",
            str(out),
            "-q",
        ]
    )
    assert rc == 0
    assert pl.read_csv(out).filter(pl.col("_merge") == "both").height == 2


@pytest.mark.parametrize(
    "command",
    [
        "merge",
        pytest.param(
            "candidates",
        ),
        pytest.param(
            "dedup",
        ),
        pytest.param(
            "evaluate",
        ),
        pytest.param(
            "demo",
        ),
    ],
)
def test_subcommand_help_shows_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    assert f"linker {command} " in out


def test_linker_script_help_in_subprocess() -> None:
    script = Path(sys.executable).with_name("linker")
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert "examples:" in done.stdout
    for command in SUBCOMMANDS:
        assert command in done.stdout


def test_missing_column_exits_2_with_one_line(
    tmp_path: Path, tables: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "linked.csv"
    rc = main(["merge", str(tables[0]), str(tables[1]), "--on", "name,zipcode", "-o", str(out)])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("linker merge: error:")
    assert "'zipcode'" in err[0]
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_missing_file_exits_2(
    tmp_path: Path, tables: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["merge", str(tables[0]), str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv")])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.csv" in err[0]
    assert not (tmp_path / "o.csv").exists()


def test_bad_threshold_exits_2(
    tables: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["merge", str(tables[0]), str(tables[1]), "--threshold", "2"]) == 2
    assert "threshold" in capsys.readouterr().err


def test_bad_how_is_an_argparse_error(tables: tuple[Path, Path]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["merge", str(tables[0]), str(tables[1]), "--how", "2:2"])
    assert info.value.code == 2


def test_failed_write_leaves_no_partial_file(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tables: tuple[Path, Path],
    default_model: Encoder,
) -> None:
    out = tmp_path / "linked.csv"
    out.write_text("previous result\n")

    def half_write(self: pl.DataFrame, file: str | Path) -> None:
        Path(file).write_text("id,name\nL0,Ac")
        raise PermissionError("disk went away")

    monkeypatch.setattr(pl.DataFrame, "write_csv", half_write)
    rc = main(["merge", str(tables[0]), str(tables[1]), "--on", "name", "-o", str(out), "-q"])
    assert rc == 2
    assert out.read_text() == "previous result\n"  # the old file is untouched
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["left.csv", "linked.csv", "right.csv"]


def test_output_file_gets_normal_permissions(
    tmp_path: Path, tables: tuple[Path, Path], default_model: Encoder
) -> None:
    out = tmp_path / "linked.csv"
    assert (
        main(["merge", str(tables[0]), str(tables[1]), "--on", "name", "-o", str(out), "-q"]) == 0
    )
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what an ordinary open() creates under this umask
    assert out.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_candidates_writes_pairs(
    tmp_path: Path, tables: tuple[Path, Path], default_model: Encoder
) -> None:
    out = tmp_path / "pairs.csv"
    rc = main(
        [
            "candidates",
            str(tables[0]),
            str(tables[1]),
            "--on",
            "name",
            "-k",
            "1",
            "--id",
            "id",
            "-o",
            str(out),
            "-q",
        ]
    )
    assert rc == 0
    df = pl.read_csv(out)
    assert df.columns[:2] == ["id", "id_right"]
    assert df.group_by("id").len()["len"].max() <= 2
    assert df.filter(pl.col("rank") == 1).height == 4


def test_dedup_writes_cluster(tmp_path: Path, default_model: Encoder) -> None:
    data = tmp_path / "people.csv"
    data.write_text(
        "pid,name\n1,Acme Corp\n2,Orion Labs\n3,ACME Corp.\n4,Blue Sky Inc\n5,Orion Lab\n"
    )
    out = tmp_path / "clustered.csv"
    assert main(["dedup", str(data), "--id", "pid", "-o", str(out), "-q"]) == 0
    df = pl.read_csv(out)
    assert df.columns == ["pid", "name", "_cluster"]
    cl = df["_cluster"].to_list()
    assert cl[0] == cl[2] and cl[1] == cl[4] and len({cl[0], cl[1], cl[3]}) == 3


def test_evaluate_prints_measures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = tmp_path / "linked.csv"
    truth = tmp_path / "truth.csv"
    pairs.write_text("id,id_right,_merge\nL0,R0,both\nL1,R5,both\nL2,,left_only\n")
    truth.write_text("left_id,right_id\nL0,R0\nL2,R1\n")
    rc = main(
        [
            "evaluate",
            str(pairs),
            str(truth),
            "--left-id",
            "id",
            "--right-id",
            "id_right",
            "--truth-left-id",
            "left_id",
            "--truth-right-id",
            "right_id",
        ]
    )
    assert rc == 0
    values = dict(line.split("\t") for line in capsys.readouterr().out.strip().splitlines())
    assert float(values["precision"]) == 0.5
    assert float(values["recall"]) == 0.5
    assert float(values["f1"]) == 0.5


def test_two_cli_runs_write_byte_identical_csv(tmp_path: Path, default_model: Encoder) -> None:
    write_demo(tmp_path / "data", n=40, seed=5)
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.csv"
        args = ["merge", str(tmp_path / "data" / "left.csv"), str(tmp_path / "data" / "right.csv")]
        args += ["--on", "name,street,city,zip", "--id", "id", "-o", str(out), "-q"]
        assert main(args) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") >= 40
