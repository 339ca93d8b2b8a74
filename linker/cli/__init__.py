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
    linker index reference.csv --on name,city --model static -o ref_index/
  linker link new_records.csv --index ref_index/ -o new_linked.csv
  linker demo -o demo_linked.csv
    linker review linked.csv            # the review app on http://127.0.0.1:8501

User errors (a missing column, a bad file) print one line and exit with status 2; Ctrl-C
prints one line and exits with 130. The output path and any rerank key are checked before the
work starts. Output is written to a temporary file next to the target and renamed, so a
half-written file never looks complete.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from linker.cli import index, models
from linker.io.write import write

__all__ = ["main"]

_EPILOG = """examples:
  linker merge left.csv right.csv --on name,city --how 1:1 -o linked.csv
  linker merge a.csv b.csv --left-on name --right-on firm_name --block-on state -o out.csv
  linker dedup people.csv --on first,last,dob -o clustered.csv
  linker candidates a.csv b.csv --on name -k 5 -o pairs.csv
  linker evaluate linked.csv truth.csv --left-id id --right-id id_right
  linker taxonomy phrases.csv taxonomy.csv --examples labelled.csv -o mapped.csv
  linker schema source.csv standard.csv --target-is-schema --top-k 3 -o mapping.csv
  linker glossary table.csv glossary.csv --term term --description description -o terms.csv
  linker index reference.csv --on name,city --model static -o ref_index/
  linker link new_records.csv --index ref_index/ -o new_linked.csv
  linker demo -o demo_linked.csv
  linker review linked.csv --port 8501
"""


def _cols(value: str | None) -> list[str] | None:
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def _common(p: argparse.ArgumentParser, *, two_tables: bool) -> None:
    p.add_argument("--on", help="comma-separated columns to compare (default: shared columns)")
    if two_tables:
        p.add_argument("--left-on", help="left columns, when names differ (with --right-on)")
        p.add_argument("--right-on", help="right columns, same order as --left-on")
    p.add_argument("-k", "--k", type=int, default=10, help="candidates per record per blocker (10)")
    p.add_argument(
        "--model", default=None, help="embedding model: minilm (default), a path or hub name"
    )
    p.add_argument("--block-on", help="comma-separated columns that must agree exactly")
    p.add_argument("--id", help="id column (checked unique and non-null)")
    p.add_argument("--delimiter", help="CSV delimiter of the inputs (default: sniffed)")
    _encoding(p)
    p.add_argument("-o", "--output", default="-", help="output .csv or .parquet (default: stdout)")
    p.add_argument(
        "--backend",
        default="local",
        choices=["local", "ray"],
        help="where embedding, search and pair features run (local); ray needs linker[ray]",
    )
    p.add_argument("--address", help="Ray cluster address for --backend ray (default: start one)")
    p.add_argument("--cache", help="folder that keeps embeddings and ANN indexes between runs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")
    p.add_argument("-v", "--verbose", action="store_true", help="log each stage")


