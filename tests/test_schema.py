"""Schema and glossary matching on small real tables, with the real packaged model."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import linker as lk
from linker.errors import ConfigError, InputError, RerankError
from linker.protocols import Query
from linker.schema import (
    ColumnProfile,
    Schema,
    SchemaMatcher,
    as_schema,
    glossary_schema,
    map_values,
    match_glossary,
    match_schema,
    match_values,
)
from linker.schema.names import has_meaning, name_text, split_name
from linker.schema.profiles import profile_series
from linker.vectors.embed import Encoder

OUT_COLUMNS = ["source_column", "target_column", "score", "rank", "reason"]


@pytest.fixture
def patients() -> pl.DataFrame:
    """A small clinical source table: plain names, an abbreviation, a column whose header says
    nothing (``col_7`` holds sexes), an all-null column and a number column."""
    return pl.DataFrame(
        {
            "PatientAge": ["34", "61", "47", "72", "55", "29"],
            "col_7": ["Male", "Female", "Female", "Male", "Female", "Male"],
            "smoking_history": ["Never", "Current", "Former", "Never", "Current", "Never"],
            "tumor_size_cm": ["2.1", "4.5", "1.2", "3.3", "0.9", "5.0"],
            "notes_unused": [None, None, None, None, None, None],
            "ethnic_group": ["Hispanic", "Not Hispanic", "Not Hispanic", "Hispanic", "NA", "NA"],
        }
    )


@pytest.fixture
def standard() -> Schema:
    """A GDC-like target standard without data: names, descriptions, allowed values."""
    return Schema(
        [
            ColumnProfile("age_at_diagnosis", "Age of the patient at diagnosis, in years"),
            ColumnProfile(
                "gender",
                "Self-reported gender of the patient",
                values=("female", "male", "unknown"),
            ),
            ColumnProfile(
                "tobacco_smoking_status",
                "Whether and how much the patient smoked tobacco",
                values=("Never", "Current", "Former", "Unknown"),
            ),
            ColumnProfile(
                "tumor_largest_dimension_diameter",
                "The largest diameter of the tumor, in centimeters",
            ),
            ColumnProfile(
                "ethnicity",
                "Self-reported ethnic group",
                values=("hispanic or latino", "not hispanic or latino"),
            ),
            ColumnProfile("days_to_death", "Days from diagnosis to the death of the patient"),
            ColumnProfile("vital_status", "Whether the patient is alive or dead"),
            ColumnProfile("primary_site", "The organ or site where the primary tumor occurred"),
        ],
        name="standard",
    )


def top1(out: pl.DataFrame) -> dict[str, str | None]:
    best = out.filter(pl.col("rank").is_null() | (pl.col("rank") == 1))
    return dict(best.select("source_column", "target_column").iter_rows())


# -- names and profiles ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("PatientDOB", ["patient", "dob"]),
        ("tumor_size_cm", ["tumor", "size", "cm"]),
        ("Smoking.History", ["smoking", "history"]),
        ("Age in Months at Time", ["age", "in", "months", "at", "time"]),
        ("pT2a", ["p", "t", "2", "a"]),
    ],
)
def test_split_name(name: str, words: list[str]) -> None:
    assert split_name(name) == words


def test_name_text_expands_abbreviations_and_user_entries() -> None:
    assert name_text("pt_DOB") == "pt date of birth"
    assert name_text("pt_DOB", {"pt": "patient"}) == "patient date of birth"
    assert name_text("clin_stage") == "clinical stage"


@pytest.mark.parametrize("name", ["col_3", "Unnamed: 0", "X1", "", "  ", "V12", "field"])
def test_names_without_header_meaning(name: str) -> None:
    assert not has_meaning(name)


def test_profile_kinds_values_and_ranges() -> None:
    num = profile_series(pl.Series("age", ["34", "61", None, "47", " 72 "]))
    assert num.kind == "number"
    assert num.low is not None and num.high is not None and 34 <= num.low < num.high <= 72
    text = profile_series(pl.Series("sex", ["M", "F", "M", None]))
    assert (text.kind, text.values) == ("text", ("M", "F"))
    empty = profile_series(pl.Series("x", [None, None], dtype=pl.String))
    assert (empty.kind, empty.values, empty.low) == ("empty", (), None)


# -- input handling -------------------------------------------------------------------------
def test_duplicate_column_names_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="repeats column name"):
        as_schema(["age", "sex", "age"], name="source")
    frame = pd.DataFrame([[1, 2, 3]], columns=["age", "sex", "age"])
    with pytest.raises(InputError, match="'age'"):
        as_schema(frame, name="source")
    path = tmp_path / "dup.csv"
    path.write_text("age,sex,age\n41,F,41\n")
    with pytest.raises(InputError, match=r"dup\.csv.*'age'"):
        as_schema(path, name="source")


def test_schema_table_without_data_and_its_errors() -> None:
    table = pl.DataFrame(
        {
            "column": ["gender", "race"],
            "description": ["Self-reported gender", None],
            "values": ["female|male", None],
        }
    )
    s = as_schema(table, name="target", is_schema=True, values="values")
    assert s.names == ["gender", "race"]
    assert s.columns[0].values == ("female", "male")
    assert s.columns[1].description is None
    with pytest.raises(InputError, match="'column'"):
        as_schema(table.rename({"column": "name"}), name="target", is_schema=True)
    with pytest.raises(InputError, match="empty names"):
        as_schema(
            pl.DataFrame({"column": ["a", None], "description": ["x", "y"]}),
            name="target",
            is_schema=True,
        )


def test_header_only_csv_is_a_schema_of_names(tmp_path: Path) -> None:
    path = tmp_path / "standard.csv"
    path.write_text("date_of_birth,gender,vital_status\n")
    s = as_schema(path, name="target")
    assert s.names == ["date_of_birth", "gender", "vital_status"]
    assert {c.kind for c in s.columns} == {"unknown"}


def test_bad_inputs_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.csv"):
        match_schema(tmp_path / "missing.csv", ["age"])
    with pytest.raises(InputError, match="no columns"):
        Schema([], name="empty")


# -- matching -------------------------------------------------------------------------------
def test_match_schema_on_a_small_clinical_table(
    patients: pl.DataFrame, standard: Schema, minilm: Encoder
) -> None:
    out = match_schema(patients, standard, top_k=3, model=minilm)
    assert out.columns == OUT_COLUMNS
    assert out.schema["score"] == pl.Float64 and out.schema["rank"] == pl.Int64
    best = top1(out)
    assert best["PatientAge"] == "age_at_diagnosis"
    assert best["smoking_history"] == "tobacco_smoking_status"
    assert best["tumor_size_cm"] == "tumor_largest_dimension_diameter"
    assert best["ethnic_group"] == "ethnicity"
    # the header says nothing, the values do
    assert best["col_7"] == "gender"
    assert "values" in out.filter(pl.col("source_column") == "col_7")["reason"][0]
    # all-null column: still matched on its name, with ranks 1..k and scores in (0, 1)
    assert out.filter(pl.col("source_column") == "notes_unused").height == 3
    assert out["score"].is_between(0.0, 1.0).all()
    for _, group in out.group_by("source_column"):
        assert group["rank"].to_list() == [1, 2, 3]
        assert group["score"].to_list() == sorted(group["score"].to_list(), reverse=True)
    # rows follow the source column order
    assert out["source_column"].unique(maintain_order=True).to_list() == patients.columns


def test_all_null_column_without_header_meaning_gets_a_null_row(
    minilm: Encoder, caplog: pytest.LogCaptureFixture
) -> None:
    source = pl.DataFrame({"age": ["41", "63"], "Unnamed: 3": pl.Series([None, None], dtype=str)})
    with caplog.at_level(logging.WARNING, logger="linker"):
        out = match_schema(source, {"age_years": "Age in years", "sex": None}, model=minilm)
    empty = out.filter(pl.col("source_column") == "Unnamed: 3")
    assert empty.height == 1 and empty["target_column"][0] is None
    assert empty["reason"][0] == "nothing to compare"
    assert "Unnamed: 3" in caplog.text
    assert top1(out)["age"] == "age_years"


def test_schema_without_data_on_both_sides(minilm: Encoder) -> None:
    source = ["cust_dob", "cust_nm", "order_total_amt"]
    target = {
        "customer_name": "Full name of the customer",
        "birth_date": "Date the customer was born",
        "amount": "Total amount of the order in dollars",
        "ship_city": "City the order is shipped to",
    }
    out = match_schema(source, target, top_k=2, model=minilm)
    assert top1(out) == {
        "cust_dob": "birth_date",
        "cust_nm": "customer_name",
        "order_total_amt": "amount",
    }


def test_meaningless_header_is_described_by_its_values(minilm: Encoder) -> None:
    source = pl.DataFrame({"PatientAge": ["34", "61"], "col_7": ["Male", "Female"]})
    standard = {"age_at_diagnosis": "Age of the patient at diagnosis", "gender": "Gender"}
    assert top1(match_schema(source, standard, model=minilm)) == {
        "PatientAge": "age_at_diagnosis",
        "col_7": "gender",
    }


def test_pandas_in_pandas_out(patients: pl.DataFrame, standard: Schema, minilm: Encoder) -> None:
    out = lk.match_schema(patients.to_pandas(), standard, top_k=1, model=minilm)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == OUT_COLUMNS


def test_one_to_one_uses_each_target_once(
    patients: pl.DataFrame, standard: Schema, minilm: Encoder
) -> None:
    out = match_schema(patients, standard, one_to_one=True, model=minilm).drop_nulls("rank")
    assert out["target_column"].n_unique() == out.height
    assert out["source_column"].n_unique() == out.height
    assert set(out["rank"].to_list()) == {1}
    assert top1(out)["col_7"] == "gender"


def test_seeded_runs_give_identical_csv(
    patients: pl.DataFrame, standard: Schema, minilm: Encoder, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    match_schema(patients, standard, model=minilm).write_csv(a)
    match_schema(patients, standard, model=minilm).write_csv(b)
    assert a.read_bytes() == b.read_bytes()


def test_signal_weights_select_the_variant(minilm: Encoder) -> None:
    source, target = ["PatientAge"], ["age_at_diagnosis", "patient_id", "page_count"]
    fuzzy = SchemaMatcher(weights={"name_fuzzy": 1.0}, model=minilm).scored_pairs(
        Schema.from_names(source), Schema.from_names(target)
    )
    assert fuzzy["name_embed"].is_not_nan().all()  # every signal is measured ...
    assert fuzzy["score"].n_unique() >= 2  # ... but only the chosen one scores
    with pytest.raises(ConfigError, match="weights"):
        match_schema(source, target, weights={"colour": 1.0}, model=minilm)
    with pytest.raises(ConfigError, match="top_k"):
        match_schema(source, target, top_k=0, model=minilm)


class Reverse:
    """A :class:`~linker.protocols.Reranker` that puts the retriever's last candidate first."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def rerank(self, queries: Sequence[Query]) -> list[list[float | None]]:
        self.seen += [q.left["name"] for q in queries]
        return [[i / max(len(q.right) - 1, 1) for i in range(len(q.right))] for q in queries]

    def report(self) -> dict[str, float]:
        return {"queries": len(self.seen)}


