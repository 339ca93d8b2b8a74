"""``linker review``: the command line it serves the app with, and its user errors.

The server itself is started through this verb by tests/test_app_browser.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from linker.cli import main
from linker.cli.review import APP, review_command
from linker.errors import InputError


def _opt(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_merge_output_gets_a_store_beside_it_and_localhost(tmp_path: Path) -> None:
    out = tmp_path / "linked.csv"
    out.write_text("id,_score,_merge\n")
    cmd = review_command(str(out))
    assert cmd[:5] == [sys.executable, "-m", "streamlit", "run", str(APP)]
    assert _opt(cmd, "--server.address") == "127.0.0.1"
    assert _opt(cmd, "--server.headless") == "true"
    assert cmd[cmd.index("--") :] == ["--", "--db", f"{out}.review.sqlite", "--open", str(out)]
    assert APP.exists()


def test_a_store_file_is_reopened_and_options_pass_through(tmp_path: Path) -> None:
    db = tmp_path / "reviews.sqlite"
    db.touch()
    cmd = review_command(str(db), host="0.0.0.0", port=9000, reviewer="ann")
    assert (_opt(cmd, "--server.address"), _opt(cmd, "--server.port")) == ("0.0.0.0", "9000")
    assert cmd[cmd.index("--") :] == ["--", "--db", str(db), "--reviewer", "ann"]
    assert "--open" not in cmd
    assert review_command()[-2:] == ["--db", "linker_review.sqlite"]


def test_missing_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", str(tmp_path / "nope.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("linker review: error:") and "nope.csv does not exist" in err
    assert len(err.splitlines()) == 1


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["review", "--help"])
    text = capsys.readouterr().out
    for option in ("--db", "--host", "--port", "--reviewer", "127.0.0.1"):
        assert option in text


@pytest.mark.parametrize(
    "name, content, said",
    [
        ("random.csv", bytes(range(256)) * 4, "not"),
        ("people.csv", b"id,name\n1,Ann\n", "not a merge output"),
        ("fake.sqlite", b"this is not a database at all", "not a SQLite database"),
    ],
)
def test_files_the_app_cannot_open_are_refused_before_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, said: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["review", str(path)]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_another_programs_sqlite_is_refused(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "other.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE songs (title TEXT)")
    with pytest.raises(InputError, match="not a linker review store"):
        review_command(str(db))
