"""Regression tests for the cases of docs/reliability.md (issue 22): hostile inputs through
the CLI and the API, each giving the right result or a one-line error that names the problem.
Reader-level cases are in tests/test_textread.py, evaluate's in tests/test_measures.py."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest

import linker as lk
from linker.cli import main
from linker.errors import ConfigError
from linker.vectors.embed import Encoder

LEFT = (
    "id,name,city\n L00001 ,Acme Corp,Boston\nL00002,Zeta Ltd,Paris\nL00003,Blue Sky Inc,Denver\n"
)
RIGHT = "id,name,city\nR00001,ACME Corporation,Boston\nR00002,Blue Sky Incorporated,Denver\n"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    left, right = tmp_path / "left.csv", tmp_path / "right.csv"
    left.write_text(LEFT)
    right.write_text(RIGHT)
    return left, right


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_ids_and_values_come_back_unchanged(
    tmp_path: Path, files: tuple[Path, Path], default_model: Encoder
) -> None:
    out = tmp_path / "out.csv"
    assert main(["merge", *map(str, files), "--on", "name", "-q", "-o", str(out)]) == 0
    df = pl.read_csv(out, infer_schema=False)
    assert " L00001 " in df["id"].to_list()


def test_default_on_leaves_out_id_columns_and_says_what_it_compared(
    files: tuple[Path, Path], default_model: Encoder, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(["merge", *map(str, files), "-o", "-"], capsys)
    assert code == 0
    assert "compared name, city" in err


def test_blank_lines_at_the_end_are_not_records(
    tmp_path: Path,
    files: tuple[Path, Path],
    default_model: Encoder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files[0].write_text(LEFT + "\n\n\n")
    code, err = run(
        ["merge", *map(str, files), "--on", "name", "-o", str(tmp_path / "o.csv")], capsys
    )
    assert code == 0
    assert "3 left rows, 2 right rows" in err


@pytest.mark.parametrize("header", ["id,name,name", "id,,city"])
def test_repeated_or_blank_header_is_one_line_error(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], header: str
) -> None:
    files[0].write_text(header + "\n1,a,b\n")
    code, err = run(["merge", *map(str, files), "--on", "name"], capsys)
    assert code == 2
    line = one_error_line(err)
    assert "header" in line and str(files[0]) in line


def test_ragged_row_names_file_and_line(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files[1].write_text(RIGHT + "R00003,Harbor, Inc,Miami\n")
    code, err = run(["merge", *map(str, files), "--on", "name"], capsys)
    assert code == 2
    line = one_error_line(err)
    assert f"{str(files[1])!r}, line 4: 4 fields but the header has 3" in line
    assert "truncate_ragged_lines" not in line


def test_null_id_names_the_file_line(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], default_model: Encoder
) -> None:
    files[0].write_text('id,name\nL1,"two\nlines"\n,Zeta\n')
    code, err = run(["merge", *map(str, files), "--on", "name", "--id", "id"], capsys)
    assert code == 2
    assert f"line(s) 4 of {str(files[0])!r}" in one_error_line(err)


@pytest.mark.parametrize("name", ["out.xlsx", "out.json", "out"])
def test_unknown_output_format_fails_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # the inputs do not even exist: the output is checked first
    code, err = run(["merge", "no.csv", "such.csv", "-o", str(tmp_path / name)], capsys)
    assert code == 2
    assert ".csv, .parquet or .pq" in one_error_line(err)
    assert not (tmp_path / name).exists()


def test_unwritable_output_fails_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dir.csv").mkdir()  # an existing folder takes Parquet parts, unless it holds
    (tmp_path / "dir.csv" / "notes.txt").write_text("x")  # other files: never deleted
    (tmp_path / "file").write_text("x")
    for target, why in (
        (tmp_path / "dir.csv", "other files"),
        (tmp_path / "file" / "o.csv", "file"),
    ):
        code, err = run(["merge", "no.csv", "such.csv", "-o", str(target)], capsys)
        assert code == 2
        line = one_error_line(err)
        assert why in line and ".part" not in line


def test_utf16_file_from_excel_is_read(
    tmp_path: Path, files: tuple[Path, Path], default_model: Encoder
) -> None:
    files[0].write_bytes(LEFT.replace(",", "\t").encode("utf-16"))
    out = tmp_path / "o.csv"
    assert main(["merge", *map(str, files), "--on", "name", "-q", "-o", str(out)]) == 0
    assert set(pl.read_csv(out)["name"].drop_nulls()) >= {"Acme Corp", "Zeta Ltd"}


def test_encoding_option_reads_cp1252(
    tmp_path: Path,
    files: tuple[Path, Path],
    default_model: Encoder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files[0].write_bytes("id,name\nL1,Müller AG\n".encode("cp1252"))
    out = tmp_path / "o.csv"
    code, err = run(
        ["merge", *map(str, files), "--on", "name", "--encoding", "cp1252", "-o", str(out)], capsys
    )
    assert code == 0 and "latin-1" not in err
    assert "Müller AG" in pl.read_csv(out)["name"].to_list()


def test_fullwidth_letters_meet_their_ascii_form(tmp_path: Path, default_model: Encoder) -> None:
    left = pl.DataFrame({"name": ["Ｆｕｌｌｗｉｄｔｈ Ltd", "Orion Labs", "Zeta Paper Mills"]})
    right = pl.DataFrame({"name": ["Fullwidth Ltd", "Harbor Freight", "Quantum Widgets"]})
    out = lk.merge(left, right, on="name", model=default_model)
    both = out.filter(pl.col("_merge") == "both")
    assert both.select("name", "name_right").rows() == [("Ｆｕｌｌｗｉｄｔｈ Ltd", "Fullwidth Ltd")]


def test_compared_column_empty_on_one_side_warns(
    default_model: Encoder, caplog: pytest.LogCaptureFixture
) -> None:
    left = pl.DataFrame({"name": ["Acme Corp", "Zeta Ltd"], "city": ["Boston", "Paris"]})
    right = pl.DataFrame({"name": ["ACME Corp.", "Orion"], "city": [None, "  "]})
    with caplog.at_level(logging.WARNING, logger="linker.pipeline.columns"):
        lk.merge(left, right, on=["name", "city"], model=default_model)
    assert "['city'] of table 'right' are empty in every row" in caplog.text


def test_threshold_as_text_is_a_config_error(files: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigError, match="threshold must be a number"):
        lk.merge(files[0], files[1], on="name", threshold="0.5")  # type: ignore[arg-type]


def test_openai_rerank_without_key_fails_at_once(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    code, err = run(
        ["merge", *map(str, files), "--on", "name", "--rerank", "openai:gpt-4o-mini"], capsys
    )
    assert code == 2
    assert "OPENAI_API_KEY is not set" in one_error_line(err)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        lk.merge(files[0], files[1], on="name", rerank="openai:gpt-4o-mini")


def test_ctrl_c_is_one_line_exit_130_and_no_output(
    tmp_path: Path,
    files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(lk.Linker, "link", interrupted)
    out = tmp_path / "o.csv"
    code, err = run(["merge", *map(str, files), "--on", "name", "-o", str(out)], capsys)
    assert code == 130
    assert "interrupted" in one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["left.csv", "right.csv"]


def test_evaluate_with_one_id_name_and_unknown_truth_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    linked = tmp_path / "linked.csv"
    linked.write_text("id,name,id_right,name_right,_score,_merge\nL1,a,R1,a,0.9,both\n")
    truth = tmp_path / "truth.csv"
    truth.write_text("left_id,right_id\nL1,R1\n")
    code = main(["evaluate", str(linked), str(truth), "--left-id", "id", "--right-id", "id"])
    captured = capsys.readouterr()
    assert code == 0 and "precision\t1.0" in captured.out
    truth.write_text("left_id,right_id\nX1,Y1\n")
    with caplog.at_level(logging.WARNING, logger="linker.measures"):
        code = main(["evaluate", str(linked), str(truth), "--left-id", "id", "--right-id", "id"])
    assert code == 0 and "none of the truth's left ids" in caplog.text


def test_pandas_keeps_int64_with_nulls_and_the_index(default_model: Encoder) -> None:
    pd = pytest.importorskip("pandas")
    left = pd.DataFrame(
        {"name": ["Acme Corp", "Zeta Ltd"], "founded": pd.array([1943, None], dtype="Int64")},
        index=pd.Index(["a", "b"], name="key"),
    )
    right = pd.DataFrame({"name": ["ACME Corp.", "Orion Labs"]})
    out = lk.merge(left, right, on="name", model=default_model)
    assert str(out["founded"].dtype) == "Int64"
    assert out.loc[out["_merge"] != "right_only", "founded"].tolist()[0] == 1943
    assert out.index.name == "key" and {"a", "b"} <= set(out.index)
    dd = lk.dedup(left, on="name", model=default_model)
    assert dd.index.tolist() == ["a", "b"] and str(dd["founded"].dtype) == "Int64"
