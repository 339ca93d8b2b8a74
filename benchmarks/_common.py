"""Helpers shared by the benchmark scripts: machine facts, tables, timing, atomic result files.

Every results file starts with the same header (command line, UTC date, machine, versions), so
a number can always be traced to the run and the hardware that produced it.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.io.write import atomic_write

if TYPE_CHECKING:
    from linker.data.benchmarks import Benchmark

__all__ = [
    "Cell",
    "Rows",
    "at_least",
    "at_most",
    "met",
    "recall_pairs",
    "recall_topk",
    "record_strings",
    "subsample",
    "tfidf_topk",
    "truth_rows",
    "command_line",
    "ece",
    "fmt",
    "header_lines",
    "int_list",
    "machine_info",
    "markdown_table",
    "print_table",
    "timed",
    "utc_now",
    "write_atomic",
]

Cell = str | int | float | None
Rows = npt.NDArray[np.int64]
DEFAULT_PACKAGES = (
    "polars",
    "numpy",
    "onnxruntime",
    "hnswlib",
    "scikit-learn",
    "sentence-transformers",
    "torch",
)


def utc_now() -> str:
    """The current UTC time as ``YYYY-MM-DD HH:MM UTC``."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def command_line() -> str:
    """The command that started this process, shell-quoted (``python benchmarks/x.py ...``)."""
    return shlex.join(["python", *sys.argv])


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024**2
    except (OSError, ValueError, IndexError):
        pass
    return None


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info(packages: Sequence[str] = DEFAULT_PACKAGES) -> dict[str, str]:
    """CPU model, usable cores, RAM, OS, Python and the versions of ``packages``."""
    ram = _ram_gib()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cpu": _cpu_model(),
        "cores": f"{cores} usable ({os.cpu_count()} online)",
        "ram": f"{ram:.1f} GiB" if ram is not None else "unknown",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    info.update({p: _version(p) for p in packages})
    return info


def header_lines(title: str, *, extra: dict[str, str] | None = None) -> list[str]:
    """Markdown header of a results file: title, command, date, machine, versions."""
    info = machine_info()
    lines = [
        f"# {title}",
        "",
        f"- Command: `{command_line()}`",
        f"- Date: {utc_now()}",
        f"- Machine: {info.pop('cpu')}, {info.pop('cores')} cores, {info.pop('ram')} RAM, "
        f"{info.pop('os')}",
        f"- Python {info.pop('python')}; " + ", ".join(f"{k} {v}" for k, v in info.items()),
    ]
    lines += [f"- {k}: {v}" for k, v in (extra or {}).items()]
    return [*lines, ""]


