"""Property-based tests (Hypothesis) of the readers and the verbs (issue 22).

Random tables hold random Unicode (combining marks, right-to-left text, zero-width and
full-width characters, emoji), nulls, empty strings, repeated rows, quotes, delimiters and
newlines inside fields, and several dtypes; the verbs get random argument values. The
invariants:

- ``read``: every cell of the file comes back unchanged (empty and null are one in CSV);
- ``merge``: every left and right row is accounted for (exactly once where ``how`` says so),
  and every cell of an output row equals the cell of the input row it came from;
- ``dedup``: the output is the input plus ``_cluster``, row for row;
- ``candidates``: row numbers within the tables, ranks from 1;
- ``evaluate``: counts add up, measures within [0, 1];
- any failure is a :class:`~linker.errors.LinkerError`; the CLI exits 0 or 2 and never prints
  a traceback.

The model is not the point here, so the verbs use the small deterministic ``HashingEncoder``
of ``conftest.py``. ``make test`` runs a bounded number of examples (``LINKER_PROPERTY_EXAMPLES``,
default 50 per test); ``benchmarks/properties.py`` runs thousands per verb with a printed seed.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import linker as lk
import linker.vectors.embed
from linker.errors import LinkerError

try:
    from conftest import HashingEncoder
except ImportError:  # run from benchmarks/: tests/ is put on sys.path there
    from tests.conftest import HashingEncoder

EXAMPLES = int(os.environ.get("LINKER_PROPERTY_EXAMPLES", "50"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Characters that broke (or could break) readers and matchers: quotes and delimiters, line
# breaks, combining marks, right-to-left text and marks, zero-width joiners/spaces, full-width
# letters, emoji with modifiers, ligatures, a BOM inside text, spaces of every kind.
HOSTILE = list(
    '",;\t|#\n\r '
    "\u0301\u0308\u05d0\u05d1\u0627\u0644\u200f\u200e\u202e"
    "\u200b\u200c\u200d\u2060\ufeff\uff21\uff41\uff10\u3000"
    "\U0001f600\U0001f44d\U0001f3fd\ufb01\u00a0\u2028ÄéßØ東京"
)
CHARS = st.one_of(
    st.sampled_from(HOSTILE),
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    st.sampled_from(list("abcdefgh 0123")),
)
TEXT = st.text(CHARS, max_size=10)
WORDS = st.sampled_from(["Acme Corp", "ACME corp.", "Zeta Ltd", "Blue Sky", "Ｆｕｌｌ Ltd", ""])
VALUE = st.one_of(st.none(), TEXT, WORDS)
NAME_CHARS = st.sampled_from(list("abcxyzÄé東ＡZ_09"))
NAMES = st.lists(
    st.text(NAME_CHARS, min_size=1, max_size=6).map(lambda n: "c" + n),
    min_size=1,
    max_size=4,
    unique_by=lambda n: n,
)
HOW = st.sampled_from(["1:1", "m:1", "1:m", "m:m"])


def rows_for(columns: list[str], *, min_size: int = 0) -> st.SearchStrategy[list[list[Any]]]:
    row = st.lists(VALUE, min_size=len(columns), max_size=len(columns))
    rows = st.lists(row, min_size=min_size, max_size=8)
    # repeated rows: sometimes duplicate the first rows
    return rows.flatmap(lambda rs: st.sampled_from([rs, rs + rs[:2]]))


@st.composite
def text_tables(draw: st.DrawFn, min_rows: int = 0) -> pl.DataFrame:
    """A text table (nulls and every hostile character in its cells)."""
    columns = draw(NAMES)
    rows = draw(rows_for(columns, min_size=min_rows))
    return pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")


@st.composite
def typed_tables(draw: st.DrawFn, min_rows: int = 1) -> pl.DataFrame:
    """A table with text plus a random extra dtype column (int, float, bool, date)."""
    df = draw(text_tables(min_rows=min_rows))
    extra = draw(
        st.sampled_from(
            [
                st.integers(-(2**62), 2**62),
                st.floats(allow_nan=True, allow_infinity=True),
                st.booleans(),
                st.dates(),
            ]
        )
    )
    values = draw(st.lists(st.one_of(st.none(), extra), min_size=df.height, max_size=df.height))
    return df.with_columns(pl.Series("typed", values, strict=False))


def cell(value: Any) -> Any:
    """A cell as the invariants compare it: null and empty text are one; NaN equals NaN."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def cells(row: tuple[Any, ...] | list[Any]) -> tuple[Any, ...]:
    return tuple(cell(v) for v in row)


def allowed(call: Callable[[], Any]) -> Any:
    """Run ``call``; a LinkerError is an allowed outcome (returned as None)."""
    try:
        return call()
    except LinkerError:
        return None


# ------------------------------------------------------------------------------------ read


@dataclass
class FileCase:
    table: pl.DataFrame
    delimiter: str
    encoding: str
    newline: str
    trailing_blank_lines: int


