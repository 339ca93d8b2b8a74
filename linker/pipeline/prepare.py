"""The stages before blocking: check each table, serialize it, embed it, fit the n-grams;
and :class:`Stages`, which times every stage of a run and reports it.

:func:`vectorize` turns the checked tables into :class:`PreparedSide` objects, which hold what
blocking and the pair features read: the compared columns as text, the embeddings of the wordy
columns and the n-gram TF-IDF rows. A :class:`FrozenReference` keeps a saved reference table's
vectors valid from run to run (:class:`~linker.pipeline.incremental.LinkIndex`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import polars as pl

from linker._progress import ProgressCallback
from linker.blocking.blockers import Blockers, Representations
from linker.errors import InputError
from linker.frames import check_columns, check_ids, check_not_empty, check_reserved
from linker.pipeline.columns import warn_empty
from linker.pipeline.result import OUTPUT_COLUMNS
from linker.pipeline.serialize import Serializer, wordy_columns
from linker.vectors.embed import EmbeddingCache, Matrix
from linker.vectors.ngrams import NgramVectorizer, ngram_texts

__all__ = ["FrozenReference", "PreparedSide", "Stages", "check_table", "check_tables", "vectorize"]

logger = logging.getLogger(__name__)

_STAGES = 7  # serialize, embed, ngram, block, features, score, assign


class Stages:
    """Times the stages of one run and reports each as it starts.

    ``stages(name, step)`` is a context: it calls ``callback(name, step, 7)`` (the seven
    stages: serialize, embed, ngram, block, features, score, assign) and adds the seconds
    spent inside to ``timings[name]``.

    Example:
        >>> seen = []
        >>> stages = Stages(lambda *a: seen.append(a))
        >>> with stages("block", 4):
        ...     pass
        >>> seen, list(stages.timings)
        ([('block', 4, 7)], ['block'])
    """

    def __init__(
        self, callback: ProgressCallback | None, timings: dict[str, float] | None = None
    ) -> None:
        self.callback = callback
        self.timings = {} if timings is None else timings

    @contextmanager
    def __call__(self, name: str, step: int) -> Iterator[None]:
        if self.callback is not None:
            self.callback(name, step, _STAGES)
        start = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
        logger.debug("stage %s: %.2f s", name, self.timings[name])


@dataclass
class PreparedSide:
    """One prepared table: the frame, its compared columns as text, and its vectors.

    ``vectors`` holds the embeddings of the wordy columns (see
    :func:`~linker.pipeline.serialize.wordy_columns`) and the n-gram TF-IDF rows of all compared
    columns; the serialized texts they came from are not kept (at a million rows they weigh
    more than the vectors).
    """

    frame: pl.DataFrame
    columns: list[pl.Series]
    vectors: Representations | None = None


@dataclass(frozen=True)
class FrozenReference:
    """Settings that keep a reference (right) table's vectors the same from run to run.

    Used by :class:`~linker.pipeline.incremental.LinkIndex` through
    :meth:`~linker.pipeline.linker.Linker.freeze_reference`: the embedded columns are fixed
    (not chosen from each new left table) and the n-gram vocabulary is fitted on the right
    table alone, so its cached embeddings and ANN graphs stay valid for any new left table.
    """

    dense_columns: tuple[int, ...]


def check_table(df: pl.DataFrame, cols: list[str], *, name: str, id_col: str | None) -> None:
    """Check that ``df`` can be linked on ``cols``: not empty, no reserved or output column
    names, every compared column there, and a unique non-null id when one is named.

    Raises:
        InputError: the first problem, naming the table ``name`` and what to do.

    Example:
        >>> check_table(pl.DataFrame({"name": ["Acme"], "_score": [1.0]}), ["name"],
        ...             name="left", id_col=None)
        Traceback (most recent call last):
        ...
        linker.errors.InputError: table 'left' already has the output column(s) ['_score']: rename them
    """  # noqa: E501
    check_not_empty(df, name=name)
    check_reserved(df, name=name)
    clash = [c for c in OUTPUT_COLUMNS if c in df.columns]
    if clash:
        raise InputError(f"table {name!r} already has the output column(s) {clash}: rename them")
    check_columns(df, cols, name=name)
    if id_col is not None:
        check_ids(df, id_col, name=name)


def check_tables(tables: Sequence[tuple[pl.DataFrame, list[str]]], *, ids: Sequence[str]) -> None:
    """:func:`check_table` the left table, then the right one (when given), each on its
    compared columns and id (``ids``: the left and right id columns, or none); then warn
    about compared columns without a value (:func:`~linker.pipeline.columns.warn_empty`)."""
    names = ("left", "right")
    for (df, cols), name, id_col in zip(tables, names, ids or (None, None), strict=False):
        check_table(df, cols, name=name, id_col=id_col)
    for (df, cols), name in zip(tables, names, strict=False):
        warn_empty(df, cols, name=name)


def vectorize(
    tables: Sequence[tuple[pl.DataFrame, list[str]]],
    names: list[str],
    *,
    encoders: EmbeddingCache,
    embed: Callable[..., Matrix],
    blockers: Blockers,
    reference: FrozenReference | None,
    show_progress: bool | None,
    stages: Stages,
) -> list[PreparedSide]:
    """Serialize, embed and n-gram the ``(table, compared columns)`` of one or two tables.

    Args:
        tables: The left table, then the right one when there is one.
        names: The left compared columns: the names both sides' columns go by.
        encoders: The embedding cache (and its encoder).
        embed: The backend's ``embed``.
        blockers: The candidate lists (their ``dense_below`` decides the vectors' precision).
        reference: Keeps the right table's vectors fixed (see :class:`FrozenReference`).
        show_progress: Progress bars.
        stages: Times and reports the ``serialize``, ``embed`` and ``ngram`` stages.

    Returns:
        One :class:`PreparedSide` per table, in order.
    """
    sides: list[PreparedSide] = []
    texts: list[list[str]] = []  # all compared columns: the n-gram blocker's input
    dense_texts: list[list[str]] = []  # the wordy columns: the embedding model's input
    with stages("serialize", 1):
        left, lo = tables[0]
        wordy = (
            list(reference.dense_columns)
            if reference is not None
            else [lo.index(c) for c in wordy_columns(left, lo)]
        )
        for df, cols in tables:
            ser = Serializer(cols, style="values", names=names)
            dense_ser = Serializer([cols[i] for i in wordy], style="values")  # cleans as ser
            sides.append(PreparedSide(df, ser.column_texts(df)))
            texts.append(ngram_texts(sides[-1].columns))
            dense_texts.append(dense_ser.join([sides[-1].columns[i] for i in wordy]))
    # Once the right table is too large for the embedding list (Blockers.dense_below), the
    # vectors only give each candidate pair its dense_sim: float16 keeps that to about 1e-3
    # and halves them (1 GB of the 2 GB that 2 x 1M static vectors take in float32).
    below = blockers.dense_below
    small = np.float16 if below is not None and tables[-1][0].height >= below else None
    with stages("embed", 2):
        dense = [
            encoders.get(t, show_progress=show_progress, embed=embed, dtype=small)
            for t in dense_texts
        ]
        del dense_texts
    with stages("ngram", 3):
        if reference is not None:  # the vocabulary of the right table alone
            vec = NgramVectorizer().fit(texts[-1])
            sparse = [vec.transform(t) for t in texts]
        else:  # both tables': each text's n-grams found once, for the fit and the rows
            sparse = NgramVectorizer().fit_transform(texts)
        del texts
    for side, d, sp_ in zip(sides, dense, sparse, strict=True):
        side.vectors = Representations(d, sp_, columns=side.columns)
    return sides
