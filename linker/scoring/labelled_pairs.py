"""Labelled record pairs, and readers for the two files they come in.

* **Ditto pair files**: one pair per line, ``<left>\\t<right>\\t<label>``, each side serialized
  as ``COL <attr> VAL <value> ...`` (the ER-Magellan and WDC files of the Ditto repository).
* **DeepMatcher folders**: ``tableA.csv`` and ``tableB.csv`` (an ``id`` column plus the
  attributes) and pair files ``train.csv`` / ``valid.csv`` / ``test.csv`` with the columns
  ``ltable_id, rtable_id, label``.

Both become a :class:`PairSet`: the two records of each pair as ``{column: value}`` and the
labels. Only the standard library is used, so the training code runs where polars is absent.
Every bad line is reported with its file and line number, and what to do about it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linker.errors import ConfigError, InputError

__all__ = [
    "PairSet",
    "Record",
    "as_pairs",
    "holdout",
    "parse_serialized",
    "read_deepmatcher",
    "read_ditto_pairs",
    "read_pairs",
    "serialize_record",
    "split_file",
]

Record = dict[str, str]
_COL = re.compile(r"(?:^|(?<=\s))COL\s+(.*?)\s+VAL(?=\s|$)")
_SPLITS = ("train", "valid", "test")


def _open(path: Path, encoding: str | None, *, newline: str | None = None) -> io.StringIO:
    """The file's text (``encoding``, default UTF-8 with or without a BOM), as a stream."""
    enc = encoding or "utf-8-sig"
    try:
        with path.open(encoding=enc, newline="") as f:  # line ends as written; the stream
            return io.StringIO(f.read(), newline=newline)  # translates them for newline=None
    except LookupError as e:
        raise ConfigError(f"Unknown encoding {enc!r}; try 'utf-8' or 'cp1252'.") from e
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise InputError(
            f"Cannot decode {str(path)!r} as {enc!r} at line {line}: {e.reason}. Pass the "
            "file's real encoding (--encoding, or encoding=...)."
        ) from e


@dataclass
class PairSet:
    """Labelled (or unlabelled) record pairs.

    Attributes:
        left: The left record of each pair, ``{column: value}`` (text; empty when null).
        right: The right record of each pair.
        labels: ``1`` match, ``0`` non-match, one per pair; empty when unlabelled.
        source: Where the pairs were read from (for messages).
        ids: ``(left_id, right_id)`` per pair when the source had ids (DeepMatcher files).

    Example:
        >>> p = PairSet([{"name": "acme"}], [{"name": "acme inc"}], [1])
        >>> len(p), p.columns
        (1, ['name'])
    """

    left: list[Record]
    right: list[Record]
    labels: list[int] = field(default_factory=list)
    source: str = "<memory>"
    ids: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.left) != len(self.right):
            raise InputError(
                f"{self.source}: {len(self.left)} left records but {len(self.right)} right "
                "records; give one of each per pair"
            )
        if self.labels and len(self.labels) != len(self.left):
            raise InputError(
                f"{self.source}: {len(self.labels)} labels for {len(self.left)} pairs; give one "
                "label per pair (or none to score)"
            )

    def __len__(self) -> int:
        return len(self.left)

    @property
    def columns(self) -> list[str]:
        """Column names in first-seen order over both sides."""
        seen: dict[str, None] = {}
        for rec in (*self.left[:1000], *self.right[:1000]):
            seen.update(dict.fromkeys(rec))
        return list(seen)

    def subset(self, rows: Sequence[int]) -> PairSet:
        """The pairs at ``rows``, in that order."""
        return PairSet(
            [self.left[i] for i in rows],
            [self.right[i] for i in rows],
            [self.labels[i] for i in rows] if self.labels else [],
            self.source,
            [self.ids[i] for i in rows] if self.ids else [],
        )


def serialize_record(record: Mapping[str, str], columns: Sequence[str] | None = None) -> str:
    """Ditto's serialization of one record: ``COL <column> VAL <value>`` per column.

    Example:
        >>> serialize_record({"title": "iPhone 12", "price": "799"})
        'COL title VAL iPhone 12 COL price VAL 799'
        >>> serialize_record({"title": "iPhone 12", "price": "799"}, ["price"])
        'COL price VAL 799'
    """
    cols = list(record) if columns is None else columns
    return " ".join(f"COL {c} VAL {record.get(c, '') or ''}".rstrip() for c in cols)


