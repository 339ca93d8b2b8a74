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
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from linker.blocking.blockers import Blockers
from linker.decide.assign import How
from linker.errors import ConfigError, InputError
from linker.frames import as_polars
from linker.io.write import atomic_write
from linker.pipeline.config import read_document
from linker.pipeline.linker import Linker
from linker.pipeline.prepare import FrozenReference
from linker.pipeline.result import LinkResult
from linker.pipeline.serialize import wordy_columns
from linker.vectors.ann import AnnParams, search
from linker.vectors.embed import LINK_MODEL

__all__ = ["LinkIndex"]

logger = logging.getLogger(__name__)

_SETTINGS = "linkindex.json"
_REFERENCE = "reference.parquet"
_OLD_DEFAULT = "minilm"  # the linking default before LINK_MODEL: what a saved null means


def _upgrade(settings: dict[str, Any]) -> dict[str, Any]:
    """An index's settings as a config document; those of format 1 (before the linker config
    format) have the linker's settings and the index's own side by side."""
    if settings.get("format") != 1 or "linker" in settings:
        return settings
    linker = {k: settings[k] for k in ("on", "model", "k", "ann")}
    index = {k: settings[k] for k in ("dense_columns", "rows")}
    return {"format_version": 1, "linker": linker, "index": index}


def _with_model(config: dict[str, Any]) -> dict[str, Any]:
    """The settings with the model named: an index saved without one (``null``, before the
    static model became the linking default) was embedded by MiniLM, and must keep it."""
    if config["linker"].get("model") is None:
        config = {**config, "linker": {**config["linker"], "model": _OLD_DEFAULT}}
    return config


class LinkIndex:
    """A reference table prepared for linking: vectors and ANN graphs kept in a folder.

    Build it with :meth:`build`, open it again with :meth:`load`, link new records with
    :meth:`link`. The folder holds the reference (Parquet), the settings (``linkindex.json``:
    the linker's config document, see :meth:`Linker.from_config
    <linker.pipeline.linker.Linker.from_config>`, with an ``"index"`` section beside it),
    the embeddings (``.npy``) and the hnswlib graphs; nothing is pickled.

    Args:
        path: The folder.
        reference: The reference table.
        config: The settings: the linker's config document, with the index's own
            ``{"index": {"dense_columns": [...], "rows": n}}``.
    """

    def __init__(self, path: str | Path, reference: pl.DataFrame, config: dict[str, Any]):
        self.path = Path(path)
        self.reference = reference
        self.config = config

    @property
    def settings(self) -> dict[str, Any]:
        """The linker's settings and the index's own (``dense_columns``, ``rows``), flat."""
        return {**self.config["linker"], **self.config["index"]}

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
            model: Embedding model name or path (default:
                :data:`~linker.vectors.embed.LINK_MODEL`, the static model); the name is
                saved, so the index keeps its model when the default changes. An encoder
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
        ref, _ = as_polars(reference, name="reference")
        cols = [on] if isinstance(on, str) else list(on or ref.columns)
        missing = [c for c in cols if c not in ref.columns]
        if missing:
            raise InputError(
                f"the reference table has no column(s) {missing}; it has {ref.columns}"
            )
        if ann is not None:
            ann = replace(ann, index_dir=None)  # the graphs go in the folder, wherever it moves
        model = LINK_MODEL if model is None else model
        config = Linker(on=cols, how="m:1", model=model, k=k, ann=ann).to_config()
        config["index"] = {
            "dense_columns": [cols.index(c) for c in wordy_columns(ref, cols)],
            "rows": ref.height,
        }
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with atomic_write(folder / _REFERENCE) as tmp:
            ref.write_parquet(tmp)
        index = cls(folder, ref, config)
        linker = index.linker(show_progress=show_progress)
        # prepare() embeds the reference into the folder's cache; the searches below build
        # the graphs the same way block() will ask for them, and save them there too.
        _, rside, _ = linker.prepare(ref.head(1).select(cols), ref)
        assert rside.vectors is not None
        params = linker.ann_params()
        blockers = linker.blockers or Blockers()  # the lists block() will use
        used = blockers.lists(ref.height, dense=True, sparse=True, columns=True)
        for name, vectors in (("dense", rside.vectors.dense), ("ngram", rside.vectors.sparse)):
            if vectors is not None and name in used:  # the rare-token list keeps no index
                search(vectors[:1], vectors, 1, params=params)
        with atomic_write(folder / _SETTINGS) as tmp:
            tmp.write_text(json.dumps(config, indent=2), encoding="utf-8")
        logger.info(
            "link index of %d rows built in %s in %.1f s",
            ref.height,
            folder,
            time.perf_counter() - start,
        )
        return index

    @classmethod
    def load(cls, path: str | Path) -> LinkIndex:
        """Open an index saved by :meth:`build` (this linker's or an earlier one's).

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
        try:
            config = read_document(_upgrade(json.loads(file.read_text(encoding="utf-8"))))
            if not isinstance(config.get("index"), dict):
                raise ConfigError(f'{file} has no "index" section')
            config = _with_model(config)
        except (ConfigError, json.JSONDecodeError) as e:
            raise InputError(
                f"{file} is not an index this linker reads ({e}): build it again"
            ) from e
        return cls(folder, pl.read_parquet(folder / _REFERENCE), config)

    # -- use --------------------------------------------------------------------------------
    def linker(self, **overrides: Any) -> Linker:
        """The :class:`~linker.pipeline.linker.Linker` that links to this index: its saved
        settings, ``overrides`` on top, the folder as its cache and the reference frozen."""
        linker = Linker.from_config(self.config, cache=self.path / "cache", **overrides)
        dense = tuple(self.config["index"]["dense_columns"])
        return linker.freeze_reference(FrozenReference(dense))

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
        linker = self.linker(how=how, threshold=threshold, show_progress=show_progress)
        result = linker.link(df, self.reference)
        result.frame = result.frame.filter(pl.col("_merge") != "right_only")
        return result
