"""``linker review``: start the Streamlit review app on this machine."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from linker.errors import ConfigError, InputError

__all__ = ["APP", "review_command"]

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
        InputError: ``path`` does not exist.

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
        if not p.exists():
            raise InputError(f"{path} does not exist")
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
