"""The review store: one SQLite file that holds linkages and every reviewer decision.

linker owns the schema. ``PRAGMA user_version`` holds its version and :data:`MIGRATIONS`
brings an older file up to date inside one transaction; a file made by a newer linker is
refused rather than guessed at. The file runs in WAL mode with a busy timeout, so several
tabs, processes or reviewers can read while one writes, and each decision is committed the
moment it is made: a crash or a closed tab loses nothing.

Decisions are an append-only log. ``match``, ``non_match`` and ``skip`` add a row; undo adds
an ``undo`` row that names the decision it takes back. A pair's label is the latest decision
that has not been undone, so two tabs that decide the same pair both keep their row, and a
reader catches up by reading the rows after the last id it saw.

A linkage scored by the zero-label scorer also keeps an ``explanations`` frame, each pair's
contributions to its log-odds (a long table: ``left_id``, ``right_id``, ``feature``,
``value``, ``contribution``). It is one more frame, not a table of its own, so no migration
is needed: a linkage without it (trained matcher, merge output, older linker) has none to show.

Tables::

    linkages   id, kind (link|dedup), config (JSON), created_at, scores_version
    frames     linkage_id, name (left|right|pairs|explanations), data (Parquet bytes)
    decisions  id, linkage_id, left_id, right_id, label, note, reviewer, created_at, undoes
    retrains   id, linkage_id, created_at, labels, changed, report (JSON)     (version 2)
    mappings   id, kind (schema|glossary|taxonomy), source, created_at, proposals (Parquet)
    mapping_decisions  id, mapping_id, item, action, target, note, reviewer, created_at  (v3)
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from linker.errors import InputError

__all__ = [
    "LABELS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Decision",
    "Label",
    "ReviewStore",
    "migrate_to",
]

logger = logging.getLogger(__name__)

Label = Literal["match", "non_match", "skip"]
LABELS: tuple[str, ...] = ("match", "non_match", "skip")

_V1 = """
CREATE TABLE linkages (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('link', 'dedup')),
    config TEXT NOT NULL,
    created_at REAL NOT NULL,
    scores_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE frames (
    linkage_id TEXT NOT NULL REFERENCES linkages(id),
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (linkage_id, name)
);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    linkage_id TEXT NOT NULL REFERENCES linkages(id),
    left_id TEXT NOT NULL,
    right_id TEXT NOT NULL,
    label TEXT NOT NULL CHECK (label IN ('match', 'non_match', 'skip', 'undo')),
    note TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    undoes INTEGER REFERENCES decisions(id)
);
CREATE INDEX decisions_pair ON decisions (linkage_id, left_id, right_id);
"""
_V2 = """
CREATE TABLE retrains (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    linkage_id TEXT NOT NULL REFERENCES linkages(id),
    created_at REAL NOT NULL,
    labels INTEGER NOT NULL,
    changed INTEGER NOT NULL,
    report TEXT NOT NULL
);
"""
_V3 = """
CREATE TABLE mappings (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('schema', 'glossary', 'taxonomy')),
    source TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    proposals BLOB NOT NULL
);
CREATE TABLE mapping_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mapping_id TEXT NOT NULL REFERENCES mappings(id),
    item TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('accept', 'pick', 'edit', 'no_match', 'pending')),
    target TEXT,
    note TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX mapping_decisions_item ON mapping_decisions (mapping_id, item);
