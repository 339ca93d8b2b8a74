"""Business glossaries: a table of terms with descriptions and, optionally, allowed values."""

from __future__ import annotations

import logging
import os
from typing import Any

from linker.errors import InputError
from linker.frames import as_polars, check_columns
from linker.schema.profiles import Schema

__all__ = ["glossary_schema"]

logger = logging.getLogger(__name__)


def glossary_schema(
    glossary: Any,
    *,
    term: str = "term",
    description: str | None = "description",
    values: str | None = None,
    sep: str = "|",
    name: str = "glossary",
) -> Schema:
    """Read a glossary (frame or path) into a :class:`~linker.schema.profiles.Schema` of terms.

    Terms without a description are kept and matched on their name (and allowed values); a
    warning names them.

    Args:
        glossary: polars/pandas frame or CSV/Parquet path, one row per term.
        term: Column of term names (unique, non-empty).
        description: Column of descriptions; ``None`` when the glossary has none.
        values: Column of allowed values (a list, or text split on ``sep``), if any.
        sep: Separator of allowed values given as text.
        name: What the glossary is called in messages (e.g. its file).

    Raises:
        InputError: Missing columns, an empty glossary, empty or repeated terms.

    Example:
        >>> import polars as pl
        >>> g = pl.DataFrame({"term": ["Customer", "Revenue"],
        ...                   "description": ["A buyer of goods", None]})
        >>> [c.description for c in glossary_schema(g).columns]
        ['A buyer of goods', None]
    """
    if isinstance(glossary, Schema):
        return glossary
    if isinstance(glossary, str | os.PathLike):
        name = f"{name} ({os.fspath(glossary)})"
    df, _ = as_polars(glossary, name=name)
    wanted = [c for c in (term, description, values) if c is not None]
    check_columns(df, wanted, name=name)
    try:
        schema = Schema.from_table(
            df, column=term, description=description, values=values, sep=sep, name=name
        )
    except InputError as e:
        raise InputError(f"{e} (in the glossary, the {term!r} column holds the terms)") from e
    bare = [c.name for c in schema.columns if not c.description]
    if bare and description is not None:
        shown = ", ".join(map(repr, bare[:10])) + (
            f", ... ({len(bare)} in all)" if len(bare) > 10 else ""
        )
        logger.warning(
            "%s: %d of %d term(s) have no description (%s); they are matched on the "
            "term name%s only. Fill the %r column for better matches.",
            name,
            len(bare),
            len(schema),
            shown,
            " and allowed values" if values else "",
            description,
        )
    return schema
