"""Schema, glossary and taxonomy mapping review: proposals, decisions, resume, export, the view."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from linker.errors import InputError
from linker.review import (
    MappingReview,
    ReviewStore,
    export_mapping,
    is_mapping,
    mapping_kind,
)
from linker.review.store import migrate_to

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest


def _schema() -> pl.DataFrame:
    """What ``lk.match_schema(..., top_k=3)`` returns for two source columns."""
    return pl.DataFrame(
        {
            "source_column": ["cust_nm", "cust_nm", "cust_nm", "amt", "amt", "amt"],
            "target_column": ["customer_name", "city", "total", "total", "=cmd()", "city"],
            "score": [0.65, 0.45, 0.39, 0.56, 0.49, 0.44],
            "rank": [1, 2, 3, 1, 2, 3],
            "reason": ["name 0.92", "weak", "weak", "name meaning 0.67", "weak", "weak"],
        }
    )


def _taxonomy() -> pl.DataFrame:
    """What ``lk.map_taxonomy(..., top_k=2)`` returns, with an empty phrase (nulls)."""
    return pl.DataFrame(
        {
            "phrase": ["apples", "apples", "red fruit", "red fruit", ""],
            "node_id": ["3", "2", "2", "3", None],
            "label": ["Apple", "Fruit", "Fruit", "Apple", None],
            "path": [
                "Food > Fruit > Apple",
                "Food > Fruit",
                "Food > Fruit",
                "Food > Fruit > Apple",
                None,
            ],
            "score": [0.81, 0.51, 0.84, 0.45, None],
            "rank": [1, 2, 1, 2, None],
        }
    )


def test_kinds_are_told_apart_by_their_columns() -> None:
    assert mapping_kind(_schema()) == "schema"
    assert mapping_kind(_taxonomy()) == "taxonomy"
    assert mapping_kind(["column", "term", "score", "rank", "reason"]) == "glossary"
    with pytest.raises(InputError, match=r"schema needs \['target_column'\]") as e:
        mapping_kind(["source_column", "score", "rank"])
    assert "taxonomy needs ['phrase', 'node_id', 'label', 'path']" in str(e.value)
    assert "linker schema" in str(e.value)  # says what to open instead


def test_bad_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a schema, glossary or taxonomy mapping"):
        MappingReview.create(tmp_path / "r.sqlite", pl.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(InputError, match="no rows"):
        MappingReview.create(tmp_path / "r.sqlite", _schema().head(0))
    with pytest.raises(InputError, match="'nope' is not in"):
        MappingReview(tmp_path / "r.sqlite", "nope")


def test_schema_csv_accept_pick_edit_no_match(tmp_path: Path) -> None:
    csv = tmp_path / "schema.csv"
    _schema().write_csv(csv)
    assert is_mapping(csv) and not is_mapping(tmp_path / "missing.csv")
    m = MappingReview.create(tmp_path / "r.sqlite", csv, reviewer="ann")
    assert m.kind == "schema" and m.source == str(csv)
    assert m.items == ["cust_nm", "amt"]
    assert m.candidates("amt") == ["total", "=cmd()", "city"]
    t = m.table()
    assert t.row(0, named=True) == {
        "item": "cust_nm", "proposed": "customer_name", "score": 0.65,
        "alternatives": "city (0.45); total (0.39)", "decision": "pending",
        "target": "customer_name", "note": "",
    }  # fmt: skip
    m.decide("cust_nm", "accept", note="obvious")
    m.decide("amt", "pick", target="city")
    assert m.final()["decision"].to_list() == ["accept", "pick"]
    m.decide("amt", "edit", target="amount_eur")  # newest wins
    assert m.final().rows() == [
        ("cust_nm", "customer_name", 0.65, "name 0.92", "accept", "obvious", "ann"),
        ("amt", "amount_eur", None, None, "edit", "", "ann"),
    ]
    m.decide("amt", "no_match", note="not in the target")
    assert m.final().row(1)[1:5] == (None, None, None, "no_match")
    m.decide("amt", "pending")
    assert m.final().row(1)[1:5] == ("total", 0.56, "name meaning 0.67", "proposed")
    for bad, kw in [("pick", {"target": "nowhere"}), ("edit", {"target": " "}), ("maybe", {})]:
        with pytest.raises(InputError):
            m.decide("amt", bad, **kw)  # type: ignore[arg-type]  # what a UI may send
    with pytest.raises(InputError, match="'zip' is not an item"):
        m.decide("zip", "accept")
    rows = sqlite3.connect(m.store.path).execute("SELECT COUNT(*) FROM mapping_decisions")
    assert rows.fetchone()[0] == 5  # append-only: every decision kept


def test_taxonomy_frame_choose_and_an_empty_phrase(tmp_path: Path) -> None:
    m = MappingReview.create(tmp_path / "r.sqlite", _taxonomy())
    assert m.kind == "taxonomy" and m.items == ["apples", "red fruit", ""]
    assert m.table()["alternatives"].to_list() == ["2 Fruit (0.51)", "3 Apple (0.45)", None]
    m.choose("apples", "3")
    m.choose("red fruit", "3", note="more precise")
    m.choose("", "99")
    assert m.table().select("target", "label").rows() == [("3", "Apple"), ("3", "Apple"),
                                                          ("99", None)]  # fmt: skip
    with pytest.raises(InputError, match="no proposal to accept"):
        m.decide("", "accept")
    final = m.final()
    assert final.columns == ["phrase", "node_id", "score", "label", "path", "decision", "note",
                             "reviewer"]  # fmt: skip
    assert final.select("phrase", "node_id", "label", "decision").rows() == [
        ("apples", "3", "Apple", "accept"),
        ("red fruit", "3", "Apple", "pick"),
        ("", "99", None, "edit"),
    ]


def test_glossary_result(tmp_path: Path) -> None:
    result = pl.DataFrame({"column": ["cust_nm", "cust_nm"], "term": ["Customer", "Order"],
                           "score": [0.7, 0.3], "rank": [1, 2], "reason": ["a", "b"]})  # fmt: skip
    m = MappingReview.create(tmp_path / "r.sqlite", result)
    m.decide("cust_nm", "pick", target="Order")
    assert m.final().select("column", "term", "decision").rows() == [("cust_nm", "Order", "pick")]


def test_reopen_resumes_and_a_second_reviewer_sees_it(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    first = MappingReview.create(db, _schema(), reviewer="ann")
    first.decide("amt", "no_match")
    again = MappingReview.create(db, _schema(), reviewer="bob")  # same proposals: same id
    assert again.mapping_id == first.mapping_id
    assert again.table()["decision"].to_list() == ["pending", "no_match"]
    again.decide("amt", "accept")
    assert first.choices()["amt"].reviewer == "bob"
    assert MappingReview.stored(ReviewStore(db))["id"].to_list() == [first.mapping_id]


def test_apply_edits_of_the_review_table(tmp_path: Path) -> None:
    m = MappingReview.create(tmp_path / "r.sqlite", _schema())
    t = m.table()
    problems = m.apply_edits(t, {0: {"decision": "accept", "note": "ok"},
                                 1: {"target": "city"}})  # fmt: skip
    assert problems == []
    assert m.final()["decision"].to_list() == ["accept", "pick"]
    t = m.table()
    assert m.apply_edits(t, {1: {"target": "amount"}, 0: {"note": "still ok"}}) == []
    assert m.final().select("target_column", "decision", "note").rows() == [
        ("customer_name", "accept", "still ok"), ("amount", "edit", ""),
    ]  # fmt: skip
    assert m.apply_edits(m.table(), {1: {"decision": "no_match"}}) == []
    assert m.apply_edits(m.table(), {0: {"target": ""}}) == [
        "type a target for 'cust_nm', or mark it no_match"
    ]
    assert m.final()["decision"].to_list() == ["accept", "no_match"]


def test_export_neutralises_formula_cells_atomically(tmp_path: Path) -> None:
    m = MappingReview.create(tmp_path / "r.sqlite", _schema())
    m.decide("amt", "pick", target="=cmd()", note="@risk")
    out = export_mapping(m, tmp_path / "out" / "final.csv")
    text = out.read_text()
    assert "'=cmd()" in text and "'@risk" in text
    assert [p.name for p in out.parent.iterdir()] == ["final.csv"]  # no temp file left
    parquet = export_mapping(m, tmp_path / "final.parquet")
    assert pl.read_parquet(parquet)["target_column"].to_list() == ["customer_name", "=cmd()"]


def test_version_2_store_is_migrated_and_keeps_pair_decisions(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    migrate_to(path, 2)
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO linkages (id, kind, config, created_at) VALUES ('l', 'link', '{}', 0)"
    )
    conn.execute(
        "INSERT INTO decisions (linkage_id, left_id, right_id, label, created_at) "
        "VALUES ('l', 'a', 'b', 'match', 0)"
    )
    conn.commit()
    conn.close()
    store = ReviewStore(path)
    assert store.version == 3
    assert [d.label for d in store.decisions("l")] == ["match"]
    m = MappingReview.create(store, _schema())
    m.decide("amt", "accept")
    assert m.choices()["amt"].target == "total"


APP = Path(__file__).resolve().parents[1] / "app" / "review_app.py"


def _app(db: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> AppTest:
    """The real app script on the store ``db`` (skipped without the ``[app]`` extra)."""
    streamlit_testing = pytest.importorskip("streamlit.testing.v1")
    monkeypatch.setenv("LINKER_REVIEW_DB", str(db))
    monkeypatch.setattr("sys.argv", ["review_app.py", *args])
    at: AppTest = streamlit_testing.AppTest.from_file(str(APP), default_timeout=60)
    return at.run()


def test_view_opens_a_mapping_file_saves_each_edit_and_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = tmp_path / "schema.csv"
    _schema().write_csv(csv)
    db = tmp_path / "r.sqlite"
    at = _app(db, monkeypatch, "--open", str(csv), "--reviewer", "ann")  # linker review schema.csv
    assert not at.exception
    assert at.radio(key="view").value == "Mappings"
    editor = at.data_editor[0]
    assert editor.value["proposed"].tolist() == ["customer_name", "total"]
    assert editor.key is not None and editor.key.startswith("mapping-schema-")
    at.session_state[editor.key] = {
        "edited_rows": {0: {"decision": "accept"}, 1: {"target": "amount", "note": "=sum()"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception
    m = MappingReview.create(db, csv)  # reopened from the file: the edits were saved
    assert {k: (c.action, c.target, c.reviewer) for k, c in m.choices().items()} == {
        "cust_nm": ("accept", "customer_name", "ann"),
        "amt": ("edit", "amount", "ann"),
    }
    assert at.data_editor[0].value["decision"].tolist() == ["accept", "edit"]  # redrawn
    at.text_input(key="mapping-export-folder").input(str(tmp_path / "out"))
    at.button(key="btn-export-mapping").click().run()
    text = (tmp_path / "out" / "schema_mapping.csv").read_text()
    assert "amount" in text and "'=sum()" in text


def test_view_opens_a_path_and_reports_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _app(tmp_path / "r.sqlite", monkeypatch)
    at.radio(key="view").set_value("Mappings").run()
    assert "Open a mapping" in at.info[0].value
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    at.text_input(key="mapping-path").input(str(bad)).run()
    at.button(key="btn-open-mapping").click().run()
    assert "not a schema, glossary or taxonomy mapping" in at.error[0].value
    good = tmp_path / "tax.csv"
    _taxonomy().write_csv(good)
    at.text_input(key="mapping-path").input(str(good)).run()
    at.button(key="btn-open-mapping").click().run()
    assert not at.exception
    assert at.data_editor[0].value["item"].tolist() == ["apples", "red fruit", ""]
    glossary = b"column,term,score,rank,reason\ncust_nm,Customer,0.7,1,a\n"
    at.file_uploader(key="mapping-upload").upload("terms.csv", glossary, "text/csv").run()
    at.button(key="btn-open-mapping").click().run()
    assert not at.exception
    assert at.data_editor[0].value["proposed"].tolist() == ["Customer"]
    assert MappingReview.stored(ReviewStore(tmp_path / "r.sqlite"))["source"].to_list() == [
        str(good), "terms.csv",
    ]  # fmt: skip
