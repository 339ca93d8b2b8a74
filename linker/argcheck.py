"""Type checks of the settings every verb shares, so a wrong type is a ConfigError, not a
TypeError from deep inside a stage (``threshold="0.5"`` used to fail at ``0.0 <= "0.5"``)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from linker.errors import ConfigError

__all__ = ["check_types"]


def _real(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = f" (write {name}={value.strip()})" if isinstance(value, str) else ""
        raise ConfigError(f"{name} must be a number, not {type(value).__name__} {value!r}{hint}")


def _integer(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be a whole number, not {type(value).__name__} {value!r}")


def _names(name: str, value: object) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name} must be a column name or a list of column names, not {value!r}")


def check_types(settings: Any) -> None:
    """Check the types of a :class:`~linker.pipeline.linker.Linker`'s shared settings.

    Raises:
        ConfigError: a setting has the wrong type; the message names it.

    Example:
        >>> from types import SimpleNamespace
        >>> check_types(SimpleNamespace(threshold="0.5", k=10))
        Traceback (most recent call last):
        ...
        linker.errors.ConfigError: threshold must be a number, not str '0.5' (write threshold=0.5)
    """
    _real("threshold", settings.threshold)
    _integer("k", settings.k)
    for name in ("on", "left_on", "right_on", "block_on"):
        _names(name, getattr(settings, name, None))
    ids = getattr(settings, "id", None)
    if ids is not None and not isinstance(ids, str):
        if not (isinstance(ids, tuple | list) and len(ids) == 2):
            raise ConfigError(f"id must be a column name or (left_id, right_id), not {ids!r}")
        _names("id", list(ids))
    band = getattr(settings, "rerank_band", (0.3, 0.7))
    if not isinstance(band, tuple | list) or len(band) != 2:
        raise ConfigError(f"rerank_band must be (lo, hi), not {band!r}")
    for v in band:
        _real("rerank_band", v)
