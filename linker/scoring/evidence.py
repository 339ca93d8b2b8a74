"""Word evidence of record pairs: IDF-weighted overlap, model codes, numbers, misplaced values.

The similarities of :class:`~linker.scoring.boosted.PairFeatures` that look at the words of a
whole record rather than one column at a time:

- IDF-weighted Jaccard and containment of the two records' words, and the rarest word that
  only one side has (a rare word on one side only is evidence against a match);
- model codes (words with letters and digits, such as ``wfw9200swh`` or ``cs3``): their
  Jaccard, the best fuzzy match between them, and how many appear inside the other record's
  text with spaces and punctuation removed (``coolpix p6000`` holds ``coolpixp6000``);
- the Jaccard of the sets of numbers (years, sizes, prices), of calendar dates written in any
  of the common forms (``10-Jul-07``, ``July 10, 2007``, ``2007-07-10``, ``10/07/2007`` read
  day first only when the first part is above 12), and the closeness of durations (``3:31``);
- per column, the IDF share of its words found anywhere in the other record, both ways: on
  "dirty" data, where values sit in the wrong column, a title's words are still found;
- per column, its *core*: the words of the column that appear in no other column of either
  record (``Third Base Red Rocket Amber Ale`` by ``Third Base Brewery`` has the core ``red
  rocket amber ale``), compared by Jaccard, by a fuzzy match of the sorted words (rapidfuzz
  ``token_sort_ratio``: a typo counts a little, the order not at all) and by how many core
  words only one side has. One source often writes the brewer, brand or
  artist into the name and the other not; the core compares what names the thing itself.

On ER-Magellan these raised the boosted matcher's test F1 most on Textual/Abt-Buy (81.2 ->
90.1), Dirty/iTunes-Amazon and Dirty/DBLP-ACM (see ``benchmarks/results/er_magellan.md``).
Every value is in ``[0, 1]``; :data:`~linker.scoring.features.MISSING` (0.5) where there is no
evidence (no codes, no numbers, an empty side).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["TokenStats", "dates", "evidence_features", "record_words"]

Vector = npt.NDArray[np.float32]
_WORD = re.compile(r"[^\W_]+(?:[-./][^\W_]+)*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_JOINERS = re.compile(r"[-./]")
_NOT_ALNUM = re.compile(r"[\W_]+")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_MONTH = rf"({'|'.join(_MONTH_NAMES)})[a-z]*\.?"
_DATES = (  # (pattern, order of the groups: d = day, m = month, y = year)
    (re.compile(rf"\b(\d{{1,2}})[- ]{_MONTH}[- ,]+(\d{{2,4}})\b"), "dmy"),
    (re.compile(rf"\b{_MONTH} (\d{{1,2}})(?:st|nd|rd|th)? ?,? (\d{{4}})\b"), "mdy"),
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), "ymd"),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b"), "mdy"),
)
_DURATION = re.compile(r"\b(\d{1,2}):([0-5]\d)\b")


def record_words(text: str) -> frozenset[str]:
    """The distinct lower-cased words of ``text``; ``-``, ``.`` and ``/`` inside a word are dropped.

    Example:
        >>> sorted(record_words("Adobe CS-3, for Mac 10.5"))
        ['105', 'adobe', 'cs3', 'for', 'mac']
    """
    return frozenset(_JOINERS.sub("", w) for w in _WORD.findall(text.lower()))


def _is_code(word: str) -> bool:
    return len(word) >= 3 and not word.isdigit() and not word.isalpha() and word.isalnum()


def _numbers(text: str) -> set[str]:
    return {f"{float(m):g}" for m in _NUMBER.findall(text)}


def dates(text: str) -> set[tuple[int, int, int]]:
    """The calendar dates in ``text`` as ``(year, month, day)``; two-digit years are 19xx/20xx.

    Example:
        >>> sorted(dates("out 10-Jul-07; released July 10 , 2007 and 2008-01-31"))
        [(2007, 7, 10), (2008, 1, 31)]
    """
    out: set[tuple[int, int, int]] = set()
    low = text.lower()
    for pattern, order in _DATES:
        for groups in pattern.findall(low):
            parts = dict(zip(order, groups, strict=True))
            month = _MONTHS.get(parts["m"][:3]) if parts["m"][:1].isalpha() else int(parts["m"])
            day, year = int(parts["d"]), int(parts["y"])
            if order == "mdy" and not parts["m"][:1].isalpha() and month and month > 12:
                month, day = day, month  # 31/12/2007: day first
            if year < 100:
                year += 2000 if year < 50 else 1900
            if month and 1 <= month <= 12 and 1 <= day <= 31:
                out.add((year, month, day))
    return out


def _jaccard(a: set[Any] | frozenset[Any], b: set[Any] | frozenset[Any]) -> float:
    """Jaccard of two sets; ``0.5`` (no evidence either way) when one of them is empty."""
    return 0.5 if not a or not b else len(a & b) / len(a | b)


def _durations(text: str) -> list[int]:
    return [60 * int(m) + int(s) for m, s in _DURATION.findall(text)]


def _duration_closeness(a: list[int], b: list[int]) -> float:
    """``1`` for an equal duration on both sides, falling to ``0`` at a minute apart."""
    if not a or not b:
        return 0.5
    return 1.0 - min(min(abs(x - y) for x in a for y in b) / 60.0, 1.0)


class TokenStats:
    """Inverse document frequencies of record words, learned on training records.

    Example:
        >>> s = TokenStats().fit(["acme tools", "acme corp", "zeta corp"])
        >>> s.weight("tools") > s.weight("acme")
        True
    """

    def fit(self, texts: Sequence[str]) -> TokenStats:
        """Count in how many of ``texts`` each word appears."""
        df: Counter[str] = Counter()
        for t in texts:
            df.update(record_words(t))
        return self._set(len(texts), dict(df))

    def _set(self, n: int, df: dict[str, int]) -> TokenStats:
        self.n_, self.df_ = n, df
        self.unseen_ = math.log(1 + n) + 1.0
        self.idf_ = {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}
        return self

    def weight(self, word: str) -> float:
        """The IDF of ``word``; the largest one for a word never seen in training."""
        return self.idf_.get(word, self.unseen_)

    def total(self, words: frozenset[str] | set[str]) -> float:
        """The summed IDF of ``words``."""
        return sum(self.idf_.get(w, self.unseen_) for w in words)

    def state(self) -> dict[str, Any]:
        """JSON-ready state (:meth:`from_state` reads it back)."""
        return {"n": self.n_, "df": self.df_}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TokenStats:
        """The statistics saved by :meth:`state`."""
        return cls()._set(int(state["n"]), {str(k): int(v) for k, v in state["df"].items()})


def _overlap(a: frozenset[str], b: frozenset[str], stats: TokenStats) -> tuple[float, ...]:
    """IDF Jaccard, IDF containment and the scaled IDF of the rarest one-sided word."""
    if not a or not b:
        return 0.5, 0.5, 0.5
    shared = stats.total(a & b)
    sa, sb = stats.total(a), stats.total(b)
    rarest = max((stats.weight(w) for w in a ^ b), default=0.0) / stats.unseen_
    return shared / (sa + sb - shared), shared / min(sa, sb), rarest


def _codes(
    a: frozenset[str], b: frozenset[str], flat_a: str, flat_b: str, ratio: Callable[..., float]
) -> tuple[float, ...]:
    """Code Jaccard, best fuzzy code match, and the share of codes found in the other text."""
    ca, cb = {w for w in a if _is_code(w)}, {w for w in b if _is_code(w)}
    hits = [w in flat_b for w in ca] + [w in flat_a for w in cb]
    found = sum(hits) / len(hits) if hits else 0.5
    if not ca or not cb:
        return 0.5, 0.5, found
    best = max(ratio(x, y) for x in ca for y in cb) / 100.0
    return _jaccard(ca, cb), best, found


def _contained(words: frozenset[str], other: frozenset[str], stats: TokenStats) -> float:
    if not words or not other:
        return 0.5
    return stats.total(words & other) / stats.total(words)


def _core(record: dict[str, str], column: str, columns_of: Counter[str]) -> list[str]:
    """The words of ``record[column]``, in order, that no other column of the pair holds.

    ``columns_of``: in how many columns (of either record) each word of the pair appears.
    """
    words = (_JOINERS.sub("", w) for w in _WORD.findall((record.get(column) or "").lower()))
    return [w for w in words if columns_of[w] == 1]


def _core_similarity(
    a: list[str], b: list[str], token_sort_ratio: Callable[..., float]
) -> tuple[float, float, float]:
    """Core Jaccard, fuzzy match of the sorted core words, ``1 / (1 + one-sided core words)``."""
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.5, 0.5, 0.5
    ordered = token_sort_ratio(" ".join(a), " ".join(b)) / 100.0
    return len(sa & sb) / len(sa | sb), ordered, 1.0 / (1.0 + len(sa ^ sb))


def evidence_features(
    left: Sequence[dict[str, str]],
    right: Sequence[dict[str, str]],
    columns: Sequence[str],
    stats: TokenStats,
) -> dict[str, Vector]:
    """The word-evidence similarities of each ``(left[i], right[i])`` pair.

    Args:
        left: Left records, ``{column: text}``.
        right: Right records, one per left record.
        columns: Compared columns; ``c<i>_in_right`` / ``c<i>_in_left`` follow their order.
        stats: Word IDFs fitted on the training records.

    Returns:
        ``{feature name: one float32 per pair}``.

    Example:
        >>> s = TokenStats().fit(["sony kdl40 tv", "lg 42lh tv", "sony kdl40v tv"])
        >>> f = evidence_features([{"t": "Sony KDL-40 TV"}], [{"t": "sony tv kdl40"}], ["t"], s)
        >>> float(f["record_code_jaccard"][0]), float(f["c0_in_right"][0])
        (1.0, 1.0)
    """
    from rapidfuzz.fuzz import ratio, token_sort_ratio  # once per call, not once per pair

    names = ("record_idf_jaccard", "record_idf_contain", "record_rarest_unshared",
             "record_code_jaccard", "record_code_best", "record_code_found",
             "record_number_jaccard", "record_date_jaccard", "record_duration",
             "record_length_ratio")  # fmt: skip
    rows: list[tuple[float, ...]] = []
    side: list[list[float]] = [[] for _ in range(2 * len(columns))]
    core: list[list[tuple[float, float, float]]] = [[] for _ in columns]
    for lrec, rrec in zip(left, right, strict=True):
        ta = " ".join(lrec.get(c) or "" for c in columns)
        tb = " ".join(rrec.get(c) or "" for c in columns)
        a, b = record_words(ta), record_words(tb)
        na, nb = _numbers(ta), _numbers(tb)
        da, db = dates(ta), dates(tb)
        flat_a, flat_b = _NOT_ALNUM.sub("", ta.lower()), _NOT_ALNUM.sub("", tb.lower())
        rows.append((
            *_overlap(a, b, stats), *_codes(a, b, flat_a, flat_b, ratio),
            _jaccard(na, nb),
            _jaccard(da, db),
            _duration_closeness(_durations(ta), _durations(tb)),
            min(len(a), len(b)) / max(len(a), len(b), 1),
        ))  # fmt: skip
        words_l = [record_words(lrec.get(c) or "") for c in columns]
        words_r = [record_words(rrec.get(c) or "") for c in columns]
        for i in range(len(columns)):
            side[2 * i].append(_contained(words_l[i], b, stats))
            side[2 * i + 1].append(_contained(words_r[i], a, stats))
        if len(columns) > 1:
            columns_of = Counter(
                w for wl, wr in zip(words_l, words_r, strict=True) for w in wl | wr
            )
            for i, c in enumerate(columns):
                pair = _core(lrec, c, columns_of), _core(rrec, c, columns_of)
                core[i].append(_core_similarity(*pair, token_sort_ratio))
    table = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(names))
    out = {name: table[:, j] for j, name in enumerate(names)}
    for i in range(len(columns)):
        out[f"c{i}_in_right"] = np.asarray(side[2 * i], dtype=np.float32)
        out[f"c{i}_in_left"] = np.asarray(side[2 * i + 1], dtype=np.float32)
    if len(columns) > 1:
        for i in range(len(columns)):
            sims = np.asarray(core[i], dtype=np.float32).reshape(len(rows), 3)
            for j, name in enumerate(("core_jaccard", "core_order", "core_unshared")):
                out[f"c{i}_{name}"] = sims[:, j]
    return out
