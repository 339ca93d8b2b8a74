"""How fast the review queue shows the next pair with many candidate pairs loaded.

Builds a synthetic linkage (``--pairs`` candidate pairs, 5 per left record, 14 similarity
features, the demo's columns), stores it in a fresh SQLite review file, and times:

- saving the linkage and opening a session on it;
- ``ReviewSession.current()`` right after a decision (the "next pair" call), over
  ``--steps`` decisions, and after another session wrote 50 decisions that must be read;
- with ``--browser``: the page update in headless Chromium (Debian's ``chromium`` through
  playwright) from pressing ``A`` until the next pair is on the page, served by
  ``linker review``.

Target: the next pair within 300 ms with 100,000 pairs loaded.

    python benchmarks/review.py --pairs 100000 --browser --out benchmarks/results/review.md
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import polars as pl
from _common import fmt, header_lines, int_list, markdown_table, print_table, write_atomic

from linker.review import ID, Linkage, ReviewSession, ReviewStore

COLUMNS = ["name", "street", "city", "state", "zip", "phone"]
FEATURES = [f"{c}_{s}" for c in COLUMNS for s in ("ratio", "token_set_ratio")]
FEATURES += ["dense_sim", "ngram_sim"]


def synthetic(n_pairs: int, *, per_left: int = 5, seed: int = 0) -> Linkage:
    """A linkage with ``n_pairs`` scored pairs over ``n_pairs / per_left`` left records."""
    rng = np.random.default_rng(seed)
    n_left = n_pairs // per_left
    n_right = n_left
    recs = {c: [f"{c} {i}" for i in range(n_left)] for c in COLUMNS}
    left = pl.DataFrame({ID: [f"L{i:07d}" for i in range(n_left)], **recs})
    right = pl.DataFrame({ID: [f"R{i:07d}" for i in range(n_right)], **recs})
    li = np.repeat(np.arange(n_left), per_left)
    ri = (li + rng.integers(0, n_right, size=len(li))) % n_right
    ri[::per_left] = li[::per_left]  # each left record's true partner is among its candidates
    feats = {f: rng.random(len(li), dtype=np.float32) for f in FEATURES}
    score = rng.beta(0.6, 0.6, size=len(li))
    pairs = pl.DataFrame(
        {
            "left_id": left[ID].gather(li), "right_id": right[ID].gather(ri),
            **{k: pl.Series(v) for k, v in feats.items()},
            "score": score, "base_score": score,
        }
    ).unique(["left_id", "right_id"], maintain_order=True)  # fmt: skip
    config = {"threshold": 0.5, "features": FEATURES, "left_on": COLUMNS, "right_on": COLUMNS,
              "how": "1:1"}  # fmt: skip
    return Linkage("link", left, right, pairs, config)


def _ms(values: list[float]) -> tuple[str, str, str]:
    a = np.asarray(values) * 1000
    return fmt(float(np.median(a)), 1), fmt(float(np.percentile(a, 95)), 1), fmt(float(a.max()), 1)


def session_timings(db: Path, link: Linkage, steps: int) -> tuple[list[list[str]], str]:
    rows: list[list[str]] = []
    t = time.perf_counter()
    store = ReviewStore(db)
    frames = {"left": link.left, "right": link.right, "pairs": link.pairs}
    store.add_linkage(link.id, kind=link.kind, config=link.config, frames=frames)
    rows.append(["save linkage in SQLite", "1", fmt((time.perf_counter() - t) * 1000, 1), "", ""])
    t = time.perf_counter()
    s = ReviewSession(store, link.id, reviewer="bench")
    opened = time.perf_counter() - t
    t = time.perf_counter()
    s.current()
    first = time.perf_counter() - t
    rows.append(["open session", "1", fmt(opened * 1000, 1), "", ""])
    rows.append(["first current()", "1", fmt(first * 1000, 1), "", ""])
    nxt, decide = [], []
    for i in range(steps):
        t = time.perf_counter()
        s.decide("match" if i % 3 else "non_match")
        decide.append(time.perf_counter() - t)
        t = time.perf_counter()
        s.current()
        nxt.append(time.perf_counter() - t)
    rows.append(["decide() (committed write)", str(steps), *_ms(decide)])
    rows.append(["next pair: current() after a decision", str(steps), *_ms(nxt)])
    other = ReviewSession(ReviewStore(db), link.id, reviewer="other")
    caught = []
    for _ in range(10):
        for _ in range(50):
            other.decide("skip")
        t = time.perf_counter()
        s.current()
        caught.append(time.perf_counter() - t)
    rows.append(["current() after another tab wrote 50", "10", *_ms(caught)])
    t = time.perf_counter()
    s.candidates_of(s.current().left_id)  # type: ignore[union-attr]
    rows.append(["candidates of the left record", "1", fmt((time.perf_counter() - t) * 1000, 1),
                 "", ""])  # fmt: skip
    return rows, link.id


_FLOOR_APP = """
import streamlit as st
st.session_state.setdefault("n", 0)
def inc():
    st.session_state.n += 1
