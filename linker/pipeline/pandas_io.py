"""pandas in, pandas out: the output's columns get back their input dtypes, and its rows the
input's index (pandas is imported only when a pandas frame came in).

polars has one null for every type, pandas does not: ``Int64`` with nulls becomes
``float64`` (1943 written as ``1943.0``) on a plain ``to_pandas()``. Here each column taken
from an input goes back to that input's dtype; a numpy ``int64``/``bool`` column that gained
nulls (a ``left_only`` row has no right values) becomes pandas' nullable ``Int64``/``boolean``
rather than float or object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

__all__ = ["index_of", "merge_output", "merged_index", "restore", "same_rows_output"]


def _nullable(dtype: Any) -> Any:
    """The pandas dtype that holds nulls for a numpy integer or bool dtype, else ``dtype``."""
    import numpy as np

    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return dtype.name.replace("u", "U").replace("i", "I", 1)  # uint8 -> UInt8
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return "boolean"
    return dtype


def _column(series: pl.Series, dtype: Any) -> Any:
    """One polars column as a pandas Series of ``dtype`` (the default conversion if not)."""
    try:
        base = series.to_pandas(use_pyarrow_extension_array=True)
        return base.astype(_nullable(dtype) if series.null_count() else dtype)
    except Exception:  # noqa: BLE001 - a dtype pandas cannot cast to: keep polars' choice
        return series.to_pandas()


def restore(out: pl.DataFrame, *, dtypes: Mapping[str, Any], index: Any = None) -> Any:
    """Convert ``out`` to pandas with the given input dtypes per column and row index.

    Example:
        >>> import pandas as pd
        >>> src = pd.DataFrame({"y": pd.array([1943, None], dtype="Int64")}, index=["a", "b"])
        >>> back = restore(pl.from_pandas(src), dtypes=dict(src.dtypes), index=src.index)
        >>> back["y"].tolist(), str(back["y"].dtype), back.index.tolist()
        ([1943, <NA>], 'Int64', ['a', 'b'])
    """
    import pandas as pd

    columns = {
        c: (_column(out[c], dtypes[c]) if c in dtypes else out[c].to_pandas()) for c in out.columns
    }
    frame = pd.DataFrame({c: s.reset_index(drop=True) for c, s in columns.items()})
    frame = frame[list(out.columns)] if out.width else frame
    if index is not None:
        frame.index = index
    return frame


def _is_default(index: Any) -> bool:
    import pandas as pd

    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )


def index_of(data: Any) -> Any:
    """A pandas frame's index, or ``None`` when it is the default ``0..n-1`` range."""
    return None if _is_default(data.index) else data.index


def merged_index(left: Any, right: Any, origins: pl.DataFrame) -> Any:
    """The index of a merge output: each row takes its left row's label (its right row's
    label for ``right_only`` rows); ``None`` (a fresh range) when both inputs have the
    default index. ``origins`` holds ``left_row``/``right_row`` per output row."""
    import pandas as pd

    left_index = left.index if left is not None else None
    right_index = right.index if right is not None else None
    if all(i is None or _is_default(i) for i in (left_index, right_index)):
        return None
    labels = [
        (left_index[lr] if lr is not None else right_index[rr])  # type: ignore[index]
        for lr, rr in origins.select("left_row", "right_row").iter_rows()
    ]
    name = getattr(left_index, "name", None)
    return pd.Index(labels, name=name, tupleize_cols=False)


def _pandas(data: Any) -> Any:
    """``data`` if it is a pandas frame, else ``None``."""
    import sys

    pd = sys.modules.get("pandas")
    return data if pd is not None and isinstance(data, pd.DataFrame) else None


def merge_output(
    frame: pl.DataFrame, matches: pl.DataFrame, left: Any, right: Any, *, n: tuple[int, int]
) -> Any:
    """A merge output in pandas: left and right columns in their input dtypes, the index as
    :func:`merged_index` says. ``n`` is the two tables' row counts."""
    from linker.pipeline.result import right_renames, row_origins

    lp, rp = _pandas(left), _pandas(right)
    dtypes: dict[str, Any] = {}
    if rp is not None:
        renames = right_renames([str(c) for c in getattr(lp, "columns", [])], list(rp.columns))
        dtypes.update({renames.get(c, c): t for c, t in rp.dtypes.items()})
    if lp is not None:
        dtypes.update(dict(lp.dtypes))
    origins = row_origins(n[0], n[1], matches)
    return restore(frame, dtypes=dtypes, index=merged_index(lp, rp, origins))


def same_rows_output(frame: pl.DataFrame, data: Any) -> Any:
    """An output with the input's rows in order (dedup): input dtypes and index back."""
    return restore(frame, dtypes=dict(data.dtypes), index=index_of(data))
