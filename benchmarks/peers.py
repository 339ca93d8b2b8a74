"""Peers: linker beside Splink on the same tables; seconds, peak memory, precision/recall/F1.

Each (set, tool) runs in a fresh child process, one at a time, so neither tool's imports, caches
or memory reach the other's numbers. The parent writes every set once as Parquet (``left``,
``right``, ``truth``, and ``spec.json`` with the compared columns), starts the child, waits for
it (``os.wait4``), reads the child's peak resident memory from its report, and scores the pairs
the child wrote against the truth.

Tools:

- ``linker-minilm`` / ``linker-static``: ``lk.merge(left, right, on=ON, how="1:1",
  model="minilm" | "static", id=("left_id", "right_id"))``, linker's defaults otherwise
  (threshold 0.5); its links are the rows with ``_merge == "both"``.
- ``splink``: Splink (DuckDB backend) in its own virtual environment, ``benchmarks/.venv-peers``,
  made by this script on first use (``pip install splink==SPLINK_VERSION``; Splink is never a
  dependency of linker). A Fellegi-Sunter model as Splink's documentation builds one:
  comparisons with levels, ``u`` by random sampling, ``m`` by expectation maximisation over
  training blocking rules, the prior either estimated from deterministic rules or set to
  ``1 / max(left rows, right rows)`` (every set here is a one-to-one linkage, and the Splink
  febrl4 example names that value); links are the pairs ``predict`` scores at
  ``match_probability >= 0.5`` (the point where the odds favour a match; Splink has no default
  threshold). The same run also reports ``splink 1:1``: those pairs passed through
  ``cluster_using_single_best_links`` with both tables duplicate-free (Splink's one-to-one
  linking, the counterpart of ``how="1:1"``), its seconds including that step. The models,
  written as a Splink user would:

  - *febrl4*: Splink's own febrl4 example (its "detailed model"): ``NameComparison`` on given
    name and surname with term-frequency adjustments, ``DateOfBirthComparison``,
    Damerau-Levenshtein at 1, 2 on ``soc_sec_id`` and ``postcode``, exact ``street_number``;
    its seven prediction blocking rules; the prior from the deterministic rules ``soc_sec_id``
    and ``given_name, surname, date_of_birth`` at recall 0.8; ``u`` from 1e6 pairs; EM on
    ``date_of_birth`` and on ``postcode``.
  - *demo firms*: values lower-cased and trimmed, phone and zip cut to their digits;
    Jaro-Winkler levels (0.92, 0.8) on ``name``, (0.9, 0.7) on ``street``, 0.9 on ``city``
    (term-frequency adjusted); exact ``state``; Damerau-Levenshtein at 1 on ``zip`` and at 1, 2
    on ``phone``. Prediction blocking rules: ``phone``; ``zip``;
    ``substr(name, 1, 4), city``; ``street, city``; ``name``. EM on ``phone``, on ``zip`` and on
    ``substr(name, 1, 4), city``; prior ``1 / max(rows)``.
  - *the other sets* (DeepMatcher and pyJedAI): each compared column by what it holds, from its
    values: mostly digits (at least 75% of characters: years, prices, phones) → digits only,
    Damerau-Levenshtein at 1, 2; long text (median above 30 characters: titles, descriptions,
    author lists) → its set of lower-cased words, ``ArrayIntersectAtSizes`` at 4, 2, 1 words;
    anything else → lower-cased, Jaro-Winkler at 0.9, 0.7. Prediction blocking rules: exact
    equality of each column (the cleaned value; for long text, also its first 12 characters and
    its first two words; for short strings, also their first 4 characters), and of the first 3
    characters of the first two short columns together; a rule that makes no pair or more than
    50 pairs per record is dropped (as a Splink user drops a rule the comparison-count chart
    flags; when all are too broad, the narrowest is kept); this check is not timed. EM on each
    of the first three rules kept that make at least 200 pairs (Splink asks for a few hundred),
    none where only one column is compared (EM cannot train the column it blocks on, so Splink's
    starting m values stand); prior ``1 / max(rows)``.

Sets: ``febrl4`` (5,000 x 5,000), ``demo-10k`` and ``demo-100k``
(``linker.data.demo.make_demo(N, seed=0)``, linked on name, street, city, state, zip, phone),
and the DeepMatcher (ER-Magellan) and pyJedAI sets :func:`linker.data.benchmarks.load_benchmark`
knows (``Benchmark.on`` as the compared columns).

Measures: *seconds*, the wall clock of the whole call in the child (``lk.merge``; for Splink,
from the cleaning SQL to the predicted pairs, training included), tables already in memory,
imports excluded; *peak RSS*, the child's largest resident set (``VmHWM``, read by the child at
its end: imports, data loading and DuckDB's memory included; ``ru_maxrss`` from ``os.wait4``
for a run that fails, which also counts the parent's resident set at the fork); *P / R / F1* of
the links against the truth.

Run ``python benchmarks/peers.py --help``; the results go to ``benchmarks/results/peers.md``
and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / "benchmarks" / ".venv-peers"
SPLINK_VERSION = "5.0.0"
TOOLS = ("linker-minilm", "linker-static", "splink")
DEMO_ON = ["name", "street", "city", "state", "zip", "phone"]
DEMO_SIZES = {"demo-10k": 10_000, "demo-100k": 100_000}
JEDAI = ["DBLP-ACM", "Dirty/DBLP-ACM", "Amazon-Google", "Abt-Buy", "Beer", "Fodors-Zagats"]
SETS = ["febrl4", "demo-10k", "demo-100k", *JEDAI, "D1", "D2", "D3", "D4", "D10"]
MAX_PAIRS_PER_RECORD = 50
MIN_EM_PAIRS = 200


# -- the parent ------------------------------------------------------------------------------
def _kinds(frame: Any, on: list[str]) -> dict[str, str]:
    """``digits``, ``text`` or ``short`` for each compared column (see the module notes)."""
    import polars as pl

    kinds = {}
    for col in on:
        s = frame.get_column(col).drop_nulls().cast(pl.Utf8)
        chars = max(int(s.str.len_chars().sum() or 0), 1)
        digits = int(s.str.count_matches(r"\d").sum() or 0) / chars
        median = float(s.str.len_chars().median() or 0.0)
        kinds[col] = "digits" if digits >= 0.75 else "text" if median > 30 else "short"
    return kinds


def prepare(name: str, work: Path, data_root: str) -> Path:
    """Write the set as Parquet (ids ``left_id``/``right_id``) plus ``spec.json``, once."""
    import polars as pl

    folder = work / name.replace("/", "_")
    if (folder / "spec.json").is_file():
        return folder
    if name in DEMO_SIZES:
        from linker.data.demo import make_demo

        left, right, truth = make_demo(DEMO_SIZES[name], seed=0)
        left = left.rename({"id": "left_id"}).select("left_id", *DEMO_ON)
        right = right.rename({"id": "right_id"}).select("right_id", *DEMO_ON)
        on = DEMO_ON
    else:
        from linker.data.benchmarks import load_benchmark

        bench = load_benchmark(name, data_root=data_root)
        on = list(bench.on)
        left = bench.left.rename({bench.left_id: "left_id"}).select("left_id", *on)
        right = bench.right.rename({bench.right_id: "right_id"}).select("right_id", *on)
        truth = bench.truth
    folder.mkdir(parents=True, exist_ok=True)
    left.write_parquet(folder / "left.parquet")
    right.write_parquet(folder / "right.parquet")
    truth.select("left_id", "right_id").write_parquet(folder / "truth.parquet")
    both = pl.concat([left.select(on), right.select(on)])
    spec = {
        "name": name,
        "on": on,
        "kinds": _kinds(both, on),
        "rows": [left.height, right.height],
        "truth": truth.height,
    }
    tmp = folder / "spec.json.tmp"
    tmp.write_text(json.dumps(spec, indent=1))
    tmp.replace(folder / "spec.json")
    return folder


def splink_python(version: str) -> Path:
    """The Splink environment's interpreter; made (venv + pip install) when missing."""
    python = VENV / "bin" / "python"
    stamp = VENV / f".installed-splink-{version}"
    if not stamp.is_file():
        print(f"making {VENV} with splink=={version} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, f"splink=={version}"], check=True)
        stamp.touch()
    return python


def busy_processes(sample_s: float = 1.0) -> int:
    """Processes other than this one and its children that used at least 5% of a core."""

    def cpu() -> dict[int, int]:
        out = {}
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
                    out[int(p.name)] = int(fields[11]) + int(fields[12])
                except (OSError, IndexError, ValueError):
                    pass
        return out

    a = cpu()
    time.sleep(sample_s)
    b = cpu()
    ticks = os.sysconf("SC_CLK_TCK") * sample_s
    return sum(
        1 for pid, t in b.items() if pid != os.getpid() and t - a.get(pid, t) >= 0.05 * ticks
    )


def run_child(cmd: list[str], limit: float) -> tuple[str, float, float]:
    """Run ``cmd``; return (status, wall seconds, ``ru_maxrss`` in GB) from ``os.wait4``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, start_new_session=True)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > limit:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return "TIMEOUT", time.perf_counter() - t0, usage.ru_maxrss / 1024**2
        time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)
    ok = "ok" if proc.returncode == 0 else f"FAILED ({proc.returncode})"
    return ok, time.perf_counter() - t0, usage.ru_maxrss / 1024**2


def score(folder: Path, pairs: Path) -> dict[str, float]:
    import polars as pl

    truth = pl.read_parquet(folder / "truth.parquet")
    found = pl.read_parquet(pairs).unique()
    tp = found.join(truth, on=["left_id", "right_id"]).height
    p, r = tp / max(found.height, 1), tp / max(truth.height, 1)
    return {"P": p, "R": r, "F1": 2 * p * r / max(p + r, 1e-12), "links": found.height}


def run(name: str, tool: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    folder = prepare(name, Path(args.work), args.data_root)
    out = Path(args.work) / "runs" / f"{folder.name}.{tool}"
    out.mkdir(parents=True, exist_ok=True)
    for f in out.iterdir():
        f.unlink()
    python = splink_python(args.splink_version) if tool == "splink" else Path(sys.executable)
    cmd = [str(python), __file__, "--child", tool, "--folder", str(folder), "--out", str(out)]
    load0 = os.getloadavg()[0]
    print(f"\n== {name} / {tool}", flush=True)
    status, wall, rss = run_child(cmd, args.time_limit)
    row: dict[str, Any] = {"set": name, "tool": tool, "status": status, "peak_rss_gb": rss}
    row["load"] = f"{load0:.1f} → {os.getloadavg()[0]:.1f}"
    result = out / "result.json"
    if status != "ok" or not result.is_file():
        row["seconds"] = wall
        print(json.dumps(row), flush=True)
        return [row]
    got = json.loads(result.read_text())
    row["peak_rss_gb"] = got["peak_rss_gb"]
    rows = [row | {"seconds": got["seconds"]} | score(folder, out / "pairs.parquet")]
    if tool == "splink":  # the same run's pairs, made one-to-one by Splink's single best links
        rows.append(
            row | {"tool": "splink 1:1", "seconds": got["seconds-1to1"]}
            | score(folder, out / "pairs-1to1.parquet")
        )  # fmt: skip
    for r in rows:
        print(json.dumps(r), flush=True)
    return rows


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def report(rows: list[dict[str, Any]], args: argparse.Namespace, meta: dict[str, Any]) -> str:
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import header_lines, markdown_table

    head = ["set", "rows", "tool", "seconds", "peak RSS GB", "P", "R", "F1", "links", "load"]
    cells = [
        [
            r["set"], meta["rows"].get(r["set"], ""), r["tool"], fmt(r.get("seconds"), 1),
            fmt(r["peak_rss_gb"], 2), fmt(r.get("P")), fmt(r.get("R")), fmt(r.get("F1")),
            fmt(r.get("links")), r["load"],
        ] if r["status"] == "ok" else
        [r["set"], meta["rows"].get(r["set"], ""), r["tool"], fmt(r.get("seconds"), 1),
         fmt(r["peak_rss_gb"], 2), r["status"], "", "", "", r["load"]]
        for r in rows
    ]  # fmt: skip
    extra = {
        "Splink": f"{args.splink_version} on DuckDB, in {VENV.relative_to(REPO)}",
        "linker's static model": meta["static"],
        "Timings": meta["busy"],
    }
    lines = header_lines("Peers: linker and Splink on the same tables", extra=extra)
    lines += markdown_table(head, cells)
    lines += ["", "Definitions: see the docstring of `benchmarks/peers.py`. *rows*: left x right.",
              "*load*: the 1-minute load average when the run started → ended.", ""]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated, of: " + ", ".join(SETS))
    p.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, of: " + str(TOOLS))
    p.add_argument("--data-root", default="../shared/datasets", help="shared datasets folder")
    p.add_argument("--work", default="/tmp/linker_peers", help="data and per-run outputs")
    p.add_argument("--time-limit", type=float, default=1800.0, help="seconds per run")
    p.add_argument("--splink-version", default=SPLINK_VERSION, help="pip version of splink")
    p.add_argument("--out", default="benchmarks/results/peers.md", help="results (.md, .json)")
    p.add_argument("--resume", action="store_true", help="keep the runs already in --out's .json")
    p.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child, Path(args.folder), Path(args.out))
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import write_atomic

    from linker.vectors.static import static_model_dir

    n_busy = busy_processes()
    meta: dict[str, Any] = {
        "busy": f"provisional: the box was shared with {n_busy} other busy processes at the "
        f"start (load average {os.getloadavg()[0]:.1f}); rerun on an idle machine",
        "rows": {},
        "static": str(static_model_dir()),
    }
    rows: list[dict[str, Any]] = []
    out = Path(args.out)
    if args.resume and out.with_suffix(".json").is_file():  # keep the runs already made
        before = json.loads(out.with_suffix(".json").read_text())
        rows, meta["busy"] = before["runs"], before["meta"]["busy"]
        meta["busy"] += f"; resumed with {n_busy} busy processes"
    done = {(r["set"], r["tool"]) for r in rows}
    for name in args.sets.split(","):
        spec = json.loads(
            (prepare(name, Path(args.work), args.data_root) / "spec.json").read_text()
        )
        meta["rows"][name] = f"{spec['rows'][0]:,} x {spec['rows'][1]:,}"
        for tool in args.tools.split(","):
            if (name, tool) in done:
                continue
            rows += run(name, tool, args)
            write_atomic(out, report(rows, args, meta))
            payload = {"command": " ".join(sys.argv), "meta": meta, "runs": rows}
            write_atomic(out.with_suffix(".json"), json.dumps(payload, indent=1) + "\n")
    print(report(rows, args, meta))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


# -- the children ----------------------------------------------------------------------------
def _vm_hwm_gb() -> float:
    """This process's peak resident set (``VmHWM``: since its ``exec``, unlike ``ru_maxrss``,
    which keeps the parent's resident set at the fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def child(tool: str, folder: Path, out: Path) -> int:
    spec = json.loads((folder / "spec.json").read_text())
    result = (
        child_splink(folder, spec, out)
        if tool == "splink"
        else child_linker(tool, folder, spec, out)
    )
    result["peak_rss_gb"] = _vm_hwm_gb()
    (out / "result.json").write_text(json.dumps(result))
    return 0


def child_linker(tool: str, folder: Path, spec: dict[str, Any], out: Path) -> dict[str, Any]:
    import polars as pl

    import linker as lk

    left = pl.read_parquet(folder / "left.parquet")
    right = pl.read_parquet(folder / "right.parquet")
    model = tool.removeprefix("linker-")
    t0 = time.perf_counter()
    merged = lk.merge(
        left, right, on=spec["on"], how="1:1", model=model, id=("left_id", "right_id")
    )
    seconds = time.perf_counter() - t0
    links = merged.filter(pl.col("_merge") == "both").select("left_id", "right_id")
    links.write_parquet(out / "pairs.parquet")
    return {"seconds": seconds}


def _ident(col: str) -> str:
    """A plain lower-case SQL name for a column (``Beer_Name`` → ``beer_name``)."""
    return "".join(ch if ch.isalnum() else "_" for ch in col.lower())


def _splink_model(spec: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The cleaning SQL select list, and the model: comparisons, rules, training steps."""
    import splink.comparison_library as cl
    from splink import block_on

    name, on, kinds = spec["name"], spec["on"], spec["kinds"]
    prior = 1.0 / max(spec["rows"])
    if name == "febrl4":  # Splink's own febrl4 example, its detailed model
        select = [f'trim("{c}") AS {_ident(c)}' for c in on]
        rules = [
            block_on("given_name", "surname"),
            "l.given_name = r.surname and l.surname = r.given_name",
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ]
        comparisons = [
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ]
        deterministic = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")]
        em = [block_on("date_of_birth"), block_on("postcode")]
        return select, {"comparisons": comparisons, "rules": rules, "em": em,
                        "deterministic": (deterministic, 0.8), "prior": prior}  # fmt: skip
    if name.startswith("demo"):
        digits = "nullif(regexp_replace({c}, '[^0-9]', '', 'g'), '') AS {c}"
        select = [
            *(f"lower(trim({c})) AS {c}" for c in ("name", "street", "city", "state")),
            digits.format(c="zip"),
            digits.format(c="phone"),
        ]
        comparisons = [
            cl.JaroWinklerAtThresholds("name", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("street", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("city", [0.9]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("state"),
            cl.DamerauLevenshteinAtThresholds("zip", [1]),
            cl.DamerauLevenshteinAtThresholds("phone", [1, 2]),
        ]
        rules = [
            block_on("phone"),
            block_on("zip"),
            block_on("substr(name, 1, 4)", "city"),
            block_on("street", "city"),
            block_on("name"),
        ]
        em = [block_on("phone"), block_on("zip"), block_on("substr(name, 1, 4)", "city")]
        return select, {"comparisons": comparisons, "rules": rules, "em": em,
                        "deterministic": None, "prior": prior}  # fmt: skip
    select, comparisons, rules = [], [], []
    for col in on:
        c, kind = _ident(col), kinds[col]
        if kind == "digits":
            select.append(f"""nullif(regexp_replace("{col}", '[^0-9]', '', 'g'), '') AS {c}""")
            comparisons.append(cl.DamerauLevenshteinAtThresholds(c, [1, 2]))
            rules.append(c)
        elif kind == "text":
            select.append(f'lower(trim("{col}")) AS {c}')
            words = f"""list_distinct(list_filter(regexp_split_to_array(lower("{col}"),
                '[^a-z0-9]+'), lambda x: x <> ''))"""
            select.append(f"{words} AS {c}_words")
            head = f"""nullif(array_to_string(list_filter(regexp_split_to_array(lower("{col}"),
                '[^a-z0-9]+'), lambda x: x <> '')[1:2], ' '), '')"""
            select.append(f"{head} AS {c}_head")
            comparisons.append(cl.ArrayIntersectAtSizes(f"{c}_words", [4, 2, 1]))
            rules += [c, f"substr({c}, 1, 12)", f"{c}_head"]
        else:
            select.append(f'lower(trim("{col}")) AS {c}')
            comparisons.append(cl.JaroWinklerAtThresholds(c, [0.9, 0.7]))
            rules += [c, f"substr({c}, 1, 4)"]
    short = [_ident(col) for col in on if kinds[col] != "text"][:2]
    if len(short) == 2:
        rules.append((f"substr({short[0]}, 1, 3)", f"substr({short[1]}, 1, 3)"))
    return select, {"comparisons": comparisons, "rules": rules, "em": None,
                    "deterministic": None, "prior": prior}  # fmt: skip


def _pairs_of(con: Any, rule: str | tuple[str, ...]) -> int:
    """Pairs an equality rule makes: sum over its values of left count x right count."""
    exprs = (rule,) if isinstance(rule, str) else rule
    key = ", ".join(f"({e})" for e in exprs)
    not_null = " AND ".join(f"({e}) IS NOT NULL" for e in exprs)
    sql = f"""
        WITH a AS (SELECT {key} AS k, count(*) AS n FROM tl WHERE {not_null} GROUP BY ALL),
             b AS (SELECT {key} AS k, count(*) AS n FROM tr WHERE {not_null} GROUP BY ALL)
        SELECT coalesce(sum(a.n * b.n), 0) FROM a JOIN b USING (k)"""
    return int(con.execute(sql).fetchall()[0][0])


def child_splink(folder: Path, spec: dict[str, Any], out: Path) -> dict[str, Any]:
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    con = duckdb.connect()
    t0 = time.perf_counter()
    select, model = _splink_model(spec)
    cols = ", ".join(select)
    for side, table in (("left", "tl"), ("right", "tr")):
        con.execute(
            f"CREATE TABLE {table} AS SELECT {side}_id AS unique_id, {cols} "
            f"FROM read_parquet('{folder / (side + '.parquet')}')"
        )
    rules, untimed = model["rules"], 0.0
    if model["em"] is None:  # the generic model: keep the rules a Splink user would keep
        t_guard = time.perf_counter()
        budget = MAX_PAIRS_PER_RECORD * max(spec["rows"])
        counts = [(r, _pairs_of(con, r)) for r in rules]
        kept = [(r, n) for r, n in counts if 0 < n <= budget]
        if not kept:  # every rule too broad: keep the narrowest one that makes pairs
            kept = [min(((r, n) for r, n in counts if n > 0), key=lambda x: x[1])]
        em = [r for r, n in kept if n >= MIN_EM_PAIRS][:3] or [max(kept, key=lambda x: x[1])[0]]
        rules = [block_on(*((r,) if isinstance(r, str) else r)) for r, _ in kept]
        model["em"] = [block_on(*((r,) if isinstance(r, str) else r)) for r in em]
        if len(spec["on"]) == 1:  # EM cannot train the m of the column it blocks on
            model["em"] = []
        untimed = time.perf_counter() - t_guard
    db_api = DuckDBAPI(connection=con)
    sdfs = [
        db_api.register("tl", dataset_display_name="tbl_left"),
        db_api.register("tr", dataset_display_name="tbl_right"),
    ]
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=model["comparisons"],
        blocking_rules_to_generate_predictions=rules,
        probability_two_random_records_match=model["prior"],
    )
    linker = Linker(sdfs, settings)
    if model["deterministic"] is not None:
        rules_d, recall = model["deterministic"]
        linker.training.estimate_probability_two_random_records_match(rules_d, recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=0)
    for rule in model["em"]:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    pairs = con.sql(
        "SELECT CASE WHEN source_dataset_l = 'tbl_left' THEN unique_id_l ELSE unique_id_r END "
        "AS left_id, CASE WHEN source_dataset_l = 'tbl_left' THEN unique_id_r ELSE unique_id_l "
        f"END AS right_id FROM {predictions.physical_name}"
    )
    pairs.write_parquet(str(out / "pairs.parquet"))
    seconds = time.perf_counter() - t0 - untimed
    clusters = linker.clustering.cluster_using_single_best_links(
        predictions,
        duplicate_free_datasets=["tbl_left", "tbl_right"],
        threshold_match_probability=0.5,
    ).physical_name
    one_to_one = con.sql(
        f"SELECT a.unique_id AS left_id, b.unique_id AS right_id FROM {clusters} a "
        f"JOIN {clusters} b USING (cluster_id) "
        "WHERE a.source_dataset = 'tbl_left' AND b.source_dataset = 'tbl_right'"
    )
    one_to_one.write_parquet(str(out / "pairs-1to1.parquet"))
    return {
        "seconds": seconds,
        "seconds-1to1": time.perf_counter() - t0 - untimed,
        "rules": len(rules),
        "rule_check_s": untimed,
    }


if __name__ == "__main__":
    raise SystemExit(main())
