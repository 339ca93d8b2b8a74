"""The README's four-line example runs as written (so the README cannot drift from the API)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from linker.vectors.embed import Encoder

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_readme_four_line_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_model: Encoder
) -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Four lines\n\n```python\n(.*?)```", readme, re.S)
    assert block is not None, "the README lost its four-line example"
    code = block.group(1)
    assert len([line for line in code.splitlines() if line.strip()]) == 4
    (tmp_path / "datasets").symlink_to(ROOT / "datasets")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own README
    out = pl.read_csv(tmp_path / "firms_linked.csv", infer_schema=False)
    left = pl.read_csv(ROOT / "datasets/demo/left.csv", infer_schema=False)
    right = pl.read_csv(ROOT / "datasets/demo/right.csv", infer_schema=False)
    assert out.filter(pl.col("_merge") != "right_only").height >= left.height
    assert out.filter(pl.col("_merge") != "left_only").height >= right.height
    assert out.filter(pl.col("_merge") == "both").height > 0.5 * left.height
