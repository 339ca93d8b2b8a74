"""linker: record linkage and entity matching in four lines.

Example:
    >>> import linker as lk
    >>> import polars as pl
    >>> left = pl.DataFrame({"name": ["Acme Corp", "Zeta Ltd"]})
    >>> right = pl.DataFrame({"name": ["ACME Corporation"]})
    >>> lk.merge(left, right, on="name")["_merge"].to_list()
    ['both', 'left_only']

Importing ``linker`` is cheap: the API modules (and polars, numpy, the models) load on first use.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "InputError",
    "LinkIndex",
    "Linker",
    "LinkerError",
    "Taxonomy",
    "candidates",
    "dedup",
    "enable_logging",
    "evaluate",
    "map_taxonomy",
    "match_glossary",
    "match_schema",
    "merge",
    "read",
    "train",
]

_LAZY = {
    "merge": "linker.api",
    "dedup": "linker.api",
    "candidates": "linker.api",
    "evaluate": "linker.measures",
    "match_schema": "linker.schema.api",
    "match_glossary": "linker.schema.api",
    "read": "linker.frames",
    "train": "linker.api",
    "Linker": "linker.pipeline.linker",
    "LinkIndex": "linker.pipeline.incremental",
    "LinkerError": "linker.errors",
    "InputError": "linker.errors",
    "ConfigError": "linker.errors",
    "map_taxonomy": "linker.taxonomy.api",
    "Taxonomy": "linker.taxonomy.tree",
}

if TYPE_CHECKING:
    from linker.api import candidates, dedup, merge, train
    from linker.errors import ConfigError, InputError, LinkerError
    from linker.frames import read
    from linker.measures import evaluate
    from linker.pipeline.incremental import LinkIndex
    from linker.pipeline.linker import Linker
    from linker.schema.api import match_glossary, match_schema
    from linker.taxonomy.api import map_taxonomy
    from linker.taxonomy.tree import Taxonomy


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'linker' has no attribute {name!r}")


def enable_logging(level: int | str = logging.INFO) -> None:
    """Send linker's log records to stderr at ``level``; touches only the ``linker`` logger.

    Example:
        >>> enable_logging("WARNING")
    """
    log = logging.getLogger("linker")
    log.setLevel(level)
    if not any(getattr(h, "_linker", False) for h in log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler._linker = True  # type: ignore[attr-defined]
        log.addHandler(handler)
