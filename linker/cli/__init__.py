"""The ``linker`` command: CSV in, CSV out.

Examples::

    linker merge firms_1950.csv firms_1960.csv --on name,city --how 1:1 -o linked.csv
    linker merge a.csv b.csv --left-on name,town --right-on firm,city -o linked.csv
    linker dedup people.csv --on first,last,dob --id person_id -o clustered.csv
    linker dedup people.csv --on first,last,dob --cluster centre --representative -o out.csv
    linker merge a.csv b.csv --on name --rerank local --rerank-band 0.3,0.7 -o linked.csv
    linker candidates a.csv b.csv --on name -k 5 -o pairs.csv
    linker evaluate linked.csv truth.csv --left-id id --right-id id_right
    linker taxonomy phrases.csv taxonomy.csv --top-k 3 -o mapped.csv
    linker schema source.csv target.csv --top-k 3 -o mapping.csv
    linker glossary table.csv glossary.csv -o terms.csv
    linker schema source.csv standard.csv --rerank local -o mapping.csv
    linker train pairs/ --model boosted -o matcher/
    linker score matcher/ test.csv -o scores.csv
    linker index reference.csv --on name,city --model static -o ref_index/
    linker link new_records.csv --index ref_index/ -o new_linked.csv
    linker demo -o demo_linked.csv
    linker review linked.csv            # the review app on http://127.0.0.1:8501

Each verb is a pair of functions in this package (``add_<verb>`` declares its arguments,
``run_<verb>`` does the work through the public API and returns a summary line), listed in
:data:`VERBS`. Only the verb being run gets its arguments, so ``linker --help`` imports none of
the library. Options the library has a default for are ``None`` unless given, and their help
shows the library's default (see :mod:`linker.cli.options`).

User errors (a missing column, a bad file) print one line and exit with status 2; Ctrl-C
prints one line and exits with 130. The output path, the rerank spec, the embedding model and
the matcher folder are checked before the work starts. Output is written to a temporary file
next to the target and renamed, so a half-written file never looks complete.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from linker.cli import demo, index, link, mapping, models, review

__all__ = ["VERBS", "Verb", "build_parser", "main"]

EPILOG = """examples:
  linker merge left.csv right.csv --on name,city --how 1:1 -o linked.csv
  linker merge a.csv b.csv --left-on name --right-on firm_name --block-on state -o out.csv
  linker dedup people.csv --on first,last,dob -o clustered.csv
  linker candidates a.csv b.csv --on name -k 5 -o pairs.csv
  linker evaluate linked.csv truth.csv --left-id id --right-id id_right
  linker taxonomy phrases.csv taxonomy.csv --examples labelled.csv -o mapped.csv
  linker schema source.csv standard.csv --target-is-schema --top-k 3 -o mapping.csv
  linker glossary table.csv glossary.csv --term term --description description -o terms.csv
  linker train pairs/ --model boosted -o matcher/
  linker score matcher/ test.csv -o scores.csv
  linker index reference.csv --on name,city --model static -o ref_index/
  linker link new_records.csv --index ref_index/ -o new_linked.csv
  linker demo -o demo_linked.csv
  linker review linked.csv --port 8501
"""


@dataclass(frozen=True)
class Verb:
    """One ``linker`` verb.

    Attributes:
        help: The line ``linker --help`` shows.
        add: Declares the verb's arguments on its parser.
        run: Does the work; returns the summary line (``""``: none).
        table_output: ``-o`` is a table file, checked before the work starts.
    """

    help: str
    add: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], str]
    table_output: bool = True


VERBS: dict[str, Verb] = {
    "merge": Verb("link two tables; every row of both is kept", link.add_merge, link.run_merge),
    "candidates": Verb(
        "list the scored candidate pairs of two tables", link.add_candidates, link.run_candidates
    ),
    "dedup": Verb(
        "cluster duplicate rows of one table (adds _cluster)", link.add_dedup, link.run_dedup
    ),
    "evaluate": Verb(
        "precision/recall/F1 of pairs against true pairs",
        link.add_evaluate,
        link.run_evaluate,
        table_output=False,
    ),
    "taxonomy": Verb(
        "map phrases to the nodes of a taxonomy", mapping.add_taxonomy, mapping.run_taxonomy
    ),
    "schema": Verb(
        "rank the target columns each source column means", mapping.add_schema, mapping.run_schema
    ),
    "glossary": Verb(
        "rank the glossary terms each column means", mapping.add_glossary, mapping.run_glossary
    ),
    "train": Verb(
        "train a pair matcher on labelled pairs (Ditto-style or boosted)",
        models.add_train,
        models.run_train,
        table_output=False,  # -o is a folder
    ),
    "score": Verb("score pairs with a trained matcher", models.add_score, models.run_score),
    "index": Verb(
        "embed a reference table once and save it for `linker link`",
        index.add_index,
        index.run_index,
        table_output=False,  # -o is a folder
    ),
    "link": Verb(
        "link new records to a saved index (the reference is not re-embedded)",
        index.add_link,
        index.run_link,
    ),
    "demo": Verb("link the bundled demo firms and report quality", demo.add_demo, demo.run_demo),
    "review": Verb(
        "review uncertain pairs in the browser (Streamlit)",
        review.add_review,
        review.run_review,
        table_output=False,
    ),
}


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The ``linker`` parser; only ``verb`` (if any) gets its arguments declared.

    Declaring a verb's arguments reads the library's defaults (importing the library), so
    ``linker --help`` declares none and stays instant.

    Example:
        >>> build_parser("merge").parse_args(["merge", "a.csv", "b.csv"]).threshold is None
        True
    """
    fmt: dict[str, Any] = {
        "epilog": EPILOG,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
    parser = argparse.ArgumentParser(
        prog="linker", description="Record linkage: merge, de-duplicate and evaluate tables.", **fmt
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, spec in VERBS.items():
        p = sub.add_parser(name, help=spec.help, **fmt)
        if name == verb:
            spec.add(p)
    return parser


def _preflight(a: argparse.Namespace) -> None:
    """Check what can be checked before any work: output path, rerank, model, matcher."""
    from linker.io.write import check_output
    from linker.llm.client import check_spec
    from linker.scoring.registry import check_matcher
    from linker.vectors.embed import check_model

    if VERBS[a.command].table_output and isinstance(getattr(a, "output", None), str):
        check_output(a.output)
    if getattr(a, "rerank", None):
        check_spec(a.rerank)
    if getattr(a, "model", None):  # the embedding model (train's --model is its `kind`)
        check_model(a.model)
    if getattr(a, "matcher", None):  # merge's --matcher, score's MATCHER
        check_matcher(a.matcher)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 user error, 130 interrupted)."""
    args_list = sys.argv[1:] if argv is None else list(argv)
    verb = next((arg for arg in args_list if arg in VERBS), None)
    args = build_parser(verb).parse_args(args_list)
    import linker

    quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    linker.enable_logging(logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING)
    from linker.errors import LinkerError

    start = time.perf_counter()
    try:
        _preflight(args)
        summary = VERBS[args.command].run(args)
    except (LinkerError, OSError) as e:  # OSError: a file that vanished or cannot be written
        print(f"linker {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the output's temporary file is already removed
        print(f"linker {args.command}: interrupted; no output written", file=sys.stderr)
        return 130
    if summary and not quiet:
        where = "" if getattr(args, "output", "-") == "-" else f" -> {args.output}"
        print(f"{summary}{where} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
