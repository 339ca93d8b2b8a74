"""The contracts between linker's parts, in one place: what each role provides, and who
implements it.

- :class:`Encoder`: texts to unit float32 vectors. :mod:`linker.vectors.embed` (the packaged
  MiniLM, the static model, sentence-transformers).
- :class:`PairMatcher`: a trained scorer of record pairs. :mod:`linker.scoring` (Ditto,
  boosted, stacked).
- :class:`Reranker` (with :class:`Query`, :class:`Record`): the second stage, new scores for
  the candidates of each query. :class:`~linker.rerank.cross_encoder.CrossEncoderReranker`
  (offline) and :class:`~linker.llm.select.LLMSelectReranker` (an LLM).
- :class:`ChatClient`: one chat completion. :class:`~linker.llm.client.OpenAIClient` (any
  OpenAI-compatible endpoint) and :class:`~linker.llm.testing.ScriptedChatClient` (a script).
- :class:`Backend`: where embedding, search and pair features run. :mod:`linker.backend`
  (local, Ray).
- :class:`ProgressCallback`: ``callback(stage, done, total)`` while a stage runs. The CLI
  (tqdm) and the review app (``st.progress``).

One :class:`Reranker` serves record linkage (``lk.merge(rerank=...)``), schema and glossary
matching (``lk.match_schema(rerank=...)``) and taxonomy mapping
(``lk.map_taxonomy(rerank=...)``): each turns its items into :class:`Query` objects (a left
record and its candidate records, as flat ``{field: text}`` dicts) and keeps its own policy for
combining the reranker's scores with its first stage.

The modules that use a protocol re-export it (``linker.vectors.embed.Encoder``,
``linker.scoring.base.PairMatcher``, ``linker.rerank.base.Reranker``, ...), so older import
paths keep working. This module imports nothing of linker at run time: it sits below
everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import polars as pl
    import scipy.sparse as sp

    from linker.scoring.labelled_pairs import PairSet
    from linker.vectors.ann import AnnParams, SearchMethod

    Matrix: TypeAlias = npt.NDArray[np.float32]
    Ids: TypeAlias = npt.NDArray[np.int64]
    Vectors: TypeAlias = Matrix | sp.csr_matrix

__all__ = [
    "Backend",
    "ChatClient",
    "Encoder",
    "Message",
    "PairMatcher",
    "ProgressCallback",
    "Query",
    "Record",
    "Reranker",
]

Record = dict[str, str]
"""One record as a reranker or a pair matcher sees it: ``{field: text}``, nulls as ``""``."""

Message = dict[str, str]
"""One chat message: ``{"role": ..., "content": ...}``."""


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into normalised float32 vectors of a fixed dimension.

    Implemented by :class:`~linker.vectors.embed.OnnxMiniLM` (the packaged default),
    :class:`~linker.vectors.embed.StaticEncoder` and
    :class:`~linker.vectors.embed.SentenceTransformerEncoder`; any object with a ``name`` and
    this ``encode`` plugs in as ``model=``.
    """

    name: str

    def encode(self, texts: Sequence[str], *, show_progress: bool | None = None) -> Matrix:
        """Return an ``(len(texts), dim)`` float32 array of unit vectors."""
        ...


@runtime_checkable
class PairMatcher(Protocol):
    """What the pipeline needs of a trained matcher of record pairs.

    Implemented by :class:`~linker.scoring.ditto.DittoMatcher` (the fine-tuned
    cross-encoder), :class:`~linker.scoring.boosted.BoostedMatcher` and
    :class:`~linker.scoring.stack.StackedMatcher`; loaded from a folder by
    :func:`~linker.scoring.registry.load_matcher`. ``lk.merge(matcher=...)`` scores pairs with
    one, and ``rerank="cross-encoder:<folder>"`` reranks with one.
    """

    columns_: list[str]
    threshold_: float
    valid_f1_: float
    n_train_: dict[str, int]
    train_seconds_: float

    def predict_proba(
        self, pairs: PairSet | tuple[Sequence[Record], Sequence[Record]]
    ) -> npt.NDArray[np.float32]:
        """Match probability of each pair."""
        ...

    def evaluate(self, pairs: PairSet) -> dict[str, float]:
        """Precision, recall and F1 at the chosen threshold."""
        ...

    def save(self, path: str | Path) -> Path:
        """Write the matcher as a folder that ``load_matcher`` reads."""
        ...


