"""The record pipeline: prepare → serialize → embed → block → features → score → rerank → assign.

:class:`Linker` holds the settings (it only stores them, scikit-learn style) and runs the
stages; :mod:`linker.api` functions are thin wrappers over it. Each stage lives in its own
module; this one only wires them, times them and reports progress.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl

from linker._progress import ProgressCallback
from linker.argcheck import check_types
from linker.backend import Backend, BackendSpec, get_backend
from linker.blocking.blockers import Blockers, Representations, block, key_groups
from linker.decide.assign import AssignMethod, How, assign
from linker.decide.cluster import ClusterMethod, cluster, cluster_sizes, representatives
from linker.errors import ConfigError, InputError
from linker.frames import check_columns, check_ids, check_not_empty, check_reserved
from linker.pipeline.columns import default_on, warn_empty
from linker.pipeline.result import OUTPUT_COLUMNS, LinkResult, merged_frame
from linker.pipeline.serialize import Serializer, wordy_columns
from linker.rerank.base import check_band, rerank_band
from linker.rerank.spec import RerankSpec, open_reranker
from linker.scoring.features import code_features, digit_features
from linker.scoring.separation import separation_warning
from linker.scoring.zero_label import ZeroLabelScorer, score_candidates
from linker.vectors.ann import AnnParams
from linker.vectors.embed import EmbeddingCache, Encoder, get_encoder
from linker.vectors.ngrams import NgramVectorizer, ngram_texts

if TYPE_CHECKING:
    from linker.scoring.base import PairMatcher

__all__ = ["FrozenReference", "Linker", "PreparedSide"]

logger = logging.getLogger(__name__)

_STAGES = 7  # serialize, embed, ngram, block, features, score, assign


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

    Used by :class:`~linker.pipeline.incremental.LinkIndex`: the embedded columns are fixed (not
    chosen from each new left table) and the n-gram vocabulary is fitted on the right table
    alone, so its cached embeddings and ANN graphs stay valid for any new left table.
    """

    dense_columns: tuple[int, ...]


