"""``linker review``: start the Streamlit review app on this machine."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sqlite3
import sys
from pathlib import Path

from linker.cli.options import given, library_option
from linker.errors import ConfigError, InputError

__all__ = ["APP", "add_review", "review_command", "run_review"]

#: The app script (``app/review_app.py`` beside the package: an editable or source install).
APP = Path(__file__).resolve().parents[2] / "app" / "review_app.py"
_STORE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def review_command(
    path: str | None = None,
    *,
    db: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8501,
    reviewer: str | None = None,
) -> list[str]:
    """The command line that serves the review app.

    Args:
        path: A merge output (``.csv``/``.parquet``) to review, a schema or taxonomy mapping
            from ``linker schema``/``linker taxonomy`` (the app tells it by its columns and
            opens its Mappings view), or a review store (``.sqlite``/``.db``) to reopen;
            ``None``: start from the app's forms.
        db: The review store; default: ``<path>.review.sqlite`` beside a merge output, else
            ``linker_review.sqlite`` in the current folder.
        host: Address to bind (``127.0.0.1``: this machine only).
        port: Port.
        reviewer: Name written with each decision.

    Raises:
        ConfigError: streamlit is not installed.
        InputError: ``path`` does not exist, or is neither a merge output, a mapping nor a
            review store (checked before the server starts).

    Example:
        >>> review_command("out.csv")[-4:]  # doctest: +SKIP
        ['--db', 'out.csv.review.sqlite', '--open', 'out.csv']
    """
    if importlib.util.find_spec("streamlit") is None:
        raise ConfigError("the review app needs streamlit: pip install 'linker[app]'")
    if not APP.exists():
        raise ConfigError(f"the review app {APP} is missing: install linker from its source tree")
    extra: list[str] = []
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"{path} does not exist" if not p.exists() else f"{path} is a folder")
        _check_openable(p)
        if p.suffix.lower() in _STORE_SUFFIXES:
            db = db or str(p)
        else:
            db = db or f"{p}.review.sqlite"
            extra = ["--open", str(p)]
    args = [sys.executable, "-m", "streamlit", "run", str(APP)]
    args += ["--server.address", host, "--server.port", str(port), "--server.headless", "true"]
    args += ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    args += ["--client.toolbarMode", "minimal"]
    args += ["--", "--db", db or "linker_review.sqlite", *extra]
    if reviewer:
        args += ["--reviewer", reviewer]
    return args


def add_review(p: argparse.ArgumentParser) -> None:
    """The ``review`` verb's arguments."""
    p.add_argument("path", nargs="?", help="merge output (.csv/.parquet) or review store (.sqlite)")
    p.add_argument(
        "--db", help="review store (default: PATH.review.sqlite or linker_review.sqlite)"
    )
    library_option(p, "--host", owner=review_command, help="address to bind")
    library_option(p, "--port", type=int, owner=review_command, help="port")
    p.add_argument("--reviewer", help="name saved with each decision (default: $USER)")


def run_review(a: argparse.Namespace) -> str:
    """Replace this process with the Streamlit server (one pid: signals reach it)."""
    cmd = review_command(a.path, **given(a, "db", "host", "port", "reviewer"))
    url = f"http://{cmd[cmd.index('--server.address') + 1]}:{cmd[cmd.index('--server.port') + 1]}"
    print(f"linker review: serving on {url} (Ctrl+C stops)", file=sys.stderr)
    sys.stderr.flush()
    os.execv(cmd[0], cmd)
    return ""  # pragma: no cover - execv does not return


def _check_openable(p: Path) -> None:
    """Refuse, before the server starts, a file the app could only show as an exception."""
    if p.suffix.lower() in _STORE_SUFFIXES:
        _check_store(p)
        return
    import polars as pl

    from linker.review.mappings import is_mapping

    if is_mapping(p):
        return
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            columns = list(pl.read_parquet_schema(p))
        else:
            columns = pl.read_csv(p, n_rows=0, infer_schema=False).columns
    except Exception as e:  # polars and pyarrow raise many types for a file that is not a table
        raise InputError(
            f"{p} is not a table linker can read ({type(e).__name__}): open the output of "
            "`linker merge` (.csv/.parquet), `linker schema`/`taxonomy`, or a review .sqlite"
        ) from e
    missing = [c for c in ("_score", "_merge") if c not in columns]
    if missing:
        shown = ", ".join(map(repr, columns[:8])) + (", ..." if len(columns) > 8 else "")
        raise InputError(
            f"{p} is not a merge output: it has no {' or '.join(map(repr, missing))} column "
            f"(columns: {shown}). Open the output of `linker merge`, `linker schema` or "
            "`linker taxonomy`, or a review .sqlite"
        )


def _check_store(p: Path) -> None:
    """An empty file becomes a new store; anything else must be linker's SQLite store."""
    if p.stat().st_size == 0:
        return
    with p.open("rb") as f:
        magic = f.read(16)
    if magic != b"SQLite format 3\x00":
        raise InputError(f"{p} is not a SQLite database: open a review store made by linker")
    try:
        with sqlite3.connect(f"file:{p}?mode=ro", uri=True) as con:
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
    except sqlite3.Error as e:
        raise InputError(f"{p} is not a readable SQLite database ({e})") from e
    if tables and "linkages" not in tables:
        raise InputError(
            f"{p} is a SQLite database but not a linker review store (tables: "
            f"{', '.join(sorted(tables)[:8])}); pass another --db or a merge output"
        )