@dataclass(frozen=True)
class Query:
    """One left item and the candidates a :class:`Reranker` should judge.

    The left item is a record of the left table (record linkage), a source column (schema
    matching) or a phrase (taxonomy mapping); the candidates are right records, target
    columns or taxonomy nodes.

    Attributes:
        left_row: Row (index) of the left item.
        left: The left item as ``{field: text}`` (nulls as empty).
        right_rows: Rows of the candidates, best first-stage score first.
        right: The candidate items, same order.
        scores: Their first-stage scores.

    Example:
        >>> q = Query(0, {"name": "Acme"}, (4, 9), ({"name": "ACME Inc"}, {"name": "Zeta"}),
        ...           (0.6, 0.4))
        >>> len(q.right), q.scores[0]
        (2, 0.6)
    """

    left_row: int
    left: Record
    right_rows: tuple[int, ...]
    right: tuple[Record, ...]
    scores: tuple[float, ...]


@runtime_checkable
class Reranker(Protocol):
    """The second stage: a new score for each candidate of each query.

    Implemented by :class:`~linker.rerank.cross_encoder.CrossEncoderReranker` (a trained
    :class:`PairMatcher`, offline) and :class:`~linker.llm.select.LLMSelectReranker` (an LLM
    picks among the candidates); :func:`linker.rerank.spec.open_reranker` makes either from a
    ``rerank=`` value. The record pipeline, the schema matcher and the taxonomy matcher all
    call it, each with its own policy for the new scores.
    """

    def rerank(self, queries: Sequence[Query]) -> list[list[float | None]]:
        """A new score in ``[0, 1]`` (or ``None``: undecided) per candidate of each query."""
        ...

    def report(self) -> dict[str, float]:
        """Counters of the work done (calls, cache hits, pairs, seconds, ...)."""
        ...


@runtime_checkable
class ChatClient(Protocol):
    """What the LLM reranker calls: one chat completion, returning the message text.

    Implemented by :class:`~linker.llm.client.OpenAIClient` (any OpenAI-compatible endpoint,
    also the local llama.cpp server's) and :class:`~linker.llm.testing.ScriptedChatClient`
    (answers from a script, for examples and tests).
    """

    model: str

    def chat(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 64,
        temperature: float = 0.0,
        response_format: dict[str, Any] | None = None,
    ) -> str:
        """The assistant's reply to ``messages``."""
        ...


@runtime_checkable
class Backend(Protocol):
    """The heavy stages of the record pipeline: embedding, nearest-neighbour search, features.

    Implemented by :class:`~linker.backend.LocalBackend` (this process) and
    :class:`~linker.backend.ray.RayBackend` (a Ray cluster); both give the same output.
    A backend may offer more, found by duck typing: ``unit_runner()`` runs assignment and
    clustering per connected component (:class:`~linker.decide.runner.RunsUnits`), and the
    Ray backend's ``read_table`` / ``write_parts`` read and write folders of files in tasks.
    """

    name: str

    def embed(
        self, encoder: Encoder, texts: Sequence[str], *, show_progress: bool | None = None
    ) -> Matrix:
        """Embed ``texts`` (each distinct text once) as float32 unit vectors, in order."""
        ...

    def search(
        self,
        queries: Vectors,
        items: Vectors,
        k: int,
        *,
        method: SearchMethod = "auto",
        params: AnnParams | None = None,
    ) -> tuple[Ids, Matrix]:
        """The ``k`` items nearest each query, as :func:`linker.vectors.ann.search` returns them."""
        ...

    def features(
        self,
        left_cols: Sequence[pl.Series],
        right_cols: Sequence[pl.Series],
        left_rows: Ids,
        right_rows: Ids,
        *,
        names: Sequence[str],
    ) -> dict[str, Matrix]:
        """Per-pair column features, as :func:`~linker.scoring.features.column_features` gives."""
        ...

    def close(self) -> None:
        """Release what the backend holds (workers, connections)."""
        ...


class ProgressCallback(Protocol):
    """Called as ``callback(stage, done, total)`` while a stage runs.

    Implemented by the CLI (a tqdm bar) and the review app (``st.progress``); passed as
    ``Linker(callback=...)``.
    """

    def __call__(self, stage: str, done: int, total: int) -> None: ...
