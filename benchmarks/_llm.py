"""Options and report lines of the LLM-rerank runs of ``schema.py`` and ``taxonomy.py``.

Both scripts run the rerank only when ``--rerank SPEC`` is given (their default run is
unchanged), on a seeded subset, with and without the LLM on exactly the same items, and
write their own results file (never ``schema.md`` / ``taxonomy.md``). The LLM is opened by
the library's resolver (:func:`linker.rerank.spec.open_reranker` with the matcher's LLM
task), so the benchmark runs what ``rerank="local"`` runs.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping

from _common import fmt, markdown_table

from linker.llm.cache import default_cache_path


def add_rerank_args(p: argparse.ArgumentParser, *, out: str, subset: str, default_n: int) -> None:
    """The ``--rerank*`` options (off unless ``--rerank`` is given)."""
    p.add_argument(
        "--rerank",
        metavar="SPEC",
        help="run only the LLM-rerank comparison: 'local' (SmolLM2 via llama.cpp) or "
        "'openai:MODEL'; writes --rerank-out, not the main results file",
    )
    p.add_argument("--rerank-n", type=int, default=default_n, help=f"{subset} ({default_n})")
    p.add_argument("--rerank-seed", type=int, default=0, help="seed of the subset (0)")
    p.add_argument("--rerank-top", type=int, default=5, help="candidates the LLM sees (5)")
    p.add_argument("--rerank-rounds", type=int, default=3, help="shuffled rounds per item (3)")
    p.add_argument(
        "--rerank-minutes",
        type=float,
        default=20.0,
        help="stop starting new items after this many minutes; only finished items count (20)",
    )
    p.add_argument(
        "--rerank-cache", default=str(default_cache_path()), help="SQLite LLM call cache"
    )
    p.add_argument("--rerank-out", default=out, help="results markdown of the rerank run")


class Clock:
    """Wall clock and CPU seconds since start, and whether the time budget is spent."""

    def __init__(self, minutes: float) -> None:
        self.start, self.cpu, self.limit = time.perf_counter(), time.process_time(), minutes * 60
        self.load = os.getloadavg()

    @property
    def spent(self) -> bool:
        return time.perf_counter() - self.start >= self.limit

    def seconds(self) -> float:
        return time.perf_counter() - self.start


def counter_lines(report: Mapping[str, float], wall: float, items: int, what: str) -> list[str]:
    """The LLM's work as a table: calls, cache hits, seconds per call, tokens, failures."""
    calls = int(report.get("calls", 0))
    heads = ["items", "LLM calls", "cache hits", "s in calls", "s per call", "s per item",
             "prompt tokens", "completion tokens", "malformed", "undecided", "wall s"]  # fmt: skip
    row = [
        fmt(items),
        fmt(calls),
        fmt(int(report.get("cache_hits", 0))),
        fmt(float(report.get("seconds", 0.0)), 1),
        fmt(float(report.get("seconds", 0.0)) / calls if calls else None, 2),
        # with cache hits, the seconds of earlier runs are not here: no per-item figure
        fmt(
            float(report.get("seconds", 0.0)) / items
            if items and not report.get("cache_hits")
            else None,
            1,
        ),
        fmt(int(report.get("prompt_tokens", 0))),
        fmt(int(report.get("completion_tokens", 0))),
        fmt(int(report.get("malformed", 0))),
        fmt(int(report.get("undecided", 0))),
        fmt(wall, 1),
    ]
    return [f"LLM work ({what}):", "", *markdown_table(heads, [row]), ""]


def load_lines(clock: Clock) -> list[str]:
    before = ", ".join(f"{x:.1f}" for x in clock.load)
    after = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return [
        f"- Load average (1, 5, 15 min): {before} at the start, {after} at the end, on this "
        f"{os.cpu_count()}-core machine shared with other jobs: seconds are upper bounds.",
        f"- CPU seconds of this process (the llama.cpp server is a separate process): "
        f"{time.process_time() - clock.cpu:.1f}.",
    ]
