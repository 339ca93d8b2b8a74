"""linker: record linkage and entity matching in four lines.

Example:
    >>> import linker as lk
    >>> import polars as pl
    >>> left = pl.DataFrame({"name": ["Acme Corp", "Zeta Ltd"]})
    >>> right = pl.DataFrame({"name": ["ACME Corporation"]})
    >>> lk.merge(left, right, on="name")["_merge"].to_list()
    ['both', 'left_only']

Importing ``linker`` is cheap: the API modules (and polars, numpy, the models) load on first use,
and so do the subpackages (``lk.schema.Schema``, ``lk.scoring.PairSet``, ``lk.measures``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Frame",
    "InputError",
    "LinkIndex",
    "LinkResult",
    "Linker",
    "LinkerError",
    "ModelError",
    "NotFittedError",
    "RerankError",
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

# Each public name and the module that defines it, imported on first use. The subpackages and
# public modules (``lk.schema``, ``lk.scoring``, ``lk.measures`` ...) load on first use too.
_LAZY = {
    "merge": "linker.api",
    "dedup": "linker.api",
    "candidates": "linker.api",
    "train": "linker.api",
    "evaluate": "linker.measures",
    "read": "linker.frames",
    "Frame": "linker.frames",
    "match_schema": "linker.schema.api",
    "match_glossary": "linker.schema.api",
    "map_taxonomy": "linker.taxonomy.api",
    "Taxonomy": "linker.taxonomy.tree",
    "Linker": "linker.pipeline.linker",
    "LinkResult": "linker.pipeline.result",
    "LinkIndex": "linker.pipeline.incremental",
    "LinkerError": "linker.errors",
    "ConfigError": "linker.errors",
    "InputError": "linker.errors",
    "NotFittedError": "linker.errors",
    "ModelError": "linker.errors",
    "RerankError": "linker.errors",
}

if TYPE_CHECKING:
    # the subpackages and public modules, re-exported for type checkers (`x as x`)
    from linker import api as api
    from linker import backend as backend
    from linker import blocking as blocking
    from linker import data as data
    from linker import decide as decide
    from linker import errors as errors
    from linker import frames as frames
    from linker import io as io
    from linker import llm as llm
    from linker import measures as measures
    from linker import pipeline as pipeline
    from linker import rerank as rerank
    from linker import review as review
    from linker import schema as schema
    from linker import scoring as scoring
    from linker import taxonomy as taxonomy
    from linker import vectors as vectors
    from linker.api import candidates, dedup, merge, train
    from linker.errors import (
        ConfigError,
        InputError,
        LinkerError,
        ModelError,
        NotFittedError,
        RerankError,
    )
    from linker.frames import Frame, read
    from linker.measures import evaluate
    from linker.pipeline.incremental import LinkIndex
    from linker.pipeline.linker import Linker
    from linker.pipeline.result import LinkResult
    from linker.schema.api import match_glossary, match_schema
    from linker.taxonomy.api import map_taxonomy
    from linker.taxonomy.tree import Taxonomy

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__, _LAZY)


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