@st.composite
def file_cases(draw: st.DrawFn) -> FileCase:
    return FileCase(
        table=draw(text_tables()),
        delimiter=draw(st.sampled_from([",", ";", "\t", "|"])),
        encoding=draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"])),
        newline=draw(st.sampled_from(["\n", "\r\n"])),
        trailing_blank_lines=draw(st.integers(0, 2)),
    )


def _field(value: str | None, delimiter: str, *, alone: bool) -> str:
    """One CSV field, quoted when it must be (Python's csv writer leaves a lone ``\r``
    unquoted, which makes ``"\r\n"`` an ambiguous blank line)."""
    text = "" if value is None else value
    if any(c in text for c in (delimiter, '"', "\r", "\n")) or (alone and not text):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_case(case: FileCase, path: Path) -> None:
    """Write the case's table as RFC 4180 text (a one-column empty value as ``""``, since a
    blank line is not a record)."""
    lines = [
        case.delimiter.join(_field(c, case.delimiter, alone=False) for c in case.table.columns)
    ]
    alone = case.table.width == 1
    for row in case.table.rows():
        lines.append(case.delimiter.join(_field(v, case.delimiter, alone=alone) for v in row))
    text = case.newline.join(lines) + case.newline * (1 + case.trailing_blank_lines)
    path.write_bytes(text.encode(case.encoding))


def check_read(case: FileCase) -> None:
    with TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        write_case(case, path)
        got = lk.read(path, delimiter=case.delimiter)
    assert got.columns == case.table.columns
    assert [cells(r) for r in got.rows()] == [cells(r) for r in case.table.rows()]


@PROPERTY
@given(file_cases())
def test_read_gives_back_every_cell(case: FileCase) -> None:
    check_read(case)


# ------------------------------------------------------------------------------------ verbs


@dataclass
class MergeCase:
    left: pl.DataFrame
    right: pl.DataFrame
    on: list[str] | None
    how: str
    threshold: float
    k: int


@st.composite
def merge_cases(draw: st.DrawFn) -> MergeCase:
    left = draw(typed_tables())
    right = draw(typed_tables())
    shared = [c for c in left.columns if c in right.columns]
    if not shared or draw(st.booleans()):  # give the right table the left's text columns
        right = right.select(pl.all().name.prefix("r_"))
        first = left.columns[0]
        right = right.with_columns(
            pl.Series(first, draw(st.lists(VALUE, min_size=right.height, max_size=right.height)))
        )
        shared = [first]
    on = draw(st.one_of(st.none(), st.lists(st.sampled_from(shared), min_size=1, unique=True)))
    left = left.with_columns(lid=pl.Series([f"L{i}" for i in range(left.height)]))
    right = right.with_columns(rid=pl.Series([f"R{i}" for i in range(right.height)]))
    return MergeCase(
        left, right, on, draw(HOW), draw(st.floats(0.0, 1.0)), draw(st.integers(1, 12))
    )


def check_merge(case: MergeCase, encoder: Any) -> None:
    out = allowed(
        lambda: lk.merge(
            case.left,
            case.right,
            on=case.on,
            how=case.how,
            threshold=case.threshold,
            k=case.k,
            model=encoder,
        )  # fmt: skip
    )
    if out is None:
        return
    left_rows = {r[-1]: cells(r) for r in case.left.rows()}
    right_rows = {r[-1]: cells(r) for r in case.right.rows()}
    lcols = case.left.columns
    rcols = [c if c not in lcols else f"{c}_right" for c in case.right.columns]
    seen_left: dict[str, int] = {}
    seen_right: dict[str, int] = {}
    for row in out.iter_rows(named=True):
        if row["_merge"] != "right_only":
            lid = row["lid"]
            seen_left[lid] = seen_left.get(lid, 0) + 1
            assert cells([row[c] for c in lcols]) == left_rows[lid]
        if row["_merge"] != "left_only":
            rid = row["rid"]
            seen_right[rid] = seen_right.get(rid, 0) + 1
            assert cells([row[c] for c in rcols]) == right_rows[rid]
    assert set(seen_left) == set(left_rows) and set(seen_right) == set(right_rows)
    if case.how in ("1:1", "m:1"):
        assert set(seen_left.values()) == {1}
    if case.how in ("1:1", "1:m"):
        assert set(seen_right.values()) == {1}


@PROPERTY
@given(merge_cases())
def test_merge_accounts_for_every_row_and_cell(case: MergeCase) -> None:
    check_merge(case, HashingEncoder())


@dataclass
class DedupCase:
    data: pl.DataFrame
    on: list[str] | None
    threshold: float
    cluster: str


@st.composite
def dedup_cases(draw: st.DrawFn) -> DedupCase:
    data = draw(typed_tables())
    text = [c for c in data.columns if c != "typed"]
    on = draw(st.one_of(st.none(), st.lists(st.sampled_from(text), min_size=1, unique=True)))
    cluster = draw(st.sampled_from(["components", "centre", "average"]))
    return DedupCase(data, on, draw(st.floats(0.0, 1.0)), cluster)


