"""Turn records into text: one string per row, for the embedder, the lexical blocker and matchers.

Two styles share one code path:

- ``"ditto"``: ``COL name VAL acme corp COL city VAL boston`` (Ditto's serialization), the form a
  cross-encoder is trained on;
- ``"values"``: ``acme corp boston``, the values alone, which suits bi-encoders and n-gram blocking
  because the column tags add the same tokens to every record.

Nulls are kept and serialized as empty text (``COL city VAL``), so no row is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from linker.errors import ConfigError

__all__ = ["Serializer", "SerializeStyle", "wordy_columns"]

SerializeStyle = Literal["ditto", "values"]
_STYLES: tuple[SerializeStyle, ...] = ("ditto", "values")


@dataclass(frozen=True)
class Serializer:
    """Serialize the chosen columns of each record into one string.

    Args:
        columns: Columns to serialize, in order.
        style: ``"ditto"`` (``COL c VAL v``) or ``"values"`` (values joined by spaces).
        lowercase: Lower-case the text.
        max_chars: Per-column cap on characters (long descriptions are cut); ``None`` keeps all.
        names: Per-column display names used after ``COL`` (default: the column name), so
            ``left_on``/``right_on`` columns with different names serialize alike.

    Example:
        >>> import polars as pl
        >>> df = pl.DataFrame({"name": ["Acme Corp"], "city": [None]})
        >>> Serializer(["name", "city"]).texts(df)
        ['COL name VAL acme corp COL city VAL']
        >>> Serializer(["name", "city"], style="values").texts(df)
        ['acme corp']
    """

    columns: Sequence[str]
    style: SerializeStyle = "ditto"
    lowercase: bool = True
    max_chars: int | None = 400
    names: Sequence[str] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.style not in _STYLES:
            raise ConfigError(f"style={self.style!r} is not one of {list(_STYLES)}")
        if not self.columns:
            raise ConfigError("Serializer needs at least one column")
        if self.names is not None and len(self.names) != len(self.columns):
            raise ConfigError("names must have one entry per column")

    def column_texts(self, df: pl.DataFrame) -> list[pl.Series]:
        """Return each column as cleaned text (nulls as ``""``), one Series per column.

        Cleaning is for matching only (the output keeps the input's cells): Unicode NFKC
        folding (full-width ``Ｆｕｌｌ`` reads ``Full``, ``ﬁ`` reads ``fi``), runs of white space
        made one space and trimmed, then lower case.

        Example:
            >>> import polars as pl
            >>> df = pl.DataFrame({"name": ["  Ｆｕｌｌｗｉｄｔｈ\u3000Ltd "]})
            >>> Serializer(["name"]).column_texts(df)[0].to_list()
            ['fullwidth ltd']
        """
        out = []
        for col in self.columns:
            s = df.get_column(col).cast(pl.Utf8, strict=False).fill_null("")
            s = s.str.normalize("NFKC").str.replace_all(r"\s+", " ").str.strip_chars()
            if self.lowercase:
                s = s.str.to_lowercase()
            if self.max_chars is not None:
                s = s.str.slice(0, self.max_chars)
            out.append(s)
        return out

    def texts(self, df: pl.DataFrame) -> list[str]:
        """Serialize every row of ``df`` into one string per row."""
        return self.join(self.column_texts(df))

    def join(self, parts: Sequence[pl.Series]) -> list[str]:
        """Serialize rows from their columns already cleaned by :meth:`column_texts` (of
        this serializer, or of one that cleans alike): ``texts(df)`` is
        ``join(column_texts(df))``.

        Example:
            >>> import polars as pl
            >>> ser = Serializer(["name", "city"], style="values")
            >>> ser.join([pl.Series(["acme corp"]), pl.Series([""])])
            ['acme corp']
        """
        names = list(self.names) if self.names is not None else list(self.columns)
        if self.style == "ditto":
            exprs: list[pl.Expr] = []
            for name, s in zip(names, parts, strict=True):
                exprs += [pl.lit(f"COL {name} VAL"), pl.lit(s)]
        else:
            exprs = [pl.lit(s) for s in parts]
        joined = pl.select(pl.concat_str(exprs, separator=" ").alias("t"))
        col = joined.get_column("t").str.replace_all(r"\s+", " ").str.strip_chars()
        return col.to_list()


def wordy_columns(df: pl.DataFrame, columns: Sequence[str], *, sample: int = 2000) -> list[str]:
    """The columns whose values are mostly letters (names, titles, addresses), in order.

    Codes, numbers, phones, dates and prices carry no meaning a sentence embedding can use,
    and cost many word-piece tokens; the n-gram blocker and the per-column features compare
    them instead. A column counts as wordy when at least half of its non-space characters
    (over a sample of rows) are letters. If no column is wordy, all are returned.

    Example:
        >>> import polars as pl
        >>> df = pl.DataFrame({"name": ["Acme Corp"], "phone": ["(555) 123-4567"]})
        >>> wordy_columns(df, ["name", "phone"])
        ['name']
    """
    head = df.head(sample)
    keep = []
    for col in columns:
        text = "".join(head.get_column(col).cast(pl.Utf8, strict=False).drop_nulls().to_list())
        chars = [c for c in text if not c.isspace()]
        if chars and sum(c.isalpha() for c in chars) >= 0.5 * len(chars):
            keep.append(col)
    return keep or list(columns)