def fmt(value: Cell, digits: int = 3) -> str:
    """Format a table cell: floats to ``digits`` places, ``None`` as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub markdown table (cells already formatted), one string per line."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print an aligned plain-text table to stdout and flush (for long runs watched live)."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    sys.stdout.flush()


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall-clock seconds of the ``with`` body to ``timings[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def int_list(text: str) -> list[int]:
    """Parse ``"1,5,10"`` into ``[1, 5, 10]`` (sorted, unique, each ≥ 1); for argparse ``type=``."""
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError as e:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from e
    if not values or values[0] < 1:
        raise ValueError(f"expected integers >= 1, got {text!r}")
    return values


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` with :func:`linker.io.write.atomic_write`: a reader (or a
    crash) never sees a half-written file."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


# -- benchmark data and recall -----------------------------------------------------------------
def subsample(bench: Benchmark, max_left: int | None, seed: int) -> Benchmark:
    """Keep ``max_left`` random left records (seeded, in table order) and their truth pairs."""
    if max_left is None or bench.left.height <= max_left:
        return bench
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(bench.left.height, size=max_left, replace=False))
    left = bench.left[rows.tolist()]
    truth = bench.truth.filter(pl.col("left_id").is_in(left[bench.left_id].implode()))
    return dataclasses.replace(bench, left=left, truth=truth)


def truth_rows(bench: Benchmark) -> tuple[Rows, Rows]:
    """The true pairs as (left row, right row) numbers; pairs naming a missing record drop out."""
    lmap = bench.left.select(left_id=pl.col(bench.left_id)).with_row_index("l")
    rmap = bench.right.select(right_id=pl.col(bench.right_id)).with_row_index("r")
    t = bench.truth.join(lmap, on="left_id").join(rmap, on="right_id")
    return t["l"].to_numpy().astype(np.int64), t["r"].to_numpy().astype(np.int64)


def recall_topk(ids: Rows, k: int, tl: Rows, tr: Rows) -> float:
    """Share of true pairs whose right row is among the first ``k`` ids of its left row."""
    if len(tl) == 0:
        return float("nan")
    return float((ids[tl, :k] == tr[:, None]).any(axis=1).mean())


def recall_pairs(cl: Rows, cr: Rows, tl: Rows, tr: Rows, n_right: int) -> float:
    """Share of true pairs present among the candidate pairs ``(cl, cr)``."""
    if len(tl) == 0:
        return float("nan")
    return float(np.isin(tl * n_right + tr, cl * n_right + cr).mean())


# -- the external baseline (deliberately not linker's code) -----------------------------------
def record_strings(df: pl.DataFrame, on: list[str]) -> list[str]:
    """Each record as one string: its non-null ``on`` values joined by spaces."""
    expr = pl.concat_str([pl.col(c).cast(pl.Utf8) for c in on], separator=" ", ignore_nulls=True)
    return df.select(expr.fill_null("").alias("s"))["s"].to_list()


def tfidf_topk(left: list[str], right: list[str], k: int) -> Rows:
    """Top-``k`` right rows per left row by cosine of sklearn char 2-4-gram TF-IDF vectors."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 4)).fit(left + right)
    q, items_t = vec.transform(left), vec.transform(right).T.tocsc()
    k = min(k, len(right))
    if k == 0 or not left:
        return np.zeros((len(left), k), np.int64)
    step = max(1, 16_000_000 // max(len(right), 1))
    out = []
    for start in range(0, q.shape[0], step):
        sims = (q[start : start + step] @ items_t).toarray()
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else None
        cand = part if part is not None else np.tile(np.arange(sims.shape[1]), (len(sims), 1))
        vals = np.take_along_axis(sims, cand, axis=1)
        order = np.lexsort((cand, -vals), axis=1)  # score desc, then row number
        out.append(np.take_along_axis(cand, order, axis=1))
    return np.vstack(out).astype(np.int64) if out else np.zeros((0, k), np.int64)


def ece(
    scores: npt.NDArray[np.float64], labels: npt.NDArray[np.bool_], bins: int = 10
) -> float | None:
    """Expected calibration error of probabilities ``scores`` against 0/1 ``labels``.

    ``bins`` equal-width bins over [0, 1] (a score of 1 falls in the last):
    Σ (pairs in bin / pairs) × |mean score − share of labels true|; ``None`` for no pairs.
    """
    if len(scores) == 0:
        return None
    b = np.minimum((np.clip(scores, 0.0, 1.0) * bins).astype(np.int64), bins - 1)
    gap = np.abs(np.bincount(b, scores, bins) - np.bincount(b, labels.astype(float), bins))
    return float(gap.sum() / len(scores))  # Σ n_b/N · |Σ score_b − Σ label_b| / n_b


def at_least(value: float | None, target: float | None, *, digits: int = 3) -> str:
    """``≥ target (met)`` / ``(not met)``, or an em dash when there is no target."""
    if target is None:
        return "—"
    if value is None or np.isnan(value):
        return f"≥ {target:.{digits}f}"
    return f"≥ {target:.{digits}f} ({met(value >= target - 1e-12)})"


def at_most(value: float | None, target: float | None, *, digits: int = 3) -> str:
    """``≤ target (met)`` / ``(NOT met)``, or an em dash when there is no target."""
    if target is None:
        return "—"
    if value is None or np.isnan(value):
        return f"≤ {target:.{digits}f}"
    return f"≤ {target:.{digits}f} ({met(value <= target + 1e-12)})"


def met(ok: bool) -> str:
    """``met`` or ``NOT met`` (capitals, so a missed target stands out in a table)."""
    return "met" if ok else "NOT met"
