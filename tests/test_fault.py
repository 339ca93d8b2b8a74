"""Fault test (issue 22): the CLI killed with SIGKILL at random points of a merge never leaves
a complete-looking file at the output path, and an existing output stays intact.

The output is written to a hidden temporary file next to the target, flushed to disk and
renamed (``linker.io.write.write``): at any instant the target is either absent, the old file,
or the whole new one. A killed run may leave its ``.<name>.*.part`` temporary behind (SIGKILL
gives no chance to clean up); it never has the target's name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "datasets" / "demo"
OLD = b"an older output that must survive\n"


def _cli(folder: Path, out: Path) -> list[str]:
    left, right = folder / "left.csv", folder / "right.csv"
    return [
        sys.executable, "-m", "linker", "merge", str(left), str(right),
        "--on", "name,city", "-q", "-o", str(out),
    ]  # fmt: skip


def _inputs(folder: Path, rows: int = 300) -> None:
    """The first rows of the demo tables: small enough for several runs, large enough that a
    kill lands in every stage (reading, embedding, scoring, writing)."""
    for side in ("left", "right"):
        lines = (DEMO / f"{side}.csv").read_text(encoding="utf-8").splitlines(keepends=True)
        (folder / f"{side}.csv").write_text("".join(lines[: rows + 1]), encoding="utf-8")


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.slow
def test_sigkill_never_leaves_a_complete_looking_output(tmp_path: Path) -> None:
    _inputs(tmp_path)
    reference = tmp_path / "reference.csv"
    start = time.perf_counter()
    subprocess.run(_cli(tmp_path, reference), env=_env(), check=True, timeout=300)
    full = time.perf_counter() - start
    whole = reference.read_bytes()
    rng = np.random.default_rng(22)
    delays = sorted(rng.uniform(0.05, 1.1, size=4) * full)  # some past the end: finished runs
    for i, delay in enumerate(delays):
        for existing in (False, True):
            folder = tmp_path / f"run{i}{'x' if existing else ''}"
            folder.mkdir()
            out = folder / "linked.csv"
            if existing:
                out.write_bytes(OLD)
            proc = subprocess.Popen(
                _cli(tmp_path, out),
                env=_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            if out.exists():
                content = out.read_bytes()
                assert content == whole or (existing and content == OLD), (
                    f"killed after {delay:.2f} s: {out} is neither the old nor a whole output"
                )
            others = [p.name for p in folder.iterdir() if p.name != out.name]
            assert all(p.startswith(".linked.csv.") and p.endswith(".part") for p in others)
