"""``--config`` / ``--save-config``: a CLI run is reproducible from the settings file it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linker.cli import main
from linker.data.demo import write_demo
from linker.vectors.embed import Encoder


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Path, Path]:
    write_demo(tmp_path, n=150, overlap=0.6, seed=3)
    return tmp_path / "left.csv", tmp_path / "right.csv"


def test_a_saved_config_reproduces_the_run(
    tmp_path: Path, demo: tuple[Path, Path], default_model: Encoder
) -> None:
    first, again = tmp_path / "first.csv", tmp_path / "again.csv"
    settings = tmp_path / "settings.json"
    args = ["--on", "name,city,phone", "-k", "7", "--threshold", "0.6", "--how", "m:1", "-q"]
    assert (
        main(["merge", *map(str, demo), *args, "--save-config", str(settings), "-o", str(first)])
        == 0
    )
    saved = json.loads(settings.read_text())["linker"]
    assert (saved["k"], saved["threshold"], saved["how"]) == (7, 0.6, "m:1")
    assert saved["on"] == ["name", "city", "phone"]
    assert main(["merge", *map(str, demo), "--config", str(settings), "-q", "-o", str(again)]) == 0
    assert again.read_bytes() == first.read_bytes()


def test_options_given_override_the_config(
    tmp_path: Path, demo: tuple[Path, Path], default_model: Encoder
) -> None:
    base, changed = tmp_path / "base.json", tmp_path / "changed.json"
    out = str(tmp_path / "out.csv")
    assert main(["candidates", *map(str, demo), "--on", "name", "-k", "5", "-q",
                 "--save-config", str(base), "-o", out]) == 0  # fmt: skip
    assert main(["candidates", *map(str, demo), "--config", str(base), "-k", "3", "-q",
                 "--save-config", str(changed), "-o", out]) == 0  # fmt: skip
    cfg = json.loads(changed.read_text())["linker"]
    assert cfg["k"] == 3 and cfg["on"] == ["name"]  # -k wins, --on comes from the file


def test_a_bad_config_fails_before_reading(
    tmp_path: Path, demo: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format_version": 1, "linker": {"treshold": 0.4}}))
    out = tmp_path / "out.csv"
    assert main(["dedup", str(demo[0]), "--config", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "treshold" in err and "threshold" in err  # the closest known setting is named
    assert not out.exists()
