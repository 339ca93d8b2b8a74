from __future__ import annotations

import csv
import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from linker.errors import ConfigError, InputError
from linker.frames import (
    RESERVED_PREFIX,
    as_polars,
    check_columns,
    check_ids,
    check_not_empty,
    check_reserved,
    read,
    text_values,
    to_kind,
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


# ----------------------------------------------------------------------------- read: text


@pytest.mark.parametrize("sep", [",", ";", "\t", "|", "#", "%", ">"])
def test_read_sniffs_delimiter(tmp_path: Path, sep: str) -> None:
    rows = [["id", "name", "city"], ["00123", "Ann Lee", "Paris"], ["00456", "Bo Kim", "Oslo"]]
    path = write(tmp_path, "people.csv", "\n".join(sep.join(r) for r in rows) + "\n")
    df = read(path)
    assert df.columns == ["id", "name", "city"]
    assert df.get_column("name").to_list() == ["Ann Lee", "Bo Kim"]


def test_read_semicolon_file_with_commas_in_values(tmp_path: Path) -> None:
    text = "id;address;city\n1;12, High Street;Leeds\n2;3, Low Road;York\n3;9 Main St;Bath\n"
    df = read(write(tmp_path, "addr.txt", text))
    assert df.columns == ["id", "address", "city"]
    assert df.get_column("address").to_list() == ["12, High Street", "3, Low Road", "9 Main St"]


def test_read_sniffs_ragged_file_where_csv_sniffer_gives_up(tmp_path: Path) -> None:
    # csv.Sniffer raises on this file; the fallback picks the delimiter matching the header width
    df = read(write(tmp_path, "ragged.csv", "a;b;c\n1;2;3\n4;5\n6;7;8\n"))
    assert df.columns == ["a", "b", "c"]
    assert df.row(1) == ("4", "5", None)


def test_read_overrules_inconsistent_sniffer_guess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class WrongDialect(csv.excel):
        delimiter = "|"

    monkeypatch.setattr(csv.Sniffer, "sniff", lambda self, sample, delimiters=None: WrongDialect)
    df = read(write(tmp_path, "x.csv", "id,name\n1,a|b\n2,c\n"))
    assert df.columns == ["id", "name"]
    assert df.get_column("name").to_list() == ["a|b", "c"]


def test_read_single_column_file(tmp_path: Path) -> None:
    df = read(write(tmp_path, "names.txt", "name\nAnn Lee\nBo\n"))
    assert df.columns == ["name"]
    assert df.get_column("name").to_list() == ["Ann Lee", "Bo"]


def test_read_explicit_delimiter_overrides_sniffing(tmp_path: Path) -> None:
    df = read(write(tmp_path, "x.csv", "a;b,c\n1;2,3\n"), delimiter=";")
    assert df.columns == ["a", "b,c"]
    assert df.row(0) == ("1", "2,3")


def test_read_febrl_style_header_is_trimmed_values_are_not(tmp_path: Path) -> None:
    text = "rec_id, given_name, surname\nrec-1-org, michaela, neumann\nrec-2-org, , smith\n"
    df = read(write(tmp_path, "febrl.csv", text))
    assert df.columns == ["rec_id", "given_name", "surname"]
    assert df.row(0) == ("rec-1-org", " michaela", " neumann")
    assert df.row(1) == ("rec-2-org", " ", " smith")


def test_read_quoted_newline_inside_field(tmp_path: Path) -> None:
    text = 'id,note\n1,"line one\nline two"\n2,plain\n'
    df = read(write(tmp_path, "notes.csv", text))
    assert df.height == 2
    assert df.get_column("note").to_list() == ["line one\nline two", "plain"]


def test_read_strips_utf8_bom_from_first_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbfid,name\n1,Zo\xc3\xab\n")
    df = read(path)
    assert df.columns == ["id", "name"]
    assert df.row(0) == ("1", "Zoë")


def test_read_bom_with_explicit_encoding(tmp_path: Path) -> None:
    df = read(write(tmp_path, "bom.csv", b"\xef\xbb\xbfid;name\n1;a\n"), encoding="utf-8")
    assert df.columns == ["id", "name"]


def test_read_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    df = read(write(tmp_path, "odd.csv", b"id,name\n1,A\x81B\xe9\n"))
    assert df.row(0) == ("1", "A\x81Bé")


def test_read_latin1_fallback_logs_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "de.csv", "id;name\n1;Müller\n2;Gärtner\n".encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="linker.io.text"):
        df = read(path)
    assert df.get_column("name").to_list() == ["Müller", "Gärtner"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "latin-1" in message and "encoding=" in message and str(path) in message


def test_read_explicit_encoding_gives_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "de.csv", "id,name\n1,Müller\n".encode("cp1252"))
    with caplog.at_level(logging.WARNING, logger="linker.io.text"):
        df = read(path, encoding="cp1252")
    assert df.row(0) == ("1", "Müller")
    assert not caplog.records


