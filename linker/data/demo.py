"""Seeded demo data: two tables of firms to link, with the known true matches.

The left table holds ``n`` firms. The right table rewrites ``round(overlap * n)`` of them as
another source would (legal-form variants, abbreviations, typos, dropped or reordered tokens,
transliterated umlauts, other phone formats, missing fields, moved addresses, ...) and adds new
firms, some of which are siblings of left firms ("Acme Tools Inc" vs "Acme Tools Holdings").
Both tables have the columns ``id, name, street, city, state, zip, phone, founded``.
Everything is drawn from one ``np.random.default_rng(seed)``, so a seed always gives the same
tables, byte for byte.

About 120 lines are word lists and noise tables; they keep the module above the 400-line soft
cap (the code itself is under 360 lines), so that the generator stays one self-contained file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import polars as pl

from linker.errors import ConfigError

__all__ = ["COLUMNS", "make_demo", "write_demo"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
Record = dict[str, str | None]


def _words(text: str) -> list[str]:
    return text.split()


def _pairs(text: str) -> dict[str, str]:
    return dict(pair.split("=") for pair in text.split())


COLUMNS = ["id", "name", "street", "city", "state", "zip", "phone", "founded"]

_CORES = _words(
    "Acme Apex Summit Pioneer Pacific Atlantic Liberty Eagle Falcon Cedar Oakwood Maple Redwood "
    "Granite Keystone Cornerstone Evergreen Vertex Nova Zenith Horizon Frontier Heritage Legacy "
    "Titan Atlas Orion Phoenix Vanguard Sterling Beacon Meridian Crown Empire Sentinel Harbor "
    "Bluewater Ironwood Silverline Brightpath Clearview Primeline Trident Summitview Northgate "
    "Westbrook Ashford Fairfield Kingsley Hawthorne Riverbend Lakeshore Stonebridge Millbrook "
    "Copperleaf Quantum Polaris Aurora Cascade Sierra Alpine Delta Omega Alpha Sigma Vector "
    "Nexus Matrix Pinnacle Paramount Regal Magnolia Willow Birchwood Foxglove Kestrel Osprey"
)
_SURNAMES = _words(
    "Miller Johnson Williams Brown Davis Garcia Wilson Anderson Taylor Moore Jackson Martin "
    "Thompson Harris Clark Lewis Walker Hall Allen Young King Wright Baker Nelson Carter Mitchell "
    "Roberts Turner Phillips Campbell Parker Evans Edwards Collins Morris Murphy Cook Rogers "
    "Morgan Cooper Reed Bailey Kelly Howard Ward Brooks Bennett Hughes Sanders O'Brien McDonald "
    "Müller Schmidt Schneider Fischer Weber Wagner Becker Hoffmann Schulz Koch Richter Klein "
    "Wolf Schröder Neumann Krämer Dubois Lefèvre Moreau Rossi Bianchi Jansen Nielsen Svensson"
)
_ADJECTIVES = _words(
    "Northern Southern Eastern Western Central Golden Silver Blue Red Green United Royal First "
    "Great Grand Coastal Global National American Continental Allied Bright Rocky Twin"
)
_NOUNS = _words(
    "Star River Valley Mountain Ridge Bay Oak Pine Lake Bridge Rock Field Harbor Point Gate "
    "Arrow Shield Anchor Compass Lantern Crest Forge Mill Stone Wave"
)
_DESCRIPTORS = _words(
    "Precision Advanced Integrated Applied Dynamic Strategic Creative Digital Industrial "
    "International Professional Quality Superior Modern Custom Consolidated Technical "
    "Environmental Medical Financial Mechanical Electrical Commercial Specialty"
)
_INDUSTRIES = _words(
    "Tools Logistics Systems Solutions Manufacturing Engineering Construction Foods "
    "Pharmaceuticals Electronics Software Consulting Services Technologies Industries Motors "
    "Plastics Metals Textiles Chemicals Energy Power Freight Shipping Imports Distribution "
    "Supply Materials Packaging Printing Media Marketing Partners Associates Capital Properties "
    "Realty Insurance Healthcare Laboratories Instruments Controls Devices Components "
    "Fabrication Machining Roofing Plumbing Electric Paper Furniture Apparel Brewing Bakery "
    "Dairy Farms Landscaping Security Networks Communications Analytics Robotics Aerospace "
    "Marine Automotive Hardware Lumber Steel Glass Optics Diagnostics Management Development"
)
_SIBLING_WORDS = _words("Holdings Group International Services Partners Enterprises")
_STREET_NAMES = _words(
    "Main Oak Maple Cedar Elm Washington Lincoln Park Lake Hill Church Mill River Market Spring "
    "Ridge Sunset Highland Industrial Commerce Franklin Jefferson Madison Pine Walnut Chestnut "
    "Center Union Water Bridge Harbor Meadow Forest Station Victoria Albert King Queen"
)
_DE_STREETS = _words(
    "Haupt Bahnhof Industrie Garten Schiller Goethe Kirch Berg Wald Linden Mühlen Markt Hafen "
    "Post Schul Friedrich Mozart Rosen Birken Gewerbe"
)

# city, state/region, postcode prefix, phone area code
_CITIES = {
    "US": "Springfield IL 627 217;Portland OR 972 503;Austin TX 787 512;Denver CO 802 303;"
    "Columbus OH 432 614;Nashville TN 372 615;San Diego CA 921 619;Seattle WA 981 206;"
    "Boston MA 021 617;Phoenix AZ 850 602;Atlanta GA 303 404;Chicago IL 606 312;"
    "Pittsburgh PA 152 412;Milwaukee WI 532 414;Albuquerque NM 871 505;Charlotte NC 282 704;"
    "Saint Louis MO 631 314;Salt Lake City UT 841 801;Minneapolis MN 554 612;Tampa FL 336 813;"
    "New York NY 100 212;Houston TX 770 713;Richmond VA 232 804;Omaha NE 681 402",
    "CA": "Toronto ON M 416;Vancouver BC V 604;Montreal QC H 514;Calgary AB T 403;Ottawa ON K 613",
    "DE": "München BY 80 89;Berlin BE 10 30;Hamburg HH 20 40;Köln NW 50 221;Stuttgart BW 70 711;"
    "Frankfurt am Main HE 60 69;Düsseldorf NW 40 211;Leipzig SN 04 341;Nürnberg BY 90 911",
    "UK": "London ENG EC 20;Manchester ENG M 161;Birmingham ENG B 121;Leeds ENG LS 113;"
    "Glasgow SCT G 141;Edinburgh SCT EH 131;Bristol ENG BS 117;Cardiff WLS CF 29",
}
_COUNTRIES = ("US", "CA", "DE", "UK")
_COUNTRY_WEIGHTS = (0.68, 0.08, 0.13, 0.11)
_LEGAL = {
    "US": _words("Inc Inc Inc LLC LLC Corp Corporation Co Company Incorporated Ltd"),
    "CA": _words("Inc Ltd Ltd Limited Corp"),
    "DE": _words("GmbH GmbH GmbH AG KG"),
    "UK": _words("Ltd Ltd Limited PLC LLP"),
}
_DIAL = {"US": "1", "CA": "1", "DE": "49", "UK": "44"}
_PHONE_FORMATS = {
    "NA": ["({a}) {b}-{c}", "{a}.{b}.{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}", "{a}{b}{c}"],
    "EU": ["+{cc} {a} {b}{c}", "0{a} {b}{c}", "0{a}/{b}{c}", "+{cc} ({a}) {b} {c}", "0{a}-{b}{c}"],
}
_LEGAL_SWAPS = _pairs(
    "Inc=Incorporated Ltd=Limited Corp=Corporation Co=Company &=and LLC=L.L.C. "
    "GmbH=G.m.b.H. PLC=Plc"
)
_LEGAL_SWAPS |= {v: k for k, v in _LEGAL_SWAPS.items()}
_LEGAL_WORDS = set(_LEGAL_SWAPS) | {"AG", "KG", "LLP"}
_ABBREVIATIONS = _pairs(
    "International=Intl Manufacturing=Mfg Technologies=Tech Engineering=Eng Services=Svcs "
    "Systems=Sys Associates=Assoc Industries=Inds Distribution=Dist Laboratories=Labs "
    "National=Natl American=Amer Communications=Comm Management=Mgmt Development=Dev "
    "Street=St Avenue=Ave Road=Rd Boulevard=Blvd Drive=Dr Lane=Ln Court=Ct Parkway=Pkwy "
    "Suite=Ste North=N South=S East=E West=W"
)
_CITY_ALIASES = {
    "München": "Munich", "Köln": "Cologne", "Nürnberg": "Nuremberg", "Montreal": "Montréal",
    "Frankfurt am Main": "Frankfurt", "Saint Louis": "St. Louis", "New York": "New York City",
}  # fmt: skip
_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue",
                           "ß": "ss", "é": "e", "è": "e"})  # fmt: skip
# The main difficulty knobs (probabilities); the smaller ones sit where they are used.
_NOISE = {
    "sibling": 0.3,  # a new firm is a sibling of an earlier one ("Acme Tools Holdings")
    "same_office": 0.6,  # a sibling in its parent's town shares its address
    "moved": 0.12,  # the right source has a newer address
    "new_phone": 0.15,  # ... or a newer phone number
    "renamed": 0.05,  # renamed like a sibling: "Acme Tools Inc" -> "Acme Tools Group"
    "sparse": 0.05,  # the right record has only name, city and state
    "null_street": 0.13,  # with "sparse", about 17% of right streets are missing
    "null_zip": 0.1,
    "null_phone": 0.13,
    "null_founded": 0.12,
}
_LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")
_KEYBOARD = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_DOTTED = {"Inc", "Ltd", "Co", "Corp", "Intl", "Mfg", "Bros"}


@dataclass(frozen=True)
class _Firm:
    name: str
    country: str
    street: str
    city: str
    state: str
    zip: str
    prefix: str  # postcode prefix of the town
    phone: tuple[str, str, str]  # area, first part, second part
    founded: int


def _pick(rng: np.random.Generator, items: list[T] | tuple[T, ...]) -> T:
    return items[int(rng.integers(len(items)))]


def _city(rng: np.random.Generator, country: str) -> list[str]:
    return _pick(rng, _CITIES[country].split(";")).rsplit(" ", 3)


def _digits(rng: np.random.Generator, k: int) -> str:
    return "".join(str(int(d)) for d in rng.integers(0, 10, size=k))


def _address(rng: np.random.Generator, country: str, prefix: str) -> tuple[str, str]:
    """A street line and a postcode in the country's style."""
    number = int(rng.integers(1, 300 if country == "DE" else 9900))
    if country == "DE":
        suffix = _pick(rng, ["straße", "straße", "weg", "allee", "ring"])
        return f"{_pick(rng, _DE_STREETS)}{suffix} {number}", prefix + _digits(rng, 5 - len(prefix))
    kinds = ["Street", "Avenue", "Road", "Boulevard", "Drive", "Lane", "Court", "Parkway"]
    street = f"{number} {_pick(rng, _STREET_NAMES)} {_pick(rng, kinds)}"
    if rng.random() < 0.12:
        direction = _pick(rng, ["North", "South", "East", "West"])
        street = street.replace(" ", f" {direction} ", 1)
    if country == "US" and rng.random() < 0.15:
        street += f" Suite {int(rng.integers(1, 40)) * 10}"
    if country == "US":
        return street, prefix + _digits(rng, 2)
    upper = tuple(c.upper() for c in _LETTERS)
    if country == "CA":
        code = f"{prefix}{_digits(rng, 1)}{_pick(rng, upper)} {_digits(rng, 1)}"
        return street, f"{code}{_pick(rng, upper)}{_digits(rng, 1)}"
    tail = f"{_digits(rng, 1)}{_pick(rng, upper)}{_pick(rng, upper)}"
    return street, f"{prefix}{int(rng.integers(1, 20))} {tail}"


