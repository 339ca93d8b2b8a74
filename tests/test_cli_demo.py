"""``linker demo`` outside a checkout: only what a wheel installs (the package's ``.py`` files
and ``py.typed``) is importable, from a folder that holds no ``datasets/``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import linker as lk
from linker.data.demo import make_demo

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "datasets" / "demo"


def _wheel_like_copy(site: Path) -> None:
    """The files ``pip install`` puts in site-packages (pyproject: packages ``linker*``,
    package data ``py.typed``), and nothing else of the checkout."""
    for source in (ROOT / "linker").rglob("*"):
        if source.suffix == ".py" or source.name == "py.typed":
            target = site / source.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def test_the_demo_frames_are_the_files_the_readme_reads() -> None:
    """What ``linker demo`` links equals ``lk.read`` of ``datasets/demo`` (the README's lines)."""
    for frame, name in zip(make_demo(), ("left", "right", "truth"), strict=True):
        assert frame.equals(lk.read(DEMO_DIR / f"{name}.csv")), name


@pytest.mark.slow
def test_linker_demo_runs_outside_a_checkout(tmp_path: Path) -> None:
    site, work = tmp_path / "site", tmp_path / "work"
    work.mkdir()
    _wheel_like_copy(site)
    env = dict(os.environ, PYTHONPATH=str(site), HF_HUB_OFFLINE="1")
    env["TOKENIZERS_PARALLELISM"] = "false"
    where = subprocess.run(
        [sys.executable, "-c", "import linker.cli.demo as d; print(d.__file__)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(site)  # not the checkout
    done = subprocess.run(
        [sys.executable, "-m", "linker", "demo", "-o", "linked.csv"],
        cwd=work, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "demo: 3000 left x 3000 right firms (2400 true links)" in done.stderr
    assert "precision" in done.stderr and "-> linked.csv" in done.stderr
    linked = pl.read_csv(work / "linked.csv", infer_schema=False)
    assert linked["_merge"].value_counts().height == 3
    assert not (site / "datasets").exists() and not (work / "datasets").exists()