def test_read_wrong_explicit_encoding_is_input_error(tmp_path: Path) -> None:
    path = write(tmp_path, "de.csv", "id,name\n1,Müller\n".encode("latin-1"))
    with pytest.raises(InputError, match="utf-8") as info:
        read(path, encoding="utf-8")
    assert str(path) in str(info.value)
    assert info.value.__cause__ is not None


def test_read_keeps_leading_zero_ids_as_text(tmp_path: Path) -> None:
    df = read(write(tmp_path, "ids.csv", "id,zip,amount\n00123,01000,3.50\n00007,02134,10\n"))
    assert df.schema == {"id": pl.String, "zip": pl.String, "amount": pl.String}
    assert df.get_column("id").to_list() == ["00123", "00007"]
    assert df.get_column("amount").to_list() == ["3.50", "10"]


def test_read_empty_values_become_null_blank_values_stay(tmp_path: Path) -> None:
    df = read(write(tmp_path, "blank.csv", 'id,name\n1,\n2,   \n3,"  Bob  "\n'))
    assert df.get_column("name").to_list() == [None, "   ", "  Bob  "]


def test_read_header_only_gives_empty_frame(tmp_path: Path) -> None:
    df = read(write(tmp_path, "header.csv", "id;name\n"))
    assert df.columns == ["id", "name"]
    assert df.height == 0