"""
#: Migration scripts: ``MIGRATIONS[i]`` takes a file from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Decision:
    """One row of the decision log."""

    id: int
    left_id: str
    right_id: str
    label: str
    note: str
    reviewer: str
    created_at: float
    undoes: int | None


def _to_parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", compression_level=1, statistics=False)
    return buf.getvalue()


class ReviewStore:
    """A review database file (created, or migrated, on open).

    Args:
        path: The SQLite file (created if missing).
        timeout: Seconds a writer waits for another writer's lock.

    Raises:
        InputError: the file is not a SQLite database, or was made by a newer linker.

    Example:
        >>> import tempfile, polars as pl
        >>> folder = tempfile.mkdtemp()
        >>> store = ReviewStore(f"{folder}/review.sqlite")
        >>> store.version
        3
        >>> store.close()
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0):
        self.path = Path(path)
        self.timeout = timeout
        self._lock = threading.RLock()
        try:
            # one connection per store object; Streamlit reruns on other threads, so the
            # object guards it with a lock instead of sqlite's same-thread check
            self._conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise InputError(
                f"{self.path} is not a linker review database ({e}): pick another file"
            ) from e

    # -- plumbing ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error), under this store's lock."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only query (for the modules that own other tables of the file)."""
        return self._query(sql, params)

    @property
    def version(self) -> int:
        """The schema version of the file."""
        return int(self._query("PRAGMA user_version")[0][0])

    def _migrate(self) -> None:
        with self.transaction() as conn:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current > SCHEMA_VERSION:
                raise InputError(
                    f"{self.path} has review schema version {current}, newer than this linker's "
                    f"{SCHEMA_VERSION}: upgrade linker to open it"
                )
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                logger.info("review store %s migrated to version %d", self.path, version + 1)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection (every decision is already committed)."""
        with self._lock:
            self._conn.close()

    # -- linkages ---------------------------------------------------------------------------
    def add_linkage(
        self, linkage_id: str, *, kind: str, config: dict[str, Any], frames: dict[str, pl.DataFrame]
    ) -> None:
        """Save a linkage and its frames (``left``, ``right``, ``pairs``, optionally
        ``explanations``) in one transaction.

        A linkage id that is already there is kept as it is (its decisions too).
        """
        blobs = {name: _to_parquet(frame) for name, frame in frames.items()}
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM linkages WHERE id = ?", (linkage_id,)).fetchone():
                return
            conn.execute(
                "INSERT INTO linkages (id, kind, config, created_at) VALUES (?, ?, ?, ?)",
                (linkage_id, kind, json.dumps(config), time.time()),
            )
            conn.executemany(
                "INSERT INTO frames (linkage_id, name, data) VALUES (?, ?, ?)",
                [(linkage_id, name, blob) for name, blob in blobs.items()],
            )

    def linkages(self) -> pl.DataFrame:
        """Every linkage: ``id``, ``kind``, ``created_at``, ``decisions``."""
        rows = self._query(
            "SELECT l.id, l.kind, l.created_at, "
            "(SELECT COUNT(*) FROM decisions d WHERE d.linkage_id = l.id AND d.label != 'undo') "
            "FROM linkages l ORDER BY l.created_at"
        )
        schema = {"id": pl.Utf8, "kind": pl.Utf8, "created_at": pl.Float64, "decisions": pl.Int64}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def config(self, linkage_id: str) -> tuple[str, dict[str, Any], int]:
        """``(kind, config, scores_version)`` of a linkage."""
        rows = self._query(
            "SELECT kind, config, scores_version FROM linkages WHERE id = ?", (linkage_id,)
        )
        if not rows:
            raise InputError(f"linkage {linkage_id!r} is not in {self.path}")
        return str(rows[0][0]), json.loads(rows[0][1]), int(rows[0][2])

    def frame(self, linkage_id: str, name: str) -> pl.DataFrame:
        """A saved frame of a linkage (``left``, ``right`` or ``pairs``)."""
        rows = self._query(
            "SELECT data FROM frames WHERE linkage_id = ? AND name = ?", (linkage_id, name)
        )
        if not rows:
            raise InputError(f"linkage {linkage_id!r} in {self.path} has no {name!r} frame")
        return pl.read_parquet(io.BytesIO(rows[0][0]))

    def has_frame(self, linkage_id: str, name: str) -> bool:
        """Whether a linkage has a saved frame ``name`` (``explanations`` is optional)."""
        rows = self._query(
            "SELECT 1 FROM frames WHERE linkage_id = ? AND name = ?", (linkage_id, name)
        )
        return bool(rows)

    def scores_version(self, linkage_id: str) -> int:
        """A counter that grows each time the linkage's pairs are re-scored."""
        return self.config(linkage_id)[2]

    def replace_pairs(
        self,
        linkage_id: str,
        pairs: pl.DataFrame,
        *,
        labels: int,
        changed: int,
        report: dict[str, Any],
    ) -> int:
        """Store re-scored pairs and the retrain record atomically; returns the new version."""
        blob = _to_parquet(pairs)
        with self.transaction() as conn:
            conn.execute(
                "UPDATE frames SET data = ? WHERE linkage_id = ? AND name = 'pairs'",
                (blob, linkage_id),
            )
            conn.execute(
                "UPDATE linkages SET scores_version = scores_version + 1 WHERE id = ?",
                (linkage_id,),
            )
            conn.execute(
                "INSERT INTO retrains (linkage_id, created_at, labels, changed, report) "
                "VALUES (?, ?, ?, ?, ?)",
                (linkage_id, time.time(), labels, changed, json.dumps(report)),
            )
            row = conn.execute(
                "SELECT scores_version FROM linkages WHERE id = ?", (linkage_id,)
            ).fetchone()
        return int(row[0])

    # -- decisions --------------------------------------------------------------------------
    def add_decision(
        self,
        linkage_id: str,
        left_id: str,
        right_id: str,
        label: str,
        *,
        note: str = "",
        reviewer: str = "",
        undoes: int | None = None,
    ) -> int:
        """Append one decision and commit it; returns its id."""
        if label not in (*LABELS, "undo"):
            raise InputError(f"label {label!r} is not one of {[*LABELS, 'undo']}")
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO decisions "
                "(linkage_id, left_id, right_id, label, note, reviewer, created_at, undoes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (linkage_id, left_id, right_id, label, note, reviewer, time.time(), undoes),
            )
            return int(cur.lastrowid or 0)

    def decisions(self, linkage_id: str, *, after: int = 0) -> list[Decision]:
        """The decision log of a linkage, oldest first, from the row after id ``after``."""
        rows = self._query(
            "SELECT id, left_id, right_id, label, note, reviewer, created_at, undoes "
            "FROM decisions WHERE linkage_id = ? AND id > ? ORDER BY id",
            (linkage_id, after),
        )
        return [Decision(*row) for row in rows]

    def retrains(self, linkage_id: str) -> list[dict[str, Any]]:
        """The retrain history: ``created_at``, ``labels``, ``changed`` and the report."""
        rows = self._query(
            "SELECT created_at, labels, changed, report FROM retrains WHERE linkage_id = ? "
            "ORDER BY id",
            (linkage_id,),
        )
        return [
            {"created_at": r[0], "labels": r[1], "changed": r[2], **json.loads(r[3])} for r in rows
        ]


def migrate_to(path: str | Path, version: int) -> None:
    """Bring a file to exactly schema ``version`` (no further); tests use it to make old files.

    Example:
        >>> import tempfile
        >>> path = f"{tempfile.mkdtemp()}/old.sqlite"
        >>> migrate_to(path, 1)
        >>> ReviewStore(path).version
        3
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for v in range(current, version):
            for statement in MIGRATIONS[v].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
    finally:
        conn.close()
