"""Scale: link and dedup the seeded demo firms at N = 10k, 100k, 1M; seconds, memory, recall.

For each (N, task, model, backend) asked for, a fresh child process (this script with
``--child``) loads the cached demo tables, runs ``Linker(on=ON, model=..., id="id",
backend=...)`` and reports the stage timings (``LinkResult.timings``), its peak resident memory
(``VmHWM`` of the child), the candidate pairs, the blocking recall against the generator's
truth and the precision/recall/F1 of ``.matches``. The parent enforces ``--time-limit``, samples
the memory of the child's whole process tree (Ray workers included) and records a run that dies
or runs out of time as such, in the table and in the exit status.

Tasks:

- ``link``: ``left`` (N firms) against ``right`` (N records, 0.8 N of them rewritten left
  firms): ``Linker.link(left, right)``; truth = the generator's ``(left_id, right_id)`` pairs.
- ``dedup``: the two tables stacked into one of 2N records, ``Linker.dedup(left + right)``; its
  true duplicate pairs are the same 0.8 N pairs (the generator puts no duplicates inside one
  table), so recall and F1 are comparable with ``link``.

Backends: ``local``; ``local-shards``, the local backend with ``AnnParams(shards=W)`` for
``--ray-workers`` W (one-thread graphs: the same output on every run, and the same as Ray's);
``ray``, W workers on this machine, which searches the same W shards; ``ray-cluster``, the
running Ray cluster at ``--ray-address`` (e.g. the two-node local recipe of docs/guide/scale.md;
its CPUs are its workers; its processes are not in the child's process tree).

Data: ``linker.data.demo.make_demo(N, seed=0)``, cached as
``<work>/data/n<N>/{left,right,truth}.parquet``, made once through a temporary file and a rename;
a folder without ``truth.parquet`` is taken to be written by another process and waited for.
Run ``python benchmarks/scale.py --help``; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import itertools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from _common import fmt, header_lines, int_list, markdown_table, print_table, utc_now, write_atomic

ON = ["name", "street", "city", "state", "zip", "phone"]  # as `linker demo` links
MODELS = {"static": "static", "minilm": "minilm"}  # --models name -> Linker(model=...)
STAGES = ("serialize", "embed", "ngram", "block", "features", "score", "assign")
TARGET_1M_SECONDS, TARGET_1M_GB, TARGET_RECALL = 600.0, 8.0, 0.99
TARGET_GROWTH, TARGET_RAY = 12.0, 1.5
GB = 1024**3
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Spec:
    """One run."""

    n: int
    task: str
    model: str
    backend: str

    @property
    def tag(self) -> str:
        return f"{self.task}-n{self.n}-{self.model}-{self.backend}"


@dataclass
class Run:
    """What one run measured (``status`` is ``ok``, ``dry-run``, or why it has no numbers)."""

    spec: Spec
    status: str = "ok"
    records: int = 0
    truth_pairs: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    setup_s: float | None = None
    load_s: float | None = None
    wall_s: float | None = None
    cpu_s: float | None = None
    rss_gb: float | None = None
    tree_gb: float | None = None
    candidates: int | None = None
    block_recall: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    cluster_f1: float | None = None
    load_at_start: float | None = None
    load_at_end: float | None = None
    started: str | None = None
    linker_path: str | None = None
    error: str | None = None


# -- data -------------------------------------------------------------------------------------
def ensure_data(work: Path, n: int, wait_s: float) -> Path:
    """The folder of the N-record demo data: made here when absent, waited for when another
    process is writing it (folder present, ``truth.parquet`` not yet)."""
    folder = work / "data" / f"n{n}"
    deadline = time.monotonic() + wait_s
    if folder.is_dir() and not (folder / "truth.parquet").is_file():
        print(f"waiting for {folder}/truth.parquet (written by another process)", flush=True)
    while folder.is_dir() and not (folder / "truth.parquet").is_file():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{folder} has no truth.parquet after {wait_s:.0f} s: the process writing it may "
                "have died; remove the folder to have it made again"
            )
        time.sleep(10)
    if folder.is_dir():
        return folder
    from linker.data.demo import make_demo

    folder.mkdir(parents=True)  # fails if another process just made it: run again to wait
    start = time.perf_counter()
    print(f"making demo data n={n:,} (seed 0) in {folder}", flush=True)
    for name, frame in zip(("left", "right", "truth"), make_demo(n, seed=0), strict=True):
        tmp = folder / f".{name}.parquet.tmp"
        frame.write_parquet(tmp)
        tmp.replace(folder / f"{name}.parquet")  # truth last: its presence means complete
    print(f"  made in {time.perf_counter() - start:.0f} s", flush=True)
    return folder


def truth_keys(left: pl.DataFrame, right: pl.DataFrame, truth: pl.DataFrame) -> tuple[Any, Any]:
    """The true pairs as (left row, right row) numbers; every pair must name present ids."""
    lmap = left.select(left_id=pl.col("id")).with_row_index("l")
    rmap = right.select(right_id=pl.col("id")).with_row_index("r")
    t = truth.join(lmap, on="left_id").join(rmap, on="right_id")
    if t.height != truth.height:
        raise ValueError(f"{truth.height - t.height} truth pairs name ids missing from the data")
    return t["l"].to_numpy().astype(np.int64), t["r"].to_numpy().astype(np.int64)


# -- the child: one run in its own process ----------------------------------------------------
def make_backend(name: str, workers: int, address: str | None = None) -> Any:
    """``"local"`` (also for ``local-shards``), a Ray backend with ``workers`` workers on
    this machine, or (``ray-cluster``) one on the running cluster at ``address``."""
    if name in ("local", "local-shards"):
        return "local"
    from linker.backend.ray import RayBackend  # ImportError: recorded by the parent

    if name == "ray-cluster":
        return RayBackend(address=address)

    params = inspect.signature(RayBackend).parameters
    for option in ("num_workers", "workers", "num_cpus"):
        if option in params:
            return RayBackend(**{option: workers})
    import ray

    if not ray.is_initialized():  # no worker-count option: size the local cluster instead
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    return RayBackend()


def vm_hwm_gb() -> float:
    """Peak resident memory of this process (``VmHWM``), GiB."""
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / GB
    raise OSError("no VmHWM in /proc/self/status")


def prf(tp: int, predicted: int, true: int) -> tuple[float, float, float]:
    p = tp / predicted if predicted else 0.0
    r = tp / true if true else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def child_run(
    spec: Spec, folder: Path, out_dir: Path, *, dry: bool, workers: int, address: str | None = None
) -> dict:
    """Load the data, run the task, measure it; returns the fields of :class:`Run`."""
    import linker
    from linker.pipeline.linker import Linker

    start = time.perf_counter()
    left, right, truth = (
        pl.read_parquet(folder / f"{s}.parquet") for s in ("left", "right", "truth")
    )
    tl, tr = truth_keys(left, right, truth)
    out: dict[str, Any] = {"truth_pairs": len(tl), "load_s": time.perf_counter() - start}
    out["linker_path"] = str(Path(linker.__file__).parent)  # the snapshot, unless --no-snapshot
    start = time.perf_counter()
    backend = make_backend(spec.backend, workers, address)
    out["setup_s"] = time.perf_counter() - start
    from linker.vectors.ann import AnnParams

    ann = AnnParams(shards=workers) if spec.backend == "local-shards" else None
    linker = Linker(on=ON, model=MODELS[spec.model], id="id", cache=None, backend=backend,
                    ann=ann, show_progress=False)  # fmt: skip
    table = pl.concat([left, right]) if spec.task == "dedup" else left
    out["records"] = table.height if spec.task == "dedup" else left.height + right.height
    if dry:
        out.update(status="dry-run", rss_gb=vm_hwm_gb())
        return out
    res = linker.dedup(table) if spec.task == "dedup" else linker.link(left, right)
    out["rss_gb"] = vm_hwm_gb()  # before anything below adds to it
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process, not Ray's
    out["cpu_s"] = usage.ru_utime + usage.ru_stime
    out["timings"] = res.timings
    pairs, m = res.pairs, res.matches
    if spec.task == "dedup":  # rows of right records follow the left ones; pairs go both ways
        tr, width = tr + left.height, table.height
        out["candidates"] = int(pairs.filter(pl.col("left_row") < pl.col("right_row")).height)
    else:
        width = right.height
        out["candidates"] = pairs.height
    true = tl * width + tr
    found = pairs["left_row"].to_numpy() * width + pairs["right_row"].to_numpy()
    out["block_recall"] = float(np.isin(true, found).mean())
    accepted = m["left_row"].to_numpy().astype(np.int64) * width + m["right_row"].to_numpy()
    p, r, f1 = prf(int(np.isin(true, accepted).sum()), m.height, len(true))
    out.update(precision=p, recall=r, f1=f1)
    if spec.task == "dedup" and res.clusters is not None:  # pairwise F1 of the clusters
        labels = res.frame["_cluster"].to_numpy()
        sizes = res.clusters["size"].to_numpy().astype(np.int64)
        same = int((labels[tl] == labels[tr]).sum())
        out["cluster_f1"] = prf(same, int((sizes * (sizes - 1) // 2).sum()), len(true))[2]
    res.frame.write_parquet(out_dir / "frame.parquet")  # for the Ray/local comparison
    if hasattr(backend, "close"):
        backend.close()
    return out


def child_main(args: argparse.Namespace) -> int:
    spec = Spec(**json.loads(args.child))
    out_dir = Path(args.work) / "runs" / spec.tag
    try:
        out = child_run(spec, Path(args.data_dir), out_dir, dry=args.dry_run,
                        workers=args.ray_workers, address=args.ray_address)  # fmt: skip
    except BaseException as e:
        traceback.print_exc()
        out = {"status": "FAILED", "error": f"{type(e).__name__}: {e}"}
    write_atomic(out_dir / "result.json", json.dumps(out))
    return 0 if out.get("status") != "FAILED" else 1


# -- the parent: one child per run, time limit, memory of the process tree -------------------
def _stat(pid: str) -> tuple[int, str] | None:
    """(parent pid, start time) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields[19]


