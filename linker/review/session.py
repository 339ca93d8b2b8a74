"""The review session: a queue of uncertain pairs over a review store, without any UI.

A :class:`ReviewSession` is what one browser tab (or one script) holds. It reads the linkage's
records and pairs once, keeps the queue order in numpy arrays and catches up with the
decisions others wrote by reading the log rows after the last id it saw, so
:meth:`ReviewSession.current` stays fast with 100,000 pairs loaded. Every decision is written
to the store (and committed) before the call returns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.errors import ConfigError, InputError
from linker.review.build import EXPLANATIONS, ID, Linkage
from linker.review.store import LABELS, Decision, ReviewStore
from linker.review.views import Explanation, explanation

__all__ = ["Order", "Pair", "ReviewSession"]

logger = logging.getLogger(__name__)

Order = Literal["uncertainty", "disagreement"]
_CODE = {"match": 1, "non_match": 0, "skip": 2}
_NONE = -1


@dataclass(frozen=True)
class Pair:
    """One candidate pair as the queue shows it.

    Attributes:
        index: Row of the pair in the linkage's pairs.
        left_id: Id of the left record.
        right_id: Id of the right record.
        score: Current match probability.
        label: Current decision (``match``, ``non_match``, ``skip``) or ``None``.
        note: The note of the current decision.
        left: The left record (column → value).
        right: The right record.
    """

    index: int
    left_id: str
    right_id: str
    score: float
    label: str | None
    note: str
    left: dict[str, Any]
    right: dict[str, Any]


def _uncertainty(s: ReviewSession) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = np.abs(s.scores - s.threshold)
    return out


def _disagreement(s: ReviewSession) -> npt.NDArray[np.float64]:
    other = "score_stage1" if "score_stage1" in s.pairs.columns else "base_score"
    gap: npt.NDArray[np.float64] = np.abs(s.scores - s.pairs[other].to_numpy())
    return -gap + 1e-3 * _uncertainty(s)  # largest disagreement first, then uncertainty


_ORDERS = {"uncertainty": _uncertainty, "disagreement": _disagreement}


class ReviewSession:
    """Review the pairs of one linkage in a store.

    Args:
        store: The review store (a :class:`ReviewStore` or its file path).
        linkage_id: The linkage to review (see :meth:`ReviewStore.linkages`).
        reviewer: Name written with each decision.
        order: ``"uncertainty"`` (closest to the threshold first) or ``"disagreement"``
            (largest gap between the first scorer and the current one: the LLM rerank, or a
            retrained model).

    Example:
        >>> import tempfile, polars as pl
        >>> from linker.review import Linkage, ReviewSession
        >>> recs = pl.DataFrame({"__lk_id": ["a", "b"], "name": ["Acme", "Zeta"]})
        >>> pairs = pl.DataFrame({"left_id": ["a", "b"], "right_id": ["a", "b"],
        ...                       "sim": [0.9, 0.4], "score": [0.9, 0.45],
        ...                       "base_score": [0.9, 0.45]})
        >>> link = Linkage("link", recs, recs, pairs, {"threshold": 0.5, "features": ["sim"]})
        >>> s = ReviewSession.create(f"{tempfile.mkdtemp()}/r.sqlite", link)
        >>> s.current().left_id  # 0.45 is closer to 0.5 than 0.9 is
        'b'
        >>> _ = s.decide("match", note="same firm")
        >>> s.current().left_id
        'a'
    """

    def __init__(
        self,
        store: ReviewStore | str,
        linkage_id: str,
        *,
        reviewer: str = "",
        order: Order = "uncertainty",
    ):
        if order not in _ORDERS:
            raise ConfigError(f"order={order!r} is not one of {list(_ORDERS)}")
        self.store = store if isinstance(store, ReviewStore) else ReviewStore(store)
        self.linkage_id = linkage_id
        self.reviewer = reviewer
        self.order = order
        self.kind, self.config, _ = self.store.config(linkage_id)
        self.threshold = float(self.config.get("threshold", 0.5))
        self.left = self.store.frame(linkage_id, "left")
        self.right = self.left if self.kind == "dedup" else self.store.frame(linkage_id, "right")
        self._left_at = {v: i for i, v in enumerate(self.left[ID].to_list())}
        self._right_at = {v: i for i, v in enumerate(self.right[ID].to_list())}
        self._mine: list[int] = []  # this session's decisions, for undo
        self._pinned: int | None = None
        self._load_pairs()

    @classmethod
    def create(cls, store: ReviewStore | str, linkage: Linkage, **kwargs: Any) -> ReviewSession:
        """Save ``linkage`` in ``store`` (kept as it is when already there) and open it."""
        st = store if isinstance(store, ReviewStore) else ReviewStore(store)
        frames = {"left": linkage.left, "pairs": linkage.pairs}
        if linkage.kind == "link":
            frames["right"] = linkage.right
        if linkage.explanations is not None:
            frames[EXPLANATIONS] = linkage.explanations
        st.add_linkage(linkage.id, kind=linkage.kind, config=linkage.config, frames=frames)
        return cls(st, linkage.id, **kwargs)

    # -- state ------------------------------------------------------------------------------
    def _load_pairs(self) -> None:
        self._version = self.store.scores_version(self.linkage_id)
        self.pairs = self.store.frame(self.linkage_id, "pairs")
        self.scores = self.pairs["score"].to_numpy().astype(np.float64)
        self._lids = self.pairs["left_id"].to_list()
        self._rids = self.pairs["right_id"].to_list()
        self._at = {(a, b): i for i, (a, b) in enumerate(zip(self._lids, self._rids, strict=True))}
        self._by_left: dict[str, list[int]] | None = None
        self._why: tuple[pl.DataFrame, npt.NDArray[np.int64]] | None = None
        self._why_read = False
        self.labels = np.full(len(self.scores), _NONE, dtype=np.int8)
        self._stacks: dict[int, list[Decision]] = {}
        self._by_id: dict[int, int] = {}
        self._last = 0
        self._reorder()
        self._apply(self.store.decisions(self.linkage_id))

    def _reorder(self) -> None:
        key = _ORDERS[self.order](self)
        # ties (equal scores) go by left id, then right id: the same queue on every machine
        self._order = np.lexsort((np.asarray(self._rids), np.asarray(self._lids), key))
        self._cursor = 0

    def set_order(self, order: Order) -> None:
        """Change the queue order."""
        if order not in _ORDERS:
            raise ConfigError(f"order={order!r} is not one of {list(_ORDERS)}")
        self.order = order
        self._reorder()

    def _apply(self, log: list[Decision]) -> None:
        for d in log:
            self._last = max(self._last, d.id)
            i = self._at.get((d.left_id, d.right_id))
            if i is None:
                continue
            stack = self._stacks.setdefault(i, [])
            if d.label == "undo":
                stack[:] = [x for x in stack if x.id != d.undoes]
            else:
                stack.append(d)
                self._by_id[d.id] = i
            self.labels[i] = _CODE[stack[-1].label] if stack else _NONE
            if self.labels[i] == _NONE:
                self._cursor = 0  # an undone pair is back in the queue

    def sync(self) -> None:
        """Catch up with decisions written by others, and with re-scored pairs."""
        if self.store.scores_version(self.linkage_id) != self._version:
            self._load_pairs()
            return
        self._apply(self.store.decisions(self.linkage_id, after=self._last))

    # -- queue ------------------------------------------------------------------------------
    def _pair(self, i: int) -> Pair:
        stack = self._stacks.get(i) or []
        top = stack[-1] if stack else None
        lid, rid = self._lids[i], self._rids[i]
        return Pair(
            index=i, left_id=lid, right_id=rid, score=float(self.scores[i]),
            label=top.label if top else None, note=top.note if top else "",
            left=self.left.row(self._left_at[lid], named=True),
            right=self.right.row(self._right_at[rid], named=True),
        )  # fmt: skip

    def current(self) -> Pair | None:
        """The pair to decide now: the most uncertain undecided one (skipped ones last).

        Returns ``None`` when every pair has a decision.
        """
        self.sync()
        if self._pinned is not None and self.labels[self._pinned] == _NONE:
            return self._pair(self._pinned)
        self._pinned = None
        order, labels = self._order, self.labels
        while self._cursor < len(order) and labels[order[self._cursor]] != _NONE:
            self._cursor += 1
        if self._cursor < len(order):
            return self._pair(int(order[self._cursor]))
        skipped = order[labels[order] == _CODE["skip"]]
        return self._pair(int(skipped[0])) if len(skipped) else None

    def pair(self, left_id: str, right_id: str) -> Pair:
        """The pair of two record ids, with its latest decision."""
        self.sync()
        i = self._at.get((left_id, right_id))
        if i is None:
            raise InputError(f"({left_id!r}, {right_id!r}) is not a pair of {self.linkage_id}")
        return self._pair(i)

    def explain(self, pair: Pair | tuple[str, str]) -> Explanation | None:
        """Why ``pair`` (or ``(left_id, right_id)``) got its first score (``base_score``).

        Returns its contributions to the log-odds of a match as a waterfall (``prior``
        first, then the features by absolute contribution, with the running total and the
        probability they add up to), or ``None`` when the linkage keeps no explanations: it
        was scored by a trained matcher, read from a merge output or saved by an older
        linker. After a retrain or an LLM rerank the current score differs from the one
        explained.

        Raises:
            InputError: the pair is not in this linkage.

        Example:
            >>> import tempfile, polars as pl
            >>> recs = pl.DataFrame({"__lk_id": ["a"], "name": ["Acme"]})
            >>> pairs = pl.DataFrame({"left_id": ["a"], "right_id": ["a"], "sim": [0.9],
            ...                       "score": [0.82], "base_score": [0.82]})
            >>> why = pl.DataFrame({"left_id": "a", "right_id": "a", "feature": ["prior", "sim"],
            ...                     "value": [None, 0.9], "contribution": [-2.0, 3.5]})
            >>> link = Linkage("link", recs, recs, pairs, {"features": ["sim"]}, explanations=why)
            >>> s = ReviewSession.create(f"{tempfile.mkdtemp()}/r.sqlite", link)
            >>> e = s.explain(("a", "a"))
            >>> e.steps["total"].to_list(), round(e.probability, 2)
            ([-2.0, 1.5], 0.82)
        """
        key = (pair.left_id, pair.right_id) if isinstance(pair, Pair) else pair
        i = self._at.get(key)
        if i is None:
            raise InputError(f"{key!r} is not a pair of linkage {self.linkage_id}")
        if not self._why_read:  # read on first use: pairs x features rows
            self._why_read = True
            if self.store.has_frame(self.linkage_id, EXPLANATIONS):
                keys = self.pairs.select("left_id", "right_id").with_row_index("__lk_pair")
                rows = (
                    self.store.frame(self.linkage_id, EXPLANATIONS)
                    .with_row_index("__lk_row")
                    .join(keys, on=["left_id", "right_id"])
                    .sort("__lk_pair", "__lk_row")
                )
                at = rows["__lk_pair"].cast(pl.Int64).to_numpy()
                bounds = np.searchsorted(at, np.arange(len(self.scores) + 1)).astype(np.int64)
                self._why = rows.select("feature", "value", "contribution"), bounds
        if self._why is None:
            return None
        rows, bounds = self._why
        start, end = int(bounds[i]), int(bounds[i + 1])
        return explanation(rows[start:end]) if end > start else None

    def decide(self, label: str, *, pair: tuple[str, str] | None = None, note: str = "") -> int:
        """Record ``label`` (``match``, ``non_match`` or ``skip``) for ``pair`` (default: current).

        Returns the decision's id; it is committed to the store before this returns.
        """
        if label not in LABELS:
            raise ConfigError(f"label {label!r} is not one of {list(LABELS)}")
        if pair is None:
            now = self.current()
            if now is None:
                raise InputError("every pair already has a decision: nothing to decide")
            pair = (now.left_id, now.right_id)
        if pair not in self._at:
            raise InputError(f"{pair!r} is not a pair of linkage {self.linkage_id}")
        did = self.store.add_decision(
            self.linkage_id, pair[0], pair[1], label, note=note, reviewer=self.reviewer
        )
        self._mine.append(did)
        self._pinned = None
        self.sync()
        return did

    def undo(self) -> Pair | None:
        """Take back this reviewer's last decision; that pair is shown again. ``None``: none.

        Decisions made in this session count, and so do the reviewer's earlier ones when a
        ``reviewer`` name was given.
        """
        self.sync()
        live = {d.id: (i, d.reviewer) for i, stack in self._stacks.items() for d in stack}
        mine = [d for d in self._mine if d in live]
        if not mine and self.reviewer:  # e.g. after a reload: the reviewer's latest decision
            mine = sorted(d for d, (_, who) in live.items() if who == self.reviewer)
        if not mine:
            return None
        did = mine[-1]
        i = live[did][0]
        self.store.add_decision(
            self.linkage_id, self._lids[i], self._rids[i], "undo",
            reviewer=self.reviewer, undoes=did,
        )  # fmt: skip
        self._mine = [d for d in mine if d != did]
        self.sync()
        self._pinned = i
        return self._pair(i)

    # -- summaries --------------------------------------------------------------------------
    def progress(self) -> dict[str, int]:
        """Counts: ``total``, ``decided``, ``match``, ``non_match``, ``skip``, ``remaining``."""
        counts = np.bincount(self.labels.astype(np.int64) + 1, minlength=4)
        return {
            "total": len(self.labels), "decided": int(counts[1:].sum()),
            "match": int(counts[2]), "non_match": int(counts[1]), "skip": int(counts[3]),
            "remaining": int(counts[0]),
        }  # fmt: skip

    def candidates_of(self, left_id: str) -> pl.DataFrame:
        """Every candidate of one left record: ``right_id``, ``score``, ``label``, best first."""
        if self._by_left is None:  # built on first use: left id -> its pair rows
            self._by_left = {}
            for i, lid in enumerate(self._lids):
                self._by_left.setdefault(lid, []).append(i)
        idx = self._by_left.get(left_id, [])
        names = {v: k for k, v in _CODE.items()}
        return pl.DataFrame(
            {
                "right_id": [self._rids[i] for i in idx],
                "score": [float(self.scores[i]) for i in idx],
                "label": [names.get(int(self.labels[i])) for i in idx],
            },
            schema={"right_id": pl.Utf8, "score": pl.Float64, "label": pl.Utf8},
        ).sort("score", descending=True)

    def decided(self) -> pl.DataFrame:
        """The current decision of each decided pair, latest first.

        Columns: ``left_id``, ``right_id``, ``label``, ``note``, ``reviewer``, ``score``,
        ``decided_at`` (Unix seconds).
        """
        rows = [
            (d.left_id, d.right_id, d.label, d.note, d.reviewer, float(self.scores[i]),
             d.created_at)
            for i, stack in self._stacks.items() if stack for d in stack[-1:]
        ]  # fmt: skip
        schema = {"left_id": pl.Utf8, "right_id": pl.Utf8, "label": pl.Utf8, "note": pl.Utf8,
                  "reviewer": pl.Utf8, "score": pl.Float64, "decided_at": pl.Float64}  # fmt: skip
        return pl.DataFrame(rows, schema=schema, orient="row").sort("decided_at", descending=True)

    def labelled(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int8]]:
        """Rows of the pairs labelled ``match``/``non_match``, and their labels (1/0)."""
        rows = np.flatnonzero((self.labels == 0) | (self.labels == 1))
        return rows, self.labels[rows]
