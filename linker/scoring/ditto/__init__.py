"""Ditto-style pair matcher: serialize, optimize (summarize, mark spans, augment), fine-tune.

Example:
    >>> from linker.scoring.ditto import DittoMatcher
    >>> DittoMatcher(epochs=2).epochs
    2
"""

from __future__ import annotations

from linker.scoring.ditto.model import DittoMatcher, resolve_backbone
from linker.scoring.ditto.optimize import Summarizer, augment, mark_spans

__all__ = ["DittoMatcher", "Summarizer", "augment", "mark_spans", "resolve_backbone"]
