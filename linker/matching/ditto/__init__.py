"""Ditto-style pair matcher: serialize, optimize (summarize, mark spans, augment), fine-tune.

Example:
    >>> from linker.matching.ditto import DittoMatcher
    >>> DittoMatcher(epochs=2).epochs
    2
"""

from __future__ import annotations

from linker.matching.ditto.model import DittoMatcher, resolve_backbone
from linker.matching.ditto.optimize import Summarizer, augment, mark_spans

__all__ = ["DittoMatcher", "Summarizer", "augment", "mark_spans", "resolve_backbone"]
