"""The Streamlit app through Streamlit's AppTest: no browser, the real script and store."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from linker.review import ID, Linkage, ReviewSession, ReviewStore  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "app" / "review_app.py"


def _linkage(kind: str = "link") -> Linkage:
    left = pl.DataFrame({ID: ["a", "b", "c"], "name": ["Acme Inc", "Bolt Co", "<b>Cog</b>"]})
    right = pl.DataFrame({ID: ["x", "y", "z"], "name": ["ACME Inc.", "Bolt", "Cogs"]})
    score = [0.9, 0.3, 0.52]
    rids = ["x", "y", "z"] if kind == "link" else ["b", "c", "a"]
    pairs = pl.DataFrame({"left_id": ["a", "b", "c"], "right_id": rids,
                          "sim": score, "score": score, "base_score": score})  # fmt: skip
    config = {"threshold": 0.5, "features": ["sim"], "left_on": ["name"], "right_on": ["name"],
              "how": "1:1"}  # fmt: skip
    return Linkage(kind, left, right if kind == "link" else left, pairs, config)  # type: ignore[arg-type]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[AppTest, ReviewSession]:
    db = tmp_path / "r.sqlite"
    session = ReviewSession.create(db, _linkage())
    monkeypatch.setenv("LINKER_REVIEW_DB", str(db))
    return AppTest.from_file(str(APP), default_timeout=60).run(), session


def _pair_html(at: AppTest) -> str:
    return next(h.value for h in at.get("html") if 'id="lk-pair"' in h.value)


def test_shows_the_most_uncertain_pair_escaped(app: tuple[AppTest, ReviewSession]) -> None:
    at, _ = app
    assert not at.exception
    html = _pair_html(at)
    assert 'data-left="c"' in html and 'data-right="z"' in html  # 0.52 is nearest 0.5
    assert "&lt;b&gt;" in html and "<b>Cog" not in html  # data is escaped, never markup


def test_accept_with_a_note_is_written_to_the_store(app: tuple[AppTest, ReviewSession]) -> None:
    at, session = app
    at.text_input(key="note-c-z").input("same firm, new name")
    at.button(key="btn-match").click().run()
    log = session.store.decisions(session.linkage_id)
    assert [(d.left_id, d.label, d.note) for d in log] == [("c", "match", "same firm, new name")]
    assert 'data-left="b"' in _pair_html(at)  # the next pair: 0.3
    at.button(key="btn-undo").click().run()
    assert 'data-left="c"' in _pair_html(at)
    assert session.store.decisions(session.linkage_id)[-1].label == "undo"


def test_retrain_and_export_buttons(app: tuple[AppTest, ReviewSession], tmp_path: Path) -> None:
    at, session = app
    at.button(key="btn-retrain").click().run()
    assert "at least one match and one non-match" in at.error[0].value
    at.button(key="btn-match").click().run()  # c-z
    at.button(key="btn-non_match").click().run()  # b-y
    at.button(key="btn-retrain").click().run()
    assert any("changed side of the threshold" in s.value for s in at.success)
    at.text_input(key="export-folder").input(str(tmp_path / "out"))
    at.button(key="btn-export").click().run()
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "linked.csv", "labels.csv", "config.json",
    }  # fmt: skip
    labels = pl.read_csv(tmp_path / "out" / "labels.csv")
    assert sorted(labels.select("left_id", "label").rows()) == [("b", 0), ("c", 1)]


def test_empty_store_asks_for_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ReviewStore(tmp_path / "empty.sqlite")
    monkeypatch.setenv("LINKER_REVIEW_DB", str(tmp_path / "empty.sqlite"))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert "Load two tables" in at.info[0].value


def test_dedup_linkage_has_a_clusters_tab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "d.sqlite"
    ReviewSession.create(db, _linkage("dedup"))
    monkeypatch.setenv("LINKER_REVIEW_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Review", "Scores", "Export", "Clusters"]
