"""The documentation runs: README.md and docs/**/*.md cannot drift from the code.

- every ```python block runs, a page's blocks in order in one namespace, in a temporary folder
  that holds a link to ``datasets/`` (a block right after ``<!-- skip: why -->`` is only
  compiled);
- every ``linker`` command of a ```bash block names a verb and options that exist, and the
  blocks right after ``<!-- run -->`` run, in page order with the Python blocks;
- every relative link, and its ``#anchor``, points at something that exists;
- the README stays under 8 KB, examples stay inside the repository, numbers quoted from
  ``benchmarks/results`` are found in the file they cite, and docs/architecture.md names every
  module.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from linker.cli import main
from linker.vectors.embed import Encoder

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
README_LIMIT = 8192  # bytes: the README is a pitch and links; the guides hold the rest

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_MARK = re.compile(r"<!--\s*(skip|run)\b:?\s*(.*?)\s*-->")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} (.+)$", re.M)
# The README's four lines are run, and their output checked, by tests/test_readme.py.
_RUN_ELSEWHERE = "## Four lines\n\n"


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # line of the block's first code line, 1-based
    lang: str
    code: str
    mark: str  # "", "skip" or "run": the HTML comment on the line before the fence
    reason: str


def _rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


@cache
def _blocks(page: Path) -> tuple[Block, ...]:
    text = page.read_text(encoding="utf-8")
    out = []
    for m in _FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _MARK.fullmatch(before.strip())
        kind, reason = (mark.group(1), mark.group(2)) if mark else ("", "")
        if m.group(1) == "python" and text[: m.start()].endswith(_RUN_ELSEWHERE):
            kind, reason = "skip", "run by tests/test_readme.py"
        line = text.count("\n", 0, m.start(2)) + 1
        out.append(Block(page, line, m.group(1), m.group(2), kind, reason))
    return tuple(out)


def _all_blocks(lang: str) -> list[Block]:
    return [b for page in PAGES for b in _blocks(page) if b.lang == lang]


def _commands(block: Block) -> list[tuple[int, str]]:
    """The shell commands of a bash block (``\\`` continuations joined), with their lines."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for i, raw in enumerate(block.code.splitlines()):
        if not pending:
            start = block.line + i
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        command = (pending + raw).strip()
        pending = ""
        if command and not command.startswith("#"):
            out.append((start, command))
    return out


def _argv(command: str) -> list[str]:
    return shlex.split(command, comments=True)


def _where(block: Block, line: int | None = None) -> str:
    return f"{_rel(block.page)}:{line or block.line}"


# -- Python blocks ----------------------------------------------------------------------------
def test_every_python_block_compiles() -> None:
    blocks = _all_blocks("python")
    assert len(blocks) >= 15, "the docs lost their examples"
    for b in blocks:
        compile(b.code, _where(b), "exec")


def test_skips_are_rare_and_say_why() -> None:
    skipped = [b for b in _all_blocks("python") if b.mark == "skip"]
    assert all(b.reason for b in skipped), [_where(b) for b in skipped if not b.reason]
    assert len(skipped) <= 3, [(_where(b), b.reason) for b in skipped]


def _runnable_pages() -> list[Path]:
    return [
        p
        for p in PAGES
        if any(
            (b.lang == "python" and b.mark != "skip") or (b.lang == "bash" and b.mark == "run")
            for b in _blocks(p)
        )
    ]


def _run_shell(block: Block, cwd: Path) -> None:
    for line, command in _commands(block):
        argv = _argv(command)
        if argv[0] == "linker":  # in this process, so the session's loaded model serves it
            code = main(argv[1:])
            assert code == 0, f"{_where(block, line)}: `{command}` exited with {code}"
        else:
            subprocess.run(command, shell=True, cwd=cwd, check=True)  # noqa: S602 - our docs


@pytest.mark.slow
@pytest.mark.parametrize("page", _runnable_pages(), ids=_rel)
def test_page_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_model: Encoder
) -> None:
    (tmp_path / "datasets").symlink_to(ROOT / "datasets")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for b in _blocks(page):
        if b.lang == "python":
            code = compile("\n" * (b.line - 1) + b.code, str(page), "exec")
            if b.mark != "skip":
                exec(code, namespace)  # noqa: S102 - our own documentation
        elif b.lang == "bash" and b.mark == "run":
            _run_shell(b, tmp_path)


