"""The four-line API: ``read``, ``merge``, ``dedup``, ``candidates``, ``evaluate``, ``train``.

Each function converts its inputs once (:func:`linker.frames.as_polars`), runs a
:class:`~linker.pipeline.linker.Linker`, and returns the frame type it was given (pandas in,
pandas out; polars or a path in, polars out). Their ``@overload`` stubs tell type checkers the
same, at the price of repeating each signature (the module is longer than the house's 400
lines for that reason only).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import polars as pl

from linker.backend import BackendSpec
from linker.decide.assign import AssignMethod, How
from linker.decide.cluster import ClusterMethod
from linker.frames import Frame, PolarsSource, as_polars, read, to_kind
from linker.measures import Evaluation, evaluate
from linker.pipeline.columns import default_on
from linker.pipeline.linker import Linker
from linker.rerank.spec import RerankSpec
from linker.vectors.ann import AnnParams
from linker.vectors.embed import Encoder

if TYPE_CHECKING:
    import pandas as pd

    from linker.scoring.base import PairMatcher
    from linker.scoring.labelled_pairs import PairSet

__all__ = ["candidates", "dedup", "evaluate", "merge", "read", "train", "Evaluation"]

Columns = Sequence[str] | str | None


@overload
def merge(
    left: PolarsSource,
    right: Frame,
    on: Columns = None,
    *,
    left_on: Columns = None,
    right_on: Columns = None,
    how: How = "1:1",
    k: int = 10,
    threshold: float = 0.5,
    model: str | Encoder | None = None,
    block_on: Columns = None,
    id: str | tuple[str, str] | None = None,  # noqa: A002
    ann: AnnParams | None = None,
    show_progress: bool | None = None,
    assign: AssignMethod = "hungarian",
    rerank: RerankSpec | None = None,
    rerank_band: tuple[float, float] = (0.3, 0.7),
    matcher: PairMatcher | str | Path | None = None,
    backend: BackendSpec = None,
    cache: str | Path | None = None,
) -> pl.DataFrame: ...
@overload
def merge(
    left: pd.DataFrame,
    right: Frame,
    on: Columns = None,
    *,
    left_on: Columns = None,
    right_on: Columns = None,
    how: How = "1:1",
    k: int = 10,
    threshold: float = 0.5,
    model: str | Encoder | None = None,
    block_on: Columns = None,
    id: str | tuple[str, str] | None = None,  # noqa: A002
    ann: AnnParams | None = None,
    show_progress: bool | None = None,
    assign: AssignMethod = "hungarian",
    rerank: RerankSpec | None = None,
    rerank_band: tuple[float, float] = (0.3, 0.7),
    matcher: PairMatcher | str | Path | None = None,
    backend: BackendSpec = None,
    cache: str | Path | None = None,
) -> pd.DataFrame: ...
def merge(
    left: Frame,
    right: Frame,
    on: Columns = None,
    *,
    left_on: Columns = None,
    right_on: Columns = None,
    how: How = "1:1",
    k: int = 10,
    threshold: float = 0.5,
    model: str | Encoder | None = None,
    block_on: Columns = None,
    id: str | tuple[str, str] | None = None,  # noqa: A002
    ann: AnnParams | None = None,
    show_progress: bool | None = None,
    assign: AssignMethod = "hungarian",
    rerank: RerankSpec | None = None,
    rerank_band: tuple[float, float] = (0.3, 0.7),
    matcher: PairMatcher | str | Path | None = None,
    backend: BackendSpec = None,
    cache: str | Path | None = None,
) -> pl.DataFrame | pd.DataFrame:
    """Link two tables; every row of both comes back, with ``_score`` and ``_merge``.

    Args:
        left: Left table: polars or pandas frame, or a CSV/Parquet path.
        right: Right table, same kinds.
        on: Columns compared on both sides; default: the columns both tables share, less
            the ids and row-unique code columns (see :func:`linker.pipeline.columns.default_on`).
        left_on: Left columns when names differ (with ``right_on``, same order).
        right_on: Right columns when names differ.
        how: ``"1:1"`` (each record linked at most once), ``"m:1"``, ``"1:m"`` or ``"m:m"``.
        k: Candidates kept per left record by each blocker (embedding and n-gram).
        threshold: Minimum match probability (``_score``) of a link.
        model: Embedding model name, path or encoder (default: ``"static"``, the static model
            distilled from the packaged all-MiniLM-L6-v2; ``"minilm"`` runs MiniLM itself).
        block_on: Columns that must agree exactly (e.g. ``["state"]``).
        id: Id column, or ``(left_id, right_id)``: checked unique and non-null.
        ann: hnswlib settings.
        show_progress: Progress bars (``None``: when logging is at INFO).
        assign: For ``how="1:1"``: ``"hungarian"`` (optimal matching, default) or ``"greedy"``.
        rerank: Second opinion on the uncertain band: ``"local"`` (SmolLM2 served by a
            llama.cpp subprocess; needs ``pip install 'linker[llm]'``), ``"openai:<model>"``
            (any OpenAI-compatible endpoint: ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``),
            ``"cross-encoder:<folder>"`` (a matcher saved by :func:`train`), a
            :class:`~linker.rerank.base.Reranker` or a ChatClient. ``None``: no rerank.
        rerank_band: ``(lo, hi)``: only left records whose best score lies within are reranked.
        matcher: A fine-tuned pair matcher (from :func:`train`, or its saved folder) that
            scores every candidate; its probability is ``_score``. Compare on the columns it
            was trained on. Its own validation threshold is ``matcher.threshold_``.
        backend: ``"local"`` (default) or ``"ray"``: where embedding, search and pair
            features run (see :mod:`linker.backend`); the output is the same.
        cache: Folder that keeps embeddings and ANN indexes, so a rerun reuses them.

    Returns:
        All left columns, all right columns (``_right`` suffix on name clashes), ``_score``
        (match probability, null when unmatched) and ``_merge`` (``both``, ``left_only``,
        ``right_only``), in the frame type of ``left``. pandas in, pandas out: columns keep
        their input dtypes (a numpy int or bool column that gains nulls becomes ``Int64`` /
        ``boolean``), and a custom index comes back (each row has its left row's label, its
        right row's for ``right_only`` rows).

    Raises:
        InputError: a missing column, an empty table, duplicate or null ids.
        ConfigError: an argument out of range.

    Example:
        >>> import linker as lk
        >>> import polars as pl
        >>> left = pl.DataFrame({"name": ["Acme Corp", "Zeta Ltd", "Blue Sky Inc"]})
        >>> right = pl.DataFrame({"name": ["ACME Corporation", "Blue Sky Incorporated"]})
        >>> lk.merge(left, right, on="name")["_merge"].to_list()
        ['both', 'left_only', 'both']
    """
    lf, kind = as_polars(left, name="left")
    rf, _ = as_polars(right, name="right")
    linker = Linker(
        on,
        left_on=left_on,
        right_on=right_on,
        how=how,
        k=k,
        threshold=threshold,
        model=model,
        block_on=block_on,
        id=id,
        ann=ann,
        show_progress=show_progress,
        assign=assign,
        rerank=rerank,
        rerank_band=rerank_band,
        matcher=matcher,
        backend=backend,
        cache=cache,
    )
    res = linker.link(lf, rf)
    if kind == "pandas":  # input dtypes (Int64 with nulls stays Int64) and index come back
        from linker.pipeline.pandas_io import merge_output

        return merge_output(res.frame, res.matches, left, right, n=(lf.height, rf.height))
    return res.frame


@overload
def candidates(
    left: PolarsSource,
    right: Frame,
    on: Columns = None,
    *,
    left_on: Columns = None,
    right_on: Columns = None,
    k: int = 10,
    model: str | Encoder | None = None,
    block_on: Columns = None,
    id: str | tuple[str, str] | None = None,  # noqa: A002
    show_progress: bool | None = None,
    backend: BackendSpec = None,
    cache: str | Path | None = None,
) -> pl.DataFrame: ...
@overload
def candidates(
    left: pd.DataFrame,
    right: Frame,
    on: Columns = None,
    *,
    left_on: Columns = None,
    right_on: Columns = None,
    k: int = 10,
    model: str | Encoder | None = None,
    block_on: Columns = None,
    id: str | tuple[str, str] | None = None,  # noqa: A002
    show_progress: bool | None = None,
    backend: BackendSpec = None,
    cache: str | Path | None = None,
) -> pd.DataFrame: ...
def candidates(
    left: Frame,
    right: Frame,
    on: Columns = None,
    *,
    left_on: Columns = None,
    right_on: Columns = None,
    k: int = 10,
    model: str | Encoder | None = None,
    block_on: Columns = None,
    id: str | tuple[str, str] | None = None,  # noqa: A002
    show_progress: bool | None = None,
    backend: BackendSpec = None,
    cache: str | Path | None = None,
) -> pl.DataFrame | pd.DataFrame:
    """The candidate pairs blocking finds, scored and ranked per left record.

    Args:
        left: Left table (frame or path).
        right: Right table.
        on: Compared columns (see :func:`merge`).
        left_on: Left columns when names differ.
        right_on: Right columns when names differ.
        k: Neighbours per blocker per left record (so at most ``2k`` candidates).
        model: Embedding model (default ``"static"``; see :func:`merge`).
        block_on: Exact-agreement columns.
        id: Id column(s) to include in the output.
        show_progress: Progress bars.
        backend: ``"local"`` (default) or ``"ray"`` (see :mod:`linker.backend`).
        cache: Folder that keeps embeddings and ANN indexes, so a rerun reuses them.

    Returns:
        ``left_row``, ``right_row`` (0-based row numbers), ``dense_sim``, ``ngram_sim``, the
        per-column similarities, ``score`` and ``rank``; the id columns first when ``id=``.

    Example:
        >>> import linker as lk
        >>> import polars as pl
        >>> c = lk.candidates(pl.DataFrame({"name": ["Acme Corp"]}),
        ...                   pl.DataFrame({"name": ["Zeta", "ACME Corp."]}), on="name")
        >>> c.filter(c["rank"] == 1)["right_row"].to_list()
        [1]
    """
    lf, kind = as_polars(left, name="left")
    rf, _ = as_polars(right, name="right")
    linker = Linker(
        on,
        left_on=left_on,
        right_on=right_on,
        k=k,
        model=model,
        block_on=block_on,
        id=id,
        show_progress=show_progress,
        backend=backend,
        cache=cache,
    )
    return to_kind(linker.candidates(lf, rf), kind)


@overload
def dedup(
    data: PolarsSource,
    on: Columns = None,
    *,
    k: int = 10,
    threshold: float = 0.5,
    model: str | Encoder | None = None,
    block_on: Columns = None,
    id: str | None = None,  # noqa: A002
    show_progress: bool | None = None,
    cluster: ClusterMethod = "components",
    representative: bool = False,
    backend: BackendSpec = None,
    cache: str | Path | None = None,
) -> pl.DataFrame: ...
@overload
def dedup(
    data: pd.DataFrame,
    on: Columns = None,
    *,
    k: int = 10,
    threshold: float = 0.5,
    model: str | Encoder | None = None,
    block_on: Columns = None,
    id: str | None = None,  # noqa: A002
    show_progress: bool | None = None,
    cluster: ClusterMethod = "components",
    representative: bool = False,
    backend: BackendSpec = None,
    cache: str | Path | None = None,
) -> pd.DataFrame: ...
def dedup(
    data: Frame,
    on: Columns = None,
    *,
    k: int = 10,
    threshold: float = 0.5,
    model: str | Encoder | None = None,
    block_on: Columns = None,
    id: str | None = None,  # noqa: A002
    show_progress: bool | None = None,
    cluster: ClusterMethod = "components",
    representative: bool = False,
    backend: BackendSpec = None,
    cache: str | Path | None = None,
) -> pl.DataFrame | pd.DataFrame:
    """Find duplicate records in one table; adds ``_cluster`` (same number = same entity).

    Clusters are built from the pairs scoring at least ``threshold``: connected components by
    default, or ``cluster="centre"`` / ``"average"``, which resist chaining (see
    :mod:`linker.decide.cluster`). Cluster numbers follow the order of first appearance.

    Args:
        data: The table (frame or path).
        on: Compared columns; default: all columns except ``id`` and row-unique code
            columns (see :func:`linker.pipeline.columns.default_on`).
        k: Neighbours per blocker per record.
        threshold: Minimum match probability of a duplicate pair.
        model: Embedding model (default ``"static"``; see :func:`merge`).
        block_on: Exact-agreement columns.
        id: Id column, checked unique and non-null and not compared.
        show_progress: Progress bars.
        cluster: ``"components"``, ``"centre"`` or ``"average"``.
        representative: Add ``_representative``: True on one "golden" row per cluster (the
            one most strongly linked to its cluster mates).
        backend: ``"local"`` (default) or ``"ray"`` (see :mod:`linker.backend`).
        cache: Folder that keeps embeddings and ANN indexes, so a rerun reuses them.

    Returns:
        The input with a ``_cluster`` column (and ``_representative``), in the type given;
        pandas in, pandas out with the input's dtypes and index.

    Example:
        >>> import linker as lk
        >>> import polars as pl
        >>> df = pl.DataFrame({"name": ["Acme Corp", "ACME Corp.", "Zeta Ltd"]})
        >>> lk.dedup(df, on="name")["_cluster"].to_list()
        [0, 0, 1]
    """
    df, kind = as_polars(data, name="data")
    if on is None:  # every column but the id and row-unique codes (see linker.pipeline.columns)
        on, _ = default_on(df, df, ids=(id,) if id is not None else ())
    linker = Linker(
        on,
        k=k,
        threshold=threshold,
        model=model,
        block_on=block_on,
        id=id,
        show_progress=show_progress,
        cluster=cluster,
        representative=representative,
        backend=backend,
        cache=cache,
    )
    out = linker.dedup(df).frame
    if kind == "pandas":  # input dtypes and index come back
        from linker.pipeline.pandas_io import same_rows_output

        return same_rows_output(out, data)
    return out


def train(
    pairs: PairSet | str | Path | Any,
    *,
    left: Any = None,
    right: Any = None,
    valid: PairSet | str | Path | Any = None,
    model: str = "ditto",
    backbone: str | None = None,
    epochs: int = 10,
    columns: Sequence[str] | None = None,
    save: str | Path | None = None,
    seed: int = 0,
    show_progress: bool | None = None,
    **settings: Any,
) -> PairMatcher:
    """Train a pair matcher on labelled pairs; returns the fitted matcher.

    Args:
        pairs: Training pairs: a Ditto pair file (``left \\t right \\t label``), a
            DeepMatcher pair CSV (``ltable_id,rtable_id,label``; tables beside it or given as
            ``left``/``right``), a folder holding ``train``/``valid`` files of either kind, a
            frame of ``ltable_id, rtable_id, label`` (with ``left``/``right``) or of serialized
            ``left, right, label``, or a :class:`~linker.scoring.labelled_pairs.PairSet`.
        left: Left table (frame, CSV path) for id pairs; needs an ``id`` column.
        right: Right table, same.
        valid: Validation pairs (same kinds) for early stopping and the threshold. Default:
            the folder's ``valid`` split, else a seeded 20% of ``pairs``.
        model: ``"ditto"`` (default): fine-tune a Ditto-style transformer cross-encoder
            (:class:`~linker.scoring.ditto.DittoMatcher`; minutes on a CPU);
            ``"boosted"``: gradient-boosted trees over similarity features
            (:class:`~linker.scoring.boosted.BoostedMatcher`; seconds, no transformer);
            ``"stack"``: both, combined by a logistic model fitted on the validation pairs
            (:class:`~linker.scoring.stack.StackedMatcher`; the best F1 on ER-Magellan's
            Amazon-Google, not on every task: see ``benchmarks/results/er_magellan.md``).
        backbone: ``"ditto"``/``"stack"``: ``None``/``"minilm"`` (packaged all-MiniLM-L6-v2), a local
            model folder or a hub name.
        epochs: ``"ditto"``/``"stack"``: most passes over the training pairs.
        columns: Columns compared, in order (default: all, as in the pairs).
        save: Folder to save the matcher to (``"ditto"``: JSON + safetensors + tokenizer;
            ``"boosted"``: one JSON file).
        seed: Seed of every random step (same seed, same matcher on the same machine).
        show_progress: Progress bar with time left (``None`` follows the log level).
        **settings: More settings of the chosen class, under their names there: see
            :class:`~linker.scoring.ditto.DittoMatcher` (``max_len``, ``batch_size``, ``lr``,
            ``max_train_seconds``, ``device`` ...) and
            :class:`~linker.scoring.boosted.BoostedMatcher` (``embedding``, ``max_iter``,
            ``n_models`` ...); ``"stack"`` takes the settings of both and ``hard_negatives``
            (see :class:`~linker.scoring.stack.StackedMatcher`).

    Returns:
        The fitted matcher: ``predict_proba``, ``threshold_``, ``save``; pass it (or its
        folder) to :func:`merge` as ``matcher=``.

    Raises:
        InputError: unreadable pairs (the file and line are named), one class only.
        ConfigError: an unknown ``model``, or a setting the chosen model does not have.
        ModelError: the backbone cannot be loaded.

    Example:
        >>> import linker as lk
        >>> lk.train("no/such/pairs.txt")
        Traceback (most recent call last):
        ...
        linker.errors.InputError: pair file no/such/pairs.txt not found; pass a Ditto pair file or a DeepMatcher folder
    """  # noqa: E501
    from linker.scoring.labelled_pairs import as_pairs
    from linker.scoring.registry import new_matcher

    matcher = new_matcher(
        model,
        {"columns": columns, "seed": seed, **settings}
        | ({"backbone": backbone} if backbone is not None else {}),
        optional={"epochs": epochs, "show_progress": show_progress},
    )
    train_set = as_pairs(pairs, left=left, right=right)
    valid_set: PairSet | None
    if valid is not None:
        valid_set = as_pairs(valid, left=left, right=right, split="valid")
    elif isinstance(pairs, str | Path) and Path(pairs).is_dir():
        folder = Path(pairs)
        has_valid = (folder / "valid.csv").is_file() or (folder / "valid.txt").is_file()
        valid_set = as_pairs(folder, left=left, right=right, split="valid") if has_valid else None
    else:
        valid_set = None
    fitted = matcher.fit(train_set, valid_set)
    if save is not None:
        fitted.save(save)
    return fitted
