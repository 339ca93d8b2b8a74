"""The public surface on a fresh interpreter: ``import linker as lk`` is cheap, and every
exported name, subpackage and submodule is reachable from ``lk`` without importing it first."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import linker
import linker.errors

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = sorted(
    m.name for m in pkgutil.iter_modules(linker.__path__) if m.ispkg and m.name != "cli"
)
HEAVY = ("torch", "transformers", "sentence_transformers", "pandas", "streamlit", "ray")


def _fresh(code: str) -> object:
    """Run ``code`` in a new interpreter (this checkout first) and return what it printed."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_import_linker_loads_nothing_heavy() -> None:
    loaded = _fresh(
        f"import sys, json, linker\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    assert loaded == []


def test_every_subpackage_and_submodule_is_reachable_from_lk() -> None:
    assert {"scoring", "schema", "taxonomy", "pipeline", "vectors", "io"} <= set(SUBPACKAGES)
    found = _fresh(
        "import json, pkgutil, linker as lk\n"
        "out = {'cited': [lk.schema.Schema.__name__, lk.taxonomy.HierarchyParams.__name__,\n"
        "                 lk.scoring.labelled_pairs.PairSet.__name__]}\n"
        f"for name in {SUBPACKAGES!r}:\n"
        "    pkg = getattr(lk, name)\n"
        "    subs = [m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name[0] != '_']\n"
        "    out[name] = [pkg.__name__] + [getattr(pkg, s).__name__ for s in subs]\n"
        "print(json.dumps(out))"
    )
    assert isinstance(found, dict)
    assert found.pop("cited") == ["Schema", "HierarchyParams", "PairSet"]
    for name, modules in found.items():
        assert modules[0] == f"linker.{name}"
        assert all(m.startswith(f"linker.{name}.") for m in modules[1:]), modules
    assert "linker.scoring.labelled_pairs" in found["scoring"]


def test_every_exported_name_resolves_and_every_error_is_exported() -> None:
    assert set(linker.errors.__all__) <= set(linker.__all__)
    assert {"LinkResult", "Frame"} <= set(linker.__all__)
    resolved = _fresh(
        "import json, linker as lk\n"
        "print(json.dumps({n: getattr(lk, n) is not None for n in lk.__all__}))"
    )
    assert resolved == dict.fromkeys(linker.__all__, True)
    assert linker.LinkResult.__module__ == "linker.pipeline.result"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = linker.no_such_name  # type: ignore[attr-defined]
    assert not hasattr(linker.scoring, "NoSuchMatcher")
    assert not hasattr(linker.vectors, "_private_guess")


def test_scoring_exports_load_without_torch() -> None:
    loaded = _fresh(
        "import sys, json, linker as lk\n"
        "names = ['PairSet', 'FastMatcher', 'BoostedMatcher', 'StackedMatcher', 'DittoMatcher']\n"
        "classes = [getattr(lk.scoring, n).__name__ for n in names]\n"
        "print(json.dumps([classes, 'torch' in sys.modules]))"
    )
    assert loaded == [
        ["PairSet", "FastMatcher", "BoostedMatcher", "StackedMatcher", "DittoMatcher"],
        False,
    ]
