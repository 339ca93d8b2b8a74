"""Every kind of trained pair matcher by its saved ``"type"``, and loading any of them.

:data:`MATCHERS` maps the ``"type"`` written in ``linker_matcher.json`` to the class that reads
it. The classes are imported when a folder of theirs is loaded (the transformer matcher pulls
in torch), so this module stays cheap and imports none of them.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from linker.errors import ModelError
from linker.scoring.base import CONFIG_FILE, PairMatcher

__all__ = ["MATCHERS", "check_matcher", "load_matcher"]

MATCHERS: dict[str, str] = {
    "DittoMatcher": "linker.scoring.ditto.model:DittoMatcher",
    "BoostedMatcher": "linker.scoring.boosted:BoostedMatcher",
    "StackedMatcher": "linker.scoring.stack:StackedMatcher",
}


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
    module, name = MATCHERS[check_matcher(matcher)].rsplit(":", 1)
    cls = getattr(importlib.import_module(module), name)
    loaded: PairMatcher = cls.load(matcher)
    return loaded
