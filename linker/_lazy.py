"""Lazy package attributes (PEP 562): a name or a submodule is imported on first access.

``import linker`` stays cheap because its public names and its subpackages load only when
touched; :func:`lazy_getattr` builds the module ``__getattr__`` that does it, for the top level
and for any subpackage that exports names from heavier modules (``linker.scoring``).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, names: Mapping[str, str] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports what is asked for.

    Args:
        package: The package's ``__name__``.
        names: Exported name -> the module that defines it.

    Returns:
        A function for the package's ``__getattr__``: a name of ``names`` comes from its
        module; any other public name that is a submodule of ``package`` is imported and
        returned (``lk.scoring.labelled_pairs`` on a fresh ``import linker as lk``); anything
        else is an ``AttributeError``, as for a plain module.

    Example:
        >>> get = lazy_getattr("linker", {"read": "linker.frames"})
        >>> get("read").__name__, get("errors").__name__
        ('read', 'linker.errors')
        >>> get("nothing")
        Traceback (most recent call last):
        ...
        AttributeError: module 'linker' has no attribute 'nothing'
    """
    table = dict(names or {})

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(table[name]), name)
        if not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