def parse_serialized(text: str) -> Record:
    """Invert :func:`serialize_record`: ``{column: value}`` from ``COL c VAL v ...``.

    Text without any ``COL ... VAL`` marker is one column named ``text``.

    Example:
        >>> parse_serialized("COL title VAL iphone 12 COL price VAL 799 ")
        {'title': 'iphone 12', 'price': '799'}
    """
    marks = list(_COL.finditer(text))
    if not marks:
        return {"text": text.strip()}
    out: Record = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[m.group(1).strip()] = text[m.end() : end].strip()
    return out


def _label(value: str, where: str) -> int:
    v = value.strip()
    if v in ("0", "1"):
        return int(v)
    raise InputError(f"{where}: label {value!r} is not 0 or 1; fix or drop this line")


def read_ditto_pairs(
    path: str | Path, *, labelled: bool = True, encoding: str | None = None
) -> PairSet:
    """Read a Ditto pair file (``left \\t right \\t label`` per line).

    Args:
        path: The text file.
        labelled: Require the label column (``False``: lines may have two fields).
        encoding: Text encoding (default: UTF-8, with or without a BOM).

    Raises:
        InputError: the file is missing or empty, or a line has the wrong number of tab
            separated fields or a label other than 0/1 (the message names the line).

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "p.txt")
        >>> _ = open(f, "w").write("COL a VAL x\\tCOL a VAL x\\t1\\n")
        >>> read_ditto_pairs(f).labels
        [1]
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"pair file {p} not found; pass a Ditto pair file or a DeepMatcher folder")
    left: list[Record] = []
    right: list[Record] = []
    labels: list[int] = []
    with _open(p, encoding) as f:
        for n, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            ok = len(parts) == 3 or (not labelled and len(parts) == 2)
            if not ok:
                raise InputError(
                    f"{p}, line {n}: {len(parts)} tab-separated fields; a Ditto pair line is "
                    "'<left>\\t<right>\\t<label>' (COL <column> VAL <value> ... on each side)"
                )
            left.append(parse_serialized(parts[0]))
            right.append(parse_serialized(parts[1]))
            if len(parts) == 3:
                labels.append(_label(parts[2], f"{p}, line {n}"))
    if not left:
        raise InputError(f"pair file {p} holds no pairs")
    if labels and len(labels) != len(left):
        raise InputError(f"{p}: some lines have a label and some do not; label all or none")
    return PairSet(left, right, labels, str(p))


def _read_table(path: Path, encoding: str | None) -> dict[str, Record]:
    if not path.is_file():
        raise InputError(
            f"table {path} not found; a DeepMatcher folder holds tableA.csv/tableB.csv"
        )
    with _open(path, encoding, newline="") as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in reader.fieldnames or []]
        if "id" not in fields:
            raise InputError(f"{path} has no 'id' column (columns: {fields}); add one")
        rows: dict[str, Record] = {}
        for n, row in enumerate(reader, start=2):
            rec = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            rid = rec.pop("id")
            if rid in rows:
                raise InputError(f"{path}, line {n}: id {rid!r} appears twice; ids must be unique")
            rows[rid] = rec
    return rows


def _read_table_like(
    table: str | Path | Mapping[str, Record] | None, default: Path, encoding: str | None
) -> dict[str, Record]:
    if table is None:
        return _read_table(default, encoding)
    if isinstance(table, Mapping):
        return dict(table)
    return _read_table(Path(table), encoding)


def read_deepmatcher(
    pairs: str | Path,
    *,
    left: str | Path | Mapping[str, Record] | None = None,
    right: str | Path | Mapping[str, Record] | None = None,
    labelled: bool = True,
    encoding: str | None = None,
) -> PairSet:
    """Read DeepMatcher pairs (``ltable_id, rtable_id, label``) against their two tables.

    Args:
        pairs: The pair CSV (e.g. ``train.csv``).
        left: ``tableA.csv`` (default: beside ``pairs``) or ``{id: record}``.
        right: ``tableB.csv`` (default: beside ``pairs``) or ``{id: record}``.
        labelled: Require the ``label`` column.
        encoding: Text encoding of the three files (default: UTF-8, with or without a BOM).

    Raises:
        InputError: a missing file or column, a label other than 0/1, or an id not in its
            table (the message names the line).
    """
    p = Path(pairs)
    if not p.is_file():
        raise InputError(f"pair file {p} not found")
    ltab = _read_table_like(left, p.parent / "tableA.csv", encoding)
    rtab = _read_table_like(right, p.parent / "tableB.csv", encoding)
    out = PairSet([], [], [], str(p))
    with _open(p, encoding, newline="") as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in reader.fieldnames or []]
        need = ["ltable_id", "rtable_id"] + (["label"] if labelled else [])
        missing = [c for c in need if c not in fields]
        if missing:
            raise InputError(f"{p} lacks the column(s) {missing} (columns: {fields})")
        for n, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            lid, rid = row["ltable_id"], row["rtable_id"]
            for rid_, tab, side in ((lid, ltab, "left (tableA)"), (rid, rtab, "right (tableB)")):
                if rid_ not in tab:
                    raise InputError(f"{p}, line {n}: id {rid_!r} is not in the {side} table")
            out.left.append(ltab[lid])
            out.right.append(rtab[rid])
            out.ids.append((lid, rid))
            if "label" in row and (labelled or row["label"]):
                out.labels.append(_label(row["label"], f"{p}, line {n}"))
    if not out.left:
        raise InputError(f"pair file {p} holds no pairs")
    return out


def split_file(folder: str | Path, split: str) -> Path | None:
    """The pair file of ``split`` in ``folder`` (``<split>.csv``, else ``<split>.txt``), if any.

    Example:
        >>> split_file("no/such/folder", "valid") is None
        True
    """
    for suffix in (".csv", ".txt"):
        if (file := Path(folder) / f"{split}{suffix}").is_file():
            return file
    return None


def read_pairs(
    source: str | Path,
    *,
    split: str = "train",
    left: str | Path | None = None,
    right: str | Path | None = None,
    labelled: bool = True,
    encoding: str | None = None,
) -> PairSet:
    """Read pairs from a Ditto file, a DeepMatcher pair CSV, or a folder of either.

    A folder is read as ``<split>.csv`` (DeepMatcher, with ``tableA.csv``/``tableB.csv``) or
    ``<split>.txt`` (Ditto). A ``.csv`` file is DeepMatcher pairs; anything else a Ditto file.
    ``encoding`` is the files' text encoding (default: UTF-8, with or without a BOM).

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> _ = open(os.path.join(d, "train.txt"), "w").write("COL a VAL x\\tCOL a VAL y\\t0\\n")
        >>> read_pairs(d).labels
        [0]
    """
    p = Path(source)
    if p.is_dir():
        if split not in _SPLITS:
            raise InputError(f"split={split!r} is not one of {list(_SPLITS)}")
        if (file := split_file(p, split)) is not None:
            return read_pairs(file, left=left, right=right, labelled=labelled, encoding=encoding)
        raise InputError(
            f"folder {p} has neither {split}.csv (DeepMatcher, with tableA.csv/tableB.csv) nor "
            f"{split}.txt (Ditto pairs)"
        )
    if p.suffix.lower() == ".csv":
        return read_deepmatcher(p, left=left, right=right, labelled=labelled, encoding=encoding)
    return read_ditto_pairs(p, labelled=labelled, encoding=encoding)


def _frame_records(table: Any, name: str) -> dict[str, Record]:
    """``{id: record}`` from a frame or a path, read through :mod:`linker.frames`."""
    import polars as pl

    from linker.frames import as_polars

    df, _ = as_polars(table, name=name)
    if "id" not in df.columns:
        raise InputError(f"the {name} table has no 'id' column (columns: {df.columns}); add one")
    df = df.select(pl.all().cast(pl.Utf8).fill_null(""))
    ids = df["id"].to_list()
    if len(set(ids)) != len(ids):
        raise InputError(f"the {name} table has duplicate ids; ids must be unique")
    rest = [c for c in df.columns if c != "id"]
    return {
        i: dict(zip(rest, vals, strict=True)) for i, *vals in df.select("id", *rest).iter_rows()
    }


def as_pairs(
    pairs: PairSet | str | Path | Any,
    *,
    left: Any = None,
    right: Any = None,
    split: str = "train",
) -> PairSet:
    """Turn what :func:`linker.train` accepts into a :class:`PairSet`.

    Args:
        pairs: A :class:`PairSet`; a Ditto pair file, a DeepMatcher pair CSV or a folder of
            either; or a frame with ``ltable_id, rtable_id, label`` (with ``left``/``right``)
            or with ``left, right, label`` (serialized ``COL c VAL v`` texts).
        left: The left table (frame, CSV path or ``{id: record}``) for id pairs.
        right: The right table.
        split: The split read from a folder.

    Raises:
        InputError: a frame with neither column set, or id pairs without their tables.
    """
    if isinstance(pairs, PairSet):
        return pairs
    if isinstance(pairs, str | Path):
        return read_pairs(pairs, split=split, left=left, right=right)
    import polars as pl

    from linker.frames import as_polars

    df, _ = as_polars(pairs, name="pairs")
    label = df["label"].cast(pl.Int64).to_list() if "label" in df.columns else []
    bad = [i for i, v in enumerate(label) if v not in (0, 1)]
    if bad:
        raise InputError(f"pairs: row {bad[0]} has label {label[bad[0]]!r}; labels must be 0 or 1")
    if {"ltable_id", "rtable_id"} <= set(df.columns):
        if left is None or right is None:
            raise InputError("pairs with ltable_id/rtable_id need left= and right= tables")
        ltab = left if isinstance(left, Mapping) else _frame_records(left, "left")
        rtab = right if isinstance(right, Mapping) else _frame_records(right, "right")
        out = PairSet([], [], [], "pairs")
        for n, (lid, rid) in enumerate(
            df.select(pl.col("ltable_id", "rtable_id").cast(pl.Utf8)).iter_rows()
        ):
            for id_, tab, side in ((lid, ltab, "left"), (rid, rtab, "right")):
                if id_ not in tab:
                    raise InputError(f"pairs, row {n}: id {id_!r} is not in the {side} table")
            out.left.append(ltab[lid])
            out.right.append(rtab[rid])
            out.ids.append((lid, rid))
        out.labels = label
        return out
    if {"left", "right"} <= set(df.columns):
        texts = df.select(pl.col("left", "right").cast(pl.Utf8).fill_null("")).iter_rows()
        recs = [(parse_serialized(a), parse_serialized(b)) for a, b in texts]
        return PairSet([a for a, _ in recs], [b for _, b in recs], label, "pairs")
    raise InputError(
        f"pairs has columns {df.columns}: give ltable_id, rtable_id, label (with left= and "
        "right= tables) or left, right, label (Ditto-serialized texts)"
    )


def holdout(train: PairSet, valid: PairSet | None, *, seed: int) -> tuple[PairSet, PairSet]:
    """Check that both sets are labelled with both classes; without ``valid``, hold out 20%.

    The held-out share is a seeded permutation of ``train`` (the same seed, the same split),
    used by the matchers to pick their epoch or threshold.

    Raises:
        InputError: unlabelled pairs, or only one class among the labels.

    Example:
        >>> t = PairSet([{"a": "x"}] * 10, [{"a": "x"}] * 10, [0, 1] * 5)
        >>> [len(s) for s in holdout(t, None, seed=0)]
        [8, 2]
    """
    import numpy as np

    for name, ps in (("train", train), ("valid", valid)):
        if ps is not None and (not ps.labels or len(set(ps.labels)) < 2):
            raise InputError(
                f"{name} pairs ({ps.source}) need labels with both matches (1) and non-matches (0)"
            )
    if valid is not None:
        return train, valid
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    order = rng.permutation(len(train))
    cut = max(1, len(train) // 5)
    return train.subset(order[cut:].tolist()), train.subset(order[:cut].tolist())
