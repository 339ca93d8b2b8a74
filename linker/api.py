"""The four-line API: ``read``, ``merge``, ``dedup``, ``candidates``, ``evaluate``.

Each function converts its inputs once (:func:`linker.frames.as_polars`), runs a
:class:`~linker.pipeline.Linker`, and returns the frame type it was given (pandas in,
pandas out; polars or a path in, polars out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from linker.ann import AnnParams
from linker.embed import Encoder
from linker.frames import as_polars, read, to_kind
from linker.matching.assign import AssignMethod, How
from linker.matching.cluster import ClusterMethod
from linker.matching.rerank import RerankSpec
from linker.measures import Evaluation, evaluate
from linker.pipeline import Linker

__all__ = ["candidates", "dedup", "evaluate", "merge", "read", "Evaluation"]

Columns = Sequence[str] | str | None


def merge(
    left: Any,
    right: Any,
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
) -> Any:
    """Link two tables; every row of both comes back, with ``_score`` and ``_merge``.

    Args:
        left: Left table: polars or pandas frame, or a CSV/Parquet path.
        right: Right table, same kinds.
        on: Columns compared on both sides; default: the columns both tables share.
        left_on: Left columns when names differ (with ``right_on``, same order).
        right_on: Right columns when names differ.
        how: ``"1:1"`` (each record linked at most once), ``"m:1"``, ``"1:m"`` or ``"m:m"``.
        k: Candidates kept per left record by each blocker (embedding and n-gram).
        threshold: Minimum match probability (``_score``) of a link.
        model: Embedding model name, path or encoder (default: packaged all-MiniLM-L6-v2).
        block_on: Columns that must agree exactly (e.g. ``["state"]``).
        id: Id column, or ``(left_id, right_id)``: checked unique and non-null.
        ann: hnswlib settings.
        show_progress: Progress bars (``None``: when logging is at INFO).
        assign: For ``how="1:1"``: ``"hungarian"`` (optimal matching, default) or ``"greedy"``.
        rerank: Second opinion on the uncertain band: ``"local"`` (SmolLM2 served by a
            llama.cpp subprocess; needs ``pip install 'linker[llm]'``), ``"openai:<model>"``
            (any OpenAI-compatible endpoint: ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``), a
            :class:`~linker.matching.rerank.Reranker` or a ChatClient. ``None``: no rerank.
        rerank_band: ``(lo, hi)``: only left records whose best score lies within are reranked.

    Returns:
        All left columns, all right columns (``_right`` suffix on name clashes), ``_score``
        (match probability, null when unmatched) and ``_merge`` (``both``, ``left_only``,
        ``right_only``), in the frame type of ``left``.

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
    )
    return to_kind(linker.link(lf, rf).frame, kind)


def candidates(
    left: Any,
    right: Any,
    on: Columns = None,
    *,
    left_on: Columns = None,
    right_on: Columns = None,
    k: int = 10,
    model: str | Encoder | None = None,
    block_on: Columns = None,
    id: str | tuple[str, str] | None = None,  # noqa: A002
    show_progress: bool | None = None,
) -> Any:
    """The candidate pairs blocking finds, scored and ranked per left record.

    Args:
        left: Left table (frame or path).
        right: Right table.
        on: Compared columns (see :func:`merge`).
        left_on: Left columns when names differ.
        right_on: Right columns when names differ.
        k: Neighbours per blocker per left record (so at most ``2k`` candidates).
        model: Embedding model.
        block_on: Exact-agreement columns.
        id: Id column(s) to include in the output.
        show_progress: Progress bars.

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
    )
    return to_kind(linker.candidates(lf, rf), kind)


def dedup(
    data: Any,
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
) -> Any:
    """Find duplicate records in one table; adds ``_cluster`` (same number = same entity).

    Clusters are built from the pairs scoring at least ``threshold``: connected components by
    default, or ``cluster="centre"`` / ``"average"``, which resist chaining (see
    :mod:`linker.matching.cluster`). Cluster numbers follow the order of first appearance.

    Args:
        data: The table (frame or path).
        on: Compared columns; default: all columns except ``id``.
        k: Neighbours per blocker per record.
        threshold: Minimum match probability of a duplicate pair.
        model: Embedding model.
        block_on: Exact-agreement columns.
        id: Id column, checked unique and non-null and not compared.
        show_progress: Progress bars.
        cluster: ``"components"``, ``"centre"`` or ``"average"``.
        representative: Add ``_representative``: True on one "golden" row per cluster (the
            one most strongly linked to its cluster mates).

    Returns:
        The input with a ``_cluster`` column (and ``_representative``), in the type given.

    Example:
        >>> import linker as lk
        >>> import polars as pl
        >>> df = pl.DataFrame({"name": ["Acme Corp", "ACME Corp.", "Zeta Ltd"]})
        >>> lk.dedup(df, on="name")["_cluster"].to_list()
        [0, 0, 1]
    """
    df, kind = as_polars(data, name="data")
    if on is None:
        on = [c for c in df.columns if c != id]
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
    )
    return to_kind(linker.dedup(df).frame, kind)