def _new_name(rng: np.random.Generator, country: str) -> str:
    legal = _pick(rng, _LEGAL[country])
    pattern = int(rng.choice(6, p=[0.28, 0.24, 0.15, 0.1, 0.06, 0.17]))
    surname, other = _pick(rng, _SURNAMES), _pick(rng, _SURNAMES)
    core, industry = _pick(rng, _CORES), _pick(rng, _INDUSTRIES)
    sons = "Söhne" if country == "DE" else "Sons"
    words = [
        [core, industry],
        [core, _pick(rng, _DESCRIPTORS), industry],
        [surname, industry],
        [surname, "&", other] + ([industry] if rng.random() < 0.4 else []),
        [surname, "&", sons],
        [_pick(rng, _ADJECTIVES), _pick(rng, _NOUNS), industry],
    ][pattern]
    return " ".join([*words, legal])


def _sibling_name(rng: np.random.Generator, name: str, country: str) -> str:
    """A related firm's name: the same leading words, another ending or legal form."""
    tokens = name.split(" ")
    stem = tokens[:-1]
    kind = int(rng.integers(3))
    extra = _pick(rng, [w for w in _SIBLING_WORDS if w not in tokens])
    if kind == 1:  # "Acme Tools Inc" -> "Acme Tools International LLC"
        return " ".join([*stem, extra, _pick(rng, _LEGAL[country])])
    if kind == 2 and stem[-1] in _INDUSTRIES:  # "Acme Tools Inc" -> "Acme Plastics Inc"
        return " ".join([*stem[:-1], _pick(rng, _INDUSTRIES), tokens[-1]])
    return " ".join([*stem, extra])  # "Acme Tools Inc" -> "Acme Tools Holdings"