def test_reranker_reorders_the_best_candidates(minilm: Encoder) -> None:
    target = ["age_at_diagnosis", "gender", "race", "ethnicity"]
    plain = match_schema(["age"], target, top_k=4, model=minilm)
    rr, report = Reverse(), dict[str, float]()
    out = match_schema(["age"], target, top_k=4, model=minilm, rerank=rr, rerank_report=report)
    assert rr.seen == ["age"] and report == {"queries": 1.0}
    assert out["target_column"].to_list() == plain["target_column"].to_list()[::-1]
    assert out["score"].is_between(0, 1).all()


def test_reranker_with_wrong_score_count_is_a_rerank_error(minilm: Encoder) -> None:
    class Short(Reverse):
        def rerank(self, queries: Sequence[Query]) -> list[list[float | None]]:
            return [[1.0] for _ in queries]

    with pytest.raises(RerankError, match="1 scores for 2 candidates of source column 'age'"):
        match_schema(["age"], ["age_at_diagnosis", "gender"], model=minilm, rerank=Short())


class OldReverse:
    """An older hook, ``rerank(column, candidates, scores) -> scores`` (deprecated)."""

    def rerank(
        self, column: ColumnProfile, candidates: Sequence[ColumnProfile], scores: Sequence[float]
    ) -> Sequence[float]:
        return [0.1 + 0.8 * i / max(len(candidates) - 1, 1) for i in range(len(candidates))]


