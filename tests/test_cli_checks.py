"""Checked before any work: a wrong ``--model`` or ``--matcher`` fails at once with one line
(exit 2) before the inputs are read; ``linker train`` and ``score`` read with ``--encoding``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import demo_tables

from linker.cli import main


def _one_error(capsys: pytest.CaptureFixture[str], verb: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"linker {verb}: error:")
    return err[0]


# The inputs do not exist: an error about the model (not about a missing file) shows that the
# model was checked first.
@pytest.mark.parametrize(
    "args",
    [
        ["merge", "nope_left.csv", "nope_right.csv"],
        ["candidates", "nope_left.csv", "nope_right.csv"],
        ["dedup", "nope.csv"],
        ["index", "nope.csv", "-o", "idx"],
        ["taxonomy", "nope.csv", "nope_tax.csv"],
        ["schema", "nope.csv", "nope_target.csv"],
        ["glossary", "nope.csv", "nope_terms.csv"],
    ],
    ids=lambda args: args[0],
)
def test_unknown_model_folder_fails_before_reading(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no" / "such" / "model")
    assert main([*args, "--model", missing]) == 2
    line = _one_error(capsys, args[0])
    assert f"model={missing!r}" in line and "no such folder" in line
    assert "nope" not in line


def test_unknown_hub_name_fails_offline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["merge", "nope_left.csv", "nope_right.csv", "--model", "no-such-model-x"]) == 2
    line = _one_error(capsys, "merge")
    assert "'no-such-model-x'" in line and "Hugging Face cache" in line


def test_a_folder_that_is_no_matcher_fails_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "not_a_matcher"
    folder.mkdir()
    assert main(["merge", "nope_left.csv", "nope_right.csv", "--matcher", str(folder)]) == 2
    line = _one_error(capsys, "merge")
    assert f"{folder} is not a saved matcher" in line
    assert main(["score", str(folder), "nope_pairs.csv"]) == 2
    assert f"{folder} is not a saved matcher" in _one_error(capsys, "score")


def test_a_matcher_of_unknown_type_fails_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "linker_matcher.json").write_text('{"type": "CrystalBall"}')
    assert main(["merge", "nope_left.csv", "nope_right.csv", "--matcher", str(folder)]) == 2
    assert "unknown matcher type 'CrystalBall'" in _one_error(capsys, "merge")


def _cp1252_folder(folder: Path) -> None:
    """A DeepMatcher folder of demo firms, written in cp1252 with accented names."""
    left, right, truth = demo_tables()
    for frame, name in ((left, "tableA.csv"), (right, "tableB.csv")):
        accented = frame.with_columns(pl.col("name").str.replace(r"^(\w+)", "${1} Café Müller"))
        text = accented.write_csv()
        (folder / name).write_bytes(text.encode("cp1252", errors="replace"))
    rng = np.random.default_rng(0)
    rows = []
    for lid, rid in truth.head(150).rows():
        rows += [(lid, rid, 1), (lid, right["id"][int(rng.integers(right.height))], 0)]
    pairs = pl.DataFrame(rows, schema=["ltable_id", "rtable_id", "label"], orient="row")
    pairs.head(200).write_csv(folder / "train.csv")
    pairs.slice(200, 50).write_csv(folder / "valid.csv")
    pairs.tail(50).write_csv(folder / "test.csv")


@pytest.fixture(scope="module")
def cp1252_pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("cp1252") / "pairs"
    data.mkdir()
    _cp1252_folder(data)
    return data


def test_train_says_which_encoding_to_pass(
    cp1252_pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    matcher = tmp_path / "matcher"
    train = ["train", str(cp1252_pairs), "--model", "boosted", "-o", str(matcher), "-q"]
    assert main(train) == 2  # cp1252 is not UTF-8: one line that says what to pass
    line = _one_error(capsys, "train")
    assert "tableA.csv" in line and "line " in line and "--encoding" in line
    assert main([*train, "--encoding", "no-such-codec"]) == 2
    assert "Unknown encoding 'no-such-codec'" in _one_error(capsys, "train")
    assert not matcher.exists()


def test_score_reads_with_encoding(
    cp1252_pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import linker as lk
    from linker.scoring.labelled_pairs import read_pairs

    matcher = tmp_path / "matcher"
    train = read_pairs(cp1252_pairs, encoding="cp1252")
    lk.train(train, model="boosted", max_iter=20, n_models=1, save=matcher)
    out = tmp_path / "scores.csv"
    score = ["score", str(matcher), str(cp1252_pairs / "test.csv"), "-o", str(out), "-q"]
    assert main(score) == 2
    assert "--encoding" in _one_error(capsys, "score")
    assert main([*score, "--encoding", "cp1252"]) == 0
    scores = pl.read_csv(out)
    assert scores.height == 50 and scores["label"].sum() > 0


@pytest.mark.slow
def test_train_reads_with_encoding(cp1252_pairs: Path, tmp_path: Path) -> None:
    matcher, out = tmp_path / "matcher", tmp_path / "scores.csv"
    train = ["train", str(cp1252_pairs), "--model", "boosted", "-o", str(matcher), "-q"]
    assert main([*train, "--encoding", "cp1252"]) == 0
    score = ["score", str(matcher), str(cp1252_pairs / "test.csv"), "-o", str(out), "-q"]
    assert main([*score, "--encoding", "cp1252"]) == 0
    scores = pl.read_csv(out)
    assert (scores["match"] == scores["label"]).mean() > 0.9  # type: ignore[operator]


def test_encoding_is_in_train_and_score_help(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("train", "score"):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        assert "--encoding ENCODING" in capsys.readouterr().out
