"""A SQLite cache of LLM calls: the same model, prompt version and prompt never cost twice."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

__all__ = ["CallCache", "default_cache_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    seconds REAL NOT NULL,
    created TEXT NOT NULL DEFAULT (datetime('now'))
)
"""


def default_cache_path() -> Path:
    """``$XDG_CACHE_HOME/linker/llm_calls.sqlite`` (``~/.cache`` when unset).

    Example:
        >>> default_cache_path().name
        'llm_calls.sqlite'
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "linker" / "llm_calls.sqlite"


class CallCache:
    """Responses stored by ``sha256(model, prompt version, request)``.

    Args:
        path: SQLite file (created with its folder); ``":memory:"`` for a throwaway cache.

    Example:
        >>> cache = CallCache(":memory:")
        >>> key = cache.key("m", "v1", {"messages": [{"role": "user", "content": "hi"}]})
        >>> cache.get(key) is None
        True
        >>> cache.put(key, model="m", prompt_version="v1", request={}, response="ok", seconds=0.1)
        >>> cache.get(key)
        'ok'
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else str(default_cache_path())
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            if self.path != ":memory:":  # one fsync per checkpoint, not per call
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)

    @staticmethod
    def key(model: str, prompt_version: str, request: dict[str, Any]) -> str:
        """The cache key of one call."""
        blob = json.dumps([model, prompt_version, request], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> str | None:
        """The stored response, or ``None``."""
        with self._lock:
            row = self._db.execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(
        self,
        key: str,
        *,
        model: str,
        prompt_version: str,
        request: dict[str, Any],
        response: str,
        seconds: float,
    ) -> None:
        """Store one response (replacing an older one under the same key)."""
        req = json.dumps(request, sort_keys=True, ensure_ascii=False)
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, model, prompt_version, request, response, "
                "seconds) VALUES (?, ?, ?, ?, ?, ?)",
                (key, model, prompt_version, req, response, seconds),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()
