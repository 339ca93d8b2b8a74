"""The :class:`~linker.pipeline.linker.Linker`'s settings, in groups, and their checks.

``Linker(...)`` takes its settings as flat keyword arguments (the four-line habit), and
each stays an attribute of its own name (scikit-learn's convention, which
:func:`~linker._params.get_params` and the config file rely on). The settings that belong
together live in one object each, which the stage that uses them receives whole:

- :class:`RerankSettings`: ``rerank``, ``rerank_band`` (the second stage);
- :class:`DedupSettings`: ``cluster``, ``representative`` (how dedup decides);
- :class:`ScaleSettings`: ``ann``, ``blockers``, ``backend``, ``cache`` (where and how the
  heavy stages run).

:class:`Grouped` is the attribute that reads and writes a setting inside its group, and
:class:`Resolved` keeps what the settings name (encoder, backend, matcher) between runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import polars as pl

from linker.argcheck import check_types
from linker.backend import Backend, BackendSpec, get_backend
from linker.blocking.blockers import Blockers
from linker.decide.cluster import ClusterMethod, cluster_sizes, representatives
from linker.decide.units import cluster_by_component
from linker.errors import ConfigError
from linker.rerank.base import check_band, rerank_band
from linker.rerank.spec import RerankSpec, open_reranker
from linker.vectors.ann import AnnParams
from linker.vectors.embed import LINK_MODEL, EmbeddingCache, Encoder, get_encoder

if TYPE_CHECKING:
    from collections.abc import Sequence

    from linker.scoring.base import PairMatcher

__all__ = [
    "DedupSettings",
    "Grouped",
    "RerankSettings",
    "Resolved",
    "ScaleSettings",
    "check_settings",
]

T = TypeVar("T")

_HOW = ("1:1", "m:1", "1:m", "m:m")
_ASSIGN = ("hungarian", "greedy")
_CLUSTER = ("components", "centre", "average")


@dataclass
class RerankSettings:
    """The second stage: ``spec`` (``Linker(rerank=)``) reranks the left records whose best
    score lies within ``band`` (``Linker(rerank_band=)``)."""

    spec: RerankSpec | None = None
    band: tuple[float, float] = (0.3, 0.7)

    def check(self) -> None:
        """Raise :class:`~linker.errors.ConfigError` for a bad band or spec, before any work."""
        if self.spec is not None:
            from linker.llm.client import check_spec

            check_band(self.band)
            check_spec(self.spec)  # a missing key or extra fails now, not after blocking

    def apply(
        self,
        pairs: pl.DataFrame,
        left: pl.DataFrame,
        right: pl.DataFrame,
        columns: tuple[Sequence[str], Sequence[str]],
    ) -> tuple[pl.DataFrame, dict[str, float]]:
        """Rerank the band of ``pairs``, showing the records' ``columns`` (left, right); see
        :func:`linker.rerank.base.rerank_band`. Without a ``spec``, ``pairs`` as they are."""
        if self.spec is None:
            return pairs, {}
        lo, ro = columns
        with open_reranker(self.spec) as reranker:
            return rerank_band(
                pairs, reranker, left=left, right=right, left_on=lo, right_on=ro, band=self.band
            )


@dataclass
class DedupSettings:
    """How dedup turns scored pairs into clusters: ``cluster`` (the method) and
    ``representative`` (mark one "golden" row per cluster)."""

    cluster: ClusterMethod = "components"
    representative: bool = False

    def decide(
        self, df: pl.DataFrame, pairs: pl.DataFrame, *, threshold: float, backend: Backend
    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, int]:
        """Cluster ``df`` from its scored pairs (both directions), per component on ``backend``.

        Returns:
            ``df`` with ``_cluster`` (and ``_representative``), the matches (pairs at or above
            ``threshold`` inside a cluster, ``left_row < right_row``), the cluster sizes and
            the number of undirected candidate pairs.
        """
        undirected = pairs.filter(pl.col("left_row") < pl.col("right_row")).select(
            "left_row", "right_row", "score", "twin"
        )
        labels = cluster_by_component(
            df.height, undirected, threshold=threshold, method=self.cluster, backend=backend
        )
        undirected = undirected.drop("twin")
        same = (
            labels[undirected["left_row"].to_numpy()] == labels[undirected["right_row"].to_numpy()]
        )
        matches = undirected.filter(pl.Series(same) & (pl.col("score") >= threshold))
        frame = df.with_columns(_cluster=pl.Series(labels, dtype=pl.Int64))
        if self.representative:
            golden = representatives(labels, matches)
            frame = frame.with_columns(_representative=pl.Series(golden, dtype=pl.Boolean))
        return frame, matches, cluster_sizes(labels), undirected.height


@dataclass
class ScaleSettings:
    """Where and how the heavy stages run: hnswlib settings (``ann``), the candidate lists
    (``blockers``), the ``backend`` and the ``cache`` folder of embeddings and graphs."""

    ann: AnnParams | None = None
    blockers: Blockers | None = None
    backend: BackendSpec = None
    cache: str | Path | None = None

    def ann_params(self) -> AnnParams:
        """``ann`` (default :class:`~linker.vectors.ann.AnnParams`), its graphs kept under
        ``cache`` when one is given.

        Example:
            >>> Path(ScaleSettings(cache="runs").ann_params().index_dir or "").parts
            ('runs', 'indexes')
        """
        params = self.ann or AnnParams()
        if self.cache is not None and params.index_dir is None:
            params = replace(params, index_dir=str(Path(self.cache) / "indexes"))
        return params

    def blocking(self) -> Blockers:
        """``blockers``, or the default :class:`~linker.blocking.blockers.Blockers`."""
        return self.blockers or Blockers()


class Resolved:
    """What a linker's settings name, made on first use and kept while the setting stays the
    same: the encoder (in its embedding cache), the backend and the trained matcher."""

    def __init__(self) -> None:
        self._encoders: EmbeddingCache | None = None
        self._encoders_spec: tuple[object, str] | None = None
        self._backend: Backend | None = None
        self._backend_spec: BackendSpec = None
        self._matcher: PairMatcher | None = None
        self._matcher_spec: object = None

    def encoders(self, model: str | Encoder | None, cache: str | Path | None) -> EmbeddingCache:
        """The embedding cache of ``model`` (``None``: :data:`~linker.vectors.embed.LINK_MODEL`,
        the static model), kept under ``cache``/embeddings when given."""
        spec = (model if isinstance(model, str | None) else id(model), str(cache))
        if self._encoders is None or self._encoders_spec != spec:
            folder = Path(cache) / "embeddings" if cache is not None else None
            encoder = get_encoder(LINK_MODEL if model is None else model)
            self._encoders = EmbeddingCache(encoder, directory=folder)
            self._encoders_spec = spec
        return self._encoders

    def backend(self, spec: BackendSpec) -> Backend:
        """The backend ``spec`` names (see :func:`~linker.backend.get_backend`)."""
        if self._backend is None or self._backend_spec is not spec:
            self._backend, self._backend_spec = get_backend(spec), spec
        return self._backend

    def matcher(self, spec: PairMatcher | str | Path) -> PairMatcher:
        """The trained matcher ``spec`` is or names (see
        :func:`~linker.scoring.registry.load_matcher`)."""
        from linker.scoring.registry import load_matcher

        if self._matcher is None or self._matcher_spec is not spec:
            self._matcher, self._matcher_spec = load_matcher(spec), spec
        return self._matcher


class Grouped(Generic[T]):
    """A setting stored in a group: ``Linker.ann`` reads and writes ``Linker._scale.ann``.

    Example:
        >>> class Run:
        ...     band: Grouped[tuple[float, float]] = Grouped("_rerank")
        ...     def __init__(self) -> None:
        ...         self._rerank = RerankSettings()
        >>> run = Run()
        >>> run.band = (0.2, 0.8)
        >>> run._rerank
        RerankSettings(spec=None, band=(0.2, 0.8))
    """

    def __init__(self, group: str, field: str | None = None) -> None:
        self.group, self.field = group, field or ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.field = self.field or name

    @overload
    def __get__(self, obj: None, owner: type) -> Grouped[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object | None, owner: type) -> Grouped[T] | T:
        if obj is None:
            return self
        value: T = getattr(getattr(obj, self.group), self.field)
        return value

    def __set__(self, obj: object, value: T) -> None:
        setattr(getattr(obj, self.group), self.field, value)


def check_settings(linker: Any) -> None:
    """Check a :class:`~linker.pipeline.linker.Linker`'s settings: types, ranges and options
    (the rerank spec is :meth:`RerankSettings.check`'s).

    Raises:
        ConfigError: the first bad setting; the message names it and lists what is allowed.
    """
    check_types(linker)
    if not 0.0 <= linker.threshold <= 1.0:
        raise ConfigError(f"threshold must be within [0, 1], not {linker.threshold}")
    _one_of("how", linker.how, _HOW)
    if linker.k < 1:
        raise ConfigError(f"k must be at least 1, not {linker.k}")
    _one_of("assign", linker.assign, _ASSIGN)
    _one_of("cluster", linker.cluster, _CLUSTER)


def _one_of(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {list(allowed)}")