def _encoding(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--encoding",
        help="text encoding of the inputs, e.g. utf-8, cp1252, utf-16 (default: from the BOM, "
        "else UTF-8, else latin-1 with a warning)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linker",
        description="Record linkage: merge, de-duplicate and evaluate tables.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt: dict[str, Any] = {
        "epilog": _EPILOG,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
    m = sub.add_parser("merge", help="link two tables; every row of both is kept", **fmt)
    m.add_argument("left")
    m.add_argument("right")
    _common(m, two_tables=True)
    m.add_argument(
        "--how",
        default="1:1",
        choices=["1:1", "m:1", "1:m", "m:m"],
        help="Stata-style merge kind (1:1)",
    )
    m.add_argument("--threshold", type=float, default=0.5, help="minimum match probability (0.5)")
    m.add_argument(
        "--assign",
        default="hungarian",
        choices=["hungarian", "greedy"],
        help="1:1 method: optimal matching (hungarian, default) or best-first (greedy)",
    )
    m.add_argument(
        "--rerank",
        help="rerank the uncertain band: 'local' (SmolLM2 via llama.cpp, needs linker[llm]) "
        "or 'openai:MODEL' (OPENAI_BASE_URL, OPENAI_API_KEY)",
    )
    m.add_argument("--rerank-band", default="0.3,0.7", help="LO,HI: best scores reranked (0.3,0.7)")
    m.add_argument("--matcher", help="folder of a matcher from `linker train`: it scores the pairs")
    c = sub.add_parser("candidates", help="list the scored candidate pairs of two tables", **fmt)
    c.add_argument("left")
    c.add_argument("right")
    _common(c, two_tables=True)
    d = sub.add_parser("dedup", help="cluster duplicate rows of one table (adds _cluster)", **fmt)
    d.add_argument("data")
    _common(d, two_tables=False)
    d.add_argument("--threshold", type=float, default=0.5, help="minimum match probability (0.5)")
    d.add_argument(
        "--cluster",
        default="components",
        choices=["components", "centre", "average"],
        help="clustering: connected components (default), or centre / average linkage, "
        "which resist chaining",
    )
    d.add_argument(
        "--representative", action="store_true", help="add _representative (one per cluster)"
    )
    e = sub.add_parser("evaluate", help="precision/recall/F1 of pairs against true pairs", **fmt)
    e.add_argument("pairs", help="merge output or candidate pairs (.csv/.parquet)")
    e.add_argument("truth", help="true pairs (.csv/.parquet)")
    e.add_argument("--left-id", required=True, help="left id column in PAIRS")
    e.add_argument("--right-id", required=True, help="right id column in PAIRS")
    e.add_argument("--truth-left-id", help="left id column in TRUTH (default: --left-id)")
    e.add_argument("--truth-right-id", help="right id column in TRUTH (default: --right-id)")
    e.add_argument("--delimiter", help="CSV delimiter of the inputs (default: sniffed)")
    _encoding(e)
    _taxonomy_parser(sub, fmt)
    _schema_parsers(sub, fmt)
    from linker.cli.models import add_parsers as _train_parsers

    _train_parsers(sub, fmt)
    from linker.cli.index import add_parsers as _index_parsers

    _index_parsers(sub, fmt)
    demo = sub.add_parser("demo", help="link the bundled demo firms and report quality", **fmt)
    demo.add_argument("-o", "--output", default="demo_linked.csv", help="output CSV")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    demo.add_argument("-v", "--verbose", action="store_true", help="log each stage")
    _review_parser(sub, fmt)
    return parser


def _review_parser(sub: Any, fmt: dict[str, Any]) -> None:
    r = sub.add_parser("review", help="review uncertain pairs in the browser (Streamlit)", **fmt)
    r.add_argument("path", nargs="?", help="merge output (.csv/.parquet) or review store (.sqlite)")
    r.add_argument(
        "--db", help="review store (default: PATH.review.sqlite or linker_review.sqlite)"
    )
    r.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    r.add_argument("--port", type=int, default=8501, help="port (8501)")
    r.add_argument("--reviewer", help="name saved with each decision (default: $USER)")


def _taxonomy_parser(sub: Any, fmt: dict[str, Any]) -> None:
    t = sub.add_parser("taxonomy", help="map phrases to the nodes of a taxonomy", **fmt)
    t.add_argument("phrases", help="table of phrases (.csv/.parquet)")
    t.add_argument("taxonomy", help="taxonomy table (id,label,parent,...) or .obo file")
    t.add_argument("--phrase-column", help="column of PHRASES (default: phrase, else the first)")
    t.add_argument("--id", default="id", help="node id column of TAXONOMY (id)")
    t.add_argument("--label", default="label", help="label column of TAXONOMY (label)")
    t.add_argument("--parent", default="parent", help="parent id column, if any (parent)")
    t.add_argument("--synonyms", help="synonyms column of TAXONOMY, joined by |")
    t.add_argument("--description", help="description column of TAXONOMY")
    t.add_argument("--examples", help="labelled examples table with phrase,node_id columns")
    t.add_argument("-k", "--top-k", type=int, default=1, help="nodes per phrase (1)")
    t.add_argument("--model", default=None, help="embedding model: minilm (default), a path")
    _rerank_options(t, "nodes per phrase")
    t.add_argument("--delimiter", help="CSV delimiter of the inputs (default: sniffed)")
    _encoding(t)
    t.add_argument("-o", "--output", default="-", help="output .csv or .parquet (default: stdout)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")
    t.add_argument("-v", "--verbose", action="store_true", help="log each stage")


def _schema_parsers(sub: Any, fmt: dict[str, Any]) -> None:
    s = sub.add_parser("schema", help="rank the target columns each source column means", **fmt)
    s.add_argument("source", help="source table (.csv/.parquet): data, or a schema table")
    s.add_argument("target", help="target table or standard: data, or a schema table")
    for side in ("source", "target"):
        s.add_argument(
            f"--{side}-is-schema",
            action="store_true",
            help=f"{side.upper()} is a schema table (column,description[,values]), not data",
        )
    s.add_argument("--one-to-one", action="store_true", help="one target per source column")
    g = sub.add_parser("glossary", help="rank the glossary terms each column means", **fmt)
    g.add_argument("table", help="table whose columns are mapped (.csv/.parquet)")
    g.add_argument("glossary", help="glossary table: term, description[, allowed values]")
    g.add_argument("--term", default="term", help="term column of GLOSSARY (term)")
    g.add_argument("--description", default="description", help="description column (description)")
    g.add_argument("--values", help="allowed-values column of GLOSSARY, joined by |")
    for p in (s, g):
        p.add_argument("-k", "--top-k", type=int, default=5, help="matches per column (5)")
        p.add_argument("--model", default=None, help="embedding model: minilm (default), a path")
        _rerank_options(p, "candidates per column")
        p.add_argument("--delimiter", help="CSV delimiter of the inputs (default: sniffed)")
        _encoding(p)
        p.add_argument("-o", "--output", default="-", help="output .csv or .parquet (stdout)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")
        p.add_argument("-v", "--verbose", action="store_true", help="log each stage")


def _rerank_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--rerank",
        help="let an LLM rerank the best candidates: 'local' (SmolLM2 via llama.cpp, needs "
        "linker[llm]) or 'openai:MODEL' (OPENAI_BASE_URL, OPENAI_API_KEY); calls are cached",
    )
    p.add_argument("--rerank-top", type=int, default=5, help=f"{what} the LLM sees (5)")