def _make_firms(rng: np.random.Generator, count: int) -> list[_Firm]:
    firms: list[_Firm] = []
    roots: list[_Firm] = []  # siblings hang off these, so names do not grow in chains
    seen: set[str] = set()
    while len(firms) < count:
        parent = _pick(rng, roots) if roots and rng.random() < _NOISE["sibling"] else None
        country = parent.country if parent else _COUNTRIES[int(rng.choice(4, p=_COUNTRY_WEIGHTS))]
        name = _sibling_name(rng, parent.name, country) if parent else _new_name(rng, country)
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        city, state, prefix, area = _city(rng, country)
        if parent and rng.random() < 0.7:  # siblings often sit in the same town
            city, state = parent.city, parent.state
            prefix, area = parent.prefix, parent.phone[0]
        street, postcode = _address(rng, country, prefix)
        phone = (area, str(int(rng.integers(200, 1000))), _digits(rng, 4))
        if parent and city == parent.city and rng.random() < _NOISE["same_office"]:
            street, postcode = parent.street, parent.zip  # same building, own direct line
            phone = (*parent.phone[:2], parent.phone[2][:2] + _digits(rng, 2))
        founded = int(np.clip(2024 - rng.gamma(2.0, 18.0), 1850, 2023))
        firms.append(_Firm(name, country, street, city, state, postcode, prefix, phone, founded))
        if parent is None:
            roots.append(firms[-1])
    return firms


