"""The long run of the property suite (issue 22): thousands of generated cases per verb.

Runs the checks of ``tests/test_properties.py`` (read, merge, dedup, candidates, evaluate, and
the CLI) with Hypothesis, ``--examples`` cases each (default 2,000), from a seed it prints,
and prints per verb how many cases ran, how many ended in linker's own errors (allowed), and
how many broke an invariant (must be 0). Exit status 1 when any did. Rerun a failure with the
same ``--seed``.

    .venv/bin/python benchmarks/properties.py --results benchmarks/results/properties.md
    .venv/bin/python benchmarks/properties.py --examples 50 --verbs merge,read --seed 7
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import test_properties as props  # noqa: E402
from _common import header_lines, markdown_table, write_atomic  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402

import linker.vectors.embed  # noqa: E402
from linker.errors import LinkerError  # noqa: E402


def _verbs() -> dict[str, tuple[Any, Callable[[Any], None]]]:
    enc = props.HashingEncoder()
    return {
        "read": (props.file_cases(), props.check_read),
        "merge": (props.merge_cases(), lambda c: props.check_merge(c, enc)),
        "dedup": (props.dedup_cases(), lambda c: props.check_dedup(c, enc)),
        "candidates": (props.merge_cases(), lambda c: props.check_candidates(c, enc)),
        "evaluate": (props.eval_cases(), props.check_evaluate),
        "cli": (props.cli_cases(), _cli),
    }


_CLI_ERRORS = [0]


def _cli(case: Any) -> None:
    """The CLI check; an exit status of 2 (one-line error) counts as a linker error."""
    if props.check_cli(case) == 2:
        _CLI_ERRORS[0] += 1


def run_verb(
    name: str, strategy: Any, check: Callable[[Any], None], *, n: int, seed: int
) -> dict[str, int]:
    counts = {"cases": 0, "linker_errors": 0, "violations": 0}
    original = props.allowed

    def counting(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except LinkerError:
            counts["linker_errors"] += 1
            return None

    @hypothesis_seed(seed)
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(case: Any) -> None:
        counts["cases"] += 1
        check(case)

    props.allowed = counting
    _CLI_ERRORS[0] = 0
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setitem(linker.vectors.embed._REGISTRY, "minilm", props.HashingEncoder)
            run()
    except Exception:  # an invariant broke: Hypothesis re-raises the shrunk case
        counts["violations"] += 1
        traceback.print_exc()
    finally:
        props.allowed = original
    counts["linker_errors"] += _CLI_ERRORS[0]
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=2000, help="cases per verb (2000)")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: random)")
    parser.add_argument("--verbs", default=None, help="comma-separated subset of the verbs")
    parser.add_argument(
        "--results", default=None, help="also write a results file (e.g. results/properties.md)"
    )
    a = parser.parse_args()
    logging.disable(logging.WARNING)  # the cases warn on purpose (empty columns, unknown ids)
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2**32)
    verbs = _verbs()
    chosen = a.verbs.split(",") if a.verbs else list(verbs)
    print(f"seed {seed}, {a.examples} cases per verb: {', '.join(chosen)}")
    failed = False
    rows: list[list[str]] = []
    for name in chosen:
        strategy, check = verbs[name]
        start = time.perf_counter()
        c = run_verb(name, strategy, check, n=a.examples, seed=seed)
        failed |= c["violations"] > 0
        print(
            f"{name:<11} cases {c['cases']:>6}  linker errors {c['linker_errors']:>6}  "
            f"violations {c['violations']}  ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
        rows.append([name, *(str(c[k]) for k in ("cases", "linker_errors", "violations"))])
        if a.results:  # rewritten after each verb: a run that stops early leaves a valid file
            head = header_lines("Property suite, long run", extra={"seed": str(seed)})
            table = markdown_table(["verb", "cases", "linker errors", "violations"], rows)
            write_atomic(a.results, "\n".join([*head, *table, ""]))
    print("FAILED: invariant violations above" if failed else "all invariants held")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
