from __future__ import annotations

import polars as pl
import pytest

from linker.errors import ConfigError
from linker.pipeline.serialize import Serializer


@pytest.fixture
def df() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "name": ["Acme  Corp", None, "  Blue\tSky Inc "],
            "city": ["BOSTON", "Paris", None],
            "zip": [2110, None, 80202],
        }
    )


def test_ditto_style(df: pl.DataFrame) -> None:
    assert Serializer(["name", "city"]).texts(df) == [
        "COL name VAL acme corp COL city VAL boston",
        "COL name VAL COL city VAL paris",
        "COL name VAL blue sky inc COL city VAL",
    ]


def test_values_style(df: pl.DataFrame) -> None:
    assert Serializer(["name", "city"], style="values").texts(df) == [
        "acme corp boston",
        "paris",
        "blue sky inc",
    ]


def test_nulls_become_empty_and_no_row_is_dropped(df: pl.DataFrame) -> None:
    cols = Serializer(["name", "zip"]).column_texts(df)
    assert [s.to_list() for s in cols] == [["acme corp", "", "blue sky inc"], ["2110", "", "80202"]]
    assert len(Serializer(["zip"], style="values").texts(df)) == df.height


def test_lowercase_can_be_switched_off(df: pl.DataFrame) -> None:
    texts = Serializer(["name", "city"], style="values", lowercase=False).texts(df)
    assert texts[0] == "Acme Corp BOSTON"


def test_max_chars_cuts_each_column(df: pl.DataFrame) -> None:
    ser = Serializer(["name", "city"], max_chars=4)
    assert ser.texts(df)[0] == "COL name VAL acme COL city VAL bost"
    assert Serializer(["name"], style="values", max_chars=None).texts(df)[2] == "blue sky inc"


def test_names_replace_column_names(df: pl.DataFrame) -> None:
    right = df.rename({"name": "firm", "city": "town"})
    left_texts = Serializer(["name", "city"]).texts(df)
    right_texts = Serializer(["firm", "town"], names=["name", "city"]).texts(right)
    assert left_texts == right_texts


def test_column_order_is_kept(df: pl.DataFrame) -> None:
    assert Serializer(["city", "name"], style="values").texts(df)[0] == "boston acme corp"


def test_whitespace_is_collapsed_inside_values(df: pl.DataFrame) -> None:
    assert Serializer(["name"], style="values").column_texts(df)[0][2] == "blue sky inc"


def test_input_frame_is_unchanged(df: pl.DataFrame) -> None:
    before = df.clone()
    Serializer(["name", "city", "zip"]).texts(df)
    assert df.equals(before)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"columns": ["name"], "style": "json"}, "style"),
        ({"columns": []}, "column"),
        ({"columns": ["name", "city"], "names": ["only_one"]}, "names"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Serializer(**kwargs)  # type: ignore[arg-type]
