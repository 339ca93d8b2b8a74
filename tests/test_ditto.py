"""Ditto pieces without a model: pair files, serialization, the three optimizations, thresholds."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from linker.errors import ConfigError, InputError, ModelError, NotFittedError
from linker.measures import best_threshold, f1_at
from linker.rerank.cross_encoder import cross_encoder_reranker
from linker.scoring.ditto import DittoMatcher, Summarizer, augment, mark_spans
from linker.scoring.ditto.loop import length_batches
from linker.scoring.labelled_pairs import (
    PairSet,
    as_pairs,
    parse_serialized,
    read_deepmatcher,
    read_ditto_pairs,
    read_pairs,
    serialize_record,
)

LINE = "COL title VAL sony dsc-w120 COL price VAL 199\tCOL title VAL sony w120 COL price VAL\t1"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- serialization and pair files -----------------------------------------------------------------
def test_serialize_round_trip_keeps_columns_order_and_empty_values() -> None:
    rec = {"title": "iphone 12", "brand": "", "price": "799"}
    text = serialize_record(rec)
    assert text == "COL title VAL iphone 12 COL brand VAL COL price VAL 799"
    assert parse_serialized(text) == rec
    assert serialize_record(rec, ["price", "title"]) == "COL price VAL 799 COL title VAL iphone 12"


def test_read_ditto_pairs(tmp_path: Path) -> None:
    p = read_ditto_pairs(write(tmp_path / "train.txt", LINE + "\n\n" + LINE.replace("\t1", "\t0")))
    assert len(p) == 2 and p.labels == [1, 0]
    assert p.left[0] == {"title": "sony dsc-w120", "price": "199"}
    assert p.right[0] == {"title": "sony w120", "price": ""}
    assert p.columns == ["title", "price"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("COL a VAL x\tCOL a VAL y\n", r"line 1: 2 tab-separated fields"),
        ("COL a VAL x\tCOL a VAL y\tyes\n", r"line 1: label 'yes' is not 0 or 1"),
        (LINE + "\nCOL a VAL x\tCOL a VAL y\t1\textra\n", r"line 2: 4 tab-separated fields"),
        ("\n\n", r"holds no pairs"),
    ],
)
def test_bad_ditto_files_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_ditto_pairs(write(tmp_path / "bad.txt", text))


def _deepmatcher(folder: Path, pairs: str = "ltable_id,rtable_id,label\n0,10,1\n1,10,0\n") -> Path:
    write(folder / "tableA.csv", 'id,title,price\n0,"sony, w120",199\n1,canon a1,\n')
    write(folder / "tableB.csv", "id,title,price\n10,sony w120,199.0\n")
    write(folder / "train.csv", pairs)
    return folder


def test_read_deepmatcher_folder(tmp_path: Path) -> None:
    p = read_pairs(_deepmatcher(tmp_path))
    assert p.labels == [1, 0] and p.ids == [("0", "10"), ("1", "10")]
    assert p.left[0] == {"title": "sony, w120", "price": "199"}
    assert p.right[1] == {"title": "sony w120", "price": "199.0"}


def test_bad_deepmatcher_files(tmp_path: Path) -> None:
    _deepmatcher(tmp_path, "ltable_id,rtable_id,label\n0,99,1\n")
    with pytest.raises(InputError, match=r"train.csv, line 2: id '99' is not in the right"):
        read_pairs(tmp_path)
    _deepmatcher(tmp_path, "ltable_id,label\n0,1\n")
    with pytest.raises(InputError, match=r"lacks the column\(s\) \['rtable_id'\]"):
        read_pairs(tmp_path)
    write(tmp_path / "tableA.csv", "key,title\n0,x\n")
    with pytest.raises(InputError, match=r"tableA.csv has no 'id' column"):
        read_deepmatcher(tmp_path / "train.csv")
    with pytest.raises(InputError, match=r"neither valid.csv .* nor valid.txt"):
        read_pairs(tmp_path, split="valid")
    with pytest.raises(InputError, match=r"not found"):
        read_pairs(tmp_path / "missing.txt")


def test_as_pairs_from_frames(tmp_path: Path) -> None:
    left = pl.DataFrame({"id": [1, 2], "name": ["acme", "zeta"]})
    right = pl.DataFrame({"id": [7], "name": ["acme inc"]})
    ids = pl.DataFrame({"ltable_id": [1, 2], "rtable_id": [7, 7], "label": [1, 0]})
    p = as_pairs(ids, left=left, right=right)
    assert p.left[1] == {"name": "zeta"} and p.right[0] == {"name": "acme inc"}
    texts = pl.DataFrame({"left": ["COL name VAL acme"], "right": ["COL name VAL acme"]})
    assert as_pairs(texts).left == [{"name": "acme"}] and as_pairs(texts).labels == []
    with pytest.raises(InputError, match="need left= and right="):
        as_pairs(ids)
    with pytest.raises(InputError, match="labels must be 0 or 1"):
        as_pairs(ids.with_columns(label=pl.lit(2)), left=left, right=right)
    with pytest.raises(InputError, match="give ltable_id, rtable_id, label"):
        as_pairs(pl.DataFrame({"a": [1]}))
    with pytest.raises(InputError, match="3 labels for 1 pairs"):
        PairSet([{"a": "x"}], [{"a": "y"}], [1, 0, 1])


# -- the three optimizations ----------------------------------------------------------------------
def test_mark_spans_kinds() -> None:
    out = mark_spans("COL t VAL nikon d3100 14.2mp 2010 black 549 COL year VAL 2010")
    assert out == (
        "COL t VAL nikon [code] d3100 [unit] 14.2mp [year] 2010 black [num] 549 "
        "COL year VAL [year] 2010"
    )


def test_summarizer_keeps_markers_names_and_order() -> None:
    corpus = ["COL d VAL the a b c", "COL d VAL the x y", "COL d VAL the a z"]
    s = Summarizer(max_words=2).fit(corpus)
    long = "COL d VAL the the the rareword a [code] xk-100"
    out = s.transform(long)
    assert out.startswith("COL d VAL") and out.split()[-2:] == ["[code]", "xk-100"]
    assert "rareword" in out and "the" not in out  # frequent word dropped, order kept
    assert s.transform("COL d VAL a b") == "COL d VAL a b"  # short records unchanged


def test_summarizer_fits_a_word_piece_budget() -> None:
    s = Summarizer(max_words=50).fit(["COL t VAL the red apple", "COL t VAL the pear"])
    text = "COL t VAL the red apple [num] 12 COL u VAL x y z"

    def cost(word: str) -> int:
        return 3 if word.startswith("[") else 1

    # markers and names cost 6, 3 words fit; the mark goes with its number (4) or not at all
    out = s.transform(text, budget=9, cost=cost)
    assert out == "COL t VAL red apple COL u VAL x"
    assert s.transform(text, budget=100, cost=cost) == text  # fits: unchanged
    assert s.transform(text) == text  # no budget: only max_words counts


def test_augment_is_seeded_and_label_preserving() -> None:
    left, right = {"t": "a b c d e", "p": "9"}, {"t": "a b c", "p": "9"}
    runs = [[augment(left, right, np.random.default_rng(3)) for _ in range(1)] for _ in range(2)]
    assert runs[0] == runs[1]
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = augment(left, right, rng)
        assert set(a) == {"t", "p"} and set(b) == {"t", "p"}
    assert left == {"t": "a b c d e", "p": "9"}  # inputs not mutated


# -- thresholds, batching, settings ---------------------------------------------------------------
def test_threshold_and_metrics() -> None:
    scores = np.array([0.95, 0.8, 0.45, 0.4, 0.1], dtype=np.float32)
    labels = np.array([1, 1, 1, 0, 0])
    t, f1 = best_threshold(scores, labels)
    assert 0.4 < t < 0.45 and f1 == 1.0
    assert f1_at(scores, labels, 0.5) == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8}
    )


def test_length_batches_cover_every_row_once() -> None:
    lengths = list(np.random.default_rng(0).integers(1, 100, 103))
    batches = length_batches(lengths, 8, np.random.default_rng(1))
    assert sorted(i for b in batches for i in b) == list(range(103))
    assert batches == length_batches(lengths, 8, np.random.default_rng(1))


def test_time_budget_keeps_back_the_validation_scoring() -> None:
    from linker.scoring.ditto.model import _Budget

    now = time.perf_counter()
    # 5 s spent on 10 steps of 16 pairs: a valid pair is assumed to score in a third of the
    # 5 / 160 s a training pair took, so 300 valid pairs need 3.1 s (fits 10 s), 600 need 6.3 s
    for n_valid, spent in ((300, False), (600, True)):
        budget = _Budget(10.0, n_valid, 16, now - 5.0)
        budget.steps = 10
        assert budget.spent() is spent
    budget.scored(1.0)  # once a validation pass is timed, its time is kept back instead
    assert not budget.spent() and budget.score_seconds == 1.0
    # 8.5 s spent, 1 s of it scoring: a step takes 0.75 s, and the pass is kept back with 10%
    # to spare: 8.5 + 0.75 + 1.1 > 10, though 8.5 + 1 would still fit
    late = _Budget(10.0, 600, 16, time.perf_counter() - 8.5)
    late.steps = 10
    late.scored(1.0)
    assert late.spent()
    assert not _Budget(None, 600, 16, now - 1e6) and not _Budget(None, 600, 16, now).spent()
    assert not _Budget(1.0, 600, 16, now).spent()  # no step yet: nothing to estimate from


def test_matcher_settings_and_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError):
        DittoMatcher().predict_proba(([{"a": "x"}], [{"a": "y"}]))
    with pytest.raises(ConfigError, match="max_len"):
        DittoMatcher(max_len=4).fit(PairSet([{"a": "x"}] * 2, [{"a": "y"}] * 2, [0, 1]))
    with pytest.raises(ConfigError, match="pooling"):
        DittoMatcher(pooling="max").fit(PairSet([{"a": "x"}] * 2, [{"a": "y"}] * 2, [0, 1]))
    with pytest.raises(InputError, match="both matches"):
        DittoMatcher().fit(PairSet([{"a": "x"}], [{"a": "y"}], [1]))
    with pytest.raises(ModelError, match="not a saved matcher"):
        DittoMatcher.load(tmp_path)
    with pytest.raises(ConfigError, match="needs a fine-tuned matcher"):
        cross_encoder_reranker("cross-encoder")
    assert cross_encoder_reranker("local") is None
