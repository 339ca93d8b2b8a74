"""The ``linker schema`` and ``linker glossary`` verbs: CSV in, CSV out, exit 2 on bad input."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from linker.cli import main
from linker.vectors.embed import Encoder


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "source": "PatientAge,Gender,smoking_history\n34,Male,Never\n61,Female,Current\n"
        "47,Female,Former\n",
        "target": "age_at_diagnosis,gender,tobacco_smoking_status,vital_status\n"
        "40,female,Never,Alive\n70,male,Former,Dead\n",
        "standard": "column,description\nage_at_diagnosis,Age of the patient at diagnosis\n"
        "gender,Self-reported gender\ntobacco_smoking_status,Tobacco smoking history\n"
        "vital_status,Whether the patient is alive\n",
        "glossary": "name,definition\nPatient Age,Age in years\nSex,\nSmoking Status,Smoker?\n",
    }
    out = {}
    for key, text in paths.items():
        out[key] = tmp_path / f"{key}.csv"
        out[key].write_text(text)
    return out


def best(path: Path, column: str, target: str) -> dict[str, str]:
    df = pl.read_csv(path)
    return dict(df.filter(pl.col("rank") == 1).select(column, target).iter_rows())


def test_schema_verb_writes_ranked_csv(
    files: dict[str, Path], tmp_path: Path, default_model: Encoder
) -> None:
    out = tmp_path / "mapping.csv"
    assert (
        main(["schema", str(files["source"]), str(files["target"]), "-k", "2", "-o", str(out)]) == 0
    )
    df = pl.read_csv(out)
    assert df.columns == ["source_column", "target_column", "score", "rank", "reason"]
    assert df.height == 6
    assert best(out, "source_column", "target_column") == {
        "PatientAge": "age_at_diagnosis",
        "Gender": "gender",
        "smoking_history": "tobacco_smoking_status",
    }


def test_schema_verb_with_a_schema_table_and_one_to_one(
    files: dict[str, Path], tmp_path: Path, default_model: Encoder
) -> None:
    out = tmp_path / "mapping.parquet"
    args = ["schema", str(files["source"]), str(files["standard"]), "--target-is-schema"]
    assert main([*args, "--one-to-one", "-o", str(out)]) == 0
    df = pl.read_parquet(out)
    assert df["target_column"].n_unique() == df.height == 3


def test_glossary_verb(files: dict[str, Path], tmp_path: Path, default_model: Encoder) -> None:
    out = tmp_path / "terms.csv"
    args = ["glossary", str(files["source"]), str(files["glossary"]), "--term", "name"]
    assert main([*args, "--description", "definition", "-k", "1", "-q", "-o", str(out)]) == 0
    assert best(out, "column", "term") == {
        "PatientAge": "Patient Age",
        "Gender": "Sex",
        "smoking_history": "Smoking Status",
    }


def test_glossary_verb_missing_column_exits_2(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], default_model: Encoder
) -> None:
    rc = main(["glossary", str(files["source"]), str(files["glossary"])])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("linker glossary: error:")
    assert "glossary.csv" in err and "'term'" in err


def test_schema_verb_bad_file_exits_2(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["schema", str(tmp_path / "nope.csv"), str(files["target"])])
    assert rc == 2
    assert "nope.csv" in capsys.readouterr().err
    dup = tmp_path / "dup.csv"
    dup.write_text("age,age\n1,2\n")
    assert main(["schema", str(dup), str(files["target"])]) == 2
    assert "dup.csv" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["schema", "glossary"])
def test_help_shows_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert f"linker {command} " in capsys.readouterr().out
