"""Read OBO 1.2/1.4 ontology files (Gene Ontology, Human Disease Ontology, MONDO, ...).

Only ``[Term]`` stanzas are read: ``id``, ``name``, ``synonym``, ``def`` and ``is_a``
(``relationship: part_of`` and other relations are ignored). Obsolete terms are skipped, and
so are ``is_a`` links to terms the file does not define (imports), with one warning.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from linker.errors import InputError
from linker.taxonomy.tree import Taxonomy

__all__ = ["read_obo"]

logger = logging.getLogger(__name__)

_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"')
_TRAILING_COMMENT = re.compile(r"\s+!.*$")


def _unquote(value: str) -> str:
    m = _QUOTED.match(value)
    return m.group(1).replace('\\"', '"') if m else value


def _stanzas(lines: list[str], path: Path) -> list[dict[str, list[str]]]:
    terms: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = {} if line == "[Term]" else None
            if current is not None:
                terms.append(current)
            continue
        if current is None:
            continue  # header or a [Typedef]/[Instance] stanza
        key, sep, value = line.partition(":")
        if not sep:
            raise InputError(f"{path}:{number}: expected 'tag: value', got {line!r}")
        current.setdefault(key.strip(), []).append(value.strip())
    return terms


def read_obo(source: str | os.PathLike[str]) -> Taxonomy:
    """Read the ``[Term]`` hierarchy of an OBO file.

    Args:
        source: Path of the ``.obo`` file (UTF-8).

    Returns:
        The taxonomy: OBO ids, names as labels, exact/related/narrow/broad synonyms,
        definitions as descriptions, ``is_a`` links as parents.

    Raises:
        InputError: the file is missing or malformed, a term has no id, or the hierarchy is
            invalid (duplicate ids, cycles).

    Example:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.obo"
        >>> _ = p.write_text('[Term]\\nid: X:1\\nname: disease\\n\\n[Term]\\nid: X:2\\n'
        ...                  'name: flu\\nsynonym: "influenza" EXACT []\\nis_a: X:1 ! disease\\n')
        >>> t = read_obo(p)
        >>> t.path(t.index["X:2"]), t.synonyms[t.index["X:2"]]
        ('disease > flu', ('influenza',))
    """
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"Cannot read OBO file {str(path)!r}: {e}") from e
    terms = [t for t in _stanzas(text.splitlines(), path) if t.get("is_obsolete") != ["true"]]
    if not terms:
        raise InputError(f"{path}: no [Term] stanzas; is this an OBO file?")
    ids, labels, parents, synonyms, descriptions = [], [], [], [], []
    for row, term in enumerate(terms):
        if "id" not in term:
            raise InputError(f"{path}: [Term] number {row + 1} has no 'id:' line")
        ids.append(term["id"][0])
        labels.append(term.get("name", [term["id"][0]])[0])
        parents.append([_TRAILING_COMMENT.sub("", p).split()[0] for p in term.get("is_a", [])])
        synonyms.append([_unquote(s) for s in term.get("synonym", [])])
        descriptions.append(_unquote(term["def"][0]) if "def" in term else None)
    known = set(ids)
    dropped = sorted({p for ps in parents for p in ps if p not in known})
    if dropped:
        logger.warning(
            "%s: %d is_a target(s) are not defined in the file (e.g. %s); those links are ignored",
            path,
            len(dropped),
            dropped[:3],
        )
        parents = [[p for p in ps if p in known] for ps in parents]
    return Taxonomy(
        ids, labels, parents, synonyms=synonyms, descriptions=descriptions, source=str(path)
    )
