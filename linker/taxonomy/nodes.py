"""What the matcher compares a phrase with: each node's texts ("prototypes").

A node is represented by several short texts, each embedded on its own, and a phrase's
similarity to the node is its best similarity to any of them (as KRISSBERT does with the
mentions of an entity):

- ``label``: the node's label;
- ``synonym``: each synonym;
- ``context``: label, synonyms, description and ancestor path in one text
  (``"Thing > Agent > Company; firm, business. An organisation that ..."``), made only when
  the node has any of these beyond its label;
- ``example``: each labelled example phrase given for the node (few-shot mode).

Labels, synonyms and examples also feed the character n-gram (lexical) signal; the longer
context text does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from linker.taxonomy.tree import Taxonomy

__all__ = ["PrototypeKind", "Prototypes", "build_prototypes", "node_text"]

PrototypeKind = Literal["label", "synonym", "context", "example"]
_DESCRIPTION_CHARS = 300  # longer definitions are cut: the model reads 128 tokens at most
_PATH_LABELS = 5  # deeper paths keep the root and the nearest ancestors: "A > ... > D > E > F"


def node_text(taxonomy: Taxonomy, node: int) -> str:
    """The node's context text: path, synonyms and (shortened) description.

    Paths longer than five labels keep the root and the last four labels, and
    descriptions are cut near 300 characters, so the text fits the model's window.

    Example:
        >>> t = Taxonomy(["a", "b"], ["Agent", "Company"], [None, ["a"]],
        ...              synonyms=[[], ["firm"]], descriptions=[None, "A business."])
        >>> node_text(t, 1)
        'Agent > Company; firm. A business.'
        >>> deep = Taxonomy.from_pairs([(str(i + 1), str(i)) for i in range(7)])
        >>> node_text(deep, deep.index["7"])
        '0 > ... > 4 > 5 > 6 > 7'
    """
    labels = [taxonomy.labels[i] for i in taxonomy.lineage(node)]
    if len(labels) > _PATH_LABELS:
        labels = [labels[0], "...", *labels[-(_PATH_LABELS - 1) :]]
    text = " > ".join(labels)
    if taxonomy.synonyms[node]:
        text += "; " + ", ".join(taxonomy.synonyms[node])
    description = (taxonomy.descriptions[node] or "").strip()
    if description:
        cut = description[:_DESCRIPTION_CHARS]
        text += ". " + (cut if len(cut) == len(description) else cut.rsplit(" ", 1)[0] + " ...")
    return text


@dataclass(frozen=True)
class Prototypes:
    """The texts standing for the nodes, sorted by node.

    Attributes:
        texts: One text per prototype.
        node: The node row of each prototype.
        kind: What each prototype is.
        lexical: Whether a prototype feeds the n-gram signal.
        starts: ``starts[n]:starts[n + 1]`` are the prototypes of node ``n``.
    """

    texts: tuple[str, ...]
    node: npt.NDArray[np.int64]
    kind: tuple[PrototypeKind, ...]
    lexical: npt.NDArray[np.bool_]
    starts: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.texts)


def build_prototypes(
    taxonomy: Taxonomy,
    examples: Sequence[tuple[str, int]] = (),
    *,
    use_context: bool = True,
) -> Prototypes:
    """Collect every node's prototypes; duplicates within a node are kept once.

    Args:
        taxonomy: The hierarchy.
        examples: ``(phrase, node row)`` pairs of labelled examples.
        use_context: Add the context text (path, synonyms, description) of each node.

    Example:
        >>> t = Taxonomy(["a", "b"], ["Animal", "Dog"], [None, ["a"]], synonyms=[[], ["hound"]])
        >>> p = build_prototypes(t, [("puppy", 1)])
        >>> list(zip(p.texts, p.kind))
        [('Animal', 'label'), ('Dog', 'label'), ('hound', 'synonym'), ('Animal > Dog; hound', \
'context'), ('puppy', 'example')]
        >>> p.starts.tolist()
        [0, 1, 5]
    """
    by_node: list[dict[str, PrototypeKind]] = [{} for _ in range(len(taxonomy))]
    for node, own in enumerate(by_node):
        own[taxonomy.labels[node]] = "label"
        for syn in taxonomy.synonyms[node]:
            own.setdefault(syn, "synonym")
        if use_context:
            text = node_text(taxonomy, node)
            own.setdefault(text, "context")
    for phrase, node in examples:
        by_node[node].setdefault(phrase.strip(), "example")
    texts: list[str] = []
    nodes: list[int] = []
    kinds: list[PrototypeKind] = []
    starts = [0]
    for node, own in enumerate(by_node):
        for text, kind in own.items():
            if text:
                texts.append(text)
                nodes.append(node)
                kinds.append(kind)
        starts.append(len(texts))
    return Prototypes(
        texts=tuple(texts),
        node=np.asarray(nodes, np.int64),
        kind=tuple(kinds),
        lexical=np.asarray([k != "context" for k in kinds], np.bool_),
        starts=np.asarray(starts, np.int64),
    )
