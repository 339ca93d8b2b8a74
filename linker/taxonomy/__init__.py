"""Taxonomy matching: map free-text phrases to the nodes of a hierarchy.

- :class:`Taxonomy` (:mod:`.tree`): the validated hierarchy, from a table, parent–child pairs
  or an OBO file (:func:`read_obo`);
- :class:`TaxonomyMatcher` (:mod:`.matcher`): embedding + n-gram retrieval of candidate nodes,
  hierarchy-aware scores, back-off to ancestors, few-shot examples, a rerank hook;
- :func:`map_taxonomy` (:mod:`.api`): the one-call form, also ``linker taxonomy`` on the CLI.

Example:
    >>> from linker.taxonomy import Taxonomy, map_taxonomy
    >>> tax = Taxonomy.from_pairs([("dog", "animal"), ("cat", "animal")])
    >>> map_taxonomy(["puppy"], tax)["node_id"].to_list()
    ['dog']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linker._lazy import lazy_getattr
from linker.taxonomy.api import as_taxonomy, map_taxonomy
from linker.taxonomy.matcher import TaxonomyMatch, TaxonomyMatcher
from linker.taxonomy.obo import read_obo
from linker.taxonomy.rerank import NodeCandidate, NodeReranker
from linker.taxonomy.score import HierarchyParams
from linker.taxonomy.tree import Taxonomy

__all__ = [
    "HierarchyParams",
    "NodeCandidate",
    "NodeReranker",
    "Taxonomy",
    "TaxonomyMatch",
    "TaxonomyMatcher",
    "as_taxonomy",
    "map_taxonomy",
    "read_obo",
]

if not TYPE_CHECKING:  # hidden from type checkers, so that they flag a name that is not there
    __getattr__ = lazy_getattr(__name__)  # submodules on first use: lk.taxonomy.<module>
