"""The review app in a real headless Chromium, served by ``linker review`` as a user starts it.

Debian's ``chromium`` drives through playwright (``executable_path``), since playwright's own
browser download is not available. The test links a slice of the demo firms, serves the
merge output, decides pairs with the keyboard, reloads, kills the server and starts it
again, and checks the decisions in the page and in the SQLite file each time.

Screenshots go to ``$LINKER_SCREENSHOTS`` when set (``make screenshots`` writes ``docs/``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import linker as lk
from linker.review import ReviewSession, linkage_from_tables

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo"
ON = ["name", "street", "city", "state", "zip", "phone"]
WAIT = 90_000  # ms: generous, the box is shared
NOTE = "Note (saved with the decision)"


def _need_browser() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or CHROMIUM is None:
        why = "playwright and Debian's chromium are needed (make test installs them)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``linker review FILE`` in a child process (the CLI execs streamlit: one pid)."""

    def __init__(self, path: Path, port: int, log: Path):
        self.path, self.port, self.log = path, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "linker", "review", str(self.path), "--port", str(self.port),
               "--reviewer", "tester"]  # fmt: skip
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"server did not start: {self.log.read_text()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # no clean shutdown: a crash
            self.proc.wait(30)


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `linker merge` output of 200 demo firms against the right rows they may match."""
    folder = tmp_path_factory.mktemp("review")
    left = lk.read(DEMO / "left.csv").head(200)
    right = lk.read(DEMO / "right.csv").head(250)
    path = folder / "linked.csv"
    lk.merge(left, right, on=ON, id="id").write_csv(path)
    return path


@pytest.fixture
def server(merged: Path, tmp_path: Path) -> Iterator[Server]:
    srv = Server(merged, _free_port(), tmp_path / "server.log")
    srv.start()
    yield srv
    srv.kill()


def _log(db: Path) -> list[tuple[str, str, str, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT left_id, right_id, label, note FROM decisions ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("LINKER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def _pair(page: Any) -> tuple[str, str]:
    el = page.locator("#lk-pair")
    el.wait_for(timeout=WAIT)
    return el.get_attribute("data-left"), el.get_attribute("data-right")


def _settled(page: Any, decided: int) -> tuple[str, str]:
    """Wait for the pair shown after ``decided`` decisions, with no stale copy left over."""
    page.wait_for_selector(f'#lk-pair[data-decided="{decided}"]', timeout=WAIT)
    page.wait_for_function(
        "() => document.querySelectorAll('#lk-pair').length === 1"
        f" && document.querySelectorAll('input[aria-label=\"{NOTE}\"]').length === 1",
        timeout=WAIT,
    )
    return _pair(page)


def _fill_note(page: Any, text: str) -> None:
    """Type a note into the one note field. A rerun that starts right after a decision (the
    keyboard component reports its value) briefly shows the old field beside the new one, so
    the fill waits for a single field and tries again if a rerun slipped in between."""
    for attempt in range(5):
        page.wait_for_function(
            f"() => document.querySelectorAll('input[aria-label=\"{NOTE}\"]').length === 1",
            timeout=WAIT,
        )
        try:
            page.get_by_label(NOTE).fill(text)
            return
        except Exception as e:  # playwright's Error: only the two-fields race is retried
            if "strict mode violation" not in str(e) or attempt == 4:
                raise


def _press(page: Any, key: str, decided: int) -> tuple[str, str]:
    page.get_by_role("heading", name="linker review").click()  # focus the page, not an input
    page.keyboard.press(key)
    return _settled(page, decided)


def test_keyboard_decisions_survive_reload_and_a_killed_server(
    server: Server, merged: Path
) -> None:
    sync_playwright = _need_browser()
    db = Path(f"{merged}.review.sqlite")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(WAIT)
        page.goto(server.url)
        first = _settled(page, 0)
        assert page.locator("#lk-why").get_attribute("data-explained") == "0"  # a merge output
        _shot(page, "review-queue.png")
        second = _press(page, "a", 1)  # accept
        assert second != first
        third = _press(page, "n", 2)  # reject
        assert third not in (first, second)
        _fill_note(page, "phone differs")
        page.get_by_role("button", name="Skip").click()
        _settled(page, 3)
        assert _log(db) == [
            (*first, "match", ""), (*second, "non_match", ""), (*third, "skip", "phone differs"),
        ]  # fmt: skip

        page.reload()
        _settled(page, 3)
        recent = page.locator("#lk-recent").inner_text()
        assert first[0] in recent and "match" in recent and "phone differs" in recent
        assert _press(page, "u", 2) == third  # undo reaches the skip made before the reload

        _press(page, "a", 3)
        server.kill()  # mid-session, right after the page showed the decision
        assert [row[2] for row in _log(db)] == ["match", "non_match", "skip", "undo", "match"]
        server.start()
        page.goto(server.url)
        assert _settled(page, 3) not in (first, second, third)

        tab2 = browser.new_page(viewport={"width": 1400, "height": 1100})  # a second tab
        tab2.goto(server.url)
        mine, theirs = _settled(page, 3), _settled(tab2, 3)
        assert mine == theirs  # both tabs start on the same pair
        _press(tab2, "n", 4)
        _press(page, "a", 4)  # the same pair, decided again: both rows are kept
        assert _log(db)[-2:] == [(*mine, "non_match", ""), (*mine, "match", "")]
        tab2.reload()
        assert _settled(tab2, 4) == _settled(page, 4)
        tab2.close()

        page.get_by_role("tab", name="Scores").click()
        page.get_by_role("button", name="Retrain on the labels and re-score").click()
        page.get_by_text("changed side of the threshold").wait_for()
        _shot(page, "scores-retrain.png")
        page.get_by_role("tab", name="Export").click()
        page.get_by_role("button", name="Export linked table, labels and config").click()
        page.get_by_text("Written:").wait_for()
        _shot(page, "export.png")
        export = db.parent / "export"
        assert {p.name for p in export.iterdir()} == {"linked.csv", "labels.csv", "config.json"}
        browser.close()


def test_pair_view_shows_why_the_pair_scored_what_it_did(tmp_path: Path) -> None:
    """A linkage built from the tables (zero-label scorer) draws the waterfall of the pair."""
    sync_playwright = _need_browser()
    left = lk.read(DEMO / "left.csv").head(150)
    right = lk.read(DEMO / "right.csv").head(150)
    db = tmp_path / "review.sqlite"
    link = linkage_from_tables(left, right, on=["name", "city", "zip"], id="id")
    ReviewSession.create(db, link).store.close()
    srv = Server(db, _free_port(), tmp_path / "server.log")  # `linker review review.sqlite`
    srv.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.set_default_timeout(WAIT)
            page.goto(srv.url)
            _settled(page, 0)
            page.locator('#lk-why[data-explained="1"]').wait_for()
            chart = page.locator("[data-testid='stVegaLiteChart']:visible")
            chart.first.wait_for()  # the Scores tab's charts are hidden: this is the pair's
            assert chart.count() == 1 and "Why 0." in chart.inner_html()
            _shot(page, "review-why.png")
            browser.close()
    finally:
        srv.kill()


def test_mapping_review_opens_and_exports_in_the_browser(tmp_path: Path) -> None:
    """`linker review mapping.csv` (a `linker schema` result) opens the Mappings view."""
    sync_playwright = _need_browser()
    source = pl.DataFrame(
        {
            "firm_name": ["Acme Corp", "Orion Labs"],
            "town": ["Austin", "Boston"],
            "postcode": ["78701", "02110"],
        }
    )
    target = lk.read(DEMO / "right.csv").head(50)
    mapping = tmp_path / "mapping.csv"
    lk.match_schema(source, target, top_k=3).write_csv(mapping)
    srv = Server(mapping, _free_port(), tmp_path / "server.log")
    srv.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(WAIT)
            page.goto(srv.url)
            page.get_by_text("of 3 schema items decided").wait_for()
            page.locator("[data-testid='stDataFrame']").first.wait_for()
            _shot(page, "mappings.png")
            page.get_by_role("button", name="Export the mapping").click()
            page.get_by_text("Written:").wait_for()
            browser.close()
    finally:
        srv.kill()
    written = list(tmp_path.rglob("schema_mapping.csv"))
    assert len(written) == 1
    out = pl.read_csv(written[0])
    assert out.height == 3 and set(out["decision"].to_list()) == {"proposed"}  # nothing decided yet