def _phone(country: str, parts: tuple[str, str, str], style: int) -> str:
    formats = _PHONE_FORMATS["NA" if country in ("US", "CA") else "EU"]
    area, b, c = parts
    return formats[style].format(cc=_DIAL[country], a=area, b=b, c=c)


def _typo(rng: np.random.Generator, text: str) -> str:
    """One insert, delete, substitute or transpose, away from the first letter."""
    if len(text) < 4:
        return text
    i = int(rng.integers(1, len(text) - 1))
    row = next((r for r in _KEYBOARD if text[i].lower() in r), None)
    if row is None:  # an umlaut or a sign: any letter
        letter = _pick(rng, _LETTERS)
    else:  # a neighbouring key
        k, step = row.index(text[i].lower()), _pick(rng, [-1, 1])
        letter = row[k + step if 0 <= k + step < len(row) else k - step]
    letter = letter.upper() if text[i].isupper() else letter
    head, tail, swapped = text[:i], text[i + 1 :], text[i + 1] + text[i] + text[i + 2 :]
    return _pick(rng, [head + letter + text[i:], head + tail, head + letter + tail, head + swapped])


def _typo_word(rng: np.random.Generator, tokens: list[str]) -> list[str]:
    slots = [
        i for i, t in enumerate(tokens) if len(t) >= 4 and t.isalpha() and t not in _LEGAL_WORDS
    ]
    if slots:
        i = _pick(rng, slots)
        tokens = [*tokens[:i], _typo(rng, tokens[i]), *tokens[i + 1 :]]
    return tokens


def _abbreviate(rng: np.random.Generator, text: str, p: float) -> str:
    return " ".join(
        _ABBREVIATIONS[t] if t in _ABBREVIATIONS and rng.random() < p else t
        for t in text.split(" ")
    )


