"""The warning for compared columns that cannot tell records apart (nothing was linked)."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import polars as pl

from linker.scoring.fellegi_sunter import comparison_levels
from linker.scoring.zero_label import ZeroLabelScorer

__all__ = ["separation_warning"]

logger = logging.getLogger(__name__)


def separation_warning(scorer: ZeroLabelScorer, pairs: pl.DataFrame) -> str | None:
    """Warn (and return the message) when the compared columns cannot tell records apart.

    Called when nothing was linked. Two cases: even a pair exact on every compared column
    would score below 0.5 (the columns are shared by too many records: a city alone), or the
    best candidates agree on some columns and differ on the others (same city, another
    name). Tables that simply share no record get no warning.
    """
    names = scorer.names_
    if scorer.fs_ is None:  # too few pairs to say
        return None
    best = scorer.fs_.best_possible()
    if best < 0.5:
        msg = (
            f"the compared columns {names} cannot tell records apart: even a pair identical on "
            f"all of them would score {best:.2f}, because many unrelated records share such "
            "values; nothing was linked. Compare columns that identify a record (a name, an "
            "address, a phone number, a date of birth) or train a matcher on labelled pairs "
            "(lk.train)"
        )
    else:
        top = pairs.filter(pl.col("rank") == 1)
        if top.height == 0:
            return None
        levels = comparison_levels({c: top[c].to_numpy() for c in top.columns}, names)
        agree = [c for c in names if float(np.mean(levels[c] <= 1)) >= 0.5]
        differ = [c for c in names if float(np.mean(levels[c] == 4)) >= 0.5]
        if not agree or not differ:
            return None
        msg = (
            f"nothing was linked: most records' best candidates agree on {agree} but differ on "
            f"{differ}, so these columns cannot tell the records apart here (the model "
            f"estimates {scorer.expected_:.0f} matching pairs). If the tables should share "
            f"records, check that {differ} hold the same kind of value on both sides, add "
            "columns that identify a record, or train a matcher on labelled pairs (lk.train)"
        )
    logger.warning(msg)
    warnings.warn(msg, UserWarning, stacklevel=3)
    return msg