# -- shell blocks -----------------------------------------------------------------------------
@cache
def _help(verb: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        main([verb, "--help"])
    assert done.value.code == 0, f"`linker {verb} --help` failed: is {verb!r} a verb?"
    return out.getvalue()


def _linker_commands() -> list[tuple[str, list[str]]]:
    return [
        (_where(b, line), _argv(command))
        for b in _all_blocks("bash")
        for line, command in _commands(b)
        if command.startswith("linker ")
    ]


def test_every_linker_command_parses() -> None:
    commands = _linker_commands()
    assert len(commands) >= 40, "the docs lost their shell examples"
    verbs = set()
    for where, argv in commands:
        verb = argv[1]
        verbs.add(verb)
        text = _help(verb)
        for token in argv[2:]:
            if token.startswith("-") and token != "-":
                option = token.split("=", 1)[0]
                found = re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text)
                assert found, f"{where}: `linker {verb}` has no option {option}"
        # argparse checks choices and types as it reads them; --help then stops before any work
        err = io.StringIO()
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(err),
            pytest.raises(SystemExit) as done,
        ):
            main([*argv[1:], "--help"])
        assert done.value.code == 0, f"{where}: {' '.join(argv)}\n{err.getvalue()}"
    assert {"merge", "dedup", "candidates", "evaluate", "train", "score", "schema", "glossary",
            "taxonomy", "index", "link", "review", "demo"} <= verbs  # fmt: skip


def test_examples_stay_inside_the_repository() -> None:
    for b in _all_blocks("python") + _all_blocks("bash"):
        assert "../shared" not in b.code, f"{_where(b)}: use datasets/demo or data made there"


# -- links ------------------------------------------------------------------------------------
def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@cache
def _anchors(page: Path) -> frozenset[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return frozenset(_slug(h) for h in _HEADING.findall(text))


def test_relative_links_resolve() -> None:
    checked = 0
    for page in PAGES:
        text = _FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in _LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            assert dest.exists(), f"{_rel(page)}: link to {target} points at nothing"
            if anchor and dest.suffix == ".md":
                assert anchor in _anchors(dest), f"{_rel(page)}: no heading #{anchor} in {path}"
            checked += 1
    assert checked >= 50


# -- the README, and numbers quoted from results files ----------------------------------------
def test_readme_is_a_pitch_and_links() -> None:
    readme = (ROOT / "README.md").read_bytes()
    assert len(readme) <= README_LIMIT, f"README.md has {len(readme)} bytes: move text to docs/"
    text = readme.decode()
    for guide in sorted((ROOT / "docs" / "guide").glob("*.md")):
        assert f"docs/guide/{guide.name}" in text, f"the README does not link {guide.name}"
    for command in ("make demo", "make test", "make test-fast", "make lint"):
        assert command in text


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _quoted_numbers(page: Path) -> list[tuple[str, list[Path], str]]:
    """(table row, results files linked in the row or its section, the row's text)."""
    out = []
    text = page.read_text(encoding="utf-8")
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        linked = [
            (page.parent / t).resolve()
            for t in _LINK.findall(section)
            if "benchmarks/results/" in t
        ]
        table = [line for line in section.splitlines() if line.startswith("| ")]
        for row in table[1:]:  # the header row names columns, not results
            if linked and not set(row) <= set("|- "):
                out.append((section.splitlines()[0], linked, row))
    return out


@pytest.mark.parametrize("page", ["README.md", "docs/benchmarks.md"])
def test_quoted_numbers_are_in_the_results_they_cite(page: str) -> None:
    rows = _quoted_numbers(ROOT / page)
    assert rows
    for section, files, row in rows:
        sources = " ".join(f.read_text(encoding="utf-8") for f in files)
        for number in _NUMBER.findall(row):
            if number.replace(",", "").isdigit() and int(number.replace(",", "")) < 100:
                continue  # counts (10 studies, 4 sets) and sizes named in prose
            assert number in sources, f"{page} ({section}): {number} is not in {files}"


# -- the architecture page --------------------------------------------------------------------
def test_architecture_names_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "linker").rglob("*.py")):
        if path.name == "__init__.py":
            if path.parent.name != "linker":
                assert f"{path.parent.name}/" in text, f"docs/architecture.md lacks {path.parent}"
            continue
        assert path.name in text, f"docs/architecture.md does not name {_rel(path)}"