def test_older_hook_still_works_with_a_deprecation_warning(minilm: Encoder) -> None:
    target = ["age_at_diagnosis", "gender", "race", "ethnicity"]
    plain = match_schema(["age"], target, top_k=4, model=minilm)
    with pytest.warns(DeprecationWarning, match=r"rerank\(\) takes \(column") as seen:
        out = match_schema(["age"], target, top_k=4, model=minilm, reranker=OldReverse())
    assert [w.filename for w in seen] == [__file__]  # points at the caller, once
    assert out["target_column"].to_list() == plain["target_column"].to_list()[::-1]
    assert out["score"].to_list() == pytest.approx([0.9, 0.6333, 0.3667, 0.1], abs=1e-4)

    class Short(OldReverse):
        def rerank(
            self, column: ColumnProfile, candidates: Sequence[ColumnProfile], scores: object
        ) -> Sequence[float]:
            return [1.0]

    with pytest.warns(DeprecationWarning), pytest.raises(RerankError, match="'age'"):
        match_schema(["age"], target, model=minilm, reranker=Short())


def test_reranker_keyword_is_deprecated_for_new_rerankers(minilm: Encoder) -> None:
    rr = Reverse()
    with pytest.warns(DeprecationWarning, match="pass the reranker as rerank=") as seen:
        out = match_schema(["age"], ["age_at_diagnosis", "gender"], model=minilm, reranker=rr)
    assert [w.filename for w in seen] == [__file__] and rr.seen == ["age"]
    assert out["target_column"].to_list() == ["gender", "age_at_diagnosis"]