def check_dedup(case: DedupCase, encoder: Any) -> None:
    out = allowed(
        lambda: lk.dedup(
            case.data, on=case.on, threshold=case.threshold, cluster=case.cluster, model=encoder
        )
    )
    if out is None:
        return
    assert out.columns == [*case.data.columns, "_cluster"]
    assert [cells(r) for r in out.drop("_cluster").rows()] == [cells(r) for r in case.data.rows()]
    assert out["_cluster"].null_count() == 0


@PROPERTY
@given(dedup_cases())
def test_dedup_keeps_every_row_as_it_was(case: DedupCase) -> None:
    check_dedup(case, HashingEncoder())


def check_candidates(case: MergeCase, encoder: Any) -> None:
    out = allowed(lambda: lk.candidates(case.left, case.right, on=case.on, k=case.k, model=encoder))
    if out is None:
        return
    assert out["left_row"].is_between(0, case.left.height - 1).all()
    assert out["right_row"].is_between(0, case.right.height - 1).all()
    assert out.height == 0 or out["rank"].min() == 1


@PROPERTY
@given(merge_cases())
def test_candidates_stay_within_the_tables(case: MergeCase) -> None:
    check_candidates(case, HashingEncoder())


IDS = st.one_of(st.integers(-5, 5), TEXT, st.sampled_from(["L1", "R1", " L1 ", ""]))


@dataclass
class EvalCase:
    pairs: pl.DataFrame
    truth: pl.DataFrame


@st.composite
def eval_cases(draw: st.DrawFn) -> EvalCase:
    def frame(min_size: int) -> pl.DataFrame:
        rows = draw(st.lists(st.tuples(IDS, IDS), min_size=min_size, max_size=8))
        left = [str(a) for a, _ in rows]
        right = [str(b) for _, b in rows]
        return pl.DataFrame({"left_id": left, "right_id": right}, schema=dict.fromkeys(
            ["left_id", "right_id"], pl.String
        ))  # fmt: skip

    return EvalCase(frame(0), frame(0))


def check_evaluate(case: EvalCase) -> None:
    ev = allowed(lambda: lk.evaluate(case.pairs, case.truth))
    if ev is None:  # an empty truth is an InputError
        return
    assert ev.true_positives + ev.false_positives == ev.predicted
    assert ev.true_positives + ev.false_negatives == ev.truth
    assert 0.0 <= ev.precision <= 1.0 and 0.0 <= ev.recall <= 1.0 and 0.0 <= ev.f1 <= 1.0


@PROPERTY
@given(eval_cases())
def test_evaluate_counts_add_up(case: EvalCase) -> None:
    check_evaluate(case)


# ------------------------------------------------------------------------------------- CLI


@dataclass
class CliCase:
    file: FileCase
    verb: str
    options: list[str]


@st.composite
def cli_cases(draw: st.DrawFn) -> CliCase:
    case = draw(file_cases())
    verb = draw(st.sampled_from(["merge", "dedup", "candidates"]))
    options: list[str] = []
    if draw(st.booleans()):
        options += [
            "--on",
            ",".join(draw(st.lists(st.sampled_from(case.table.columns + ["nope"]), min_size=1))),
        ]  # noqa: E501
    if draw(st.booleans()):
        options += ["-k", draw(st.sampled_from(["0", "-3", "5", "x"]))]
    if verb != "candidates" and draw(st.booleans()):
        options += ["--threshold", draw(st.sampled_from(["0.5", "abc", "-1", "2", "nan", "1"]))]
    if verb == "merge" and draw(st.booleans()):
        options += ["--how", draw(st.sampled_from(["1:1", "m:m", "2:2"]))]
    if draw(st.booleans()):
        options += ["--encoding", draw(st.sampled_from(["utf-8", "cp1252", "no-such", "utf-16"]))]
    options += ["-o", draw(st.sampled_from(["out.csv", "out.parquet", "out.xlsx", "-"]))]
    return CliCase(case, verb, options)


def check_cli(case: CliCase) -> int:
    """Run the CLI on the case; returns its exit status (2: a one-line user error)."""
    from linker.cli import main

    with TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        write_case(case.file, path)
        inputs = [str(path)] * (1 if case.verb == "dedup" else 2)
        options = [str(Path(folder) / o) if o.startswith("out.") else o for o in case.options]
        err, out = io.StringIO(), io.StringIO()
        with redirect_stderr(err), redirect_stdout(out):
            try:
                code = main([case.verb, *inputs, "-q", *options])
            except SystemExit as e:  # argparse rejects a bad option value: a usage line
                code = int(e.code or 0)
    assert code in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue()
    return code


@PROPERTY
@given(cli_cases())
def test_cli_never_prints_a_traceback(case: CliCase) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(linker.vectors.embed._REGISTRY, "minilm", HashingEncoder)
        check_cli(case)
