"""``linker merge``, ``candidates``, ``dedup`` and ``evaluate``: records in, links out.

The three linking verbs build the :class:`linker.Linker` keyword arguments in one place,
:func:`linker_settings`, from the options the user gave; the library's defaults fill the rest.
"""

from __future__ import annotations

import argparse
from typing import Any

import linker as lk
from linker.cli.options import (
    add_input,
    add_io,
    add_model,
    cols,
    given,
    library_option,
    read_input,
    show_progress,
)

__all__ = [
    "add_candidates",
    "add_dedup",
    "add_evaluate",
    "add_merge",
    "linker_settings",
    "make_linker",
    "run_candidates",
    "run_dedup",
    "run_evaluate",
    "run_merge",
]

HOWS = ["1:1", "m:1", "1:m", "m:m"]


def _backend_name(spec: Any) -> str:
    from linker.backend import get_backend

    return get_backend(spec).name


def _add_linker_options(p: argparse.ArgumentParser, *, two_tables: bool) -> None:
    """The options every linking verb takes (they become :class:`linker.Linker` settings)."""
    from linker.io.parts import write_parts

    p.add_argument("--on", help="comma-separated columns to compare (default: shared columns)")
    if two_tables:
        p.add_argument("--left-on", help="left columns, when names differ (with --right-on)")
        p.add_argument("--right-on", help="right columns, same order as --left-on")
    library_option(
        p, "-k", "--k", type=int, owner=lk.Linker, help="candidates per record per blocker"
    )
    add_model(p, linking=True)
    p.add_argument("--block-on", help="comma-separated columns that must agree exactly")
    p.add_argument("--id", help="id column (checked unique and non-null)")
    add_io(p)
    library_option(
        p, "--part-rows", type=int, owner=write_parts, param="rows_per_part",
        help="most rows per Parquet part when -o is a folder (ends in /)",
    )  # fmt: skip
    library_option(
        p, "--backend", choices=["local", "ray"], owner=lk.Linker, shown=_backend_name,
        help="where embedding, search and pair features run; ray needs linker[ray]",
    )  # fmt: skip
    p.add_argument("--address", help="Ray cluster address for --backend ray (default: start one)")
    p.add_argument("--cache", help="folder that keeps embeddings and ANN indexes between runs")
    p.add_argument(
        "--config",
        help="JSON settings file (from --save-config, Linker.save_config or a review export); "
        "options given on the command line override it",
    )
    p.add_argument(
        "--save-config",
        metavar="FILE",
        help="write the run's settings as JSON (rerun with --config)",
    )


def _add_threshold(p: argparse.ArgumentParser) -> None:
    library_option(p, "--threshold", type=float, owner=lk.Linker, help="minimum match probability")


def add_merge(p: argparse.ArgumentParser) -> None:
    """The ``merge`` verb's arguments."""
    p.add_argument("left")
    p.add_argument("right")
    _add_linker_options(p, two_tables=True)
    library_option(p, "--how", choices=HOWS, owner=lk.Linker, help="Stata-style merge kind")
    _add_threshold(p)
    library_option(
        p, "--assign", choices=["hungarian", "greedy"], owner=lk.Linker,
        help="1:1 method: optimal matching (hungarian) or best-first (greedy)",
    )  # fmt: skip
    p.add_argument(
        "--rerank",
        help="rerank the uncertain band: 'local' (SmolLM2 via llama.cpp, needs linker[llm]) "
        "or 'openai:MODEL' (OPENAI_BASE_URL, OPENAI_API_KEY)",
    )
    library_option(p, "--rerank-band", owner=lk.Linker, help="LO,HI: best scores that are reranked")
    p.add_argument("--matcher", help="folder of a matcher from `linker train`: it scores the pairs")


def add_candidates(p: argparse.ArgumentParser) -> None:
    """The ``candidates`` verb's arguments."""
    p.add_argument("left")
    p.add_argument("right")
    _add_linker_options(p, two_tables=True)


def add_dedup(p: argparse.ArgumentParser) -> None:
    """The ``dedup`` verb's arguments."""
    p.add_argument("data")
    _add_linker_options(p, two_tables=False)
    _add_threshold(p)
    library_option(
        p, "--cluster", choices=["components", "centre", "average"], owner=lk.Linker,
        help="clustering: connected components, or centre / average linkage, which resist "
        "chaining",
    )  # fmt: skip
    p.add_argument(
        "--representative",
        action="store_true",
        default=None,
        help="add _representative (one per cluster)",
    )


def add_evaluate(p: argparse.ArgumentParser) -> None:
    """The ``evaluate`` verb's arguments."""
    p.add_argument("pairs", help="merge output or candidate pairs (.csv/.parquet)")
    p.add_argument("truth", help="true pairs (.csv/.parquet)")
    p.add_argument("--left-id", required=True, help="left id column in PAIRS")
    p.add_argument("--right-id", required=True, help="right id column in PAIRS")
    p.add_argument("--truth-left-id", help="left id column in TRUTH (default: --left-id)")
    p.add_argument("--truth-right-id", help="right id column in TRUTH (default: --right-id)")
    add_input(p)


def _band(text: str) -> tuple[float, float]:
    from linker.errors import ConfigError

    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError as e:
        raise ConfigError(f"--rerank-band must be LO,HI (e.g. 0.3,0.7), not {text!r}") from e
    return lo, hi


