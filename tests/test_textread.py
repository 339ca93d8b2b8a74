"""Reading delimited text exactly as written (issue 22): each case of docs/reliability.md that
concerns reading a file has its test here."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from linker.errors import ConfigError, InputError
from linker.frames import check_ids, read, source_of


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_values_and_ids_are_not_trimmed(tmp_path: Path) -> None:
    df = read(write(tmp_path, "l.csv", 'id,name\n L00007 , Acme \n"   ",x\n'))
    assert df.rows() == [(" L00007 ", " Acme "), ("   ", "x")]


def test_repeated_header_name_is_an_error_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.csv", "id,name,name\n1,a,b\n")
    with pytest.raises(InputError, match=r"line 1 \(the header\) repeats column name\(s\) 'name'"):
        read(path)


def test_names_repeated_once_trimmed_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'name'"):
        read(write(tmp_path, "dup.csv", "name, name\n1,2\n"))


def test_blank_header_name_is_an_error_naming_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.csv", "id,,name,\n1,2,3,4\n")
    with pytest.raises(InputError, match=r"column\(s\) 2, 4 have no name") as info:
        read(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "id,name\n1,a\n2,b\n\n\n",
        "id,name\r\n1,a\r\n\r\n2,b\r\n\r\n",
        "\n\nid,name\n1,a\n\n2,b",
    ],
)
def test_blank_lines_are_not_records(tmp_path: Path, text: str) -> None:
    df = read(write(tmp_path, "b.csv", text))
    assert df.rows() == [("1", "a"), ("2", "b")]


def test_a_row_of_empty_fields_is_a_record(tmp_path: Path) -> None:
    assert read(write(tmp_path, "e.csv", "id,name\n,\n1,a\n")).height == 2


def test_blank_line_inside_quotes_is_kept(tmp_path: Path) -> None:
    df = read(write(tmp_path, "q.csv", 'id,note\n1,"one\n\ntwo"\n\n2,x\n'))
    assert df["note"].to_list() == ["one\n\ntwo", "x"]


def test_rows_remember_their_file_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", 'id,note\n\n1,"a\nb"\n2,c\n')
    src = source_of(read(path))
    assert src is not None and src.path == str(path)
    assert src.lines == [3, 5]


def test_null_id_error_gives_the_file_line(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", 'id,name\n1,"two\nlines"\n,b\n3,c\n')
    with pytest.raises(InputError, match=r"at line\(s\) 4 of") as info:
        check_ids(read(path), "id", name="left")
    assert str(path) in str(info.value)


def test_repeated_id_error_gives_the_file_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "id,name\nA,x\nB,y\nA,z\n")
    with pytest.raises(InputError, match=r"'A' \(2 times: line\(s\) 2, 4 of"):
        check_ids(read(path), "id", name="left")


def test_a_derived_frame_falls_back_to_row_numbers(tmp_path: Path) -> None:
    df = read(write(tmp_path, "l.csv", "id\n1\n\n")).with_columns(pl.lit(None).alias("id"))
    with pytest.raises(InputError, match=r"row\(s\) 0 \(0-based\)"):
        check_ids(df, "id", name="left")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32", "utf-32-be", "utf-8-sig"])
def test_utf16_and_utf32_are_found_from_the_bom(tmp_path: Path, codec: str) -> None:
    text = "id\tname\n1\tZoë 東京\n"
    raw = text.encode(codec)
    if codec.endswith("-be"):  # the -be codecs write no BOM: add it as Excel does
        raw = ("\ufeff" + text).encode(codec)
    df = read(write(tmp_path, "u.txt", raw))
    assert df.columns == ["id", "name"]
    assert df.row(0) == ("1", "Zoë 東京")


def test_utf16_without_bom_says_which_encoding_to_pass(tmp_path: Path) -> None:
    path = write(tmp_path, "u.csv", "id,name\n1,a\n".encode("utf-16-le"))
    with pytest.raises(InputError, match="--encoding utf-16-le"):
        read(path)
    assert read(path, encoding="utf-16-le").row(0) == ("1", "a")


def test_decode_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", b"id,name\n1,a\n2,M\xfcller\n")
    with pytest.raises(InputError, match="at line 3"):
        read(path, encoding="utf-8")


def test_non_ascii_delimiter_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ASCII"):
        read(write(tmp_path, "x.csv", "a¦b\n1¦2\n"), delimiter="¦")


def test_fewer_fields_than_the_header_are_nulls(tmp_path: Path) -> None:
    assert read(write(tmp_path, "s.csv", "a,b,c\n1,2\n")).row(0) == ("1", "2", None)


def test_a_blank_header_line_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="line 1: the header is blank"):
        read(write(tmp_path, "w.csv", "   \n1\n"))