def process_tree(root: int) -> dict[int, str]:
    """The pids of ``root`` and all its descendants, each with its start time."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(entry)) is not None:
            parent[int(entry)] = st
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in parent:
            tree[pid] = parent[pid][1]
            todo += [c for c, (pp, _) in parent.items() if pp == pid]
    return tree


def tree_bytes(pids: dict[int, str]) -> int:
    """Proportional set size (shared pages split between sharers) summed over ``pids``."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as f:
                total += next(int(x.split()[1]) for x in f if x.startswith("Pss:")) * 1024
        except (OSError, StopIteration):
            pass
    return total


def kill_started(pids: dict[int, str]) -> None:
    """SIGKILL the processes this run started that are still alive (same pid and start time)."""
    for pid, started in pids.items():
        st = _stat(str(pid))
        if st is not None and st[1] == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def snapshot_code(work: Path) -> tuple[Path, str]:
    """Copy ``linker/`` to ``<work>/code/<time>/`` for the children to import (the tree is
    shared, and a file saved half-way by someone else must not break a long run); check that
    it imports. Returns the folder to put first on ``PYTHONPATH`` and what it holds."""
    state = code_state()
    dest = work / "code" / time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    shutil.copytree(REPO / "linker", dest / "linker", ignore=shutil.ignore_patterns("__pycache__"))
    probe = "import linker, linker.pipeline.linker, linker.backend; print(linker.__file__)"
    env = os.environ | {"PYTHONPATH": str(dest)}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=dest
    )
    if done.returncode != 0 or not done.stdout.strip().startswith(str(dest)):
        raise SystemExit(
            f"the snapshot of linker/ in {dest} does not import ({done.stderr.strip()[-400:]}): "
            "someone may be editing it; run again in a moment, or pass --no-snapshot"
        )
    return dest, f"snapshot of the working tree in {dest}, taken from {state}"