def linker_settings(a: argparse.Namespace) -> dict[str, Any]:
    """The :class:`linker.Linker` keyword arguments the user gave, in one dict.

    Only options given on the command line are in it (the library's defaults fill the rest),
    plus ``show_progress``, which the CLI decides (a terminal, no ``-q``).
    """
    out: dict[str, Any] = given(a, "k", "model", "id", "cache", "how", "threshold", "assign")
    out |= given(a, "cluster", "representative", "rerank", "matcher")
    for name in ("on", "left_on", "right_on", "block_on"):
        if getattr(a, name, None) is not None:
            out[name] = cols(getattr(a, name))
    if getattr(a, "rerank_band", None) is not None:
        out["rerank_band"] = _band(a.rerank_band)
    if a.address is not None:  # a Ray address needs the backend object
        from linker.backend import get_backend

        out["backend"] = get_backend(a.backend, address=a.address)
    elif a.backend is not None:
        out["backend"] = a.backend
    out["show_progress"] = show_progress(a)
    return out


def make_linker(a: argparse.Namespace) -> lk.Linker:
    """The :class:`linker.Linker` of a run: ``--config`` (if given) under the options given.

    Settings are checked here, before any input is read; ``--save-config`` writes them.
    """
    settings = linker_settings(a)
    if getattr(a, "part_rows", None) is not None and a.part_rows < 1:
        from linker.errors import ConfigError

        raise ConfigError(f"--part-rows must be at least 1, not {a.part_rows}")
    config = getattr(a, "config", None)
    linker = lk.Linker.from_config(config, **settings) if config else lk.Linker(**settings)
    linker.check()
    if getattr(a, "save_config", None):
        linker.save_config(a.save_config)
    return linker


def _ray_backend(linker: lk.Linker) -> Any:
    """The linker's Ray backend (made now, once, so that the reading, the link and the writing
    share its connection), or ``None`` on another backend."""
    from linker.backend import get_backend
    from linker.backend.ray import RayBackend

    if linker.backend == "ray":
        linker.backend = get_backend("ray")
    return linker.backend if isinstance(linker.backend, RayBackend) else None


def _read(path: str, a: argparse.Namespace, linker: lk.Linker) -> Any:
    """An input table; with the Ray backend, folders and URIs are read by Ray workers."""
    ray = _ray_backend(linker)
    return read_input(path, a, reader=None if ray is None else ray.read_table)


def _write(out: Any, a: argparse.Namespace, linker: lk.Linker) -> None:
    """Write the output: a folder of Parquet parts (by Ray tasks with the Ray backend), a file,
    or stdout."""
    from linker.io.parts import PART_ROWS, is_folder_output, write_parts
    from linker.io.write import write

    rows = a.part_rows or PART_ROWS
    if a.output == "-" or not is_folder_output(a.output):
        write(out, a.output)
    elif (ray := _ray_backend(linker)) is not None:
        ray.write_parts(out, a.output, rows_per_part=rows)
    else:
        write_parts(out, a.output, rows_per_part=rows)


def run_merge(a: argparse.Namespace) -> str:
    """Link two tables, write every row of both; returns the summary line."""
    linker = make_linker(a)  # a bad option fails before the reading
    left, right = _read(a.left, a, linker), _read(a.right, a, linker)
    result = linker.link(left, right)
    out = result.frame
    _write(out, a, linker)
    counts = dict(out.group_by("_merge").len().iter_rows())
    return (
        f"{left.height} left rows, {right.height} right rows: {counts.get('both', 0)} matched, "
        f"{counts.get('left_only', 0)} left_only, {counts.get('right_only', 0)} right_only; "
        f"compared {', '.join(result.columns)}" + _estimate(result.stats, left.height)
    )


def _estimate(stats: dict[str, float], n_left: int) -> str:
    """``; estimated 120 of 3,000 left records have a partner (prior 1.3e-05)``, or ``""``."""
    if "estimated_matches" not in stats:
        return ""
    return (
        f"; estimated {stats['estimated_matches']:,.0f} of {n_left:,} left records have a "
        f"partner (match prior {stats['match_prior']:.2g} per pair)"
    )


def run_candidates(a: argparse.Namespace) -> str:
    """Write the scored candidate pairs; returns the summary line."""
    linker = make_linker(a)
    left, right = _read(a.left, a, linker), _read(a.right, a, linker)
    out = linker.candidates(left, right)
    _write(out, a, linker)
    compared, _ = linker.columns(left, right)
    return f"{out.height} candidate pairs; compared {', '.join(compared)}"


def run_dedup(a: argparse.Namespace) -> str:
    """Cluster the duplicate rows of one table; returns the summary line."""
    linker = make_linker(a)
    data = _read(a.data, a, linker)
    result = linker.dedup(data)
    out = result.frame
    _write(out, a, linker)
    sizes = out["_cluster"].value_counts()["count"]
    estimate = ""
    if "estimated_matches" in result.stats:
        estimate = (
            f"; estimated {result.stats['estimated_matches']:,.0f} of {out.height:,} rows have "
            "a duplicate"
        )
    return (
        f"{out.height} rows in {sizes.len()} clusters (largest {int(sizes.to_numpy().max())}, "
        f"{(sizes == 1).sum()} singletons); compared {', '.join(result.columns)}" + estimate
    )


def run_evaluate(a: argparse.Namespace) -> str:
    """Print precision, recall and F1, one ``name<TAB>value`` line each."""
    ev = lk.evaluate(
        read_input(a.pairs, a),
        read_input(a.truth, a),
        left_id=a.left_id,
        right_id=a.right_id,
        truth_left_id=a.truth_left_id,
        truth_right_id=a.truth_right_id,
    )
    for key, value in ev.as_dict().items():
        print(f"{key}\t{value}")
    return ""
