"""Default compared columns: row-unique code columns are left out (issue 22)."""

from __future__ import annotations

import polars as pl
import pytest

from linker.errors import ConfigError
from linker.pipeline.columns import default_on, is_row_code, warn_empty


@pytest.mark.parametrize(
    "values",
    [["L00001", "L00002", "L00003"], ["00123", "00124", "00125"], ["rec-1-org", "rec-2", "x9"]],
)
def test_unique_codes_are_row_codes(values: list[str]) -> None:
    assert is_row_code(pl.DataFrame({"ref": values}), "ref")


def test_unique_integers_named_like_ids_are_row_codes() -> None:
    assert is_row_code(pl.DataFrame({"row_number": [1, 2, 3]}), "row_number")
    assert is_row_code(pl.DataFrame({"customerId": ["a", "b"]}), "customerId")


@pytest.mark.parametrize(
    "column, values",
    [
        ("name", ["Acme Corp", "Zeta Ltd", "Blue Sky"]),  # unique, but words
        ("zip", ["02134", "02134", "60601"]),  # codes, but repeated
        ("price", [1.5, 2.5, 3.5]),  # floats are measurements
        ("id", [None, None, None]),  # nothing to judge
    ],
)
def test_other_columns_are_not_row_codes(column: str, values: list[object]) -> None:
    assert not is_row_code(pl.DataFrame({column: values}), column)


def test_default_on_leaves_out_ids_and_the_given_id() -> None:
    left = pl.DataFrame({"id": ["L1", "L2"], "key": ["a", "b"], "name": ["x", "y"]})
    right = pl.DataFrame({"id": ["R1", "R2"], "key": ["c", "d"], "name": ["x", "z"]})
    assert default_on(left, right, ids=("key",)) == (["name"], ["id"])


def test_default_on_with_only_codes_says_so() -> None:
    left = pl.DataFrame({"id": ["L1", "L2"]})
    with pytest.raises(ConfigError, match="'id' look like row ids"):
        default_on(left, pl.DataFrame({"id": ["R1", "R2"]}))


def test_warn_empty_counts_blank_text_as_empty() -> None:
    df = pl.DataFrame({"a": [None, "  "], "b": ["x", None]})
    assert warn_empty(df, ["a", "b"], name="left") == ["a"]