class Linker:
    """Configure once, then link two tables, list candidates, or de-duplicate one table.

    Args:
        on: Columns compared on both sides (same names left and right).
        left_on: Left columns, when names differ (pair with ``right_on``, same order).
        right_on: Right columns, when names differ.
        how: ``"1:1"``, ``"m:1"``, ``"1:m"`` or ``"m:m"`` (Stata's ``merge`` kinds).
        k: Neighbours kept per left record by each blocker (embedding, n-gram).
        threshold: Minimum match probability of a link.
        model: Embedding model: ``"minilm"`` (packaged, default), a path, a hub name or an
            :class:`~linker.vectors.embed.Encoder`.
        block_on: Columns that must agree exactly for two records to be compared.
        id: Id column (same name both sides) or ``(left_id, right_id)``: validated unique and
            non-null, and carried into candidate output.
        ann: hnswlib settings.
        blockers: Which candidate lists blocking unions at which table size
            (:class:`~linker.blocking.blockers.Blockers`; default: embedding and n-gram lists below
            50,000 right records, n-gram and rare-token lists from there).
        show_progress: Progress bars; ``None`` follows the log level.
        callback: Called as ``callback(stage, done, total)`` at each stage.
        assign: ``how="1:1"`` method: ``"hungarian"`` (optimal, default) or ``"greedy"``.
        cluster: Dedup clustering: ``"components"`` (default), ``"centre"`` or ``"average"``
            (see :mod:`linker.decide.cluster`).
        representative: Dedup: add ``_representative`` (True on one "golden" row per cluster).
        rerank: Second stage for the uncertain band: ``"local"``, ``"openai:<model>"``, a
            :class:`~linker.rerank.base.Reranker` or a ChatClient; ``None``: none.
        rerank_band: ``(lo, hi)``: left records whose best score lies within are reranked.
        matcher: A fine-tuned pair matcher (:class:`~linker.scoring.ditto.DittoMatcher` or
            the folder of a saved one) that scores the candidates instead of the fast
            unsupervised matcher; its probability becomes ``score``.
        backend: Where embedding, search and pair features run: ``"local"`` (this process,
            default), ``"ray"`` (a local Ray cluster, or ``RayBackend(address=...)`` for a
            running one; ``pip install 'linker[ray]'``) or a
            :class:`~linker.backend.Backend`. Both give the same output.
        cache: A folder that keeps embeddings and ANN indexes between runs: a rerun on the
            same tables with the same model reuses them instead of computing them again.

    Example:
        >>> import polars as pl
        >>> left = pl.DataFrame({"name": ["Acme Corp", "Zeta Ltd", "Blue Sky Inc"]})
        >>> right = pl.DataFrame({"name": ["ACME Corporation", "Blue Sky Incorporated"]})
        >>> out = Linker(on=["name"]).link(left, right).frame
        >>> out["_merge"].to_list()
        ['both', 'left_only', 'both']
    """

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
        self.ann = ann
        self.blockers = blockers
        self.show_progress = show_progress
        self.callback = callback
        self.assign = assign
        self.cluster = cluster
        self.representative = representative
        self.rerank = rerank
        self.rerank_band = rerank_band
        self.matcher = matcher
        self.backend = backend
        self.cache = cache
        # set by LinkIndex only: keeps a saved reference table's vectors valid (not a setting)
        self._reference: FrozenReference | None = None

    # -- settings ---------------------------------------------------------------------------
    def _columns(self, left: pl.DataFrame, right: pl.DataFrame) -> tuple[list[str], list[str]]:
        def as_list(v: Sequence[str] | str | None) -> list[str]:
            return [v] if isinstance(v, str) else list(v or [])

        on, lo, ro = as_list(self.on), as_list(self.left_on), as_list(self.right_on)
        if on and (lo or ro):
            raise ConfigError("give either on=... or left_on=/right_on=..., not both")
        if not on and not lo and not ro:  # shared columns less ids and row-unique codes
            on, _ = default_on(left, right, ids=self._ids())
        lo, ro = (on, on) if on else (lo, ro)
        if len(lo) != len(ro):
            raise ConfigError(
                f"left_on has {len(lo)} columns but right_on has {len(ro)}: pair them up"
            )
        return lo, ro

    def _ids(self) -> tuple[str, ...]:
        if self.id is None:
            return ()
        return (self.id, self.id) if isinstance(self.id, str) else tuple(self.id)

    def _check(self) -> None:
        check_types(self)
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be within [0, 1], not {self.threshold}")
        if self.how not in ("1:1", "m:1", "1:m", "m:m"):
            raise ConfigError(f"how={self.how!r} is not one of ['1:1', 'm:1', '1:m', 'm:m']")
        if self.k < 1:
            raise ConfigError(f"k must be at least 1, not {self.k}")
        if self.assign not in ("hungarian", "greedy"):
            raise ConfigError(f"assign={self.assign!r} is not one of ['hungarian', 'greedy']")
        if self.cluster not in ("components", "centre", "average"):
            raise ConfigError(
                f"cluster={self.cluster!r} is not one of ['components', 'centre', 'average']"
            )
        if self.rerank is not None:
            from linker.llm.client import check_spec

            check_band(self.rerank_band)
            check_spec(self.rerank)  # a missing key or extra fails now, not after blocking

    # -- stages -----------------------------------------------------------------------------
    @contextmanager
    def _stage(self, name: str, timings: dict[str, float], step: int, total: int) -> Iterator[None]:
        if self.callback is not None:
            self.callback(name, step, total)
        start = time.perf_counter()
        yield
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
        logger.debug("stage %s: %.2f s", name, timings[name])

    def _prepare(self, df: pl.DataFrame, cols: list[str], *, name: str, id_col: str | None) -> None:
        check_not_empty(df, name=name)
        check_reserved(df, name=name)
        clash = [c for c in OUTPUT_COLUMNS if c in df.columns]
        if clash:
            raise InputError(
                f"table {name!r} already has the output column(s) {clash}: rename them"
            )
        check_columns(df, cols, name=name)
        if id_col is not None:
            check_ids(df, id_col, name=name)

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
        return self._sides(left, right, {} if timings is None else timings)

    def _encoder_cache(self) -> EmbeddingCache:
        cache: EmbeddingCache | None = getattr(self, "_cache", None)
        key = (
            self.model if isinstance(self.model, str | None) else id(self.model),
            str(self.cache),
        )
        if cache is None or getattr(self, "_cache_model", None) != key:
            folder = Path(self.cache) / "embeddings" if self.cache is not None else None
            cache = EmbeddingCache(get_encoder(self.model), directory=folder)
            self._cache, self._cache_model = cache, key
        return cache

    def _ann_params(self) -> AnnParams:
        params = self.ann or AnnParams()
        if self.cache is not None and params.index_dir is None:
            params = replace(params, index_dir=str(Path(self.cache) / "indexes"))
        return params

    def _backend(self) -> Backend:
        spec = self.backend
        current: Backend | None = getattr(self, "_backend_obj", None)
        if current is None or getattr(self, "_backend_spec", None) is not spec:
            current = get_backend(spec)
            self._backend_obj, self._backend_spec = current, spec
        return current

    def _sides(
        self, left: pl.DataFrame, right: pl.DataFrame | None, timings: dict[str, float]
    ) -> tuple[PreparedSide, PreparedSide, list[str]]:
        self._check()
        r = right if right is not None else left
        lo, ro = self._columns(left, r)
        ids = self._ids()
        self._prepare(left, lo, name="left", id_col=ids[0] if ids else None)
        if right is not None:
            self._prepare(right, ro, name="right", id_col=ids[1] if ids else None)
        for df, cols, label in ((left, lo, "left"), (right, ro, "right")):
            if df is not None:
                warn_empty(df, cols, name=label)
        frozen = self._reference
        tables = [(left, lo)] if right is None else [(left, lo), (right, ro)]
        sides: list[PreparedSide] = []
        texts: list[list[str]] = []  # all compared columns: the n-gram blocker's input
        dense_texts: list[list[str]] = []  # the wordy columns: the embedding model's input
        with self._stage("serialize", timings, 1, _STAGES):
            wordy = (
                list(frozen.dense_columns)
                if frozen is not None
                else [lo.index(c) for c in wordy_columns(left, lo)]
            )
            for df, cols in tables:
                ser = Serializer(cols, style="values", names=lo)
                dense_ser = Serializer([cols[i] for i in wordy], style="values")
                sides.append(PreparedSide(df, ser.column_texts(df)))
                texts.append(ngram_texts(sides[-1].columns))
                dense_texts.append(dense_ser.texts(df))
        cache = self._encoder_cache()
        # Once the right table is too large for the embedding list (Blockers.dense_below), the
        # vectors only give each candidate pair its dense_sim: float16 keeps that to about 1e-3
        # and halves them (1 GB of the 2 GB that 2 x 1M static vectors take in float32).
        below = (self.blockers or Blockers()).dense_below
        small = np.float16 if below is not None and r.height >= below else None
        with self._stage("embed", timings, 2, _STAGES):
            embed = self._backend().embed
            dense = [
                cache.get(t, show_progress=self.show_progress, embed=embed, dtype=small)
                for t in dense_texts
            ]
            del dense_texts
        with self._stage("ngram", timings, 3, _STAGES):
            fit_on = texts[-1] if frozen is not None else [t for part in texts for t in part]
            vec = NgramVectorizer().fit(fit_on)
            del fit_on
            sparse = [vec.transform(t) for t in texts]
            del texts
        for side, d, sp_ in zip(sides, dense, sparse, strict=True):
            side.vectors = Representations(d, sp_, columns=side.columns)
        return sides[0], sides[-1], lo  # one table: the same side twice

    def _score(
        self,
        lside: PreparedSide,
        rside: PreparedSide,
        names: list[str],
        timings: dict[str, float],
        *,
        self_join: bool,
    ) -> pl.DataFrame:
        assert lside.vectors is not None and rside.vectors is not None  # set by _sides
        self._scorer: ZeroLabelScorer | None = None
        with self._stage("block", timings, 4, _STAGES):
            blocks = self.block_on
            keys = [blocks] if isinstance(blocks, str) else list(blocks or [])
            groups = None
            if keys:
                for df, nm in ((lside.frame, "left"), (rside.frame, "right")):
                    check_columns(df, keys, name=nm)
                groups = key_groups(
                    lside.frame.select(keys),
                    rside.frame.select(keys),
                    n_left=lside.frame.height,
                    n_right=rside.frame.height,
                )
            res = block(
                lside.vectors,
                rside.vectors,
                k=self.k,
                groups=groups,
                self_join=self_join,
                params=self._ann_params(),
                blockers=self.blockers,
                show_progress=self.show_progress,
                backend=self._backend(),
            )
            pairs = res.pairs
            # the n-gram matrices (3 GB at a million rows a side) and the vectors have served:
            # the later stages read the pairs and the columns; the sides are this call's own
            lside.vectors = rside.vectors = None
            if self_join:  # score both directions so every record sees all its candidates
                flipped = pairs.select(
                    pl.col("right_row").alias("left_row"),
                    pl.col("left_row").alias("right_row"),
                    *[c for c in pairs.columns if c.endswith("_sim") or c == "twin"],
                )
                pairs = (
                    pl.concat([pairs, flipped])
                    .unique(["left_row", "right_row"])
                    .sort(["left_row", "right_row"])
                )
        with self._stage("features", timings, 5, _STAGES):
            li, ri = pairs["left_row"].to_numpy(), pairs["right_row"].to_numpy()
            feats = self._backend().features(lside.columns, rside.columns, li, ri, names=names)
            if self.matcher is None:  # the zero-label scorer also compares digits and codes
                for extra in (digit_features, code_features):
                    feats |= extra(lside.columns, rside.columns, li, ri, names=names)
            pairs = pairs.with_columns(**{k: pl.Series(v) for k, v in feats.items()})
        with self._stage("score", timings, 6, _STAGES):
            if self.matcher is not None:
                proba = self._pair_scores(lside, rside, names, li, ri)
            else:
                proba, self._scorer = score_candidates(
                    pairs.drop("left_row", "right_row", "twin"), li, ri,
                    left_columns=lside.columns, right_columns=rside.columns, names=names,
                    twin=pairs["twin"].to_numpy(), self_join=self_join,
                )  # fmt: skip
            pairs = pairs.with_columns(score=pl.Series(proba, dtype=pl.Float32))
            pairs = pairs.with_columns(
                rank=pl.col("score")
                .rank("ordinal", descending=True)
                .over("left_row")
                .cast(pl.Int32)
            )
        return pairs

    def _pair_scores(
        self,
        lside: PreparedSide,
        rside: PreparedSide,
        names: list[str],
        li: npt.NDArray[np.int64],
        ri: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.float32]:
        """The fine-tuned matcher's probability per candidate; both sides keyed by ``names``."""
        from linker.scoring.registry import load_matcher

        assert self.matcher is not None  # checked by the caller
        matcher = self._matcher_cache = getattr(self, "_matcher_cache", None) or load_matcher(
            self.matcher
        )
        known = [c for c in matcher.columns_ if c in names]
        if not known:
            raise ConfigError(
                f"the matcher was trained on the columns {matcher.columns_}, none of which is "
                f"compared here ({names}): pass on=/left_on= with those names"
            )

        def records(side: PreparedSide, rows: npt.NDArray[np.int64]) -> list[dict[str, str]]:
            cols = [c.gather(rows).to_list() for c in side.columns]
            return [dict(zip(names, vals, strict=True)) for vals in zip(*cols, strict=True)]

        return matcher.predict_proba((records(lside, li), records(rside, ri)))

    # -- public -----------------------------------------------------------------------------
    def candidates(self, left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
        """Scored candidate pairs: ``left_row``, ``right_row``, similarities, ``score``, ``rank``.

        With ``id=`` set, the id columns (``left_id``/``right_id`` names as in the tables;
        ``<id>_right`` when both sides share the name) come first.
        """
        timings: dict[str, float] = {}
        lside, rside, names = self._sides(left, right, timings)
        pairs = self._score(lside, rside, names, timings, self_join=False).sort(
            ["left_row", "rank"]
        )
        ids = self._ids()
        if ids:
            rid = ids[1] if ids[1] != ids[0] else f"{ids[1]}_right"
            pairs = pairs.with_columns(
                left[ids[0]].gather(pairs["left_row"]).alias(ids[0]),
                right[ids[1]].gather(pairs["right_row"]).alias(rid),
            ).select(ids[0], rid, pl.exclude(ids[0], rid))
        return pairs

    def link(self, left: pl.DataFrame, right: pl.DataFrame) -> LinkResult:
        """Link ``left`` to ``right`` and return the merged frame with the pairs and timings."""
        timings: dict[str, float] = {}
        start = time.perf_counter()
        lside, rside, names = self._sides(left, right, timings)
        pairs = self._score(lside, rside, names, timings, self_join=False)
        rstats: dict[str, float] = {}
        if self.rerank is not None:
            start_r = time.perf_counter()
            lo, ro = self._columns(left, right)
            with open_reranker(self.rerank) as reranker:
                pairs, rstats = rerank_band(
                    pairs, reranker, left=left, right=right, left_on=lo, right_on=ro,
                    band=self.rerank_band,
                )  # fmt: skip
            timings["rerank"] = time.perf_counter() - start_r
        with self._stage("assign", timings, 7, _STAGES):
            matches = assign(
                pairs.select("left_row", "right_row", "score"),
                how=self.how,
                threshold=self.threshold,
                method=self.assign,
            )
            frame = merged_frame(left, right, matches)
        timings["total"] = time.perf_counter() - start
        stats = {
            "left_rows": float(left.height),
            "right_rows": float(right.height),
            "candidates": float(pairs.height),
            "matches": float(matches.height),
            **self._estimates(pairs, matches.height),
            **{f"rerank_{k}": v for k, v in rstats.items()},
        }
        logger.info(
            "linked %d x %d rows: %d matches in %.1f s",
            left.height,
            right.height,
            matches.height,
            timings["total"],
        )
        return LinkResult(
            frame=frame, pairs=pairs, matches=matches, timings=timings, stats=stats,
            scorer=self._scorer, columns=names,
        )  # fmt: skip

    def dedup(self, df: pl.DataFrame) -> LinkResult:
        """Cluster the duplicates of ``df``; the frame is ``df`` plus ``_cluster``."""
        timings: dict[str, float] = {}
        start = time.perf_counter()
        side, _, names = self._sides(df, None, timings)
        pairs = self._score(side, side, names, timings, self_join=True)
        with self._stage("assign", timings, 7, _STAGES):
            undirected = pairs.filter(pl.col("left_row") < pl.col("right_row")).select(
                "left_row", "right_row", "score", "twin"
            )
            labels = cluster(df.height, undirected, threshold=self.threshold, method=self.cluster)
            undirected = undirected.drop("twin")
            same = (
                labels[undirected["left_row"].to_numpy()]
                == labels[undirected["right_row"].to_numpy()]
            )
            matches = undirected.filter(pl.Series(same) & (pl.col("score") >= self.threshold))
            frame = df.with_columns(_cluster=pl.Series(labels, dtype=pl.Int64))
            if self.representative:
                golden = representatives(labels, matches)
                frame = frame.with_columns(_representative=pl.Series(golden, dtype=pl.Boolean))
            sizes = cluster_sizes(labels)
        timings["total"] = time.perf_counter() - start
        size = sizes["size"].to_numpy()
        stats = {
            "rows": float(df.height),
            "candidates": float(undirected.height),
            "matches": float(matches.height),
            "clusters": float(len(size)),
            "largest_cluster": float(size.max()) if len(size) else 0.0,
            "singletons": float((size == 1).sum()),
            **self._estimates(pairs, matches.height),
        }
        return LinkResult(
            frame=frame,
            pairs=pairs,
            matches=matches,
            timings=timings,
            stats=stats,
            clusters=sizes,
            scorer=self._scorer,
            columns=names,
        )

    def _estimates(self, pairs: pl.DataFrame, n_matches: int) -> dict[str, float]:
        """The zero-label scorer's estimates (none with a trained matcher); warns when the
        compared columns cannot tell records apart."""
        scorer = self._scorer
        if scorer is None:
            return {}
        if n_matches == 0:
            separation_warning(scorer, pairs)
        return scorer.estimates(pairs["left_row"].to_numpy(), pairs["score"].to_numpy())
