"""The taxonomy itself: nodes with labels, synonyms, descriptions and parents, validated.

A :class:`Taxonomy` is a forest or a DAG (a node may have several parents, as OBO terms do);
its first parent gives the node's display path (``"Thing > Agent > Company"``). It is built
from a table, from parent–child pairs, from a flat list of labels, or from an OBO file
(:func:`linker.taxonomy.obo.read_obo`), and checked on the way in: duplicate ids, parents that
are not nodes (orphans), cycles and empty labels raise :class:`~linker.errors.InputError`
with the rows at fault and what to do.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from linker.errors import InputError
from linker.frames import as_polars, check_columns, check_not_empty

__all__ = ["Taxonomy"]

logger = logging.getLogger(__name__)

_SHOW = 5  # examples listed in an error message


def _quote(items: Sequence[object]) -> str:
    shown = ", ".join(repr(i) for i in items[:_SHOW])
    return shown + (f", ... ({len(items)} in all)" if len(items) > _SHOW else "")


class Taxonomy:
    """A validated hierarchy of labelled nodes.

    Args:
        ids: Node ids, unique.
        labels: One label per node (non-empty).
        parents: Per node, the ids of its parents (empty or ``None`` for a root).
        synonyms: Per node, other names of it.
        descriptions: Per node, a definition or ``None``.
        source: What the taxonomy is called in error messages (a file name, ``"taxonomy"``).

    Raises:
        InputError: duplicate ids, an empty label, a parent that is not a node, or a cycle.

    Example:
        >>> tax = Taxonomy(["thing", "animal", "dog"], ["Thing", "Animal", "Dog"],
        ...                [None, ["thing"], ["animal"]], synonyms=[[], [], ["hound"]])
        >>> tax.path(tax.index["dog"])
        'Thing > Animal > Dog'
        >>> tax.distance(tax.index["dog"], tax.index["thing"])
        2
    """

    def __init__(
        self,
        ids: Sequence[str],
        labels: Sequence[str],
        parents: Sequence[Sequence[str] | None] | None = None,
        *,
        synonyms: Sequence[Sequence[str] | None] | None = None,
        descriptions: Sequence[str | None] | None = None,
        source: str = "taxonomy",
    ):
        n = len(ids)
        for what, seq in (("labels", labels), ("parents", parents), ("synonyms", synonyms)):
            if seq is not None and len(seq) != n:
                raise InputError(f"{source}: {len(seq)} {what} for {n} node ids; give one per id")
        if descriptions is not None and len(descriptions) != n:
            raise InputError(f"{source}: {len(descriptions)} descriptions for {n} node ids")
        self.source = source
        self.ids: tuple[str, ...] = tuple(str(i) for i in ids)
        self.labels: tuple[str, ...] = tuple("" if x is None else str(x).strip() for x in labels)
        self.synonyms: tuple[tuple[str, ...], ...] = tuple(
            tuple(dict.fromkeys(s.strip() for s in (syns or ()) if s and s.strip()))
            for syns in (synonyms or [None] * n)
        )
        self.descriptions: tuple[str | None, ...] = tuple(descriptions or [None] * n)
        self.index: dict[str, int] = self._check_ids()
        self._check_labels()
        self.parents: tuple[tuple[int, ...], ...] = self._resolve_parents(parents or [None] * n)
        self._check_acyclic()

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"Taxonomy({len(self)} nodes, {len(self.roots)} roots, depth {self.max_depth})"

    # -- validation ------------------------------------------------------------------------
    def _check_ids(self) -> dict[str, int]:
        index: dict[str, int] = {}
        dupes: dict[str, list[int]] = {}
        for row, node in enumerate(self.ids):
            if node in index:
                dupes.setdefault(node, [index[node]]).append(row)
            else:
                index[node] = row
        if dupes:
            shown = "; ".join(f"{k!r} at rows {v}" for k, v in list(dupes.items())[:_SHOW])
            raise InputError(
                f"{self.source}: {len(dupes)} node id(s) appear more than once ({shown}; "
                "0-based). Every node needs a distinct id: merge the duplicate rows, or put "
                "the extra names in the synonyms column."
            )
        return index

    def _check_labels(self) -> None:
        empty = [row for row, label in enumerate(self.labels) if not label]
        if empty:
            raise InputError(
                f"{self.source}: {len(empty)} node(s) have no label, e.g. id "
                f"{_quote([self.ids[r] for r in empty])} at row(s) {empty[:_SHOW]} (0-based). "
                "Give every node a label (it is the text matched against phrases)."
            )

    def _resolve_parents(
        self, parents: Sequence[Sequence[str] | None]
    ) -> tuple[tuple[int, ...], ...]:
        out: list[tuple[int, ...]] = []
        orphans: list[str] = []
        for row, ps in enumerate(parents):
            ps = [ps] if isinstance(ps, str) else ps
            resolved = []
            for p in dict.fromkeys(str(p).strip() for p in (ps or ()) if p is not None):
                if not p:
                    continue
                if p not in self.index:
                    orphans.append(f"{self.ids[row]!r} (row {row}) -> parent {p!r}")
                else:
                    resolved.append(self.index[p])
            out.append(tuple(resolved))
        if orphans:
            raise InputError(
                f"{self.source}: {len(orphans)} parent reference(s) name no node (orphans): "
                f"{'; '.join(orphans[:_SHOW])}. Add a node for each missing parent, or leave "
                "the parent empty to make the node a root."
            )
        return tuple(out)

    def _check_acyclic(self) -> None:
        """Kahn's algorithm; on failure, walk parent links inside the rest to show one cycle."""
        n = len(self.ids)
        children_left = np.zeros(n, dtype=np.int64)
        for ps in self.parents:
            for p in ps:
                children_left[p] += 1
        queue = deque(i for i in range(n) if children_left[i] == 0)  # leaves first
        seen = 0
        while queue:
            node = queue.popleft()
            seen += 1
            for p in self.parents[node]:
                children_left[p] -= 1
                if children_left[p] == 0:
                    queue.append(p)
        if seen == n:
            return
        stuck = {i for i in range(n) if children_left[i] > 0}
        start = min(stuck)
        walk, pos = [start], {start: 0}
        while True:
            nxt = next(p for p in self.parents[walk[-1]] if p in stuck)
            if nxt in pos:
                cycle = [*walk[pos[nxt] :], nxt]
                break
            pos[nxt] = len(walk)
            walk.append(nxt)
        shown = " -> ".join(repr(self.ids[i]) for i in cycle)
        raise InputError(
            f"{self.source}: the parent links form a cycle ({shown}; each arrow points to a "
            "parent). A taxonomy must be acyclic: remove one of these parent links."
        )

    # -- structure ---------------------------------------------------------------------------
    @cached_property
    def roots(self) -> tuple[int, ...]:
        """Row numbers of the nodes without parents."""
        return tuple(i for i, ps in enumerate(self.parents) if not ps)

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        """Per node, its children's row numbers."""
        kids: list[list[int]] = [[] for _ in self.ids]
        for child, ps in enumerate(self.parents):
            for p in ps:
                kids[p].append(child)
        return tuple(tuple(k) for k in kids)

    @cached_property
    def _up(self) -> tuple[dict[int, int], ...]:
        """Per node, every ancestor (itself included) with its shortest upward distance."""
        out: list[dict[int, int]] = []
        for node in range(len(self.ids)):
            dist = {node: 0}
            queue = deque([node])
            while queue:
                cur = queue.popleft()
                for p in self.parents[cur]:
                    if p not in dist:
                        dist[p] = dist[cur] + 1
                        queue.append(p)
            out.append(dist)
        return tuple(out)

    @cached_property
    def depth(self) -> npt.NDArray[np.int64]:
        """Per node, the length of its first-parent path to a root (roots are 0)."""
        return np.array([len(self.lineage(i)) - 1 for i in range(len(self.ids))], np.int64)

    @property
    def max_depth(self) -> int:
        """The largest depth (0 for a flat list of labels)."""
        return int(self.depth.max()) if len(self.ids) else 0

    @cached_property
    def ancestor_index(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Every node's proper ancestors as one array: ``(starts, rows)``.

        ``rows[starts[n]:starts[n + 1]]`` equals :meth:`ancestors` of ``n`` (nearest first),
        so vectorised code can expand (node, ancestor) pairs without a Python loop per node.

        Example:
            >>> t = Taxonomy.from_pairs([("dog", "mammal"), ("mammal", "animal")])
            >>> starts, rows = t.ancestor_index
            >>> rows[starts[0]:starts[1]].tolist()
            [1, 2]
        """
        groups = [self.ancestors(n) for n in range(len(self.ids))]
        starts = np.concatenate([[0], np.cumsum([len(g) for g in groups])]).astype(np.int64)
        rows = np.fromiter((a for g in groups for a in g), np.int64, int(starts[-1]))
        return starts, rows

    def ancestors(self, node: int) -> list[int]:
        """All proper ancestors of ``node`` (every parent line), nearest first."""
        up = self._up[node]
        return sorted((a for a in up if a != node), key=lambda a: (up[a], a))

    def lineage(self, node: int) -> list[int]:
        """The first-parent chain from a root down to ``node`` (both included)."""
        chain = [node]
        while self.parents[chain[-1]]:
            chain.append(self.parents[chain[-1]][0])
        return chain[::-1]

    def path(self, node: int, *, separator: str = " > ") -> str:
        """The node's labels from its root down, e.g. ``"Thing > Agent > Company"``."""
        return separator.join(self.labels[i] for i in self.lineage(node))

    def distance(self, a: int, b: int) -> int:
        """Edges between two nodes through their closest common ancestor.

        Nodes in different trees of a forest are joined through a virtual root above them.
        """
        ua, ub = self._up[a], self._up[b]
        common = ua.keys() & ub.keys()
        if common:
            return min(ua[c] + ub[c] for c in common)
        return int(self.depth[a] + self.depth[b] + 2)

    def subsumes(self, ancestor: int, node: int) -> bool:
        """Whether ``ancestor`` is ``node`` or one of its ancestors."""
        return ancestor in self._up[node]

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def from_labels(cls, labels: Sequence[str], *, source: str = "taxonomy") -> Taxonomy:
        """A flat taxonomy (no hierarchy): each label is its own id.

        Example:
            >>> Taxonomy.from_labels(["company", "person"]).roots
            (0, 1)
        """
        return cls(list(labels), list(labels), source=source)

    @classmethod
    def from_table(
        cls,
        data: Any,
        *,
        id: str = "id",  # noqa: A002
        label: str = "label",
        parent: str | None = "parent",
        synonyms: str | None = None,
        description: str | None = None,
        separator: str = "|",
    ) -> Taxonomy:
        """Build a taxonomy from a table with one row per node.

        Args:
            data: polars/pandas frame or a CSV/Parquet path.
            id: Node id column.
            label: Label column.
            parent: Parent id column (empty for roots; several parents joined by
                ``separator``), or ``None`` for a flat list. Used only if present when left
                at its default.
            synonyms: Optional column of synonyms joined by ``separator``.
            description: Optional column of definitions.
            separator: What joins several parents or synonyms in one cell.

        Raises:
            InputError: missing columns, an empty table, null ids, or what :class:`Taxonomy`
                rejects.

        Example:
            >>> import polars as pl
            >>> t = Taxonomy.from_table(pl.DataFrame({"id": ["a", "b"], "label": ["A", "B"],
            ...                                      "parent": [None, "a"]}))
            >>> t.path(1)
            'A > B'
        """
        source = str(data) if isinstance(data, str | os.PathLike) else "taxonomy"
        df, _ = as_polars(data, name=source)
        check_not_empty(df, name=source)
        if parent == "parent" and "parent" not in df.columns:
            parent = None
        wanted = [c for c in (id, label, parent, synonyms, description) if c is not None]
        check_columns(df, wanted, name=source)
        ids = df.get_column(id).cast(pl.Utf8)
        if ids.null_count():
            rows = ids.is_null().arg_true().head(_SHOW).to_list()
            raise InputError(
                f"{source}: {ids.null_count()} row(s) have no id in column {id!r}, e.g. rows "
                f"{rows} (0-based). Give every node an id."
            )

        def split(col: str | None) -> list[list[str] | None] | None:
            if col is None:
                return None
            values = df.get_column(col).cast(pl.Utf8).to_list()
            return [v.split(separator) if v is not None else None for v in values]

        desc = None if description is None else df.get_column(description).cast(pl.Utf8).to_list()
        return cls(
            ids.to_list(),
            df.get_column(label).cast(pl.Utf8).to_list(),
            split(parent),
            synonyms=split(synonyms),
            descriptions=desc,
            source=source,
        )

    @classmethod
    def from_pairs(
        cls,
        pairs: Any,
        *,
        child: str = "child",
        parent: str = "parent",
        labels: Mapping[str, str] | None = None,
    ) -> Taxonomy:
        """Build a taxonomy from ``(child, parent)`` is-a pairs.

        Args:
            pairs: A sequence of ``(child, parent)`` tuples, or a frame/path with the columns
                ``child`` and ``parent``.
            child: Child column of a table.
            parent: Parent column of a table.
            labels: Optional id -> label map; by default an id is its own label.

        Example:
            >>> t = Taxonomy.from_pairs([("dog", "mammal"), ("mammal", "animal")])
            >>> t.path(t.index["dog"])
            'animal > mammal > dog'
        """
        if isinstance(pairs, Sequence) and not isinstance(pairs, str):
            raw = [(c, p) for c, p in pairs]
            source = "taxonomy pairs"
        else:
            source = str(pairs) if isinstance(pairs, str | os.PathLike) else "taxonomy pairs"
            df, _ = as_polars(pairs, name=source)
            check_columns(df, [child, parent], name=source)
            df = df.select(pl.col(child).cast(pl.Utf8), pl.col(parent).cast(pl.Utf8))
            raw = list(df.iter_rows())
        # a pair without a parent makes its child a root; one without a child is skipped
        rows = [
            (str(c).strip(), "" if p is None else str(p).strip())
            for c, p in raw
            if c is not None and str(c).strip()
        ]
        if not rows:
            raise InputError(f"{source}: no (child, parent) pairs; give at least one")
        nodes = list(dict.fromkeys(n for pair in rows for n in pair if n))
        ups: dict[str, list[str]] = {n: [] for n in nodes}
        for c, p in rows:
            if p and p not in ups[c]:
                ups[c].append(p)
        names = [(labels or {}).get(n, n) for n in nodes]
        return cls(nodes, names, [ups[n] for n in nodes], source=source)
