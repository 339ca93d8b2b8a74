"""What the verbs share: option groups, the library's defaults, progress, reading an input.

An option the library has a default for keeps ``None`` in argparse and is passed on only when
the user gives it (:func:`given`), so the library's default is the only one; its help shows
that default, read from the library's signature (:func:`library_option`), not restated.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "add_input",
    "add_io",
    "add_model",
    "add_output",
    "add_rerank",
    "cols",
    "given",
    "library_default",
    "library_option",
    "read_input",
    "show_progress",
]

TABLE_OUTPUT = (
    "output .csv or .parquet, or a folder ending in / for Parquet parts (default: stdout)"
)


def library_default(owner: Callable[..., Any], name: str) -> Any:
    """The default of parameter ``name`` in the signature of ``owner`` (a function or class).

    Example:
        >>> def f(x, *, k=10): ...
        >>> library_default(f, "k")
        10
    """
    return inspect.signature(owner).parameters[name].default


def _shown(value: Any) -> str:
    """A default as the user would type it: ``(0.3, 0.7)`` as ``0.3,0.7``."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def library_option(
    p: argparse.ArgumentParser,
    *flags: str,
    owner: Callable[..., Any],
    help: str,  # noqa: A002 - argparse's name
    param: str | None = None,
    shown: Callable[[Any], str] = _shown,
    **kwargs: Any,
) -> argparse.Action:
    """Add an option whose default is ``owner``'s parameter of the same name (or ``param``).

    argparse's default is ``None`` (see :func:`given`); the help ends with
    ``(default: <the library's value>)``.

    Example:
        >>> def link(*, threshold=0.5): ...
        >>> p = argparse.ArgumentParser()
        >>> _ = library_option(p, "--threshold", type=float, owner=link, help="minimum score")
        >>> p.parse_args([]).threshold is None, "minimum score (default: 0.5)" in p.format_help()
        (True, True)
    """
    name = param or flags[-1].lstrip("-").replace("-", "_")
    value = shown(library_default(owner, name))
    return p.add_argument(*flags, default=None, help=f"{help} (default: {value})", **kwargs)


def given(a: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options among ``names`` that the user gave (not ``None``; a verb without one of
    them gave none), by name.

    Example:
        >>> given(argparse.Namespace(k=5, threshold=None), "k", "threshold", "how")
        {'k': 5}
    """
    return {n: getattr(a, n) for n in names if getattr(a, n, None) is not None}


def cols(value: str | None) -> list[str] | None:
    """``"name, city"`` as ``["name", "city"]``; ``None`` stays ``None``.

    Example:
        >>> cols("name, city,")
        ['name', 'city']
    """
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def show_progress(a: argparse.Namespace) -> bool:
    """Progress bars: unless ``-q``, and only on a terminal."""
    return not a.quiet and sys.stderr.isatty()


def add_input(p: argparse.ArgumentParser, *, delimiter: bool = True) -> None:
    """``--delimiter`` (tables only) and ``--encoding`` of the verb's input files."""
    if delimiter:
        p.add_argument("--delimiter", help="CSV delimiter of the inputs (default: sniffed)")
    found = "from the BOM, else UTF-8, else latin-1 with a warning" if delimiter else "UTF-8"
    p.add_argument(
        "--encoding",
        help=f"text encoding of the inputs, e.g. utf-8, cp1252, utf-16 (default: {found})",
    )


def add_output(
    p: argparse.ArgumentParser,
    *,
    default: str | None = "-",
    help: str = TABLE_OUTPUT,  # noqa: A002
) -> None:
    """``-o/--output`` (required when ``default`` is ``None``), ``-q/--quiet``, ``-v/--verbose``."""
    p.add_argument("-o", "--output", default=default, required=default is None, help=help)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")
    p.add_argument("-v", "--verbose", action="store_true", help="log each stage")


def add_io(
    p: argparse.ArgumentParser,
    *,
    delimiter: bool = True,
    output: str | None = "-",
    output_help: str = TABLE_OUTPUT,
) -> None:
    """The inputs' ``--delimiter``/``--encoding`` and the output's ``-o``/``-q``/``-v``."""
    add_input(p, delimiter=delimiter)
    add_output(p, default=output, help=output_help)


def add_model(p: argparse.ArgumentParser, *, linking: bool = False) -> None:
    """``--model``: the embedding model, checked before any work starts. Its default is the
    static model for the linking verbs (``linking``), MiniLM for the others."""
    from linker.vectors.embed import DEFAULT_MODEL, LINK_MODEL

    default, other = (LINK_MODEL, DEFAULT_MODEL) if linking else (DEFAULT_MODEL, LINK_MODEL)
    p.add_argument(
        "--model",
        help=f"embedding model: {default} (default), {other}, a folder or a hub name",
    )


def add_rerank(p: argparse.ArgumentParser, *, owner: Callable[..., Any], what: str) -> None:
    """``--rerank`` and ``--rerank-top`` of the schema, glossary and taxonomy verbs."""
    p.add_argument(
        "--rerank",
        help="let an LLM rerank the best candidates: 'local' (SmolLM2 via llama.cpp, needs "
        "linker[llm]) or 'openai:MODEL' (OPENAI_BASE_URL, OPENAI_API_KEY); calls are cached",
    )
    library_option(p, "--rerank-top", type=int, owner=owner, help=f"{what} the LLM sees")


def read_input(path: str, a: argparse.Namespace, *, reader: Any = None) -> Any:
    """Read an input table (a file, a folder of files or a URI) with the verb's
    ``--delimiter`` and ``--encoding``; through ``reader`` (a backend's ``read_table``) when
    given, else :func:`linker.read`."""
    import linker as lk

    read = lk.read if reader is None else reader
    return read(path, delimiter=getattr(a, "delimiter", None), encoding=a.encoding)
