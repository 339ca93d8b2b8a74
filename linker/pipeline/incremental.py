"""Incremental linking: prepare a reference table once, link new records to it later.

:class:`LinkIndex` embeds a reference table, fits its n-gram vocabulary and builds its ANN
graphs once, and saves them in a folder. Linking a batch of new records then embeds only
the new records: the reference's vectors and graphs are read back from the folder (the
use case of Splink's ``find_matches_to_new_records``).

Example:
    >>> import tempfile, polars as pl
    >>> ref = pl.DataFrame({"name": ["Acme Corp", "Zeta Ltd", "Blue Sky Inc"]})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = LinkIndex.build(ref, folder, on="name")
    ...     out = LinkIndex.load(folder).link(pl.DataFrame({"name": ["ACME Corporation"]}))
    >>> out.frame["name_right"].to_list()
    ['Acme Corp']
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from linker.blocking.blockers import Blockers
from linker.decide.assign import How
from linker.errors import ConfigError, InputError
from linker.frames import as_polars
from linker.pipeline.linker import FrozenReference, Linker
from linker.pipeline.result import LinkResult
from linker.pipeline.serialize import wordy_columns
from linker.vectors.ann import AnnParams, search

__all__ = ["LinkIndex"]

logger = logging.getLogger(__name__)

_FORMAT = 1
_SETTINGS = "linkindex.json"
_REFERENCE = "reference.parquet"


class LinkIndex:
    """A reference table prepared for linking: vectors and ANN graphs kept in a folder.

    Build it with :meth:`build`, open it again with :meth:`load`, link new records with
    :meth:`link`. The folder holds the reference (Parquet), the settings (JSON), the
    embeddings (``.npy``) and the hnswlib graphs; nothing is pickled.

    Args:
        path: The folder.
        reference: The reference table.
        settings: What :meth:`build` was given (columns, model, ``k``, ANN settings).
    """

    def __init__(self, path: str | Path, reference: pl.DataFrame, settings: dict[str, Any]):
        self.path = Path(path)
        self.reference = reference
        self.settings = settings

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        reference: Any,
        path: str | Path,
        on: Sequence[str] | str | None = None,
        *,
        model: str | None = None,
        k: int = 10,
        ann: AnnParams | None = None,
        show_progress: bool | None = None,
    ) -> LinkIndex:
        """Embed ``reference``, build its ANN graphs and save everything in ``path``.

        Args:
            reference: The table new records are linked to (frame or CSV/Parquet path).
            path: Folder to write (created; an existing index there is replaced).
            on: Compared columns (default: all columns); new tables need the same names.
            model: Embedding model name or path (default: the packaged MiniLM); an encoder
                object cannot be saved, so pass a name.
            k: Candidates per new record per blocker.
            ann: hnswlib settings (``index_dir`` is set to the folder).
            show_progress: Progress bars.

        Returns:
            The index, ready for :meth:`link`.

        Raises:
            InputError: the reference is empty or lacks a column.
            ConfigError: ``model`` is not a string.
        """
        if model is not None and not isinstance(model, str):
            raise ConfigError("LinkIndex needs model= as a name or path (it is saved as text)")
        ref, _ = as_polars(reference, name="reference")
        cols = [on] if isinstance(on, str) else list(on or ref.columns)
        missing = [c for c in cols if c not in ref.columns]
        if missing:
            raise InputError(
                f"the reference table has no column(s) {missing}; it has {ref.columns}"
            )
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        dense = [cols.index(c) for c in wordy_columns(ref, cols)]
        params = ann or AnnParams()
        settings: dict[str, Any] = {
            "format": _FORMAT,
            "on": cols,
            "model": model,
            "k": k,
            "ann": {key: v for key, v in asdict(params).items() if key != "index_dir"},
            "dense_columns": dense,
            "rows": ref.height,
        }
        tmp = folder / f".{_REFERENCE}.tmp"
        ref.write_parquet(tmp)
        tmp.replace(folder / _REFERENCE)
        index = cls(folder, ref, settings)
        linker = index._linker(show_progress=show_progress)
        # prepare() embeds the reference into the folder's cache; the searches below build
        # the graphs the same way block() will ask for them, and save them there too.
        _, rside, _ = linker.prepare(ref.head(1).select(cols), ref)
        assert rside.vectors is not None
        ann_params = linker._ann_params()
        blockers = linker.blockers or Blockers()  # the lists block() will use
        used = blockers.lists(ref.height, dense=True, sparse=True, columns=True)
        for name, vectors in (("dense", rside.vectors.dense), ("ngram", rside.vectors.sparse)):
            if vectors is not None and name in used:  # the rare-token list keeps no index
                search(vectors[:1], vectors, 1, params=ann_params)
        (folder / f".{_SETTINGS}.tmp").write_text(json.dumps(settings, indent=2))
        (folder / f".{_SETTINGS}.tmp").replace(folder / _SETTINGS)
        logger.info(
            "link index of %d rows built in %s in %.1f s",
            ref.height,
            folder,
            time.perf_counter() - start,
        )
        return index

    @classmethod
    def load(cls, path: str | Path) -> LinkIndex:
        """Open an index saved by :meth:`build`.

        Raises:
            InputError: the folder holds no index, or one of another format.
        """
        folder = Path(path)
        file = folder / _SETTINGS
        if not file.is_file() or not (folder / _REFERENCE).is_file():
            raise InputError(
                f"{folder} holds no link index ({_SETTINGS} and {_REFERENCE} are expected): "
                "build one with LinkIndex.build(reference, folder, on=...) or "
                "`linker index REFERENCE.csv --on ... -o FOLDER`"
            )
        settings = json.loads(file.read_text())
        if settings.get("format") != _FORMAT:
            raise InputError(
                f"{file} is format {settings.get('format')}, this linker reads {_FORMAT}: "
                "build the index again"
            )
        return cls(folder, pl.read_parquet(folder / _REFERENCE), settings)

    # -- use --------------------------------------------------------------------------------
    def _linker(self, **kwargs: Any) -> Linker:
        s = self.settings
        ann = AnnParams(**s["ann"], index_dir=str(self.path / "cache" / "indexes"))
        linker = Linker(
            on=s["on"], model=s["model"], k=s["k"], ann=ann, cache=self.path / "cache", **kwargs
        )
        linker._reference = FrozenReference(tuple(s["dense_columns"]))
        return linker

    def link(
        self,
        new: Any,
        *,
        how: How = "m:1",
        threshold: float = 0.5,
        show_progress: bool | None = None,
    ) -> LinkResult:
        """Link ``new`` records to the reference without embedding the reference again.

        Args:
            new: New records with the index's ``on`` columns (frame or path).
            how: ``"m:1"`` (default: several new records may match one reference row),
                ``"1:1"``, ``"1:m"`` or ``"m:m"``.
            threshold: Minimum match probability.
            show_progress: Progress bars.

        Returns:
            A :class:`~linker.pipeline.result.LinkResult` whose ``frame`` holds every new row, with
            the matched reference columns, ``_score`` and ``_merge`` (``both`` or
            ``left_only``); reference rows nobody matched are left out. ``pairs`` and
            ``matches`` use the reference's row numbers as ``right_row``.
        """
        df, _ = as_polars(new, name="new")
        linker = self._linker(how=how, threshold=threshold, show_progress=show_progress)
        result = linker.link(df, self.reference)
        result.frame = result.frame.filter(pl.col("_merge") != "right_only")
        return result
