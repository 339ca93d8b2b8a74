"""Review a proposed schema, glossary or taxonomy mapping; decisions live in the review store.

:func:`mapping_kind` tells the three results apart by their columns (``lk.match_schema``:
``source_column``/``target_column``; ``lk.match_glossary``: ``column``/``term``;
``lk.map_taxonomy``: ``phrase``/``node_id``/``label``/``path``; each with ``score`` and
``rank``). A :class:`MappingReview` keeps each item's (source column's or phrase's) ranked
proposals in the store and records one decision per change, append-only (newest wins):

- ``accept``: the top proposal;  ``pick``: another proposed candidate;
- ``edit``: a target the reviewer typed;  ``no_match``: nothing fits;
- ``pending``: take the decision back.

:func:`export_mapping` writes the final mapping, reviewer decisions applied, atomically.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import polars as pl

from linker.errors import InputError
from linker.review.export import write_table
from linker.review.store import ReviewStore

__all__ = [
    "ACTIONS",
    "Action",
    "Choice",
    "MappingKind",
    "MappingReview",
    "export_mapping",
    "is_mapping",
    "mapping_kind",
]

MappingKind = Literal["schema", "glossary", "taxonomy"]
Action = Literal["accept", "pick", "edit", "no_match", "pending"]
ACTIONS: tuple[str, ...] = ("accept", "pick", "edit", "no_match", "pending")


@dataclass(frozen=True)
class _Layout:
    item: str
    target: str
    extra: tuple[str, ...]  # carried with each candidate (reason; label and path)


_LAYOUTS: dict[str, _Layout] = {
    "schema": _Layout("source_column", "target_column", ("reason",)),
    "glossary": _Layout("column", "term", ("reason",)),
    "taxonomy": _Layout("phrase", "node_id", ("label", "path")),
}
_REQUIRED = {"schema": ("source_column", "target_column"), "glossary": ("column", "term"),
             "taxonomy": ("phrase", "node_id", "label", "path")}  # fmt: skip
_COMMON = ("score", "rank")


def mapping_kind(columns: list[str] | pl.DataFrame) -> MappingKind:
    """Which matcher made a result, from its columns.

    Raises:
        InputError: no kind fits; the message names the columns each kind is missing.

    Example:
        >>> mapping_kind(["phrase", "node_id", "label", "path", "score", "rank"])
        'taxonomy'
    """
    cols = set(columns.columns if isinstance(columns, pl.DataFrame) else columns)
    missing = {k: [c for c in (*req, *_COMMON) if c not in cols] for k, req in _REQUIRED.items()}
    for kind, gone in missing.items():
        if not gone:
            return kind  # type: ignore[return-value]
    said = "; ".join(f"{k} needs {gone}" for k, gone in missing.items())
    raise InputError(
        f"not a schema, glossary or taxonomy mapping (columns {sorted(cols)}): {said}. "
        "Open the CSV written by `linker schema` or `linker taxonomy`"
    )


def is_mapping(path: str | Path) -> bool:
    """Whether a CSV/Parquet file's columns say it is a mapping (reads the header only).

    Example:
        >>> is_mapping("no/such/file.csv")
        False
    """
    p = Path(path)
    if not p.is_file():
        return False
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            cols = list(pl.read_parquet_schema(p))
        else:
            cols = pl.read_csv(p, n_rows=0, infer_schema=False).columns
        mapping_kind(cols)
    except (InputError, pl.exceptions.PolarsError, OSError):
        return False
    return True


def _proposals(result: Any) -> tuple[MappingKind, pl.DataFrame]:
    """``item``, ``target``, ``score``, ``rank`` and the kind's extra columns, as text ids."""
    from linker.frames import as_polars

    frame, _ = as_polars(result, name="mapping")
    kind = mapping_kind(frame)
    lay = _LAYOUTS[kind]
    extra = [pl.col(c).cast(pl.Utf8) if c in frame.columns else pl.lit(None, pl.Utf8).alias(c)
             for c in lay.extra]  # fmt: skip
    out = frame.select(
        pl.col(lay.item).cast(pl.Utf8).fill_null("").alias("item"),
        pl.col(lay.target).cast(pl.Utf8).alias("target"),
        pl.col("score").cast(pl.Float64),
        pl.col("rank").cast(pl.Int64),
        *extra,
    )
    if out.is_empty():
        raise InputError("the mapping has no rows: nothing to review")
    return kind, out.with_row_index("__lk_order")


