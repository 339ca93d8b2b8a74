"""Driver memory: the peak RSS of the process that runs a link, above its start-up, with
Parquet folders in and a folder of Parquet parts out, on the local backend and on Ray.

For each N and backend, a fresh child process (this script with ``--child``) imports linker's
modules (and Ray, for ``ray``), notes its resident memory (``VmRSS``), runs the CLI
in-process::

    linker merge <work>/n<N>/left/ <work>/n<N>/right/ --on name,street,city,state,zip,phone
        --id id -o <work>/n<N>/out-<backend>/ --part-rows <N/4> [--backend ray]

and reports its peak resident memory (``VmHWM``) less the start, the seconds, and the output's
rows and parts (checked: every input row is in it). ``ray`` starts a local Ray on this machine
(``RayBackend()``, every CPU a worker); its workers, raylet and object store are other
processes and are not counted: the figure is the driver's alone. Today the driver still reads
the tables back from the workers, builds the candidate pairs and holds the output (issue 25,
part 1): this measures that baseline.

Data: ``linker.data.demo.make_demo(N, seed=0)``, each side written as four Parquet files under
``<work>/n<N>/{left,right}/`` (made once). ``--append FILE`` appends the dated section (command,
date, commit, machine, load averages) to FILE, e.g. benchmarks/results/scale_notes.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import command_line, fmt, int_list, machine_info, markdown_table, print_table, utc_now

ON = "name,street,city,state,zip,phone"  # as benchmarks/scale.py and `linker demo` link
BACKENDS = ("local", "ray")
MB = 1024**2


def _status_kb(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} (Linux only)")


def make_data(n: int, work: Path) -> Path:
    """``<work>/n<N>/{left,right}/part-<i>.parquet`` of the seeded demo firms (made once)."""
    folder = work / f"n{n}"
    if (folder / "done").is_file():
        return folder
    from linker.data.demo import make_demo

    left, right, _ = make_demo(n, seed=0)
    for name, frame in (("left", left), ("right", right)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        step = -(-frame.height // 4)
        for i in range(4):
            frame.slice(i * step, step).write_parquet(folder / name / f"part-{i}.parquet")
    (folder / "done").write_text("")
    return folder


def child(n: int, backend: str, work: Path) -> dict[str, object]:
    """Run one link in this process and measure it (see the module's docstring)."""
    import polars as pl

    import linker.pipeline.linker  # noqa: F401 - the library's modules: start-up, not the link
    from linker.cli import main

    if backend == "ray":
        import ray  # noqa: F401 - its import is start-up, not the link
        import ray.data  # noqa: F401
    folder = work / f"n{n}"
    out = folder / f"out-{backend}"
    argv = [
        "merge", str(folder / "left"), str(folder / "right"), "--on", ON, "--id", "id", "-q",
        "-o", f"{out}/", "--part-rows", str(max(1, n // 4)),
    ]  # fmt: skip
    if backend == "ray":
        argv += ["--backend", "ray"]
    start_kb = _status_kb("VmRSS")
    t0 = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - t0
    peak_kb = _status_kb("VmHWM")
    if code != 0:
        raise SystemExit(f"linker {' '.join(argv)} exited {code}")
    result = pl.read_parquet(out / "*.parquet")
    kinds = dict(result.group_by("_merge").len().iter_rows())
    rows_in = (
        pl.read_parquet(folder / "left" / "*.parquet").height
        + pl.read_parquet(folder / "right" / "*.parquet").height
    )
    rows_out = 2 * kinds.get("both", 0) + kinds.get("left_only", 0) + kinds.get("right_only", 0)
    if rows_out != rows_in:
        raise SystemExit(f"{rows_in} input rows but {rows_out} in the output")
    return {
        "n": n,
        "backend": backend,
        "start_mb": start_kb / 1024,
        "peak_mb": peak_kb / 1024,
        "above_mb": (peak_kb - start_kb) / 1024,
        "seconds": seconds,
        "parts": len(list(out.glob("part-*.parquet"))),
        "out_rows": result.height,
        "matched": kinds.get("both", 0),
    }


def run_child(n: int, backend: str, work: Path) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--child", "--sizes", str(n), "--backends", backend]
    done = subprocess.run(
        [*cmd, "--work", str(work)], capture_output=True, text=True, check=False, timeout=3600
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    last: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return last


def _commit() -> str:
    git = ["git", "-C", str(Path(__file__).parent), "rev-parse", "--short", "HEAD"]
    done = subprocess.run(git, capture_output=True, text=True, check=False)
    dirty = subprocess.run(
        ["git", "-C", str(Path(__file__).parent), "status", "--porcelain", "linker"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return done.stdout.strip() + (" (with uncommitted changes under linker/)" if dirty else "")


HEADERS = ["N", "backend", "driver start MB", "driver peak MB", "peak above start MB",
           "seconds", "output rows", "matched", "parts"]  # fmt: skip


def table_rows(runs: list[dict[str, object]]) -> list[list[str]]:
    return [
        [
            f"{r['n']:,}",
            str(r["backend"]),
            fmt(r["start_mb"], 0),
            fmt(r["peak_mb"], 0),
            fmt(r["above_mb"], 0),
            fmt(r["seconds"], 1),
            f"{r['out_rows']:,}",
            f"{r['matched']:,}",
            str(r["parts"]),
        ]  # fmt: skip
        for r in runs
    ]


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def section(runs: list[dict[str, object]], load: tuple[str, str], when: str) -> str:
    """The dated markdown section of the runs."""
    info = machine_info()
    lines = [
        f"## Driver memory, Parquet in and Parquet out ({when[:10]})",
        "",
        f"- Command: `{command_line()}`",
        f"- Date: {when}; commit {_commit()}",
        f"- Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM; load average "
        f"(1, 5, 15 min) before {load[0]}, after {load[1]} (a shared box: seconds are "
        "provisional, memory is not)",
        "- Each run: a fresh driver process; `linker merge left/ right/ ... -o out/` with each "
        "side four Parquet files of `make_demo(N, seed=0)` and the output in parts of N/4 "
        "rows; "
        "`ray`: a local Ray started by the backend (every CPU a worker), whose processes are "
        "not counted. Start = `VmRSS` after importing linker's modules (and Ray), peak = "
        "`VmHWM`; the model loads within the run.",
        "",
        *markdown_table(HEADERS, table_rows(runs)),
        "",
        "Today the driver still holds both tables, every candidate pair and the output on both "
        "backends (Ray reads the files in tasks and sends the frames back; it writes the parts "
        "in tasks from the driver's frame): these figures are the baseline that moving the "
        "stages into the workers (issue 25, part 1) is to bring down.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--sizes", type=int_list, default=[10_000, 100_000], help="N, e.g. 10000,100000")
    p.add_argument("--backends", default=",".join(BACKENDS), help="local,ray")
    p.add_argument("--work", type=Path, default=Path("/tmp/linker_driver_memory"))
    p.add_argument("--append", type=Path, help="append the section to this markdown file")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        p.error(f"unknown backend(s) {unknown}; choose from {', '.join(BACKENDS)}")
    if args.child:
        print(json.dumps(child(args.sizes[0], backends[0], args.work)))
        return 0
    when, load_before = utc_now(), _load()
    runs = []
    for n in args.sizes:
        make_data(n, args.work)
        for backend in backends:
            runs.append(run_child(n, backend, args.work))
            print(json.dumps(runs[-1]), flush=True)
    text = section(runs, (load_before, _load()), when)
    print_table("Driver memory", HEADERS, table_rows(runs))
    if args.append:
        with args.append.open("a", encoding="utf-8") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