def _rerank_summary(report: dict[str, float]) -> str:
    from linker.llm.resolve import describe_report

    return f"; LLM rerank: {describe_report(report)}" if report else ""


def _read(path: str, a: argparse.Namespace) -> Any:
    """Read an input with the verb's --delimiter and --encoding."""
    from linker.frames import read

    return read(path, delimiter=a.delimiter, encoding=getattr(a, "encoding", None))


def _settings(a: argparse.Namespace, left: Any, right: Any | None = None) -> dict[str, Any]:
    """The keyword arguments that every verb takes, from the options ``_common`` defines.

    Without --on (or --left-on/--right-on) the compared columns are chosen here, as the API
    would (shared columns less ids and row-unique codes), so the summary can name them.
    """
    from linker.backend import get_backend
    from linker.pipeline.columns import default_on

    two_tables = right is not None
    on = _cols(a.on)
    explicit = on or (two_tables and (a.left_on or a.right_on))
    if not explicit:
        id_col = _cols(a.id) or []
        on, _ = default_on(left, left if right is None else right, ids=id_col)
    a.compared = on if on else _cols(a.left_on)
    out: dict[str, Any] = {
        "on": on,
        "k": a.k,
        "model": a.model,
        "block_on": _cols(a.block_on),
        "id": a.id,
        "show_progress": not a.quiet and sys.stderr.isatty(),
        "backend": get_backend(a.backend, address=a.address),
        "cache": a.cache,
    }
    if two_tables:
        out.update(left_on=_cols(a.left_on), right_on=_cols(a.right_on))
    return out