def _parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", compression_level=1, statistics=False)
    return buf.getvalue()


@dataclass(frozen=True)
class Choice:
    """The current decision of one item (newest row of the log)."""

    action: str
    target: str | None
    note: str
    reviewer: str


class MappingReview:
    """The review of one proposed mapping in a store.

    Args:
        store: The review store (a :class:`ReviewStore` or its file path).
        mapping_id: The mapping (see :meth:`create` and :meth:`stored`).
        reviewer: Name written with each decision.

    Example:
        >>> import tempfile, polars as pl
        >>> result = pl.DataFrame({"source_column": ["cust_nm", "cust_nm"],
        ...                        "target_column": ["customer_name", "city"],
        ...                        "score": [0.65, 0.45], "rank": [1, 2]})
        >>> m = MappingReview.create(f"{tempfile.mkdtemp()}/r.sqlite", result)
        >>> _ = m.decide("cust_nm", "pick", target="city", note="checked")
        >>> m.final().select("source_column", "target_column", "decision").rows()
        [('cust_nm', 'city', 'pick')]
    """

    def __init__(self, store: ReviewStore | str | Path, mapping_id: str, *, reviewer: str = ""):
        self.store = store if isinstance(store, ReviewStore) else ReviewStore(store)
        self.mapping_id = mapping_id
        self.reviewer = reviewer
        rows = self.store.read(
            "SELECT kind, source, proposals FROM mappings WHERE id = ?", (mapping_id,)
        )
        if not rows:
            raise InputError(f"mapping {mapping_id!r} is not in {self.store.path}")
        self.kind: MappingKind = rows[0][0]
        self.source: str = rows[0][1]
        self.proposals = pl.read_parquet(io.BytesIO(rows[0][2]))
        ranked = self.proposals.filter(pl.col("target").is_not_null()).sort("__lk_order")
        ranked = ranked.sort("rank", maintain_order=True).select("item", "target")
        self.items: list[str] = self.proposals["item"].unique(maintain_order=True).to_list()
        self._candidates: dict[str, list[str]] = {i: [] for i in self.items}
        for item, target in ranked.rows():
            self._candidates[item].append(target)

    @classmethod
    def create(
        cls,
        store: ReviewStore | str | Path,
        result: Any,
        *,
        source: str | None = None,
        reviewer: str = "",
    ) -> MappingReview:
        """Save a matcher's result (frame or CSV/Parquet path) in the store and open it.

        The mapping id is a hash of the proposals, so opening the same result again resumes
        its review.

        Raises:
            InputError: the columns are not those of a mapping, or it has no rows.
        """
        kind, proposals = _proposals(result)
        blob = _parquet(proposals)
        mapping_id = f"{kind}-{hashlib.sha256(blob).hexdigest()[:12]}"
        s = store if isinstance(store, ReviewStore) else ReviewStore(store)
        name = source or (str(result) if isinstance(result, str | Path) else "")
        with s.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO mappings (id, kind, source, created_at, proposals) "
                "VALUES (?, ?, ?, ?, ?)",
                (mapping_id, kind, name, time.time(), blob),
            )
        return cls(s, mapping_id, reviewer=reviewer)

    @staticmethod
    def stored(store: ReviewStore) -> pl.DataFrame:
        """Every mapping in a store: ``id``, ``kind``, ``source``, ``created_at``."""
        rows = store.read("SELECT id, kind, source, created_at FROM mappings ORDER BY created_at")
        schema = {"id": pl.Utf8, "kind": pl.Utf8, "source": pl.Utf8, "created_at": pl.Float64}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def candidates(self, item: str) -> list[str]:
        """The proposed targets of an item, best first."""
        if item not in self._candidates:
            raise InputError(f"{item!r} is not an item of mapping {self.mapping_id!r}")
        return list(self._candidates[item])

    def decide(
        self, item: str, action: Action, *, target: str | None = None, note: str = ""
    ) -> int:
        """Record a decision and commit it; returns its log id.

        Args:
            item: The source column (or glossary column, or phrase).
            action: ``accept`` (the top proposal), ``pick`` (another proposal: ``target``),
                ``edit`` (a typed ``target``), ``no_match`` or ``pending`` (undecided again).
            target: The target for ``pick`` and ``edit``.
            note: Free text saved with the decision.

        Raises:
            InputError: an unknown item or action, ``accept`` without proposals, ``pick`` of
                a target that was not proposed, or ``edit`` without a target.
        """
        cands = self.candidates(item)
        if action not in ACTIONS:
            raise InputError(f"action {action!r} is not one of {list(ACTIONS)}")
        if action == "accept":
            if not cands:
                raise InputError(f"{item!r} has no proposal to accept: type a target (edit)")
            target = cands[0]
        elif action == "pick" and target not in cands:
            raise InputError(f"{target!r} was not proposed for {item!r} (proposals: {cands})")
        elif action == "edit" and not (target or "").strip():
            raise InputError(f"type a target for {item!r}, or mark it no_match")
        elif action in ("no_match", "pending"):
            target = None
        with self.store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO mapping_decisions "
                "(mapping_id, item, action, target, note, reviewer, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.mapping_id, item, action, target, note, self.reviewer, time.time()),
            )
            return int(cur.lastrowid or 0)

    def choose(self, item: str, target: str, *, note: str = "") -> int:
        """Record ``target`` for an item as ``accept``, ``pick`` or ``edit``, whichever fits."""
        cands = self.candidates(item)
        action: Action = (
            "accept" if cands[:1] == [target] else "pick" if target in cands else "edit"
        )
        return self.decide(item, action, target=target, note=note)

    def apply_edits(self, table: pl.DataFrame, edits: dict[int, dict[str, Any]]) -> list[str]:
        """Record the cell edits of the review table (``st.data_editor``'s ``edited_rows``).

        ``decision`` set to ``accept`` takes the top proposal, ``no_match`` and ``pending``
        are recorded as they are; a changed ``target`` (or ``pick``/``edit``) records that
        target through :meth:`choose`; a changed note alone keeps the decision.

        Returns:
            One message per edit that could not be recorded (the others are committed).
        """
        problems = []
        for at, change in sorted(edits.items()):
            row = table.row(int(at), named=True)
            item, note = row["item"], str(change.get("note", row["note"]) or "")
            decision = str(change.get("decision", row["decision"]))
            target = str(change.get("target", row["target"]) or "").strip()
            try:
                if decision in ("accept", "no_match", "pending") and "target" not in change:
                    self.decide(item, cast(Action, decision), note=note)
                elif target:
                    self.choose(item, target, note=note)
                else:
                    raise InputError(f"type a target for {item!r}, or mark it no_match")
            except InputError as e:
                problems.append(str(e))
        return problems

    def choices(self) -> dict[str, Choice]:
        """The current decision of each item that has one (``pending`` included)."""
        rows = self.store.read(
            "SELECT item, action, target, note, reviewer FROM mapping_decisions "
            "WHERE mapping_id = ? ORDER BY id",
            (self.mapping_id,),
        )
        return {r[0]: Choice(*r[1:]) for r in rows}

    def table(self) -> pl.DataFrame:
        """One row per item, for the review table.

        Columns: ``item``, ``proposed`` (top target), ``score``, ``alternatives`` (the other
        proposals with their scores), ``decision`` (``pending`` when undecided), ``target``
        (the decided one, else the proposal), for a taxonomy the ``label`` of that node (when
        it was proposed for some phrase), and ``note``.
        """
        top = self.proposals.sort("__lk_order").sort("rank", maintain_order=True, nulls_last=True)
        label = (pl.col("target") + pl.lit(" ") + pl.col("label").fill_null("")).str.strip_chars()
        shown = label if self.kind == "taxonomy" else pl.col("target")
        alts = (
            top.filter(pl.col("target").is_not_null())
            .with_columns((shown + pl.format(" ({})", pl.col("score").round(2))).alias("_a"))
            .group_by("item", maintain_order=True)
            .agg(
                pl.col("target").first().alias("proposed"),
                pl.col("score").first(),
                pl.col("_a").slice(1).str.join("; ").alias("alternatives"),
            )  # fmt: skip
        )
        base = pl.DataFrame({"item": self.items}).join(alts, on="item", how="left")
        chosen = self.choices()
        none = Choice("pending", None, "", "")
        now = [chosen.get(i, none) for i in self.items]
        out = base.with_columns(
            pl.Series("decision", [c.action for c in now], dtype=pl.Utf8),
            pl.Series(
                "target",
                [
                    p if c.action == "pending" else c.target
                    for c, p in zip(now, base["proposed"], strict=True)
                ],
                dtype=pl.Utf8,
            ),  # fmt: skip
            pl.Series(
                "note", [chosen[i].note if i in chosen else "" for i in self.items], dtype=pl.Utf8
            ),  # fmt: skip
        )
        if self.kind != "taxonomy":
            return out
        known = self.proposals.drop_nulls("target").unique("target", keep="first")
        labels = dict(known.select("target", "label").iter_rows())
        name = pl.col("target").replace_strict(labels, default=None, return_dtype=pl.Utf8)
        return out.with_columns(name.alias("label")).select(*out.columns[:-1], "label", "note")

    def final(self) -> pl.DataFrame:
        """The mapping with the decisions applied, in the matcher's own column names.

        One row per item: the decided target (``no_match``: null), else the top proposal;
        ``score`` of that target as proposed (null for a typed one); the kind's extra
        columns (``reason``; ``label`` and ``path``) of the target; ``decision``
        (``proposed`` when undecided), ``note`` and ``reviewer``.
        """
        lay = _LAYOUTS[self.kind]
        t = self.table()
        chosen = self.choices()
        picked = t.select(
            "item",
            pl.when(pl.col("decision") == "no_match").then(None).otherwise(pl.col("target"))
            .alias("target"),
            pl.col("decision").replace("pending", "proposed"),
            "note",
            pl.Series("reviewer", [chosen[i].reviewer if i in chosen else ""
                                   for i in self.items], dtype=pl.Utf8),  # fmt: skip
        )  # fmt: skip
        detail = self.proposals.select("item", "target", "score", *lay.extra).unique(
            ["item", "target"], keep="first", maintain_order=True
        )
        out = picked.join(detail, on=["item", "target"], how="left", maintain_order="left")
        return out.select(
            pl.col("item").alias(lay.item), pl.col("target").alias(lay.target), "score",
            *lay.extra, "decision", "note", "reviewer",
        )  # fmt: skip


def export_mapping(review: MappingReview, path: str | Path) -> Path:
    """Write :meth:`MappingReview.final` to ``path`` (CSV with formula cells neutralised, or
    Parquet), atomically.

    Example:
        >>> import tempfile, polars as pl
        >>> result = pl.DataFrame({"phrase": ["apples"], "node_id": ["3"], "label": ["Apple"],
        ...                        "path": ["Food > Apple"], "score": [0.8], "rank": [1]})
        >>> folder = tempfile.mkdtemp()
        >>> m = MappingReview.create(f"{folder}/r.sqlite", result)
        >>> export_mapping(m, f"{folder}/final.csv").name
        'final.csv'
    """
    return write_table(review.final(), path)