def test_read_empty_file_is_input_error(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.csv", "")
    with pytest.raises(InputError, match="empty") as info:
        read(path)
    assert str(path) in str(info.value)


def test_read_unknown_extension_is_text(tmp_path: Path) -> None:
    df = read(write(tmp_path, "people.dat", "id|name\n1|Ann\n"))
    assert df.row(0) == ("1", "Ann")


def test_read_large_file_sniffs_past_cut_inside_quoted_field(tmp_path: Path) -> None:
    long_note = '"' + "word; " * 40 + '\nnext line"'  # semicolons and a newline inside quotes
    lines = ["id,note,city"] + [f"{i:05d},{long_note},Rome" for i in range(400)]
    path = write(tmp_path, "big.csv", "\n".join(lines) + "\n")
    assert path.stat().st_size > 64 * 1024
    df = read(path)
    assert df.shape == (400, 3)
    assert df.get_column("city").unique().to_list() == ["Rome"]
    assert df.get_column("id")[0] == "00000"


def test_read_missing_file_names_path(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "left.csv"
    with pytest.raises(InputError, match="does not exist") as info:
        read(path)
    assert str(path) in str(info.value)


def test_read_empty_directory_is_input_error(tmp_path: Path) -> None:
    # a folder is read as a table of many files (tests/test_partitioned_io.py); an empty one
    with pytest.raises(InputError, match="holds no file") as info:
        read(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_read_ragged_row_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "ragged.csv", "a,b\n1,2\n\n1,2,3,4\n")
    with pytest.raises(InputError, match="delimiter") as info:
        read(path)
    message = str(info.value)
    assert f"{str(path)!r}, line 4: 4 fields but the header has 2" in message
    assert "truncate_ragged_lines" not in message


def test_read_parse_failure_names_file_and_cause(tmp_path: Path) -> None:
    path = write(tmp_path, "quotes.csv", 'a,b\n1,ab"c\n2,d\n')
    with pytest.raises(InputError, match="quotes") as info:
        read(path)
    assert str(path) in str(info.value)
    assert info.value.__cause__ is not None


def test_read_rejects_bad_options(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "a,b\n1,2\n")
    with pytest.raises(ConfigError, match="single ASCII character"):
        read(path, delimiter=";;")
    with pytest.raises(ConfigError, match="no-such-codec"):
        read(path, encoding="no-such-codec")


# ----------------------------------------------------------------------------- read: parquet


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_round_trip_keeps_types(tmp_path: Path, suffix: str) -> None:
    original = pl.DataFrame({"id": [1, 2], "score": [0.5, None], "name": [" Ann ", None]})
    path = tmp_path / f"data{suffix}"
    original.write_parquet(path)
    df = read(path)
    assert df.schema == original.schema
    assert df.equals(original)  # parquet is kept as-is, text is not trimmed


def test_corrupt_parquet_is_input_error(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.parquet", b"not parquet at all")
    with pytest.raises(InputError, match="Parquet") as info:
        read(path)
    assert str(path) in str(info.value)


# ----------------------------------------------------------------------------- conversions


def test_polars_frame_is_returned_as_is() -> None:
    df = pl.DataFrame({"id": [1]})
    out, kind = as_polars(df, name="left")
    assert out is df
    assert kind == "polars"


def test_lazyframe_is_collected() -> None:
    lazy = pl.LazyFrame({"id": [1, 2, 3]}).filter(pl.col("id") > 1)
    out, kind = as_polars(lazy, name="right")
    assert isinstance(out, pl.DataFrame)
    assert out.get_column("id").to_list() == [2, 3]
    assert kind == "polars"


@pytest.mark.parametrize("as_str", [True, False])
def test_path_is_read(tmp_path: Path, as_str: bool) -> None:
    path = write(tmp_path, "left.csv", "id,name\n007,Bond\n")
    out, kind = as_polars(str(path) if as_str else path, name="left")
    assert out.row(0) == ("007", "Bond")
    assert kind == "polars"


def test_missing_path_error_names_table_and_path(tmp_path: Path) -> None:
    path = tmp_path / "missing.csv"
    with pytest.raises(InputError) as info:
        as_polars(path, name="right")
    assert "'right'" in str(info.value)
    assert str(path) in str(info.value)


def test_pandas_in_pandas_out() -> None:
    user = pd.DataFrame({"id": ["a", "b"], "n": [1, 2]}, index=[10, 20])
    out, kind = as_polars(user, name="left")
    assert kind == "pandas"
    assert out.columns == ["id", "n"]  # the non-default index is not added
    back = to_kind(out, kind)
    assert isinstance(back, pd.DataFrame)
    assert back["id"].tolist() == ["a", "b"]
    assert back["n"].tolist() == [1, 2]


def test_pandas_frame_is_not_mutated() -> None:
    user = pd.DataFrame({"id": ["x", None], "v": [1.5, float("nan")]}, index=["r1", "r2"])
    snapshot = user.copy(deep=True)
    out, _ = as_polars(user, name="left")
    to_kind(out.with_columns(pl.lit(1).alias("extra")), "pandas")
    pd.testing.assert_frame_equal(user, snapshot)
    assert list(user.columns) == ["id", "v"]
    assert list(user.index) == ["r1", "r2"]
    assert out.get_column("v").null_count() == 1  # NaN arrives as null


def test_pandas_conversion_failure_is_input_error() -> None:
    mixed = pd.DataFrame({"id": [1, "x"]}, dtype=object)
    with pytest.raises(InputError, match="'left'") as info:
        as_polars(mixed, name="left")
    assert "astype(str)" in str(info.value)


@pytest.mark.parametrize("bad", [[{"id": 1}], {"id": [1]}, 42, None])
def test_unsupported_type_is_rejected(bad: object) -> None:
    with pytest.raises(InputError) as info:
        as_polars(bad, name="left")
    message = str(info.value)
    assert "'left'" in message
    assert "polars DataFrame" in message and "pandas DataFrame" in message
    assert type(bad).__name__ in message


def test_to_kind_polars_and_bad_kind() -> None:
    df = pl.DataFrame({"id": [1]})
    assert to_kind(df, "polars") is df
    with pytest.raises(ConfigError, match="'polars', 'pandas'"):
        to_kind(df, "arrow")  # type: ignore[arg-type]


def test_import_does_not_import_pandas() -> None:
    code = "import sys, linker.frames; print('pandas' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# ----------------------------------------------------------------------------- validation


def test_check_columns_lists_missing_available_and_close_matches() -> None:
    df = pl.DataFrame({"id": [1], "surname": ["x"], "City": ["y"]})
    with pytest.raises(InputError) as info:
        check_columns(df, ["id", "surnme", "city", "zzz"], name="left")
    message = str(info.value)
    assert "'left'" in message
    assert "'surnme', 'city', 'zzz'" in message
    assert "Available columns: 'id', 'surname', 'City'" in message
    assert "did you mean 'surname'" in message
    assert "did you mean 'City'" in message
    assert "'zzz' did you mean" not in message


def test_check_columns_passes_and_accepts_single_string() -> None:
    df = pl.DataFrame({"name": ["a"]})
    check_columns(df, ["name"], name="left")
    check_columns(df, "name", name="left")
    with pytest.raises(InputError, match="'nam'"):
        check_columns(df, "nam", name="left")


def test_check_not_empty() -> None:
    check_not_empty(pl.DataFrame({"id": [1]}), name="left")
    with pytest.raises(InputError, match="'right' has no records") as info:
        check_not_empty(pl.DataFrame({"id": []}, schema={"id": pl.Int64}), name="right")
    assert "'id'" in str(info.value)


def test_check_reserved() -> None:
    check_reserved(pl.DataFrame({"id": [1], "lk_note": [2]}), name="left")
    df = pl.DataFrame({"id": [1], f"{RESERVED_PREFIX}score": [0.5]})
    with pytest.raises(InputError) as info:
        check_reserved(df, name="left")
    message = str(info.value)
    assert "'left'" in message and "'__lk_score'" in message and "Rename" in message


def test_check_ids_null_rows_are_listed() -> None:
    df = pl.DataFrame({"id": ["a", None, "c", None, "e"]})
    with pytest.raises(InputError) as info:
        check_ids(df, "id", name="left")
    message = str(info.value)
    assert "'left'" in message and "'id'" in message
    assert "2 null id(s)" in message
    assert "row(s) 1, 3 (0-based)" in message


def test_check_ids_many_nulls_are_cut() -> None:
    df = pl.DataFrame({"id": [None] * 8}, schema={"id": pl.String})
    with pytest.raises(InputError, match=r"row\(s\) 0, 1, 2, 3, 4, \.\.\. \(0-based\)"):
        check_ids(df, "id", name="left")


def test_check_ids_duplicates_show_examples_and_counts() -> None:
    df = pl.DataFrame({"rid": [1, 2, 2, 3, 3, 3, 4]})
    with pytest.raises(InputError) as info:
        check_ids(df, "rid", name="right")
    message = str(info.value)
    assert "'right'" in message and "'rid'" in message
    assert "2 repeated id value(s)" in message
    assert "e.g. 3 (3 times: row(s) 3, 4, 5 (0-based)), 2 (2 times: row(s) 1, 2" in message


def test_check_ids_missing_column_and_valid_ids() -> None:
    check_ids(pl.DataFrame({"id": ["a", "b"]}), "id", name="left")
    with pytest.raises(InputError, match="did you mean 'id'"):
        check_ids(pl.DataFrame({"id": ["a"]}), "ID", name="left")


def test_text_values() -> None:
    df = pl.DataFrame(
        {
            "s": ["a", None, "c"],
            "i": [1, None, 3],
            "f": [3.0, 0.5, None],
            "l": [[1], None, [2, 3]],
        }
    )
    assert text_values(df, "s") == ["a", "", "c"]
    assert text_values(df, "i") == ["1", "", "3"]
    assert text_values(df, "f") == ["3.0", "0.5", ""]
    assert text_values(df, "l") == ["[1]", "", "[2, 3]"]
    with pytest.raises(InputError, match="'missing'"):
        text_values(df, "missing")
