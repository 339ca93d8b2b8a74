"""mypy checks user code against the public API: pandas in, pandas out; polars or a path in,
polars out; the subpackages and errors resolve; a wrong use is reported.

mypy runs on a small user script with this checkout first on its path. pandas ships no type
information of its own (that is the separate pandas-stubs package), so the script's path also
holds a one-class ``pandas`` stub: what is checked is linker's overloads, not pandas' own
annotations. The cache lives under ``.mypy_cache/`` so that a second run is quick.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # mypy analyses linker, polars and numpy: a minute when cold

ROOT = Path(__file__).resolve().parents[1]
PANDAS = "pandas.DataFrame"
POLARS = "polars.dataframe.frame.DataFrame"

USES = {
    "lk.merge(pdf, plf, on='name')": PANDAS,
    "lk.merge(plf, pdf, on='name', how='m:1')": POLARS,
    "lk.merge(plf.lazy(), Path('right.csv'))": POLARS,
    "lk.merge('left.csv', 'right.csv')": POLARS,
    "lk.candidates(pdf, plf, k=5)": PANDAS,
    "lk.candidates(plf, plf)": POLARS,
    "lk.dedup(pdf, on=['name'])": PANDAS,
    "lk.dedup(Path('people.parquet'))": POLARS,
    "lk.match_schema(pdf, {'dob': 'date of birth'})": PANDAS,
    "lk.match_schema(['pt_dob', 'sex'], plf)": POLARS,
    "lk.match_glossary(pdf, 'glossary.csv')": PANDAS,
    "lk.match_glossary(plf, plf)": POLARS,
    "lk.map_taxonomy(pdf, 'taxonomy.csv')": PANDAS,
    "lk.map_taxonomy(['acme'], lk.Taxonomy.from_labels(['a']))": POLARS,
    "lk.map_taxonomy(pl.Series(['acme']), 'taxonomy.obo')": POLARS,
    "lk.schema.Schema.from_names(['a'])": "linker.schema.profiles.Schema",
    "lk.taxonomy.HierarchyParams()": "linker.taxonomy.score.HierarchyParams",
    "lk.scoring.labelled_pairs.PairSet([], [], [])": "linker.scoring.labelled_pairs.PairSet",
    "lk.scoring.PairSet([], [], [])": "linker.scoring.labelled_pairs.PairSet",
    "lk.scoring.BoostedMatcher()": "linker.scoring.boosted.BoostedMatcher",
    "lk.evaluate(plf, plf)": "linker.measures.Evaluation",
    "lk.Linker('name').link(plf, plf)": "linker.pipeline.result.LinkResult",
    "lk.NotFittedError()": "linker.errors.NotFittedError",
}

WRONG = {
    "lk.merge(42, plf)": 'No overload variant of "merge"',
    "lk.merge(plf, plf, how='2:2')": 'No overload variant of "merge"',
    "lk.no_such_function()": 'Module has no attribute "no_such_function"',
    "lk.scoring.NoSuchMatcher": 'Module has no attribute "NoSuchMatcher"',
    "lk.dedup(plf).loc": 'has no attribute "loc"',
    "lk.match_schema(pdf, plf).with_columns()": 'has no attribute "with_columns"',
    "lk.map_taxonomy(42, 'taxonomy.csv')": "No overload variant",
}

HEADER = """\
from pathlib import Path

import pandas as pd
import polars as pl

import linker as lk

pdf = pd.DataFrame()
plf = pl.DataFrame({"name": ["a"]})
"""


def _mypy(tmp: Path, lines: list[str]) -> dict[int, list[str]]:
    """mypy's messages on a script of ``HEADER`` then ``lines``, by index into ``lines``."""
    stubs = tmp / "stubs" / "pandas"
    stubs.mkdir(parents=True, exist_ok=True)
    (stubs / "__init__.pyi").write_text("class DataFrame:\n    loc: object\n")
    script = tmp / "user.py"
    script.write_text(HEADER + "\n".join(lines) + "\n")
    (tmp / "mypy.ini").write_text("[mypy]\n")
    cmd = [
        sys.executable, "-m", "mypy", "--config-file", str(tmp / "mypy.ini"), "--strict",
        "--follow-imports=silent", "--ignore-missing-imports", "--python-version=3.11",
        "--cache-dir", str(ROOT / ".mypy_cache" / "test_typing"), "--no-error-summary",
        "--hide-error-context", "--no-pretty", script.name,
    ]  # fmt: skip
    env = {**os.environ, "MYPYPATH": f"{tmp / 'stubs'}{os.pathsep}{ROOT}"}
    done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 1), done.stderr + done.stdout
    first = HEADER.count("\n") + 1
    out: dict[int, list[str]] = {}
    for line in done.stdout.splitlines():
        m = re.match(r"user\.py:(\d+): (\w+): (.*)", line)
        assert m, f"unexpected mypy output: {line}"
        out.setdefault(int(m[1]) - first, []).append(f"{m[2]}: {m[3]}")
    return out


def test_mypy_sees_frame_types_in_user_code(tmp_path: Path) -> None:
    messages = _mypy(tmp_path, [f"reveal_type({use})" for use in USES])
    for i, (use, expected) in enumerate(USES.items()):
        notes = messages.pop(i, [])
        assert len(notes) == 1 and notes[0].startswith("note: Revealed type is"), (use, notes)
        revealed = notes[0].split('"', 1)[1].rstrip('"')
        assert revealed == expected, f"{use}: mypy sees {revealed}, not {expected}"
    assert not messages, f"other messages: {messages}"


def test_mypy_reports_wrong_uses(tmp_path: Path) -> None:
    fine = "lk.merge(pdf, plf).loc"  # a pandas result has pandas attributes: no error
    messages = _mypy(tmp_path, [*WRONG, fine])
    for i, (use, expected) in enumerate(WRONG.items()):
        errors = [m for m in messages.pop(i, []) if m.startswith("error:")]
        assert any(expected in e for e in errors), f"{use}: mypy said {errors}"
    assert not messages, f"unexpected messages: {messages}"
