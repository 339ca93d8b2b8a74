"""Pair features: per-column rapidfuzz similarities next to the blockers' cosines.

Every feature is a similarity in ``[0, 1]``. A column that is empty on either side has no
evidence either way and gets the neutral value ``0.5``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = ["MISSING", "column_features"]

logger = logging.getLogger(__name__)

MISSING = 0.5
_SCORERS = ("ratio", "token_set_ratio")


def column_features(
    left_cols: Sequence[pl.Series],
    right_cols: Sequence[pl.Series],
    left_rows: npt.NDArray[np.int64],
    right_rows: npt.NDArray[np.int64],
    *,
    names: Sequence[str],
) -> dict[str, npt.NDArray[np.float32]]:
    """Rapidfuzz ``ratio`` and ``token_set_ratio`` of each compared column, for each pair.

    Args:
        left_cols: One cleaned text Series per compared column (nulls as ``""``), left side.
        right_cols: The same for the right side, in the same order.
        left_rows: Left row number of each pair.
        right_rows: Right row number of each pair.
        names: A short name per column, used in the feature names.

    Returns:
        ``{"<name>_<scorer>": similarities}`` with one float32 value per pair.

    Example:
        >>> import numpy as np, polars as pl
        >>> f = column_features([pl.Series(["acme corp"])], [pl.Series(["corp acme", ""])],
        ...                     np.array([0, 0]), np.array([0, 1]), names=["name"])
        >>> [round(float(x), 2) for x in f["name_token_set_ratio"]]
        [1.0, 0.5]
    """
    from rapidfuzz import fuzz
    from rapidfuzz.process import cpdist

    out: dict[str, npt.NDArray[np.float32]] = {}
    for name, lc, rc in zip(names, left_cols, right_cols, strict=True):
        a = lc.gather(left_rows).to_list() if len(left_rows) else []
        b = rc.gather(right_rows).to_list() if len(right_rows) else []
        empty = np.array([not x or not y for x, y in zip(a, b, strict=True)], dtype=bool)
        for scorer in _SCORERS:
            if not a:
                out[f"{name}_{scorer}"] = np.zeros(0, np.float32)
                continue
            raw = cpdist(a, b, scorer=getattr(fuzz, scorer), workers=-1, dtype=np.float32)
            sims = (np.asarray(raw, dtype=np.float32) / 100.0).astype(np.float32)
            sims[empty] = MISSING
            out[f"{name}_{scorer}"] = sims
    return out