# -- glossary -------------------------------------------------------------------------------
@pytest.fixture
def glossary() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "term": ["Customer Name", "Date of Birth", "Order Total", "Country", "Loyalty Tier"],
            "description": [
                "Full legal name of the buying customer",
                "The day the customer was born",
                None,  # missing descriptions are allowed
                "",
                "Membership level of the customer in the rewards program",
            ],
            "allowed": [None, None, None, "France|Germany|Spain", "Bronze|Silver|Gold"],
        }
    )


def test_match_glossary_with_missing_descriptions(
    glossary: pl.DataFrame, minilm: Encoder, caplog: pytest.LogCaptureFixture
) -> None:
    table = pl.DataFrame(
        {
            "cust_nm": ["Ann Lee", "Bo Chan"],
            "dob": ["1970-01-02", "1985-06-30"],
            "total_amt": ["19.99", "5.00"],
            "ctry": ["France", "Spain"],
            "lvl": ["Gold", "Bronze"],
        }
    )
    with caplog.at_level(logging.WARNING, logger="linker"):
        out = match_glossary(table, glossary, values="allowed", top_k=2, model=minilm)
    assert "2 of 5 term(s) have no description" in caplog.text
    assert out.columns == ["column", "term", "score", "rank", "reason"]
    best = dict(out.filter(pl.col("rank") == 1).select("column", "term").iter_rows())
    assert best == {
        "cust_nm": "Customer Name",
        "dob": "Date of Birth",
        "total_amt": "Order Total",
        "ctry": "Country",
        "lvl": "Loyalty Tier",
    }
    reason = out.filter((pl.col("column") == "lvl") & (pl.col("rank") == 1))["reason"][0]
    assert "shared values" in reason


def test_glossary_errors_name_the_column(glossary: pl.DataFrame) -> None:
    with pytest.raises(InputError, match="'definition'"):
        glossary_schema(glossary, description="definition")
    repeated = pl.concat([glossary, glossary.head(1)])
    with pytest.raises(InputError, match="'Customer Name'"):
        glossary_schema(repeated)
    no_term = glossary.with_columns(pl.lit(None, dtype=pl.String).alias("term"))
    with pytest.raises(InputError, match="'term' column holds the terms"):
        glossary_schema(no_term)


# -- values ---------------------------------------------------------------------------------
def test_match_values_to_allowed_values(minilm: Encoder) -> None:
    out = match_values(
        ["Male", "F", "female", None, "Male"],
        {"female": "Female sex", "male": "Male sex", "unknown": None},
        model=minilm,
    )
    assert dict(out.select("value", "allowed_value").iter_rows()) == {
        "Male": "male",
        "F": "female",
        "female": "female",
    }
    assert out.filter(pl.col("value") == "Male")["score"][0] == 1.0


def test_map_values_after_match_schema(
    patients: pl.DataFrame, standard: Schema, minilm: Encoder
) -> None:
    mapping = match_schema(patients, standard, top_k=1, model=minilm)
    out = map_values(patients, standard, mapping, model=minilm)
    pairs = {
        (c, v): a for c, v, a in out.select("source_column", "value", "allowed_value").iter_rows()
    }
    assert pairs[("col_7", "Female")] == "female"
    assert pairs[("smoking_history", "Former")] == "Former"
    assert pairs[("ethnic_group", "Not Hispanic")] == "not hispanic or latino"
    assert "PatientAge" not in out["source_column"].to_list()  # no allowed values: skipped
    with pytest.raises(InputError, match="no column"):
        map_values(patients, standard, {"col_7": "sex"}, model=minilm)
