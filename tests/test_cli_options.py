"""The CLI's defaults are the library's: argparse keeps ``None``, only given options are passed
on, and each help line shows the library's default read from its signature."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import linker as lk
from linker.cli import VERBS, build_parser, main
from linker.cli.link import linker_settings
from linker.cli.review import review_command
from linker.schema import glossary_schema
from linker.scoring.ditto import DittoMatcher

ROOT = Path(__file__).resolve().parents[1]

# (verb, option, the function or class whose default it is, its parameter)
LIBRARY_DEFAULTS: list[tuple[str, str, Any, str]] = [
    *[(verb, "--k", lk.Linker, "k") for verb in ("merge", "candidates", "dedup")],
    *[(verb, "--backend", lk.Linker, "backend") for verb in ("merge", "candidates", "dedup")],
    ("merge", "--how", lk.Linker, "how"),
    ("merge", "--threshold", lk.Linker, "threshold"),
    ("merge", "--assign", lk.Linker, "assign"),
    ("merge", "--rerank-band", lk.Linker, "rerank_band"),
    ("dedup", "--threshold", lk.Linker, "threshold"),
    ("dedup", "--cluster", lk.Linker, "cluster"),
    ("taxonomy", "--top-k", lk.map_taxonomy, "top_k"),
    ("taxonomy", "--rerank-top", lk.map_taxonomy, "rerank_top"),
    ("taxonomy", "--id", lk.Taxonomy.from_table, "id"),
    ("taxonomy", "--label", lk.Taxonomy.from_table, "label"),
    ("taxonomy", "--parent", lk.Taxonomy.from_table, "parent"),
    ("schema", "--top-k", lk.match_schema, "top_k"),
    ("schema", "--rerank-top", lk.match_schema, "rerank_top"),
    ("glossary", "--top-k", lk.match_glossary, "top_k"),
    ("glossary", "--rerank-top", lk.match_glossary, "rerank_top"),
    ("glossary", "--term", glossary_schema, "term"),
    ("glossary", "--description", glossary_schema, "description"),
    ("train", "--model", lk.train, "model"),
    ("train", "--epochs", lk.train, "epochs"),
    ("train", "--seed", lk.train, "seed"),
    ("train", "--max-len", DittoMatcher, "max_len"),
    ("train", "--batch-size", DittoMatcher, "batch_size"),
    ("train", "--lr", DittoMatcher, "lr"),
    ("train", "--device", DittoMatcher, "device"),
    ("index", "--k", lk.LinkIndex.build, "k"),
    ("link", "--how", lk.LinkIndex.link, "how"),
    ("link", "--threshold", lk.LinkIndex.link, "threshold"),
    ("review", "--host", review_command, "host"),
    ("review", "--port", review_command, "port"),
]


def _default(owner: Any, param: str) -> str:
    import inspect

    value = inspect.signature(owner).parameters[param].default
    if param == "backend":  # None: the library's local backend
        from linker.backend import get_backend

        return get_backend(value).name
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _help(verb: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """``{flag: its help text}`` from ``linker VERB --help``, as the user reads it."""
    with pytest.raises(SystemExit):
        main([verb, "--help"])
    text = capsys.readouterr().out
    body = text.split("\noptions:\n", 1)[1].split("\n\nexamples:", 1)[0]
    out: dict[str, str] = {}
    for entry in re.split(r"\n(?=  -)", body):
        first, _, rest = entry.strip().partition("\n")
        invocation, _, help_start = first.partition("  ")
        flags = [w for w in re.split(r"[ ,]+", invocation) if w.startswith("-")]
        words = " ".join(f"{help_start} {rest}".split())
        out.update(dict.fromkeys(flags, words))
    return out


@pytest.mark.parametrize(("verb", "flag", "owner", "param"), LIBRARY_DEFAULTS)
def test_help_shows_the_library_default_and_argparse_keeps_none(
    verb: str, flag: str, owner: Any, param: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _help(verb, capsys)[flag].endswith(f"(default: {_default(owner, param)})")
    args = _minimal_args(verb)
    dest = "kind" if (verb, flag) == ("train", "--model") else flag.lstrip("-").replace("-", "_")
    assert getattr(build_parser(verb).parse_args(args), dest) is None


def _minimal_args(verb: str) -> list[str]:
    """The verb with its required arguments only."""
    positional = {"merge": 2, "candidates": 2, "dedup": 1, "evaluate": 2, "taxonomy": 2,
                  "schema": 2, "glossary": 2, "train": 1, "score": 2, "index": 1, "link": 1,
                  "demo": 0, "review": 0}  # fmt: skip
    required = {"train": ["-o", "out"], "index": ["-o", "out"], "link": ["--index", "idx"],
                "evaluate": ["--left-id", "l", "--right-id", "r"]}  # fmt: skip
    return [verb] + [f"f{i}.csv" for i in range(positional[verb])] + required.get(verb, [])


def test_help_follows_a_changed_library_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(lk.Linker.__init__.__kwdefaults__, "threshold", 0.42)
    assert _help("merge", capsys)["--threshold"].endswith("(default: 0.42)")


@pytest.mark.parametrize("verb", list(VERBS))
def test_no_verb_restates_a_default(verb: str) -> None:
    """Given only what it requires, a verb holds nothing but ``None``/``False``, what was typed
    and its output (stdout, or the demo's file): every other default is the library's."""
    args = _minimal_args(verb)
    parsed = vars(build_parser(verb).parse_args(args))
    held = {k: v for k, v in parsed.items() if v is not None and v is not False}
    assert {k: v for k, v in held.items() if k not in ("command", "output") and v not in args} == {}


def test_only_given_options_reach_the_linker() -> None:
    parser = build_parser("merge")
    assert linker_settings(parser.parse_args(["merge", "a.csv", "b.csv"])) == {
        "show_progress": False
    }
    given = parser.parse_args(
        ["merge", "a.csv", "b.csv", "--on", "name, city", "-k", "3", "--threshold", "0.7",
         "--how", "m:1", "--assign", "greedy", "--rerank-band", "0.2,0.8", "--backend", "local",
         "--cache", "c", "-q"]
    )  # fmt: skip
    assert linker_settings(given) == {
        "on": ["name", "city"], "k": 3, "threshold": 0.7, "how": "m:1", "assign": "greedy",
        "rerank_band": (0.2, 0.8), "backend": "local", "cache": "c", "show_progress": False,
    }  # fmt: skip
    dedup = build_parser("dedup").parse_args(["dedup", "a.csv", "--cluster", "centre"])
    assert linker_settings(dedup) == {"cluster": "centre", "show_progress": False}


def test_a_bad_rerank_band_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["merge", "a.csv", "b.csv", "--rerank-band", "0.3", "-o", "-"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "linker merge: error: --rerank-band must be LO,HI (e.g. 0.3,0.7), not '0.3'"


def test_top_level_help_declares_no_verb_and_imports_no_library() -> None:
    code = (
        "import sys; from linker.cli import main\n"
        "try: main(['--help'])\n"
        "except SystemExit: pass\n"
        "heavy = [m for m in ('polars', 'numpy', 'linker.pipeline.linker') if m in sys.modules]\n"
        "print(heavy, file=sys.stderr)"
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stderr.strip() == "[]"
    for verb, spec in VERBS.items():
        assert verb in done.stdout and spec.help.split()[0] in done.stdout