@st.fragment
def f():
    st.button("Go", shortcut="A", on_click=inc)
    st.html(f'<div id="lk-pair" data-decided="{st.session_state.n}">{st.session_state.n}</div>')
st.title("linker review")
f()
"""


def browser_timings(db: Path, presses: int, *, floor: bool = False) -> list[list[str]]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("--browser needs Debian's chromium (apt-get install chromium)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(db.parent / "server.log", "wb")  # noqa: SIM115 - closed below
    if floor:  # a one-button Streamlit app: what any Streamlit page update costs here
        script = db.parent / "floor_app.py"
        script.write_text(_FLOOR_APP)
        cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true"]  # fmt: skip
    else:
        cmd = [sys.executable, "-m", "linker", "review", str(db), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(180):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            t = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}")
            page.wait_for_selector("#lk-pair")
            load = time.perf_counter() - t
            page.get_by_role("heading", name="linker review").click()
            times = []
            for _ in range(presses):
                before = int(page.locator("#lk-pair").get_attribute("data-decided"))
                t = time.perf_counter()
                page.keyboard.press("a")
                page.wait_for_selector(f'#lk-pair[data-decided="{before + 1}"]')
                times.append(time.perf_counter() - t)
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    if floor:
        return [["key press to page update, one-button Streamlit app", str(presses), *_ms(times)]]
    return [
        ["page load to first pair (browser)", "1", fmt(load * 1000, 1), "", ""],
        ["key press A to next pair on the page (browser)", str(presses), *_ms(times)],
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int_list, default=[100_000],
                   help="candidate pairs, comma-separated sizes (100000)")  # fmt: skip
    p.add_argument("--steps", type=int, default=300, help="decisions timed (300)")
    p.add_argument("--browser", action="store_true", help="also time the page in Chromium")
    p.add_argument("--presses", type=int, default=30, help="key presses timed (30)")
    p.add_argument("--out", help="results markdown file")
    a = p.parse_args()
    headers = ["pairs", "step", "n", "median ms", "p95 ms", "max ms"]
    table: list[list[str]] = []
    for n in a.pairs:
        link = synthetic(n)
        db = Path(tempfile.mkdtemp(prefix="linker-review-bench-")) / "review.sqlite"
        rows, _ = session_timings(db, link, a.steps)
        if a.browser:
            rows += browser_timings(db, a.presses)
        if a.browser and n == a.pairs[-1]:
            rows += browser_timings(db, a.presses, floor=True)
        table += [[f"{link.pairs.height:,}", *r] for r in rows]
        print_table(f"review queue, {link.pairs.height:,} pairs", headers, table[-len(rows) :])
    if a.out:
        lines = header_lines(
            "Review queue speed",
            extra={
                "pairs": "synthetic linkages, 5 candidates per left record, "
                f"{len(FEATURES)} features, scores drawn from Beta(0.6, 0.6)",
                "load average at the end": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
                "target": "next pair in under 300 ms with 100,000 pairs",
            },
        )
        lines += markdown_table(headers, table)
        lines += [
            "",
            "Single figures (n = 1) are in the median column. The session rows are the library",
            "call alone (`ReviewSession.current()` reads new log rows, then moves a cursor over",
            "the pre-sorted queue). The browser rows run from the key press to the next pair on",
            "the page: Streamlit's shortcut, the websocket round trip, the rerun of the review",
            "fragment and the page update in Chromium, all on the same shared 2-core machine.",
            "The one-button row times a Streamlit app that does nothing but count, the same way:",
            "what any Streamlit page update costs on this machine at this load.",
            "",
        ]
        write_atomic(a.out, "\n".join(lines))
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
