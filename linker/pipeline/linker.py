"""The record pipeline: prepare → serialize → embed → block → features → score → rerank → assign.

:class:`Linker` holds the settings (it only stores them, scikit-learn style) and runs the
stages; :mod:`linker.api` functions are thin wrappers over it. Each stage lives in its own
module (:mod:`~linker.pipeline.prepare` up to blocking, :mod:`~linker.pipeline.pairs` after);
this one only wires them, times them and reports progress.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from linker._params import get_params, param_names, params_repr
from linker._progress import ProgressCallback
from linker.backend import BackendSpec
from linker.blocking.blockers import Blockers, block
from linker.decide.assign import AssignMethod, How
from linker.decide.cluster import ClusterMethod
from linker.decide.units import assign_by_component
from linker.pipeline.columns import compared_columns, id_columns
from linker.pipeline.config import config_document, linker_kwargs, write_document
from linker.pipeline.pairs import (
    both_directions,
    key_blocks,
    matcher_scores,
    ranked,
    with_features,
    with_ids,
)
from linker.pipeline.prepare import FrozenReference, PreparedSide, Stages, check_tables, vectorize
from linker.pipeline.result import LinkResult, merged_frame
from linker.pipeline.settings import (
    DedupSettings,
    Grouped,
    RerankSettings,
    Resolved,
    ScaleSettings,
    check_settings,
)
from linker.pipeline.stats import dedup_stats, link_stats
from linker.rerank.spec import RerankSpec
from linker.scoring.zero_label import ZeroLabelScorer, score_candidates
from linker.vectors.ann import AnnParams
from linker.vectors.embed import Encoder

if TYPE_CHECKING:
    from linker.scoring.base import PairMatcher

__all__ = ["FrozenReference", "Linker", "PreparedSide"]

logger = logging.getLogger(__name__)


class Linker:
    """Configure once, then link two tables, list candidates, or de-duplicate one table.

    Args:
        on: Columns compared on both sides (same names left and right).
        left_on: Left columns, when names differ (pair with ``right_on``, same order).
        right_on: Right columns, when names differ.
        how: ``"1:1"``, ``"m:1"``, ``"1:m"`` or ``"m:m"`` (Stata's ``merge`` kinds).
        k: Neighbours kept per left record by each blocker (embedding, n-gram).
        threshold: Minimum match probability of a link.
        model: Embedding model: ``None`` (default) is ``"static"``, the static model distilled
            from the packaged MiniLM (see :mod:`linker.vectors.embed`); ``"minilm"`` (the
            packaged all-MiniLM-L6-v2, slower, for a few thousandths more F1 on some sets), a
            path, a hub name or an :class:`~linker.vectors.embed.Encoder`.
        block_on: Columns that must agree exactly for two records to be compared.
        id: Id column (same name both sides) or ``(left_id, right_id)``: validated unique and
            non-null, and carried into candidate output.
        ann: hnswlib settings.
        blockers: Which candidate lists blocking unions at which table size
            (:class:`~linker.blocking.blockers.Blockers`).
        show_progress: Progress bars; ``None`` follows the log level.
        callback: Called as ``callback(stage, done, total)`` at each stage.
        assign: ``how="1:1"`` method: ``"hungarian"`` (optimal, default) or ``"greedy"``.
        cluster: Dedup clustering: ``"components"`` (default), ``"centre"`` or ``"average"``
            (see :mod:`linker.decide.cluster`).
        representative: Dedup: add ``_representative`` (True on one "golden" row per cluster).
        rerank: Second stage for the uncertain band: ``"local"``, ``"openai:<model>"``, a
            :class:`~linker.rerank.base.Reranker` or a ChatClient; ``None``: none.
        rerank_band: ``(lo, hi)``: left records whose best score lies within are reranked.
        matcher: A trained pair matcher (or the folder of a saved one) that scores the
            candidates instead of the zero-label scorer; its probability becomes ``score``.
        backend: Where embedding, search and pair features run: ``"local"`` (default),
            ``"ray"`` (``pip install 'linker[ray]'``) or a :class:`~linker.backend.Backend`;
            all give the same output.
        cache: A folder that keeps embeddings and ANN indexes between runs: a rerun on the
            same tables with the same model reuses them instead of computing them again.

    Each setting stays an attribute of its name (related ones live in groups inside:
    :mod:`linker.pipeline.settings`), is checked when a run starts (or by :meth:`check`), and
    :meth:`to_config` / :meth:`from_config` write and read them all as one JSON document.

    Example:
        >>> import polars as pl
        >>> left = pl.DataFrame({"name": ["Acme Corp", "Zeta Ltd", "Blue Sky Inc"]})
        >>> right = pl.DataFrame({"name": ["ACME Corporation", "Blue Sky Incorporated"]})
        >>> out = Linker(on=["name"]).link(left, right).frame
        >>> out["_merge"].to_list()
        ['both', 'left_only', 'both']
    """

    rerank: Grouped[RerankSpec | None] = Grouped("_rerank", "spec")
    rerank_band: Grouped[tuple[float, float]] = Grouped("_rerank", "band")
    cluster: Grouped[ClusterMethod] = Grouped("_dedup")
    representative: Grouped[bool] = Grouped("_dedup")
    ann: Grouped[AnnParams | None] = Grouped("_scale")
    blockers: Grouped[Blockers | None] = Grouped("_scale")
    backend: Grouped[BackendSpec] = Grouped("_scale")
    cache: Grouped[str | Path | None] = Grouped("_scale")

    def __init__(
        self,
        on: Sequence[str] | str | None = None,
        *,
        left_on: Sequence[str] | str | None = None,
        right_on: Sequence[str] | str | None = None,
        how: How = "1:1",
        k: int = 10,
        threshold: float = 0.5,
        model: str | Encoder | None = None,
        block_on: Sequence[str] | str | None = None,
        id: str | tuple[str, str] | None = None,  # noqa: A002 - the Stata/pandas habit
        ann: AnnParams | None = None,
        blockers: Blockers | None = None,
        show_progress: bool | None = None,
        callback: ProgressCallback | None = None,
        assign: AssignMethod = "hungarian",
        cluster: ClusterMethod = "components",
        representative: bool = False,
        rerank: RerankSpec | None = None,
        rerank_band: tuple[float, float] = (0.3, 0.7),
        matcher: PairMatcher | str | Path | None = None,
        backend: BackendSpec = None,
        cache: str | Path | None = None,
    ):
        self.on = on
        self.left_on = left_on
        self.right_on = right_on
        self.how = how
        self.k = k
        self.threshold = threshold
        self.model = model
        self.block_on = block_on
        self.id = id
        self.show_progress = show_progress
        self.callback = callback
        self.assign = assign
        self.matcher = matcher
        self._rerank = RerankSettings(rerank, rerank_band)
        self._dedup = DedupSettings(cluster, representative)
        self._scale = ScaleSettings(ann, blockers, backend, cache)
        # not settings: a saved reference's fixed vectors (see freeze_reference), and the
        # encoder, backend and matcher the settings name, made on first use and kept
        self._reference: FrozenReference | None = None
        self._resolved = Resolved()

    def __repr__(self) -> str:
        return params_repr(self)

    # -- settings ---------------------------------------------------------------------------
    def columns(
        self, left: pl.DataFrame, right: pl.DataFrame | None = None
    ) -> tuple[list[str], list[str]]:
        """The left and right columns compared (``right`` left out: one table, dedup).

        ``on``, else ``left_on``/``right_on``, else the columns both tables share less the
        ids and row-unique codes (:func:`~linker.pipeline.columns.default_on`).

        Raises:
            ConfigError: both ``on`` and ``left_on``/``right_on``, or lists of different length.

        Example:
            >>> left = pl.DataFrame({"id": ["L1", "L2"], "name": ["Acme", "Zeta"]})
            >>> Linker(id="id").columns(left)
            (['name'], ['name'])
        """
        return compared_columns(
            left, left if right is None else right, on=self.on, left_on=self.left_on,
            right_on=self.right_on, ids=id_columns(self.id),
        )  # fmt: skip

    def check(self) -> None:
        """Check every setting (types, ranges, options, the rerank spec) without running.

        Raises:
            ConfigError: the first bad setting; the message names it.

        Example:
            >>> Linker(threshold=1.5).check()
            Traceback (most recent call last):
            ...
            linker.errors.ConfigError: threshold must be within [0, 1], not 1.5
        """
        check_settings(self)
        self._rerank.check()

    def ann_params(self) -> AnnParams:
        """The hnswlib settings the searches use: ``ann``, its graphs kept under ``cache``.

        Example:
            >>> Path(Linker(cache="runs").ann_params().index_dir or "").parts
            ('runs', 'indexes')
        """
        return self._scale.ann_params()

    def freeze_reference(self, reference: FrozenReference | None) -> Linker:
        """Keep the right table's vectors the same from run to run (see
        :class:`FrozenReference`; ``None`` undoes it); returns this linker."""
        self._reference = reference
        return self

    def to_config(self) -> dict[str, Any]:
        """The settings as one JSON-ready document (see :meth:`from_config` for the format).

        Raises:
            ConfigError: a setting JSON cannot hold (an encoder object, a fitted matcher, a
                chat client); the message names it and says what to pass instead.

        Example:
            >>> Linker(on="name", k=20).to_config()["linker"]["k"]
            20
        """
        return config_document(get_params(self))

    def save_config(self, path: str | Path) -> Path:
        """Write :meth:`to_config` to a JSON file (atomically); returns the path."""
        return write_document(self.to_config(), path)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str | Path, **overrides: Any) -> Linker:
        """A linker from a config document, or from the JSON file of one.

        The document is what :meth:`to_config` returns and what a review export or a link
        index's settings carry (:mod:`linker.pipeline.config` has the details)::

            {"format_version": 1,
             "linker": {"on": ["name", "city"], "how": "1:1", "k": 10, "threshold": 0.5,
                        "model": "minilm", "ann": {"M": 16}, "rerank_band": [0.3, 0.7]}}

        ``"linker"`` holds :class:`Linker` keyword arguments by name (left out: the default);
        other top-level keys are the carrying file's own.

        Args:
            config: The document, or the path of a JSON file holding one.
            **overrides: Keyword arguments set on top: ``show_progress`` and ``callback``
                (never in a config), or a setting to change.

        Raises:
            ConfigError: an unreadable file, no ``"linker"`` section or ``format_version``, a
                newer format, or an unknown setting (the closest known one is suggested).

        Example:
            >>> original = Linker(on=["name"], k=20, rerank_band=(0.2, 0.8))
            >>> copy = Linker.from_config(original.to_config(), show_progress=False)
            >>> copy.k, copy.rerank_band, copy.to_config() == original.to_config()
            (20, (0.2, 0.8), True)
        """
        return cls(**linker_kwargs(config, param_names(cls), **overrides))

    # -- stages -----------------------------------------------------------------------------
    def prepare(
        self,
        left: pl.DataFrame,
        right: pl.DataFrame | None = None,
        timings: dict[str, float] | None = None,
    ) -> tuple[PreparedSide, PreparedSide, list[str]]:
        """Validate, serialize and vectorize the tables (the stages before blocking).

        Returns the left and right :class:`PreparedSide` (the same content twice for one
        table) and the compared column names. Embeddings are cached on this ``Linker``, so a
        later ``link`` or ``candidates`` on the same tables does not embed them again.
        """
        self.check()
        lo, ro = self.columns(left, right)
        tables = [(left, lo)] if right is None else [(left, lo), (right, ro)]
        check_tables(tables, ids=id_columns(self.id))
        sides = vectorize(
            tables, lo, encoders=self._resolved.encoders(self.model, self.cache),
            embed=self._resolved.backend(self.backend).embed, blockers=self._scale.blocking(),
            reference=self._reference, show_progress=self.show_progress,
            stages=Stages(self.callback, timings),
        )  # fmt: skip
        return sides[0], sides[-1], lo  # one table: the same side twice

    def _block(
        self,
        lside: PreparedSide,
        rside: PreparedSide,
        stages: Stages,
        *,
        self_join: bool,
    ) -> pl.DataFrame:
        """The candidate pairs of the blockers (both directions for a self-join)."""
        assert lside.vectors is not None and rside.vectors is not None  # set by prepare
        with stages("block", 4):
            groups = key_blocks(lside.frame, rside.frame, self.block_on)
            pairs = block(
                lside.vectors, rside.vectors, k=self.k, groups=groups, self_join=self_join,
                params=self.ann_params(), blockers=self.blockers,
                show_progress=self.show_progress, backend=self._resolved.backend(self.backend),
            ).pairs  # fmt: skip
            # the n-gram matrices (3 GB at a million rows a side) and the vectors have served:
            # the later stages read the pairs and the columns; the sides are this call's own
            lside.vectors = rside.vectors = None
            return both_directions(pairs) if self_join else pairs

    def _score(
        self,
        lside: PreparedSide,
        rside: PreparedSide,
        pairs: pl.DataFrame,
        names: list[str],
        stages: Stages,
        *,
        self_join: bool,
    ) -> tuple[pl.DataFrame, ZeroLabelScorer | None]:
        """The pairs with their features, ``score`` and ``rank``; and the zero-label scorer
        fitted on them (``None`` with a trained matcher)."""
        with stages("features", 5):
            backend = self._resolved.backend(self.backend)
            pairs = with_features(pairs, lside, rside, names, backend, codes=self.matcher is None)
            li, ri = pairs["left_row"].to_numpy(), pairs["right_row"].to_numpy()
        scorer = None
        with stages("score", 6):
            if self.matcher is not None:
                matcher = self._resolved.matcher(self.matcher)
                proba = matcher_scores(matcher, lside, rside, names, li, ri)
            else:
                proba, scorer = score_candidates(
                    pairs.drop("left_row", "right_row", "twin"), li, ri,
                    left_columns=lside.columns, right_columns=rside.columns, names=names,
                    twin=pairs["twin"].to_numpy(), self_join=self_join,
                )  # fmt: skip
        return ranked(pairs, proba), scorer

    def _pairs(
        self, left: pl.DataFrame, right: pl.DataFrame | None, stages: Stages
    ) -> tuple[pl.DataFrame, ZeroLabelScorer | None, list[str]]:
        """Prepare, block and score: the scored candidates, the scorer and the columns."""
        lside, rside, names = self.prepare(left, right, stages.timings)
        self_join = right is None
        pairs = self._block(lside, rside, stages, self_join=self_join)
        pairs, scorer = self._score(lside, rside, pairs, names, stages, self_join=self_join)
        return pairs, scorer, names

    # -- public -----------------------------------------------------------------------------
    def candidates(self, left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
        """Scored candidate pairs: ``left_row``, ``right_row``, similarities, ``score``, ``rank``.

        With ``id=`` set, the id columns (``left_id``/``right_id`` names as in the tables;
        ``<id>_right`` when both sides share the name) come first.
        """
        pairs = self._pairs(left, right, Stages(self.callback))[0].sort(["left_row", "rank"])
        return with_ids(pairs, left, right, id_columns(self.id))

    def link(self, left: pl.DataFrame, right: pl.DataFrame) -> LinkResult:
        """Link ``left`` to ``right`` and return the merged frame with the pairs and timings."""
        stages = Stages(self.callback)
        timings, start = stages.timings, time.perf_counter()
        pairs, scorer, names = self._pairs(left, right, stages)
        rstats: dict[str, float] = {}
        if self.rerank is not None:
            start_r = time.perf_counter()
            pairs, rstats = self._rerank.apply(pairs, left, right, self.columns(left, right))
            timings["rerank"] = time.perf_counter() - start_r
        with stages("assign", 7):
            scored = pairs.select("left_row", "right_row", "score")
            backend = self._resolved.backend(self.backend)
            matches = assign_by_component(
                scored, how=self.how, threshold=self.threshold, method=self.assign, backend=backend
            )
            frame = merged_frame(left, right, matches)
        timings["total"] = time.perf_counter() - start
        stats = link_stats(left, right, pairs, matches, scorer=scorer, rerank=rstats)
        logger.info("linked %d x %d rows: %d matches in %.1f s", left.height, right.height,
                    matches.height, timings["total"])  # fmt: skip
        return LinkResult(
            frame=frame, pairs=pairs, matches=matches, timings=timings, stats=stats,
            scorer=scorer, columns=names,
        )  # fmt: skip

    def dedup(self, df: pl.DataFrame) -> LinkResult:
        """Cluster the duplicates of ``df``; the frame is ``df`` plus ``_cluster``."""
        stages = Stages(self.callback)
        timings, start = stages.timings, time.perf_counter()
        pairs, scorer, names = self._pairs(df, None, stages)
        with stages("assign", 7):
            frame, matches, sizes, n = self._dedup.decide(
                df, pairs, threshold=self.threshold, backend=self._resolved.backend(self.backend)
            )
        timings["total"] = time.perf_counter() - start
        stats = dedup_stats(df, pairs, matches, sizes, candidates=n, scorer=scorer)
        return LinkResult(
            frame=frame, pairs=pairs, matches=matches, timings=timings, stats=stats,
            clusters=sizes, scorer=scorer, columns=names,
        )  # fmt: skip
