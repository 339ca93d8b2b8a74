"""Progress reporting shared by every long step: tqdm bars and a callback hook
(:class:`~linker.protocols.ProgressCallback`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TypeVar

from linker.protocols import ProgressCallback

__all__ = ["ProgressCallback", "progress", "want_progress"]

T = TypeVar("T")


def want_progress(show_progress: bool | None, logger: logging.Logger) -> bool:
    """Resolve ``show_progress``: ``None`` follows the logger (INFO or more verbose shows bars)."""
    if show_progress is not None:
        return show_progress
    return logger.getEffectiveLevel() <= logging.INFO


def progress(
    items: Iterable[T], *, total: int, desc: str, show: bool, unit: str = "it"
) -> Iterator[T]:
    """Wrap ``items`` in a tqdm bar when ``show`` is true; otherwise yield them as they are."""
    if not show:
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