def spawn(spec: Spec, args: argparse.Namespace, folder: Path, out_dir: Path) -> Run:
    """Run ``spec`` in a child process within ``--time-limit``; the child's result file, or
    why there is none."""
    cmd = [sys.executable, __file__, "--child", json.dumps(asdict(spec)), "--data-dir",
           str(folder), "--work", str(args.work),
           "--ray-workers", str(args.ray_workers)]  # fmt: skip
    cmd += ["--dry-run"] if args.dry_run else []
    cmd += ["--ray-address", args.ray_address] if args.ray_address else []
    run = Run(spec, load_at_start=os.getloadavg()[0], started=utc_now())
    start, seen, peak, rc = time.monotonic(), {}, 0, None
    with open(out_dir / "log.txt", "w", encoding="utf-8") as log:
        env = os.environ | {"HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        if args.code_dir is not None:
            env["PYTHONPATH"] = str(args.code_dir)
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        while rc is None:
            try:
                rc = proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                tree = process_tree(proc.pid)
                seen |= tree
                peak = max(peak, tree_bytes(tree))
                if time.monotonic() - start > args.time_limit:
                    kill_started(seen)
                    proc.wait()
                    run.status = f"TIMEOUT: killed after {args.time_limit:.0f} s"
                    break
    kill_started({p: s for p, s in seen.items() if p != proc.pid})  # e.g. stray Ray workers
    run.wall_s, run.tree_gb = time.monotonic() - start, (peak / GB if peak else None)
    run.load_at_end = os.getloadavg()[0]
    result = out_dir / "result.json"
    if result.is_file():
        for key, value in json.loads(result.read_text()).items():
            setattr(run, key, value)
    elif run.status == "ok":
        how = f"signal {-rc} ({signal.Signals(-rc).name})" if rc and rc < 0 else f"exit {rc}"
        run.status = f"DIED: {how}" + (", out of memory?" if rc == -signal.SIGKILL else "")
    if run.status not in ("ok", "dry-run"):
        tail = (out_dir / "log.txt").read_text(errors="replace").strip().splitlines()[-8:]
        run.error = (run.error or run.status) + "\n    " + "\n    ".join(tail)
    return run


def saved(spec: Spec, args: argparse.Namespace) -> Run | None:
    """The run of ``spec`` saved by an earlier invocation (``--report-only``), if any."""
    path = args.work / "runs" / spec.tag / "run.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    result = path.with_name("result.json")  # the child's own figures, complete
    if result.is_file():
        known = {f for f in Run.__dataclass_fields__ if f != "spec"}
        data |= {k: v for k, v in json.loads(result.read_text()).items() if k in known}
    return Run(**(data | {"spec": Spec(**data["spec"])}))


def execute(spec: Spec, args: argparse.Namespace) -> Run:
    """Data, then the child; a run that cannot start is recorded, not raised."""
    out_dir = args.work / "runs" / spec.tag
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("result.json", "frame.parquet", "run.json"):
        (out_dir / stale).unlink(missing_ok=True)
    if spec.model == "minilm" and spec.n > args.minilm_max_n and not args.dry_run:
        return Run(spec, status=f"skipped: MiniLM above N={args.minilm_max_n:,}")
    if spec.backend.startswith("ray") and importlib.util.find_spec("linker.backend.ray") is None:
        msg = "UNAVAILABLE: linker/backend/ray.py does not exist yet"
        return Run(spec, status=msg, error=msg)
    try:
        folder = ensure_data(args.work, spec.n, args.wait_data)
    except (OSError, TimeoutError) as e:
        return Run(spec, status="NO DATA", error=f"NO DATA: {e}")
    print(f"\n== {spec.tag}: starting (load {os.getloadavg()[0]:.2f})", flush=True)
    run = spawn(spec, args, folder, out_dir)
    write_atomic(out_dir / "run.json", json.dumps(asdict(run)))  # for --report-only
    print(f"   {run.status}; total {fmt(run.timings.get('total'), 1)} s, "
          f"wall {fmt(run.wall_s, 1)} s, peak {fmt(run.rss_gb, 2)} GB", flush=True)  # fmt: skip
    return run


# -- reporting --------------------------------------------------------------------------------
HEAD = ["N", "task", "model", "backend", "records", *(f"{s} s" for s in STAGES), "total s",
        "CPU s", "peak RSS GB", "tree peak GB", "candidates", "block recall", "P", "R", "F1",
        "cluster F1", "load start → end", "started", "status"]  # fmt: skip


def row(r: Run) -> list[str]:
    s, t = r.spec, r.timings
    return [
        fmt(s.n), s.task, s.model, s.backend, fmt(r.records or None),
        *(fmt(t.get(k), 1) for k in STAGES), fmt(t.get("total"), 1), fmt(r.cpu_s, 0),
        fmt(r.rss_gb, 2),
        fmt(r.tree_gb, 2), fmt(r.candidates), fmt(r.block_recall, 4), fmt(r.precision, 4),
        fmt(r.recall, 4), fmt(r.f1, 4), fmt(r.cluster_f1, 4),
        f"{fmt(r.load_at_start, 1)} → {fmt(r.load_at_end, 1)}", fmt(r.started),
        r.status.split("\n")[0],
    ]  # fmt: skip


def find(runs: list[Run], **want: Any) -> Run | None:
    """The ok run matching every field in ``want``."""
    for r in runs:
        if r.status == "ok" and all(getattr(r.spec, k) == v for k, v in want.items()):
            return r
    return None


def same_frames(work: Path, a: Spec, b: Spec) -> bool | None:
    pa, pb = (work / "runs" / s.tag / "frame.parquet" for s in (a, b))
    if not (pa.is_file() and pb.is_file()):
        return None
    return pl.read_parquet(pa).equals(pl.read_parquet(pb))


def check(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "NOT met")


def target_lines(runs: list[Run], work: Path) -> list[str]:
    """The issue's figures next to what was measured (or that they were not measured)."""
    lines = ["## Targets and ratios", ""]
    big = find(runs, n=1_000_000, task="link", model="static", backend="local")
    if big is None:
        lines.append("- 1M × 1M link (static, local): not run (or failed) in this file.")
    else:
        total, recall = big.timings["total"], big.block_recall or 0.0
        lines.append(
            f"- 1M × 1M link (static, local): {total:.0f} s (< {TARGET_1M_SECONDS:.0f} s: "
            f"{check(total < TARGET_1M_SECONDS)}), peak RSS {big.rss_gb:.2f} GB (< "
            f"{TARGET_1M_GB:g} GB: {check((big.rss_gb or 0) < TARGET_1M_GB)}), blocking recall "
            f"{recall:.4f} (≥ {TARGET_RECALL}: {check(recall >= TARGET_RECALL)})"
        )
    sizes = sorted({r.spec.n for r in runs})
    for (task, model, backend), (a, b) in itertools.product(
        sorted({(r.spec.task, r.spec.model, r.spec.backend) for r in runs}),
        itertools.pairwise(sizes),
    ):
        ra, rb = (
            find(runs, n=a, task=task, model=model, backend=backend),
            find(runs, n=b, task=task, model=model, backend=backend),
        )
        if ra and rb:
            ratio = rb.timings["total"] / ra.timings["total"]
            goal = (f" (target ≤ {TARGET_GROWTH:g}× at 100k → 1M: {check(ratio <= TARGET_GROWTH)})"
                    if (a, b) == (100_000, 1_000_000) else "")  # fmt: skip
            lines.append(f"- time({b:,}) / time({a:,}), {task}, {model}, {backend}: "
                         f"{ratio:.2f}× for {b / a:g}× the records{goal}")  # fmt: skip
    for (n, task, model), remote, base in itertools.product(
        sorted({(r.spec.n, r.spec.task, r.spec.model) for r in runs}),
        ("ray", "ray-cluster"),
        ("local", "local-shards"),
    ):
        ray = find(runs, n=n, task=task, model=model, backend=remote)
        loc = find(runs, n=n, task=task, model=model, backend=base)
        if not (loc and ray):
            continue
        ratio = ray.timings["total"] / loc.timings["total"]
        same = same_frames(work, loc.spec, ray.spec)
        at = 100_000 if remote == "ray" else 1_000_000  # the sizes for each
        goal = (
            f" (target ≤ {TARGET_RAY}× at {at:,}: {check(ratio <= TARGET_RAY)})" if n == at else ""
        )
        label = "Ray" if remote == "ray" else "Ray cluster"
        lines.append(f"- {label} / {base} at N={n:,}, {task}, {model}: {ratio:.2f}×{goal}; "
                     f"`.frame` identical: {fmt(same)}")  # fmt: skip
    return [*lines, ""]


# stage -> (where it runs, how its cost grows with the scale factor f = target N / measured N)
SHARDING = {
    "serialize": ("driver", "f (linear in records; could shard, runs in the driver today)"),
    "embed": ("shards", "f (linear in records, embarrassingly parallel)"),
    "ngram": ("driver", "f (vocabulary fit over all texts + transform, one process)"),
    "block": ("shards", "f² broadcast (every left shard × every right shard) / f·g routed"),
    "features": ("shards", "f (linear in candidate pairs: k per left record)"),
    "score": ("driver", "f (matcher fit on all pairs + predict, one process)"),
    "assign": ("driver", "f (blocking graphs split into small components)"),
}


def projection_lines(runs: list[Run], args: argparse.Namespace) -> list[str]:
    """Cost at ``--project-n`` on a cluster, extrapolated from the largest measured link."""
    base = max((r for r in runs if r.status == "ok" and r.spec.task == "link"
                and r.spec.backend == "local" and r.spec.model == "static"),
               key=lambda r: r.spec.n, default=None)  # fmt: skip
    target, nodes, g = args.project_n, args.nodes, args.fanout
    lines = [
        f"## Projection: link at N = {target:,} on a cluster (a projection, not a measurement)",
        "",
    ]
    if base is None:
        return [*lines, "No static/local link run succeeded: nothing to project from.", ""]
    f = target / base.spec.n
    lines += [
        f"Extrapolated from the N = {base.spec.n:,} static/local link above (one process on this "
        f"machine; a *node* below is one such {os.cpu_count()}-core machine), scale factor f = "
        f"{f:,.0f}. The right table is cut into f shards of {base.spec.n:,} records (the measured "
        "size), the left table likewise; each shard costs what the measured run's stage cost. "
        f"Sharded stages spread over {nodes} nodes; driver stages run in one process. `block` has "
        f"two cases: *broadcast* (each left shard searches all f right shards and the top-k are "
        f"merged: exact, what a per-shard index gives) and *routed* (each left shard searches "
        f"g = {g} right shards chosen by a coarse quantiser: not implemented in linker, and it "
        "would cost some recall). Index builds are counted once per search (an over-count: f "
        "builds would do). Costs measured at a load average above the core count are inflated.",
        "",
    ]
    head = ["stage", "runs on", "growth", f"measured s (N={base.spec.n:,})", "projected node-h",
            f"wall h ({nodes} nodes or driver)"]  # fmt: skip
    rows, wall, wall_routed, node_h = [], 0.0, 0.0, 0.0
    for stage, (where, growth) in SHARDING.items():
        t = base.timings.get(stage, 0.0)
        cases = [("", f * f * t), (" (routed)", f * g * t)] if stage == "block" else [("", f * t)]
        for label, cost in cases:
            hours = cost / 3600
            w = hours / nodes if where == "shards" else hours
            rows.append([stage + label, where, growth if not label else "f·g", fmt(t, 1),
                         fmt(hours, 1), fmt(w, 2)])  # fmt: skip
            if label != " (routed)":
                wall, node_h = wall + w, node_h + hours
            if stage != "block" or label:
                wall_routed += w
    lines += markdown_table(head, rows)
    rss = (base.rss_gb or 0.0) * f
    lines += [
        "",
        f"- Total, broadcast search: {node_h:,.0f} node-hours; about {wall:,.1f} h wall on "
        f"{nodes} nodes. With routed search: about {wall_routed:,.1f} h wall.",
        f"- Driver memory if it holds everything as the measured run did: peak RSS × f = "
        f"{rss:,.0f} GB. The driver stages (serialize, n-gram fit, matcher fit, assignment) "
        "would have to be distributed (or subsampled: the vocabulary and the matcher can be "
        "fitted on a sample) before 100M records fit on any one machine.",
        *minilm_lines(runs, base, f),
        "",
    ]
    return lines


def minilm_lines(runs: list[Run], base: Run, f: float) -> list[str]:
    """MiniLM's cost at the base size and at the projected size."""
    ok = [r for r in runs if r.status == "ok" and r.spec.model == "minilm"
          and r.spec.task == "link" and r.timings.get("embed")]  # fmt: skip
    if not ok:
        return ["- MiniLM: not measured in this file."]
    d = max(ok, key=lambda r: r.spec.n)
    rate = d.records / d.timings["embed"]
    at_base = base.timings["total"] - base.timings["embed"] + base.records / rate
    return [
        f'- MiniLM (int8, model="minilm"): {rate:,.0f} records/s embedded at N = {d.spec.n:,} '
        f"(total {d.timings['total']:.0f} s). At N = {base.spec.n:,}: about {at_base:,.0f} s "
        "(the static run with its embed stage swapped for this rate); at the projected size: "
        f"{base.records * f / rate / 3600:,.0f} node-hours of embedding alone."
    ]


def code_state() -> str:
    """The commit, and the library files that differ from it (the runs used the working tree)."""

    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], capture_output=True, text=True, check=False, cwd=REPO)
        return done.stdout.rstrip()

    changed = git("status", "--porcelain", "--", "linker").splitlines()
    files = ", ".join(line[3:] for line in changed) or "none"
    return f"commit {git('rev-parse', '--short', 'HEAD')}; uncommitted changes in linker/: {files}"


