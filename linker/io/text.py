"""Read a delimited text file exactly as written: decode, sniff, find records, parse.

What :func:`read_text` promises (the rest of linker relies on it):

- **Values in, values out.** Every value is read as text, unchanged: no trimming, no
  re-typing (``" L00007 "`` stays ``" L00007 "``, ``"00123"`` keeps its zeros). An empty
  field is null (CSV cannot tell the two apart). Header names are trimmed of surrounding
  spaces (a header is not a value), and a header that repeats a name or leaves one blank is
  an :class:`~linker.errors.InputError` naming them.
- **Records are records.** Blank lines (anywhere, outside quotes) are not records; a quoted
  field may hold newlines. A row with more fields than the header is an error naming the
  file and its line.
- **Line numbers as an editor shows them.** Each data row's 1-based line in the file is
  returned, so later errors (a null id, a repeated id) can name the line.
- **Encodings.** UTF-8 with or without a BOM; UTF-16 and UTF-32 found from their BOM; other
  bytes are read as cp1252 (latin-1 for its five undefined bytes) with a warning; an explicit
  ``encoding`` always wins.

Records are found with a vectorised scan (a newline ends a record when an even number of
``"`` precede it), so a large file costs a few passes of numpy over its bytes.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.errors import ConfigError, InputError

__all__ = ["check_delimiter", "parse_text", "read_text"]

logger = logging.getLogger(__name__)

_DELIMITERS = ",;\t|#%>"
_SNIFF_BYTES = 64 * 1024
_VALIDATE_CHUNK = 1 << 20
_SHOW = 5
# Longest BOM first: UTF-32-LE's BOM starts with UTF-16-LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NL, _CR, _QUOTE = 10, 13, 34


@dataclass(frozen=True)
class _Records:
    """Where each record of a UTF-8 buffer starts and ends (end excludes the newline)."""

    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    lines: npt.NDArray[np.int64]  # 1-based line of each record's first character
    blank: npt.NDArray[np.bool_]


def read_text(
    path: Path, *, delimiter: str | None, encoding: str | None
) -> tuple[pl.DataFrame, list[int] | None]:
    """Read a delimited text file; return the frame and each data row's 1-based line.

    The line list is ``None`` when the rows cannot be tied to lines (it never is for a file
    polars and the scan read alike).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "people.csv"
        >>> _ = path.write_text("id;name\\n\\n00123; Ann \\n\\n", encoding="utf-8")
        >>> df, lines = read_text(path, delimiter=None, encoding=None)
        >>> df.row(0), lines
        (('00123', ' Ann '), [3])
    """
    check_delimiter(delimiter)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"Cannot open {str(path)!r}: {e}") from e
    return parse_text(raw, name=str(path), delimiter=delimiter, encoding=encoding)


def check_delimiter(delimiter: str | None) -> None:
    """Raise :class:`~linker.errors.ConfigError` unless ``delimiter`` is one ASCII character
    (or ``None``, sniffed).

    Example:
        >>> check_delimiter(";")
    """
    if delimiter is not None and (len(delimiter) != 1 or not delimiter.isascii()):
        raise ConfigError(
            f"delimiter must be a single ASCII character (e.g. ',', ';' or a tab); "
            f"got {delimiter!r}."
        )


def parse_text(
    raw: bytes, *, name: str, delimiter: str | None, encoding: str | None
) -> tuple[pl.DataFrame, list[int] | None]:
    """:func:`read_text` of a file's bytes (read from any filesystem); ``name`` is the file's
    path or URI, which messages name.

    Example:
        >>> parse_text(b"id,name\\n7,Ann\\n", name="a.csv", delimiter=None, encoding=None)[0].row(0)
        ('7', 'Ann')
    """
    check_delimiter(delimiter)
    data = _to_utf8(raw, path=name, encoding=encoding)
    buf = np.frombuffer(data, dtype=np.uint8)
    records = _records(buf)
    keep = np.flatnonzero(~records.blank)
    if not len(keep):
        raise InputError(f"File {name!r} is empty: it needs a header line.")
    sample = data[:_SNIFF_BYTES].decode("utf-8", errors="ignore")
    sep = delimiter or _sniff_delimiter(sample, truncated=len(data) > _SNIFF_BYTES)
    head = keep[0]
    header_text = data[records.starts[head] : records.ends[head]].decode("utf-8")
    names = _header(header_text, sep, path=name, line=int(records.lines[head]))
    rows = keep[1:]
    _check_widths(buf, records, rows, sep=sep, width=len(names), path=name)
    if records.blank.any():  # give polars the file without its blank lines
        data = b"\n".join(data[records.starts[i] : records.ends[i]] for i in keep)
    logger.debug("reading %s with delimiter %r", name, sep)
    try:
        df = pl.read_csv(data, separator=sep, infer_schema=False, raise_if_empty=False)
    except Exception as e:  # polars raises ComputeError, NoDataError, ... on bad text
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(
            f"Cannot parse {name!r} with delimiter {sep!r}: {reason}. Check the quotes "
            "in the file, or pass the right delimiter (--delimiter) and encoding (--encoding)."
        ) from e
    df = df.rename(dict(zip(df.columns, names, strict=True)))
    lines = records.lines[rows].tolist()
    if df.height != len(lines):
        logger.debug("%s: %d rows but %d records; no line numbers", name, df.height, len(lines))
        return df, None
    return df, lines


def _to_utf8(raw: bytes, *, path: str, encoding: str | None) -> bytes:
    """Return the file as UTF-8 bytes without a BOM."""
    if encoding is None:
        encoding = next((codec for bom, codec in _BOMS if raw.startswith(bom)), None)
        if encoding is None and b"\x00" in raw[:_SNIFF_BYTES]:
            raise InputError(
                f"File {path!r} holds NUL bytes: it is probably UTF-16 or UTF-32 without "
                "a byte-order mark. Pass its encoding (--encoding utf-16-le, or encoding=...)."
            )
        if encoding is None and _is_utf8(raw):
            return raw
    if encoding is None:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:  # cp1252 leaves five bytes undefined; latin-1 maps all
            text = raw.decode("latin-1")
        logger.warning(
            "%s is not valid UTF-8, so it was read as latin-1 (cp1252). If the text looks "
            "wrong, pass its encoding (--encoding, or encoding=... e.g. 'utf-16').",
            path,
        )
    else:
        try:
            text = raw.decode(encoding)
        except LookupError as e:
            raise ConfigError(f"Unknown encoding {encoding!r}; try 'utf-8' or 'cp1252'.") from e
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise InputError(
                f"Cannot decode {path!r} as {encoding!r} at line {line}: {e.reason}. "
                "Pass the file's real encoding (--encoding, or encoding=...)."
            ) from e
    return text.removeprefix("\ufeff").encode("utf-8")


def _is_utf8(raw: bytes) -> bool:
    """Whether ``raw`` is valid UTF-8, checked in chunks to keep memory flat."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(raw), _VALIDATE_CHUNK):
            decoder.decode(raw[start : start + _VALIDATE_CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _records(buf: npt.NDArray[np.uint8]) -> _Records:
    """Find the records: a newline outside quotes (an even number of ``"`` before it) ends one."""
    newlines = np.flatnonzero(buf == _NL)
    quotes = np.flatnonzero(buf == _QUOTE)
    outside = np.searchsorted(quotes, newlines) % 2 == 0
    ends = newlines[outside]
    starts = np.concatenate(([0], ends + 1)).astype(np.int64)
    ends = np.concatenate((ends, [len(buf)])).astype(np.int64)
    if starts[-1] == len(buf):  # the file ends with a newline: no record after it
        starts, ends = starts[:-1], ends[:-1]
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == _CR) if len(buf) else ends > 0
    ends = ends - has_cr
    lines = np.searchsorted(newlines, starts) + 1
    return _Records(starts, ends, lines.astype(np.int64), ends == starts)


def _header(text: str, sep: str, *, path: str, line: int) -> list[str]:
    """The header's names, trimmed; repeated or blank names are an error naming them."""
    try:
        fields = next(csv.reader(io.StringIO(text, newline=""), delimiter=sep), [])
    except csv.Error as e:  # e.g. a lone carriage return: text in the wrong encoding
        raise InputError(
            f"File {path!r}, line {line} (the header) cannot be parsed: {e}. Check the "
            "file's encoding (--encoding) and delimiter (--delimiter)."
        ) from e
    names = [f.strip() for f in fields]
    if not any(names):
        raise InputError(
            f"File {path!r}, line {line}: the header is blank. The first line must name "
            "the columns."
        )
    blank = [str(i + 1) for i, n in enumerate(names) if not n]
    if blank:
        raise InputError(
            f"File {path!r}, line {line} (the header): column(s) {', '.join(blank)} "
            f"have no name. Name every column (or remove a trailing {sep!r})."
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(
            f"File {path!r}, line {line} (the header) repeats column name(s) "
            f"{', '.join(map(repr, repeated))}. Give every column a distinct name."
        )
    return names


def _check_widths(
    buf: npt.NDArray[np.uint8],
    records: _Records,
    rows: npt.NDArray[np.intp],
    *,
    sep: str,
    width: int,
    path: str,
) -> None:
    """A row with more fields than the header is an error naming its line(s)."""
    if not len(rows):
        return
    seps = np.flatnonzero(buf == ord(sep))
    quotes = np.flatnonzero(buf == _QUOTE)
    seps = seps[np.searchsorted(quotes, seps) % 2 == 0]
    fields = (
        np.searchsorted(seps, records.ends[rows]) - np.searchsorted(seps, records.starts[rows]) + 1
    )
    wide = np.flatnonzero(fields > width)
    if not len(wide):
        return
    first = rows[wide[0]]
    lines = ", ".join(str(int(records.lines[rows[i]])) for i in wide[:_SHOW])
    more = f" and {len(wide) - _SHOW} more" if len(wide) > _SHOW else ""
    raise InputError(
        f"File {path!r}, line {int(records.lines[first])}: {int(fields[wide[0]])} fields "
        f"but the header has {width} (line(s) {lines}{more}). Quote values that contain "
        f"{sep!r}, or pass the right delimiter (--delimiter)."
    )


def _sniff_delimiter(sample: str, *, truncated: bool) -> str:
    """Keep csv.Sniffer's guess if every row then has the same width (>1 field); else take the
    candidate whose rows most often match the header's width (first wins ties); else a comma."""
    if truncated:  # the last line of a cut sample is partial
        sample = sample[: sample.rfind("\n") + 1] or sample
    try:
        sniffed: str | None = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    scores = {d: _width_score(sample, d, truncated=truncated) for d in _DELIMITERS}
    if sniffed is not None and scores.get(sniffed) == 1.0:
        return sniffed
    best = max(_DELIMITERS, key=lambda d: scores[d])
    return best if scores[best] > 0.0 else ","


def _width_score(sample: str, delimiter: str, *, truncated: bool) -> float:
    """Share of rows as wide as the header; 0.0 when the header has a single field."""
    try:
        rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r]
    except csv.Error:
        return 0.0
    if truncated and len(rows) > 1:  # may end inside a quoted field
        rows = rows[:-1]
    if not rows or len(rows[0]) < 2:
        return 0.0
    return sum(len(r) == len(rows[0]) for r in rows) / len(rows)
