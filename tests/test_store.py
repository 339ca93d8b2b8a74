"""The review store: schema version and migrations, WAL, the append-only log, concurrency."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from linker.errors import InputError
from linker.review.store import SCHEMA_VERSION, ReviewStore, migrate_to


def _linkage(store: ReviewStore, lid: str = "link-x") -> None:
    recs = pl.DataFrame({"__lk_id": ["a", "b"], "name": ["Acme", "Zeta"]})
    pairs = pl.DataFrame({"left_id": ["a"], "right_id": ["b"], "score": [0.5]})
    store.add_linkage(
        lid, kind="link", config={"threshold": 0.5},
        frames={"left": recs, "right": recs, "pairs": pairs},
    )  # fmt: skip


def test_new_file_has_the_current_version_and_wal(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    assert store.version == SCHEMA_VERSION == 3
    mode = sqlite3.connect(tmp_path / "r.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_version_1_file_is_migrated_and_keeps_its_decisions(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    migrate_to(path, 1)
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO linkages (id, kind, config, created_at) VALUES ('l1', 'link', '{}', 0)"
    )
    conn.execute(
        "INSERT INTO decisions (linkage_id, left_id, right_id, label, created_at) "
        "VALUES ('l1', 'a', 'b', 'match', 0)"
    )
    conn.commit()
    conn.close()
    assert "retrains" not in _tables(path)
    store = ReviewStore(path)
    assert store.version == SCHEMA_VERSION
    assert "retrains" in _tables(path)
    assert [(d.left_id, d.label) for d in store.decisions("l1")] == [("a", "match")]


def test_version_2_file_gets_the_mapping_tables_and_keeps_its_retrains(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    migrate_to(path, 2)
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO linkages (id, kind, config, created_at) VALUES ('l1', 'link', '{}', 0)"
    )
    conn.execute(
        "INSERT INTO retrains (linkage_id, created_at, labels, changed, report) "
        "VALUES ('l1', 0, 4, 1, '{\"matcher\": null}')"
    )
    conn.commit()
    conn.close()
    assert not {"mappings", "mapping_decisions"} & _tables(path)
    store = ReviewStore(path)
    assert store.version == 3
    assert {"mappings", "mapping_decisions"} <= _tables(path)
    assert store.retrains("l1")[0]["labels"] == 4


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def test_newer_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(InputError, match="version 99.*upgrade linker"):
        ReviewStore(path)


def test_not_a_database_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("hello, I am a text file" * 100)
    with pytest.raises(InputError, match="notes.sqlite"):
        ReviewStore(path)


def test_frames_round_trip_and_linkage_kept_once(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    _linkage(store)
    _linkage(store)  # same id again: kept, not duplicated
    assert store.linkages()["id"].to_list() == ["link-x"]
    assert store.frame("link-x", "left")["name"].to_list() == ["Acme", "Zeta"]
    with pytest.raises(InputError, match="no 'nope' frame"):
        store.frame("link-x", "nope")
    with pytest.raises(InputError, match="'other' is not in"):
        store.config("other")


def test_decisions_are_visible_to_another_connection_at_once(tmp_path: Path) -> None:
    a, b = ReviewStore(tmp_path / "r.sqlite"), ReviewStore(tmp_path / "r.sqlite")
    _linkage(a)
    first = a.add_decision("link-x", "a", "b", "match", note="same", reviewer="ann")
    b.add_decision("link-x", "a", "b", "non_match", reviewer="bob")
    log = a.decisions("link-x")
    assert [(d.label, d.reviewer) for d in log] == [("match", "ann"), ("non_match", "bob")]
    assert a.decisions("link-x", after=first)[0].reviewer == "bob"
    with pytest.raises(InputError, match="label 'maybe'"):
        a.add_decision("link-x", "a", "b", "maybe")


# Run as separate Python processes (not multiprocessing): a spawned child re-imports the
# parent's __main__, which Streamlit's AppTest (tests/test_app.py, run earlier) replaces.
WRITE_MANY = """
import sys
from linker.review.store import ReviewStore
store = ReviewStore(sys.argv[1], timeout=60)
for i in range(int(sys.argv[3])):
    store.add_decision("link-x", f"{sys.argv[2]}{i}", "r", "match", reviewer=sys.argv[2])
store.close()
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sqlite")
    _linkage(ReviewStore(path))
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITE_MANY, path, w, "150"]) for w in ("p", "q")
    ]
    for p in procs:
        assert p.wait(120) == 0
    log = ReviewStore(path).decisions("link-x")
    assert len(log) == 300
    assert len({d.left_id for d in log}) == 300


def test_failed_transaction_rolls_back(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.sqlite")
    _linkage(store)
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute(
            "INSERT INTO decisions (linkage_id, left_id, right_id, label, created_at) "
            "VALUES ('link-x', 'a', 'b', 'match', 0)"
        )
        raise RuntimeError("boom")
    assert store.decisions("link-x") == []
