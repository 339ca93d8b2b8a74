"""``linker taxonomy``, ``schema`` and ``glossary``: map phrases and columns to meanings."""

from __future__ import annotations

import argparse
from typing import Any

import linker as lk
from linker.cli.options import (
    add_io,
    add_model,
    add_rerank,
    given,
    library_option,
    read_input,
    show_progress,
)

__all__ = [
    "add_glossary",
    "add_schema",
    "add_taxonomy",
    "run_glossary",
    "run_schema",
    "run_taxonomy",
]


def add_taxonomy(p: argparse.ArgumentParser) -> None:
    """The ``taxonomy`` verb's arguments."""
    p.add_argument("phrases", help="table of phrases (.csv/.parquet)")
    p.add_argument("taxonomy", help="taxonomy table (id,label,parent,...) or .obo file")
    p.add_argument("--phrase-column", help="column of PHRASES (default: phrase, else the first)")
    for flag, what in (("--id", "node id"), ("--label", "label"), ("--parent", "parent id")):
        library_option(p, flag, owner=lk.Taxonomy.from_table, help=f"{what} column of TAXONOMY")
    p.add_argument("--synonyms", help="synonyms column of TAXONOMY, joined by |")
    p.add_argument("--description", help="description column of TAXONOMY")
    p.add_argument("--examples", help="labelled examples table with phrase,node_id columns")
    library_option(p, "-k", "--top-k", type=int, owner=lk.map_taxonomy, help="nodes per phrase")
    add_model(p)
    add_rerank(p, owner=lk.map_taxonomy, what="nodes per phrase")
    add_io(p)


def _add_common(p: argparse.ArgumentParser, owner: Any) -> None:
    library_option(p, "-k", "--top-k", type=int, owner=owner, help="matches per column")
    add_model(p)
    add_rerank(p, owner=owner, what="candidates per column")
    add_io(p)


def add_schema(p: argparse.ArgumentParser) -> None:
    """The ``schema`` verb's arguments."""
    p.add_argument("source", help="source table (.csv/.parquet): data, or a schema table")
    p.add_argument("target", help="target table or standard: data, or a schema table")
    for side in ("source", "target"):
        p.add_argument(
            f"--{side}-is-schema",
            action="store_true",
            help=f"{side.upper()} is a schema table (column,description[,values]), not data",
        )
    p.add_argument(
        "--one-to-one", action="store_true", default=None, help="one target per source column"
    )
    _add_common(p, lk.match_schema)


def add_glossary(p: argparse.ArgumentParser) -> None:
    """The ``glossary`` verb's arguments."""
    p.add_argument("table", help="table whose columns are mapped (.csv/.parquet)")
    p.add_argument("glossary", help="glossary table: term, description[, allowed values]")
    from linker.schema import glossary_schema

    library_option(p, "--term", owner=glossary_schema, help="term column of GLOSSARY")
    library_option(p, "--description", owner=glossary_schema, help="description column")
    p.add_argument("--values", help="allowed-values column of GLOSSARY, joined by |")
    _add_common(p, lk.match_glossary)


def _rerank_summary(report: dict[str, float]) -> str:
    from linker.llm.resolve import describe_report

    return f"; LLM rerank: {describe_report(report)}" if report else ""


def _matching(a: argparse.Namespace, report: dict[str, float]) -> dict[str, Any]:
    """The keyword arguments every mapping function takes, from the options given."""
    out = given(a, "top_k", "model", "rerank", "rerank_top")
    return out | {"rerank_report": report, "show_progress": show_progress(a)}


def run_taxonomy(a: argparse.Namespace) -> str:
    """Map each phrase to its best nodes; returns the summary line."""
    from linker.io.write import write
    from linker.taxonomy.api import as_taxonomy

    report: dict[str, float] = {}  # the LLM rerank's counters, if any
    obo = a.taxonomy.lower().endswith(".obo")
    tax = as_taxonomy(
        a.taxonomy if obo or not (a.delimiter or a.encoding) else read_input(a.taxonomy, a),
        **given(a, "id", "label", "parent", "synonyms", "description"),
    )
    out = lk.map_taxonomy(
        read_input(a.phrases, a),
        tax,
        **({"examples": read_input(a.examples, a)} if a.examples else {}),
        **given(a, "phrase_column"),
        **_matching(a, report),
    )
    write(out, a.output)
    return (
        f"{out['phrase'].n_unique()} phrases mapped to {len(tax)} nodes, {out.height} rows"
        + _rerank_summary(report)
    )


def run_schema(a: argparse.Namespace) -> str:
    """Rank the target columns of each source column; returns the summary line."""
    from linker.io.write import write
    from linker.schema import as_schema

    report: dict[str, float] = {}
    source, target = (
        as_schema(read_input(path, a), name=f"{side} ({path})", is_schema=is_schema)
        for side, path, is_schema in (
            ("source", a.source, a.source_is_schema),
            ("target", a.target, a.target_is_schema),
        )
    )
    out = lk.match_schema(source, target, **given(a, "one_to_one"), **_matching(a, report))
    write(out, a.output)
    summary = f"{len(source)} source columns ranked against {len(target)} target columns"
    return summary + _rerank_summary(report)


def run_glossary(a: argparse.Namespace) -> str:
    """Rank the glossary terms of each column; returns the summary line."""
    from linker.io.write import write
    from linker.schema import as_schema, glossary_schema

    report: dict[str, float] = {}
    terms = glossary_schema(
        read_input(a.glossary, a),
        **given(a, "term", "description", "values"),
        name=f"glossary ({a.glossary})",
    )
    out = lk.match_glossary(
        as_schema(read_input(a.table, a), name=f"table ({a.table})"), terms, **_matching(a, report)
    )
    write(out, a.output)
    summary = f"{out['column'].n_unique()} columns ranked against {len(terms)} glossary terms"
    return summary + _rerank_summary(report)
