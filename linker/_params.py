"""An object's parameters read from its ``__init__`` signature (scikit-learn's ``get_params``),
and their JSON form.

The estimator convention (``__init__`` only stores each argument under its own name) makes the
signature the one list of an object's settings: :func:`get_params` reads them back, and
:func:`json_value` writes one as JSON or says which one cannot be written.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

from linker.errors import ConfigError

__all__ = ["JSON", "get_params", "json_value", "param_names", "params_repr"]

JSON = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]


def param_names(cls: type) -> list[str]:
    """The names of the keyword parameters of ``cls.__init__``, in order.

    Example:
        >>> class Box:
        ...     def __init__(self, size: int, *, label: str = "") -> None:
        ...         self.size, self.label = size, label
        >>> param_names(Box)
        ['size', 'label']
    """
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    params = inspect.signature(cls).parameters.values()
    return [p.name for p in params if p.kind not in skip]


def get_params(obj: object) -> dict[str, Any]:
    """The parameters of ``obj``: each ``__init__`` argument, read from the attribute of its name.

    Example:
        >>> class Box:
        ...     def __init__(self, size: int, *, label: str = "") -> None:
        ...         self.size, self.label = size, label
        >>> get_params(Box(3, label="big"))
        {'size': 3, 'label': 'big'}
    """
    return {name: getattr(obj, name) for name in param_names(type(obj))}


def json_value(name: str, value: Any, *, hint: str = "") -> JSON:
    """``value`` as JSON: paths become text, tuples lists, dataclasses objects of their fields.

    Raises:
        ConfigError: ``value`` (or a part of it) is an object JSON cannot hold; the message
            names the parameter ``name`` and says what to do (``hint``, when given).

    Example:
        >>> from pathlib import Path
        >>> json_value("cache", Path("runs/cache")), json_value("band", (0.3, 0.7))
        ('runs/cache', [0.3, 0.7])
        >>> json_value("model", object())
        Traceback (most recent call last):
        ...
        linker.errors.ConfigError: model=<object> cannot be written as JSON: give it as a name, a path or a number
    """  # noqa: E501
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_value(name, v, hint=hint) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: json_value(f"{name}.{k}", v, hint=hint) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: json_value(f"{name}.{f.name}", getattr(value, f.name), hint=hint)
            for f in dataclasses.fields(value)
        }
    raise ConfigError(
        f"{name}=<{type(value).__name__}> cannot be written as JSON: "
        + (hint or "give it as a name, a path or a number")
    )


def params_repr(obj: object) -> str:
    """``Class(name=value, ...)`` with the parameters that differ from their defaults.

    Example:
        >>> class Box:
        ...     def __init__(self, size: int = 1, *, label: str = "") -> None:
        ...         self.size, self.label = size, label
        >>> params_repr(Box(label="big"))
        "Box(label='big')"
    """
    signature = inspect.signature(type(obj)).parameters
    changed = [
        f"{name}={value!r}"
        for name, value in get_params(obj).items()
        if not _same(value, signature[name].default)
    ]
    return f"{type(obj).__name__}({', '.join(changed)})"


def _same(value: object, default: object) -> bool:
    if value is default:
        return True
    try:
        return bool(value == default)
    except Exception:  # noqa: BLE001 - an object whose == does not give a bool (an array)
        return False