def _punctuate(rng: np.random.Generator, tokens: list[str]) -> list[str]:
    """Another source's punctuation: "Acme Tools, Inc.", "Acme Tools Inc", "Acme-Tools Inc"."""
    kind = int(rng.integers(3))
    if kind == 0 and len(tokens) > 1 and tokens[-1] in _LEGAL_WORDS:
        return [*tokens[:-2], tokens[-2] + ",", tokens[-1]]
    if kind == 1:
        return [t + "." if t in _DOTTED else t.replace("'", "") for t in tokens]
    if len(tokens) > 2 and "&" not in tokens[:2]:
        return [f"{tokens[0]}-{tokens[1]}", *tokens[2:]]
    return [t.replace(".", "").replace(",", "") for t in tokens]


def _noisy_name(rng: np.random.Generator, name: str) -> str:
    if rng.random() < 0.5:
        name = name.translate(_TRANSLIT)
    tokens = [_LEGAL_SWAPS.get(t, t) if rng.random() < 0.3 else t for t in name.split(" ")]
    if tokens[-1] in _LEGAL_WORDS and rng.random() < 0.12:
        tokens = tokens[:-1]
    tokens = _abbreviate(rng, " ".join(tokens), 0.35).split(" ")
    body = [i for i, t in enumerate(tokens) if t not in _LEGAL_WORDS]
    if len(body) >= 3 and rng.random() < 0.1:  # drop a word, never the first
        del tokens[_pick(rng, body[1:])]
    elif len(body) >= 2 and rng.random() < 0.06:  # "Tools Acme Inc"
        i, j = body[0], body[1]
        tokens[i], tokens[j] = tokens[j], tokens[i]
    for p in (0.35, 0.12):
        if rng.random() < p:
            tokens = _typo_word(rng, tokens)
    if rng.random() < 0.25:
        tokens = _punctuate(rng, tokens)
    name = " ".join(tokens)
    case = rng.random()
    return name.upper() if case < 0.1 else name.lower() if case < 0.17 else name


def _maybe(rng: np.random.Generator, value: str, p_null: float) -> str | None:
    return None if rng.random() < p_null else value


def _right_record(rng: np.random.Generator, firm: _Firm) -> Record:
    """``firm`` as the right-hand source writes it."""
    street, postcode, parts = firm.street, firm.zip, firm.phone
    name = firm.name
    if rng.random() < _NOISE["renamed"]:
        name = _sibling_name(rng, name, firm.country)
    if rng.random() < _NOISE["moved"]:  # moved within the town since the left source was made
        street, postcode = _address(rng, firm.country, firm.prefix)
    if rng.random() < _NOISE["new_phone"]:
        parts = (parts[0], str(int(rng.integers(200, 1000))), _digits(rng, 4))
    if rng.random() < 0.5:
        street = street.replace("straße", _pick(rng, ["str.", "str", "strasse"]))
        street = _abbreviate(rng, street, 0.8)
    if rng.random() < 0.08:
        street = " ".join(_typo_word(rng, street.split(" ")))
    city = _CITY_ALIASES.get(firm.city, firm.city) if rng.random() < 0.3 else firm.city
    city = _typo(rng, city) if rng.random() < 0.06 else city
    city = city.upper() if rng.random() < 0.05 else city
    if firm.country == "US" and rng.random() < 0.1:
        postcode += f"-{_digits(rng, 4)}"
    elif rng.random() < 0.03:
        postcode = _typo(rng, postcode)
    phone = _phone(firm.country, parts, int(rng.integers(5)) if rng.random() < 0.6 else 0)
    if rng.random() < 0.03:
        phone = phone[:-2] + _digits(rng, 2)
    founded = firm.founded + _pick(rng, [-1, 1]) if rng.random() < 0.12 else firm.founded
    if rng.random() < _NOISE["sparse"]:  # a bare listing: name and town only
        return {"name": _noisy_name(rng, name), "city": city, "state": firm.state}
    return {
        "name": _noisy_name(rng, name),
        "street": _maybe(rng, street, _NOISE["null_street"]),
        "city": _maybe(rng, city, 0.03),
        "state": _maybe(rng, firm.state.lower() if rng.random() < 0.03 else firm.state, 0.03),
        "zip": _maybe(rng, postcode, _NOISE["null_zip"]),
        "phone": _maybe(rng, phone, _NOISE["null_phone"]),
        "founded": _maybe(rng, str(founded), _NOISE["null_founded"]),
    }


