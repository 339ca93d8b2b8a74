"""One JSON format for a :class:`~linker.pipeline.linker.Linker`'s settings.

A config document names its format and holds the ``Linker`` keyword arguments under
``"linker"``::

    {
      "format_version": 1,
      "linker": {"on": ["name", "city"], "how": "1:1", "k": 10, "threshold": 0.5}
    }

- ``Linker.to_config()`` writes every argument (its defaults too, so a later linker with
  other defaults still reproduces the run); a hand-written file may give only some, and the
  rest take their defaults.
- Values are JSON: lists for column lists and pairs (``id``, ``rerank_band``), objects for
  ``ann`` (the :class:`~linker.vectors.ann.AnnParams` fields) and ``blockers`` (the
  :class:`~linker.blocking.blockers.Blockers` fields), text for ``model``, ``matcher``,
  ``rerank``, ``backend`` and ``cache``. An object that JSON cannot hold (an encoder, a
  fitted matcher, a chat client) is refused with a :class:`~linker.errors.ConfigError`
  that names it.
- ``show_progress`` and ``callback`` say how a run reports, not what it computes: they are
  never written, and ``from_config`` takes them (or any other argument) as overrides.
- Files that carry a linker config and more (a review export, a link index's settings) keep
  their own keys beside ``"linker"``; reading a config looks only at ``format_version`` and
  ``"linker"``. The review exports written before this format (``"settings"`` beside
  ``"cli"``) are read too.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from linker._params import json_value
from linker.blocking.blockers import Blockers
from linker.errors import ConfigError
from linker.io.write import atomic_write
from linker.vectors.ann import AnnParams

__all__ = [
    "FORMAT_VERSION",
    "RUNTIME",
    "config_document",
    "linker_kwargs",
    "read_document",
    "write_document",
]

#: The version of the config format this linker writes and reads.
FORMAT_VERSION = 1
#: Arguments that say how a run reports, not what it computes: never in a config.
RUNTIME = ("show_progress", "callback")

_HINTS = {
    "model": "pass model= as a name ('minilm', 'static') or a path",
    "matcher": "save it (matcher.save(folder)) and pass matcher=folder",
    "rerank": "pass rerank= as 'local', 'openai:<model>' or 'cross-encoder:<folder>'",
    "backend": "pass backend='local' or 'ray'",
}
_DATACLASSES: dict[str, type[AnnParams] | type[Blockers]] = {"ann": AnnParams, "blockers": Blockers}
_PAIRS = ("id", "rerank_band")  # tuples in Python, lists in JSON
_REVIEW = ("command", "left", "right", "merged", "features")  # a review's own settings


def config_document(params: Mapping[str, Any]) -> dict[str, Any]:
    """The config document of a ``Linker``'s parameters (the :data:`RUNTIME` ones left out).

    Raises:
        ConfigError: a parameter JSON cannot hold; the message names it.

    Example:
        >>> config_document({"on": ("name",), "k": 10, "show_progress": True})
        {'format_version': 1, 'linker': {'on': ['name'], 'k': 10}}
    """
    section = {
        k: json_value(k, v, hint=_HINTS.get(k, "")) for k, v in params.items() if k not in RUNTIME
    }
    return {"format_version": FORMAT_VERSION, "linker": section}


def write_document(document: Mapping[str, Any], path: str | Path) -> Path:
    """Write a config document as indented JSON, atomically; returns the path."""
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return Path(path)


def read_document(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """A config document from a mapping or a JSON file, checked and brought to this format.

    Raises:
        ConfigError: the file cannot be read or is not JSON, it holds no ``"linker"``
            section, or it was written by a newer linker.
    """
    where = "the config"
    if isinstance(source, str | Path):
        where = str(source)
        try:
            doc = json.loads(Path(source).read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"cannot read the config {where}: {e.strerror}") from e
        except json.JSONDecodeError as e:
            raise ConfigError(f"{where} is not JSON ({e}): write a linker config") from e
    else:
        doc = dict(source)
    if not isinstance(doc, dict):
        raise ConfigError(f"{where} is not a JSON object: write a linker config")
    if "linker" not in doc and isinstance(doc.get("settings"), dict) and "cli" in doc:
        old = doc["settings"]  # a review export before this format: the review's keys beside
        doc = {"format_version": 1, "linker": {k: v for k, v in old.items() if k not in _REVIEW}}
    if not isinstance(doc.get("linker"), dict):
        raise ConfigError(
            f'{where} has no "linker" section: write {{"format_version": {FORMAT_VERSION}, '
            '"linker": {"on": [...], ...}} (see Linker.from_config)'
        )
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError(f'{where} has no "format_version": add "format_version": 1')
    if version > FORMAT_VERSION:
        raise ConfigError(
            f"{where} is config format {version}, written by a newer linker (this one reads "
            f"up to {FORMAT_VERSION}): upgrade linker"
        )
    return doc


def _unknown(what: str, given: Sequence[str], allowed: Sequence[str]) -> None:
    bad = [k for k in given if k not in allowed]
    if bad:
        close = {k: difflib.get_close_matches(k, allowed, n=1) for k in bad}
        hints = [f"{k!r} (did you mean {c[0]!r}?)" if c else repr(k) for k, c in close.items()]
        raise ConfigError(f"{what} has unknown setting(s) {', '.join(hints)}; known: {allowed}")


def _decode(name: str, value: Any) -> Any:
    if name in _DATACLASSES and value is not None:
        cls = _DATACLASSES[name]
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be an object of {cls.__name__} fields, not {value!r}")
        _unknown(f"the {name!r} setting", list(value), [f.name for f in fields(cls)])
        return cls(**value)
    if name in _PAIRS and isinstance(value, list):
        return tuple(value)
    return value


def linker_kwargs(
    source: Mapping[str, Any] | str | Path, names: Sequence[str], **overrides: Any
) -> dict[str, Any]:
    """The ``Linker`` keyword arguments of a config document (see :func:`read_document`),
    ``overrides`` on top; ``names`` are the ``Linker``'s parameters.

    Raises:
        ConfigError: see :func:`read_document`; or an unknown setting (the message suggests
            the closest known one).

    Example:
        >>> doc = {"format_version": 1, "linker": {"on": ["name"], "ann": {"M": 32}}}
        >>> kw = linker_kwargs(doc, ["on", "ann", "show_progress"], show_progress=False)
        >>> kw["ann"].M, kw["show_progress"]
        (32, False)
        >>> linker_kwargs({"format_version": 1, "linker": {"treshold": 0.4}}, ["threshold"])
        Traceback (most recent call last):
        ...
        linker.errors.ConfigError: the config has unknown setting(s) 'treshold' (did you mean 'threshold'?); known: ['threshold']
    """  # noqa: E501
    where = str(source) if isinstance(source, str | Path) else "the config"
    section = read_document(source)["linker"]
    settings = [n for n in names if n not in RUNTIME]
    _unknown(where, list(section), settings)
    _unknown("from_config()", list(overrides), list(names))
    return {**{k: _decode(k, v) for k, v in section.items()}, **overrides}
