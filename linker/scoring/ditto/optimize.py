"""Ditto's three optimizations: summarization, domain-knowledge spans, data augmentation.

* :class:`Summarizer` keeps the most informative words (TF-IDF, fitted on the training
  records) of a serialized record that is longer than its share of ``max_len``, in their
  original order; the ``COL``/``VAL`` markers, the column names and the span marks stay.
* :func:`mark_spans` marks the spans a matcher should look at closely: model codes (letters
  mixed with digits), years, numbers with a unit, and other numbers, as ``[code] dsc-w120``.
* :func:`augment` changes a training pair without changing its label: delete a span, drop a
  column's value, shuffle a span, or swap the two sides (Ditto's ``del``, ``drop_col``,
  ``shuffle`` and ``swap`` operators). It runs on the fly, so each epoch sees other variants.

Each one is switched by a :class:`~linker.scoring.ditto.model.DittoMatcher` parameter.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

from linker.scoring.labelled_pairs import Record

__all__ = ["AUGMENT_OPS", "Summarizer", "augment", "mark_spans"]

_KEEP = {"COL", "VAL"}
_MARK = re.compile(r"^\[(code|year|unit|num)\]$")
_UNITS = (
    r"gb|mb|tb|kb|ghz|mhz|hz|mm|cm|km|kg|lbs?|oz|ml|mp|in|inch|ft|w|kw|v|mah|x|gb/s|"
    r"min|mins|sec|s|hrs?|%"
)
_SPANS = (
    ("year", re.compile(r"^(?:19|20)\d\d$")),
    ("unit", re.compile(rf"^\$?\d+(?:[.,]\d+)?(?:{_UNITS})$", re.I)),
    ("code", re.compile(r"^(?=[\w./-]*\d)(?=[\w./-]*[a-z])[\w./-]{3,}$", re.I)),
    ("num", re.compile(r"^\$?\d+(?:[.,:]\d+)*$")),
)
AUGMENT_OPS = ("del", "drop_col", "shuffle", "swap")


def mark_spans(text: str) -> str:
    """Prefix the domain-knowledge spans of ``text`` with their kind (``[code]``, ...).

    Example:
        >>> mark_spans("COL title VAL sony dsc-w120 7.2mp 2008 for 199")
        'COL title VAL sony [code] dsc-w120 [unit] 7.2mp [year] 2008 for [num] 199'
    """
    out = []
    for word in text.split():
        if word not in _KEEP:
            for kind, pattern in _SPANS:
                if pattern.match(word):
                    out.append(f"[{kind}]")
                    break
        out.append(word)
    return " ".join(out)


def _words(text: str) -> list[str]:
    return [w.lower() for w in text.split() if w not in _KEEP and not _MARK.match(w)]


class Summarizer:
    """Shorten long serialized records to their most informative words (TF-IDF).

    Args:
        max_words: Words kept per record (markers and column names are not counted).

    Example:
        >>> s = Summarizer(max_words=2).fit(["COL t VAL the red apple", "COL t VAL the pear"])
        >>> s.transform("COL t VAL the red apple")
        'COL t VAL red apple'
    """

    def __init__(self, *, max_words: int = 60):
        self.max_words = max_words

    def fit(self, texts: Iterable[str]) -> Summarizer:
        """Learn document frequencies from serialized records."""
        df: Counter[str] = Counter()
        n = 0
        for t in texts:
            df.update(set(_words(t)))
            n += 1
        self.n_docs_ = n
        self.idf_ = {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items() if c > 1}
        return self

    def transform(
        self, text: str, *, budget: int | None = None, cost: Callable[[str], int] | None = None
    ) -> str:
        """``text`` with only its ``max_words`` best words kept (in order), when longer.

        With ``budget`` and ``cost`` (the word-piece count of a word), the kept words also
        fit ``budget`` word pieces together with the markers and column names, so the
        tokenizer does not cut the last columns off.
        """
        tokens = text.split()
        names = set()
        for i, tok in enumerate(tokens[:-1]):
            if tok == "COL":  # the column name runs up to the next VAL
                j = i + 1
                while j < len(tokens) and tokens[j] != "VAL":
                    names.add(j)
                    j += 1
        value_at = [
            i
            for i, t in enumerate(tokens)
            if t not in _KEEP and i not in names and not _MARK.match(t)
        ]
        costs = [cost(t) for t in tokens] if budget is not None and cost is not None else []
        if len(value_at) <= self.max_words and (not costs or sum(costs) <= (budget or 0)):
            return text
        tf = Counter(tokens[i].lower() for i in value_at)
        default_idf = math.log(1 + getattr(self, "n_docs_", 1)) + 1.0  # unseen: rarest
        idf = getattr(self, "idf_", {})
        first: dict[str, int] = {}  # a repeated word is kept once, at its first place
        for i in value_at:
            first.setdefault(tokens[i].lower(), i)
        # sublinear TF: a word said three times is not three times as informative
        score = {i: (1.0 + math.log(tf[w])) * idf.get(w, default_idf) for w, i in first.items()}
        ranked = sorted(score, key=lambda i: (-score[i], i))[: self.max_words]
        if costs and budget is not None:
            values = set(value_at)
            marked = {i + 1 for i in range(len(tokens) - 1) if _MARK.match(tokens[i])}
            fixed = sum(c for i, c in enumerate(costs) if i not in values and i + 1 not in marked)
            room, fitted = budget - fixed, []
            for i in ranked:  # best first; a word's mark costs with it
                c = costs[i] + (costs[i - 1] if i in marked else 0)
                if c <= room:
                    fitted.append(i)
                    room -= c
            ranked = fitted
        keep = set(ranked)
        values = set(value_at)
        out = []
        for i, t in enumerate(tokens):
            if i in keep or i not in values:
                if _MARK.match(t) and i + 1 < len(tokens) and i + 1 not in keep:
                    continue  # a mark whose word was dropped
                out.append(t)
        return " ".join(out)


def _span(words: list[str], rng: np.random.Generator) -> tuple[int, int]:
    length = int(rng.integers(1, min(4, len(words)) + 1))
    start = int(rng.integers(0, len(words) - length + 1))
    return start, start + length


def augment(left: Record, right: Record, rng: np.random.Generator) -> tuple[Record, Record]:
    """One label-preserving variant of a pair: a random operator of :data:`AUGMENT_OPS`.

    Example:
        >>> import numpy as np
        >>> l, r = augment({"a": "x y z"}, {"a": "x y"}, np.random.default_rng(0))
        >>> sorted(l) == ["a"] and sorted(r) == ["a"]
        True
    """
    op = AUGMENT_OPS[int(rng.integers(len(AUGMENT_OPS)))]
    if op == "swap":
        return right, left
    side = int(rng.integers(2))
    rec = dict((left, right)[side])
    filled = [c for c, v in rec.items() if v]
    if not filled:
        return left, right
    col = filled[int(rng.integers(len(filled)))]
    if op == "drop_col":
        rec[col] = ""
    else:
        words = rec[col].split()
        a, b = _span(words, rng)
        if op == "del" and len(words) > 1:
            words = words[:a] + words[b:]
        elif op == "shuffle":
            part = words[a:b]
            rng.shuffle(part)
            words = words[:a] + part + words[b:]
        rec[col] = " ".join(words)
    return (rec, right) if side == 0 else (left, rec)
