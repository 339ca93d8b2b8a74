"""Every kind of trained pair matcher by name: building one to train, and loading a saved one.

:data:`TRAINERS` maps the ``model`` names of ``lk.train`` to their classes, and
:func:`new_matcher` builds one from its settings (the class's keyword arguments, checked
against its signature). :data:`MATCHERS` maps the ``"type"`` written in ``linker_matcher.json``
to the class that reads it. The classes are imported when used (the transformer matcher pulls
in torch as it trains or loads), so this module stays cheap and imports none of them.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from linker.errors import ConfigError, ModelError
from linker.scoring.base import CONFIG_FILE, PairMatcher
from linker.scoring.labelled_pairs import PairSet

__all__ = [
    "MATCHERS",
    "TRAINERS",
    "TrainableMatcher",
    "check_matcher",
    "load_matcher",
    "new_matcher",
]

MATCHERS: dict[str, str] = {
    "DittoMatcher": "linker.scoring.ditto.model:DittoMatcher",
    "BoostedMatcher": "linker.scoring.boosted:BoostedMatcher",
    "StackedMatcher": "linker.scoring.stack:StackedMatcher",
}

#: ``lk.train(model=...)`` names. A class whose ``__init__`` has a parameter named after
#: another entry (the stack's ``ditto`` and ``boosted``) takes that matcher's settings as a dict.
TRAINERS: dict[str, str] = {
    "ditto": MATCHERS["DittoMatcher"],
    "boosted": MATCHERS["BoostedMatcher"],
    "stack": MATCHERS["StackedMatcher"],
}


class TrainableMatcher(PairMatcher, Protocol):
    """A pair matcher before ``fit``: what :func:`new_matcher` builds."""

    def fit(self, train: PairSet, valid: PairSet | None = None) -> PairMatcher:
        """Fit on ``train``; choose the threshold on ``valid``; return the fitted matcher."""
        ...


def _class(path: str) -> Any:
    module, name = path.rsplit(":", 1)
    return getattr(importlib.import_module(module), name)


def _routes(model: str) -> dict[str, str | None]:
    """Each setting ``model`` takes -> ``None`` (its own) or the part whose dict takes it."""
    if model not in TRAINERS:
        raise ConfigError(f"model={model!r} is not one of {list(TRAINERS)}")
    own = {
        name
        for name, p in inspect.signature(_class(TRAINERS[model])).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    routes: dict[str, str | None] = {}
    for part in sorted(own & TRAINERS.keys()):
        routes.update(dict.fromkeys(sorted(set(_routes(part)) - own), part))
    routes.update(dict.fromkeys(sorted(own - TRAINERS.keys())))
    return routes


def new_matcher(
    model: str, settings: Mapping[str, Any], *, optional: Mapping[str, Any] | None = None
) -> TrainableMatcher:
    """An unfitted matcher of kind ``model`` (a :data:`TRAINERS` name), built from its settings.

    Args:
        model: ``"ditto"``, ``"boosted"`` or ``"stack"``.
        settings: Keyword arguments of the class; a part's settings (``"stack"``: those of
            ``"ditto"`` and ``"boosted"``) go into that part's dict.
        optional: Settings passed only where the class takes them (``lk.train``'s
            ``epochs``, which the boosted matcher has no use for).

    Raises:
        ConfigError: An unknown ``model``, or settings it does not take: they are named, with
            the models that do take them and the settings it has.

    Example:
        >>> new_matcher("boosted", {"max_iter": 20}).max_iter
        20
        >>> new_matcher("boosted", {"hard_negatives": 1.0})
        Traceback (most recent call last):
        ...
        linker.errors.ConfigError: model='boosted' takes no setting ['hard_negatives'] (hard_negatives is a setting of model='stack'); its settings are ['columns', 'embedding', 'l2_regularization', 'learning_rate', 'max_features', 'max_iter', 'n_models', 'seed', 'token_model']
    """  # noqa: E501
    routes = _routes(model)
    unknown = sorted(set(settings) - routes.keys())
    if unknown:
        hints = [
            f"{key} is a setting of " + " and ".join(f"model={m!r}" for m in takers)
            for key in unknown
            if (takers := [m for m in TRAINERS if m != model and key in _routes(m)])
        ]
        raise ConfigError(
            f"model={model!r} takes no setting {unknown}"
            + (f" ({'; '.join(hints)})" if hints else "")
            + f"; its settings are {sorted(routes)}"
        )
    kwargs: dict[str, Any] = {}
    given = {**{k: v for k, v in (optional or {}).items() if k in routes}, **settings}
    for key, value in given.items():
        part = routes[key]
        if part is None:
            kwargs[key] = value
        else:
            kwargs.setdefault(part, {})[key] = value
    matcher: TrainableMatcher = _class(TRAINERS[model])(**kwargs)
    return matcher


def check_matcher(folder: str | Path) -> str:
    """Check that ``folder`` holds a saved matcher, without loading it; return its type.

    Reads only ``linker_matcher.json``, so a wrong ``--matcher`` fails before any work starts.

    Raises:
        ModelError: the folder is not a saved matcher, or names an unknown type.

    Example:
        >>> check_matcher("no/such/folder")
        Traceback (most recent call last):
        ...
        linker.errors.ModelError: no/such/folder is not a saved matcher (no linker_matcher.json); train one with lk.train or `linker train`
    """  # noqa: E501
    cfg = Path(folder) / CONFIG_FILE
    if not cfg.is_file():
        raise ModelError(
            f"{folder} is not a saved matcher (no {CONFIG_FILE}); train one with lk.train or "
            "`linker train`"
        )
    try:
        kind = json.loads(cfg.read_text(encoding="utf-8")).get("type", "DittoMatcher")
    except (OSError, ValueError, AttributeError) as e:
        raise ModelError(f"cannot read {cfg}: {e}; train the matcher again") from e
    if not isinstance(kind, str) or kind not in MATCHERS:
        raise ModelError(
            f"{cfg} names an unknown matcher type {kind!r} (known: {', '.join(MATCHERS)}); "
            "upgrade linker or train the matcher again"
        )
    return kind


def load_matcher(matcher: PairMatcher | str | Path) -> PairMatcher:
    """A fitted matcher from itself or from a folder saved by ``lk.train`` / ``linker train``.

    Raises:
        ModelError: the folder is not a saved matcher.
        NotFittedError: an unfitted matcher was given.

    Example:
        >>> load_matcher("no/such/folder")
        Traceback (most recent call last):
        ...
        linker.errors.ModelError: no/such/folder is not a saved matcher (no linker_matcher.json); train one with lk.train or `linker train`
    """  # noqa: E501
    if not isinstance(matcher, str | Path):
        matcher._fitted()  # type: ignore[attr-defined]
        return matcher
    loaded: PairMatcher = _class(MATCHERS[check_matcher(matcher)]).load(matcher)
    return loaded