def _left_record(rng: np.random.Generator, firm: _Firm) -> Record:
    """``firm`` as the left source writes it: canonical, with a few slips of its own."""
    name = " ".join(_typo_word(rng, firm.name.split(" "))) if rng.random() < 0.06 else firm.name
    return {
        "name": name,
        "street": _maybe(rng, firm.street, 0.04),
        "city": firm.city,
        "state": firm.state,
        "zip": _maybe(rng, firm.zip, 0.04),
        "phone": _maybe(rng, _phone(firm.country, firm.phone, 0), 0.05),
        "founded": _maybe(rng, str(firm.founded), 0.06),
    }


def _frame(records: list[Record], prefix: str) -> pl.DataFrame:
    rows = [
        {"id": f"{prefix}{i + 1:05d}"} | dict.fromkeys(COLUMNS[1:]) | r
        for i, r in enumerate(records)
    ]
    return pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS, pl.Utf8), orient="row")


def make_demo(
    n: int = 3000, *, overlap: float = 0.8, seed: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Make two noisy tables of firms to link, and the true matches between them.

    Args:
        n: Number of left firms; the right table also has ``n`` rows.
        overlap: Share of left firms that also appear (rewritten) in the right table; the
            rest of the right table are new firms.
        seed: Seed of the one random generator everything is drawn from.

    Returns:
        ``(left, right, truth)``: ``left`` and ``right`` have the columns ``id, name, street,
        city, state, zip, phone, founded`` (all text, ids ``L00001``.. and ``R00001``..);
        ``truth`` has ``left_id, right_id``, sorted.

    Raises:
        ConfigError: ``n`` is below 1 or ``overlap`` is outside [0, 1].

    Example:
        >>> left, right, truth = make_demo(200, overlap=0.5, seed=1)
        >>> left.height, right.height, truth.height
        (200, 200, 100)
    """
    if n < 1:
        raise ConfigError(f"n must be at least 1, got {n}")
    if not 0.0 <= overlap <= 1.0:
        raise ConfigError(f"overlap must be between 0 and 1, got {overlap}")
    rng = np.random.default_rng(seed)
    shared = round(overlap * n)
    firms = _make_firms(rng, 2 * n - shared)
    order = rng.permutation(len(firms))  # siblings end up on both sides, in any order
    left_firms = [firms[i] for i in order[:n]]
    matched = sorted(int(i) for i in rng.choice(n, size=shared, replace=False))
    right_firms = [left_firms[i] for i in matched] + [firms[i] for i in order[n:]]
    left = _frame([_left_record(rng, f) for f in left_firms], "L")
    right_order = rng.permutation(len(right_firms))
    right_records = [_right_record(rng, right_firms[i]) for i in right_order]
    right = _frame(right_records, "R")
    position = {int(src): pos for pos, src in enumerate(right_order)}
    truth = pl.DataFrame(
        {
            "left_id": [f"L{i + 1:05d}" for i in matched],
            "right_id": [f"R{position[k] + 1:05d}" for k in range(shared)],
        },
        schema={"left_id": pl.Utf8, "right_id": pl.Utf8},
    ).sort("left_id", "right_id")
    logger.debug("demo seed %d: left %d, right %d, truth %d", seed, n, right.height, shared)
    return left, right, truth


def write_demo(
    directory: str | Path, *, n: int = 3000, overlap: float = 0.8, seed: int = 0
) -> None:
    """Write ``left.csv``, ``right.csv`` and ``truth.csv`` made by :func:`make_demo`.

    Each file is written under a temporary name and then renamed, so a reader never sees a
    half-written file.

    Args:
        directory: Folder to write into (created if missing).
        n: Number of left firms.
        overlap: Share of left firms that appear in the right table.
        seed: Random seed.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     write_demo(folder, n=50, seed=3)
        ...     sorted(p.name for p in Path(folder).iterdir())
        ['left.csv', 'right.csv', 'truth.csv']
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    frames = make_demo(n, overlap=overlap, seed=seed)
    for stem, frame in zip(("left", "right", "truth"), frames, strict=True):
        tmp = folder / f".{stem}.csv.tmp"
        frame.write_csv(tmp)
        tmp.replace(folder / f"{stem}.csv")
    logger.info("wrote demo data (n=%d, seed=%d) to %s", n, seed, folder)