def _run_merge(a: argparse.Namespace) -> str:
    import linker as lk
    from linker.errors import ConfigError

    left, right = _read(a.left, a), _read(a.right, a)
    try:
        band = tuple(float(v) for v in a.rerank_band.split(","))
    except ValueError as e:
        raise ConfigError(
            f"--rerank-band must be LO,HI (e.g. 0.3,0.7), not {a.rerank_band!r}"
        ) from e
    if len(band) != 2:
        raise ConfigError(f"--rerank-band must be LO,HI (e.g. 0.3,0.7), not {a.rerank_band!r}")
    result = lk.Linker(
        how=a.how,
        threshold=a.threshold,
        assign=a.assign,
        rerank=a.rerank,
        rerank_band=band,
        matcher=a.matcher,
        **_settings(a, left, right),
    ).link(left, right)
    out = result.frame
    write(out, a.output)
    counts = dict(out.group_by("_merge").len().iter_rows())
    return (
        f"{left.height} left rows, {right.height} right rows: {counts.get('both', 0)} matched, "
        f"{counts.get('left_only', 0)} left_only, {counts.get('right_only', 0)} right_only; "
        f"compared {', '.join(a.compared)}" + _estimate_summary(result.stats, left.height)
    )


def _estimate_summary(stats: dict[str, float], n_left: int) -> str:
    """``; estimated 120 of 3,000 left records have a partner (prior 1.3e-05)``, or ``""``."""
    if "estimated_matches" not in stats:
        return ""
    return (
        f"; estimated {stats['estimated_matches']:,.0f} of {n_left:,} left records have a "
        f"partner (match prior {stats['match_prior']:.2g} per pair)"
    )


def _run_candidates(a: argparse.Namespace) -> str:
    import linker as lk

    left, right = _read(a.left, a), _read(a.right, a)
    out = lk.candidates(left, right, **_settings(a, left, right))
    write(out, a.output)
    return f"{out.height} candidate pairs; compared {', '.join(a.compared)}"


def _run_dedup(a: argparse.Namespace) -> str:
    import linker as lk

    data = _read(a.data, a)
    result = lk.Linker(
        threshold=a.threshold,
        cluster=a.cluster,
        representative=a.representative,
        **_settings(a, data),
    ).dedup(data)
    out = result.frame
    write(out, a.output)
    sizes = out["_cluster"].value_counts()["count"]
    estimate = ""
    if "estimated_matches" in result.stats:
        estimate = (
            f"; estimated {result.stats['estimated_matches']:,.0f} of {out.height:,} rows have "
            "a duplicate"
        )
    return (
        f"{out.height} rows in {sizes.len()} clusters (largest {int(sizes.to_numpy().max())}, "
        f"{(sizes == 1).sum()} singletons); compared {', '.join(a.compared)}" + estimate
    )


def _run_evaluate(a: argparse.Namespace) -> str:
    import linker as lk

    ev = lk.evaluate(
        _read(a.pairs, a),
        _read(a.truth, a),
        left_id=a.left_id,
        right_id=a.right_id,
        truth_left_id=a.truth_left_id,
        truth_right_id=a.truth_right_id,
    )
    for key, value in ev.as_dict().items():
        print(f"{key}\t{value}")
    return ""


def _run_taxonomy(a: argparse.Namespace) -> str:
    from linker.taxonomy.api import as_taxonomy, map_taxonomy

    report: dict[str, float] = {}  # the LLM rerank's counters, if any
    obo = a.taxonomy.lower().endswith(".obo")
    tax = as_taxonomy(
        a.taxonomy if obo or not (a.delimiter or a.encoding) else _read(a.taxonomy, a),
        id=a.id,
        label=a.label,
        parent=a.parent,
        synonyms=a.synonyms,
        description=a.description,
    )
    out = map_taxonomy(
        _read(a.phrases, a),
        tax,
        top_k=a.top_k,
        examples=_read(a.examples, a) if a.examples else None,
        model=a.model,
        phrase_column=a.phrase_column,
        rerank=a.rerank,
        rerank_top=a.rerank_top,
        rerank_report=report,
        show_progress=not a.quiet and sys.stderr.isatty(),
    )
    write(out, a.output)
    return (
        f"{out['phrase'].n_unique()} phrases mapped to {len(tax)} nodes, {out.height} rows"
        + _rerank_summary(report)
    )


