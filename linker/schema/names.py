"""Column names as words: split camelCase / snake_case, expand common abbreviations.

``"PatientDOB"``, ``"patient_dob"`` and ``"Patient-DoB"`` all become ``"patient date of
birth"``, so the name signals (rapidfuzz, n-grams, embeddings) compare words, not spellings.
A name with no words left once placeholders are removed (``"col_3"``, ``"Unnamed: 0"``, ``"X1"``)
has no header meaning: the matcher then relies on descriptions and values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["ABBREVIATIONS", "has_meaning", "name_text", "split_name"]

# Common in data dictionaries across domains; users extend it with ``abbreviations=``.
ABBREVIATIONS: Mapping[str, str] = {
    "acct": "account",
    "addr": "address",
    "amt": "amount",
    "avg": "average",
    "bmi": "body mass index",
    "cd": "code",
    "chemo": "chemotherapy",
    "clin": "clinical",
    "cnt": "count",
    "cust": "customer",
    "dept": "department",
    "desc": "description",
    "diag": "diagnosis",
    "dist": "distant",
    "dob": "date of birth",
    "dod": "date of death",
    "dt": "date",
    "dx": "diagnosis",
    "emp": "employee",
    "fname": "first name",
    "hist": "histologic",
    "histo": "histologic",
    "ht": "height",
    "hx": "history",
    "id": "identifier",
    "lname": "last name",
    "max": "maximum",
    "met": "metastasis",
    "mets": "metastasis",
    "min": "minimum",
    "mo": "months",
    "mos": "months",
    "nbr": "number",
    "neg": "negative",
    "no": "number",
    "num": "number",
    "path": "pathologic",
    "patho": "pathologic",
    "pct": "percent",
    "perc": "percent",
    "pos": "positive",
    "qty": "quantity",
    "rad": "radiation",
    "reg": "regional",
    "resp": "response",
    "sex": "sex gender",
    "surg": "surgery",
    "tel": "telephone",
    "temp": "temperature",
    "trt": "treatment",
    "tx": "treatment",
    "wt": "weight",
    "yob": "year of birth",
    "yr": "year",
    "yrs": "years",
    "zip": "zip postal code",
}

# Words that, alone or with digits, say nothing about what a column holds.
_PLACEHOLDERS = frozenset(
    {"col", "column", "field", "unnamed", "var", "variable", "attr", "attribute", "x", "v", "c"}
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_DIGITS = re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_NON_WORD = re.compile(r"[^0-9A-Za-z]+")


def split_name(name: str) -> list[str]:
    """Lower-case word tokens of a column name (camelCase, snake_case, digits, punctuation).

    Example:
        >>> split_name("tumorSize_cm")
        ['tumor', 'size', 'cm']
        >>> split_name("HTTPStatus2xx")
        ['http', 'status', '2', 'xx']
    """
    words: list[str] = []
    for part in _NON_WORD.split(name):
        for piece in _CAMEL.split(part):
            words += [w.lower() for w in _DIGITS.split(piece) if w]
    return words


def name_text(name: str, abbreviations: Mapping[str, str] | None = None) -> str:
    """The words of a column name, with abbreviations spelled out.

    Args:
        name: A column name.
        abbreviations: Extra ``{short: long}`` entries; they override :data:`ABBREVIATIONS`.

    Example:
        >>> name_text("pt_DOB")
        'pt date of birth'
        >>> name_text("pt_DOB", {"pt": "patient"})
        'patient date of birth'
    """
    table = {**ABBREVIATIONS, **(abbreviations or {})}
    return " ".join(table.get(w, w) for w in split_name(name))


def has_meaning(name: str) -> bool:
    """Whether a name has words beyond placeholders and numbers (``"col_3"`` has none).

    Example:
        >>> [has_meaning(n) for n in ["col_3", "Unnamed: 0", "X1", "", "age"]]
        [False, False, False, False, True]
    """
    words = [w for w in split_name(name) if not w.isdigit()]
    return any(w not in _PLACEHOLDERS for w in words)