def render(runs: list[Run], args: argparse.Namespace, load_start: tuple[float, ...]) -> str:
    settings = {
        "Settings": f"on={ON}, id='id', cache=None, k=10 (Linker defaults otherwise), seed 0, "
        f"time limit {args.time_limit:.0f} s per run, Ray workers {args.ray_workers}",
        "Code": args.code,
        "Data": f"{args.work}/data/n<N>/ (linker.data.demo.make_demo(N, seed=0))",
        "Load average (1, 5, 15 min) at start": ", ".join(f"{x:.2f}" for x in load_start),
        "Load average at end (or now)": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if args.report_only:
        del (
            settings["Load average (1, 5, 15 min) at start"],
            settings["Load average at end (or now)"],
        )
        settings["Rendered"] = (
            "with --report-only from the runs saved under the work folder; each run's start "
            "time and its 1-minute load average at start and end are in the table"
        )
        paths = sorted({r.linker_path or "the live working tree (not recorded)" for r in runs})
        settings["Code"] = "the runs imported linker from " + "; ".join(paths)
    lines = header_lines("Scale: link and dedup of the demo firms", extra=settings)
    lines += ["## Runs", "", *markdown_table(HEAD, [row(r) for r in runs]), ""]
    lines += target_lines(runs, args.work) + projection_lines(runs, args)
    errors = [r for r in runs if r.error]
    if errors:
        lines += ["## Errors", "", *[f"- {r.spec.tag}: {r.error}" for r in errors], ""]
    lines += ["## Definitions", "", DEFINITIONS, ""]
    return "\n".join(lines)


DEFINITIONS = """\
- link: `Linker(on=ON, model=..., id="id", backend=...).link(left, right)`, N × N records.
  dedup: `.dedup(left + right)` on the two tables stacked (2N records); its true duplicates are
  the generator's 0.8 N `(left_id, right_id)` pairs (no table holds duplicates of its own).
- Stage seconds: `LinkResult.timings` (wall clock, in the child; model load inside embed).
  total = `timings["total"]`: without reading the Parquet files; Ray starts its local cluster
  lazily, so its start-up is inside `embed`.
- CPU s: user + system seconds of the child process (all its threads; not Ray's worker
  processes) up to the end of the run, data loading included: less sensitive to other load
  on the machine than the wall-clock seconds.
- peak RSS: `VmHWM` of the child process right after the run (data loading included).
  tree peak: the largest sum of PSS over the child and its descendants (Ray workers), sampled
  once a second by the parent, so short peaks can be missed.
- candidates: scored pairs (dedup: unordered pairs). block recall: share of the true pairs
  among them. P/R/F1: `.matches` against the true pairs. cluster F1 (dedup): pairwise F1 of
  the clusters (every pair inside a cluster counts as predicted).
- status: ok; TIMEOUT (killed at `--time-limit`), DIED (exit status or signal, with the end of
  the child's log under Errors), FAILED (the exception), UNAVAILABLE, skipped. Any of the
  capitalised ones makes the script exit with status 1."""


# -- driver -----------------------------------------------------------------------------------
def csv_list(allowed: tuple[str, ...]) -> Any:
    def parse(text: str) -> list[str]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise argparse.ArgumentTypeError(f"{bad or text!r}: choose from {', '.join(allowed)}")
        return values

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument(
        "--sizes", type=int_list, default=[10_000, 100_000], help="N, e.g. 10000,100000,1000000"
    )
    p.add_argument("--tasks", type=csv_list(("link", "dedup")), default=["link", "dedup"])
    p.add_argument("--models", type=csv_list(tuple(MODELS)), default=["static"])
    p.add_argument(
        "--backends",
        type=csv_list(("local", "local-shards", "ray", "ray-cluster")),
        default=["local"],
    )
    p.add_argument("--ray-address", help="HOST:PORT of the running cluster for ray-cluster")
    p.add_argument("--work", type=Path, default=Path("/tmp/linker_scale"), help="data and run logs")
    p.add_argument("--out", default="benchmarks/results/scale.md", help="results markdown")
    p.add_argument("--time-limit", type=float, default=1800, help="seconds per run (killed after)")
    p.add_argument(
        "--wait-data", type=float, default=1800, help="seconds to wait for data being made"
    )
    p.add_argument("--minilm-max-n", type=int, default=10_000, help="largest N for model=minilm")
    p.add_argument("--ray-workers", type=int, default=2, help="Ray workers on this machine")
    p.add_argument("--project-n", type=int, default=100_000_000, help="N of the projection")
    p.add_argument("--nodes", type=int, default=50, help="cluster nodes in the projection")
    p.add_argument("--fanout", type=int, default=4, help="right shards per left shard, routed")
    p.add_argument(
        "--dry-run", action="store_true", help="make/wait for data, load it in the child, stop"
    )
    p.add_argument("--no-snapshot", action="store_true", help="children import the live linker/")
    p.add_argument("--report-only", action="store_true", help="re-render the saved runs, run none")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if "ray-cluster" in args.backends and not args.ray_address:
        p.error("--backends ray-cluster needs --ray-address HOST:PORT of a running cluster")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    load_start = os.getloadavg()
    args.code_dir, args.code = None, f"live working tree, {code_state()}"
    if not (args.no_snapshot or args.report_only):
        args.code_dir, args.code = snapshot_code(args.work)
    specs = [Spec(n, t, m, b) for n, t, m, b in itertools.product(
        args.sizes, args.tasks, args.models, args.backends)]  # fmt: skip
    print(f"{utc_now()}: {len(specs)} runs, load {load_start[0]:.2f}", flush=True)
    runs: list[Run] = []
    for spec in specs:
        run = saved(spec, args) if args.report_only else execute(spec, args)
        if run is None:
            continue  # --report-only: not run under these settings
        runs.append(run)
        if not args.dry_run:
            write_atomic(args.out, render(runs, args, load_start))
    print_table("Scale", HEAD, [row(r) for r in runs])
    for line in target_lines(runs, args.work) if not args.dry_run else []:
        print(line)
    failed = [r for r in runs if r.status[:1].isupper()]
    for r in failed:
        print(f"\n{r.spec.tag}: {r.error or r.status}", file=sys.stderr)
    if not args.dry_run:
        print(f"\nwrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