def _run_schema(a: argparse.Namespace) -> str:
    from linker.schema import as_schema, match_schema

    report: dict[str, float] = {}  # the LLM rerank's counters, if any
    source, target = (
        as_schema(_read(path, a), name=f"{side} ({path})", is_schema=is_schema)
        for side, path, is_schema in (
            ("source", a.source, a.source_is_schema),
            ("target", a.target, a.target_is_schema),
        )
    )
    out = match_schema(
        source,
        target,
        top_k=a.top_k,
        one_to_one=a.one_to_one,
        model=a.model,
        rerank=a.rerank,
        rerank_top=a.rerank_top,
        rerank_report=report,
        show_progress=not a.quiet and sys.stderr.isatty(),
    )
    write(out, a.output)
    summary = f"{len(source)} source columns ranked against {len(target)} target columns"
    return summary + _rerank_summary(report)


def _run_glossary(a: argparse.Namespace) -> str:
    from linker.schema import as_schema, glossary_schema, match_glossary

    report: dict[str, float] = {}  # the LLM rerank's counters, if any
    terms = glossary_schema(
        _read(a.glossary, a),
        term=a.term,
        description=a.description,
        values=a.values,
        name=f"glossary ({a.glossary})",
    )
    out = match_glossary(
        as_schema(_read(a.table, a), name=f"table ({a.table})"),
        terms,
        top_k=a.top_k,
        model=a.model,
        rerank=a.rerank,
        rerank_top=a.rerank_top,
        rerank_report=report,
        show_progress=not a.quiet and sys.stderr.isatty(),
    )
    write(out, a.output)
    summary = f"{out['column'].n_unique()} columns ranked against {len(terms)} glossary terms"
    return summary + _rerank_summary(report)


def _run_demo(a: argparse.Namespace) -> str:
    from linker.cli.demo import run_demo

    return run_demo(a.output, show_progress=not a.quiet and sys.stderr.isatty())


def _run_review(a: argparse.Namespace) -> str:
    from linker.cli.review import review_command

    cmd = review_command(a.path, db=a.db, host=a.host, port=a.port, reviewer=a.reviewer)
    print(f"linker review: serving on http://{a.host}:{a.port} (Ctrl+C stops)", file=sys.stderr)
    sys.stderr.flush()
    os.execv(cmd[0], cmd)  # the server replaces this process: one pid, signals reach it
    return ""  # pragma: no cover - execv does not return


_COMMANDS: dict[str, Callable[[argparse.Namespace], str]] = {
    "merge": _run_merge,
    "candidates": _run_candidates,
    "dedup": _run_dedup,
    "evaluate": _run_evaluate,
    "taxonomy": _run_taxonomy,
    "schema": _run_schema,
    "glossary": _run_glossary,
    "demo": _run_demo,
    "train": lambda a: models.run_train(a),
    "score": lambda a: models.run_score(a),
    "review": _run_review,
    "index": lambda a: index.run_index(a),
    "link": lambda a: index.run_link(a),
}


# Verbs whose -o is a table file (index and train write folders; review and evaluate none).
_TABLE_OUTPUT = frozenset(
    {"merge", "candidates", "dedup", "taxonomy", "schema", "glossary", "demo", "score", "link"}
)


def _preflight(a: argparse.Namespace) -> None:
    """Check what can be checked before any work: the output path and the rerank spec."""
    from linker.io.write import check_output
    from linker.llm.client import check_spec

    if a.command in _TABLE_OUTPUT and isinstance(getattr(a, "output", None), str):
        check_output(a.output)
    if getattr(a, "rerank", None):
        check_spec(a.rerank)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 user error, 130 interrupted)."""
    args = _parser().parse_args(argv)
    import linker

    quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    linker.enable_logging(logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING)
    from linker.errors import LinkerError

    start = time.perf_counter()
    try:
        _preflight(args)
        summary = _COMMANDS[args.command](args)
    except LinkerError as e:
        print(f"linker {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file that vanished or cannot be written mid-run
        print(f"linker {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the output's temporary file is already removed
        print(f"linker {args.command}: interrupted; no output written", file=sys.stderr)
        return 130
    if summary and not getattr(args, "quiet", False):
        where = "" if getattr(args, "output", "-") == "-" else f" -> {args.output}"
        print(f"{summary}{where} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
