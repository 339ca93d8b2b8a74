"""End-to-end training of the Ditto-style matcher on the real packaged MiniLM backbone.

The data is a small real sample of the bundled demo firms (``datasets/demo``): true pairs from
``truth.csv`` and, for each, a random other right record as a non-match. Training is a few
steps, so the checks are against a trivial baseline, not against published figures (those are
in ``benchmarks/results/er_magellan.md``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import demo_pairs, demo_tables

import linker as lk
from linker.cli import main
from linker.errors import ModelError
from linker.scoring.ditto import DittoMatcher
from linker.scoring.labelled_pairs import PairSet, serialize_record

pytestmark = pytest.mark.slow  # every test fine-tunes the transformer or uses one fine-tuned

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo"
COLUMNS = ["name", "city"]
TINY = {"batch_size": 8, "max_len": 32, "lr": 1e-4, "show_progress": False}


def _pairs(start: int, stop: int, seed: int) -> PairSet:
    return demo_pairs(start, stop, seed, COLUMNS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[DittoMatcher, Path]:
    folder = tmp_path_factory.mktemp("matcher") / "demo"
    m = lk.train(_pairs(0, 32, 0), valid=_pairs(100, 112, 1), epochs=2, seed=0, save=folder, **TINY)
    return m, folder


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg).mean())


def test_tiny_training_beats_a_trivial_baseline(trained: tuple[DittoMatcher, Path]) -> None:
    m, _ = trained
    test = _pairs(200, 240, 2)
    y = np.asarray(test.labels)
    scores = m.predict_proba(test)
    assert scores.shape == (80,) and ((scores >= 0) & (scores <= 1)).all()
    assert _auc(scores, y) > 0.75  # a constant score has AUC 0.5
    all_match_f1 = 2 * 0.5 / 1.5  # predicting "match" for every pair
    assert m.evaluate(test)["f1"] > all_match_f1
    assert 1 <= len(m.history_) <= 2 and 0 < m.threshold_ < 1


def test_save_load_reproduces_scores(trained: tuple[DittoMatcher, Path]) -> None:
    m, folder = trained
    names = {p.name for p in folder.iterdir()}
    assert {"linker_matcher.json", "model.safetensors", "config.json", "tokenizer.json"} <= names
    assert not [n for n in names if n.endswith((".pkl", ".bin", ".pt"))]
    test = _pairs(300, 310, 3)
    loaded = DittoMatcher.load(folder)
    assert loaded.threshold_ == m.threshold_ and loaded.columns_ == COLUMNS
    np.testing.assert_allclose(loaded.predict_proba(test), m.predict_proba(test), atol=1e-6)


def test_version_1_folders_load_with_the_cls_head(
    trained: tuple[DittoMatcher, Path], tmp_path: Path
) -> None:
    import json
    import shutil

    _, folder = trained
    old = tmp_path / "v1"
    shutil.copytree(folder, old)
    cfg = old / "linker_matcher.json"
    state = json.loads(cfg.read_text())
    assert state["format_version"] == 2 and state["params"]["pooling"] == "mean"
    state["format_version"] = 1  # as version 1 wrote it: no pooling, balance or token budget
    for key in ("pooling", "balance"):
        del state["params"][key]
    del state["token_budget"]
    cfg.write_text(json.dumps(state))
    loaded = DittoMatcher.load(old)
    assert loaded.pooling == "cls" and not loaded.balance and not loaded.token_budget_
    assert loaded.predict_proba(_pairs(300, 302, 3)).shape == (4,)
    state["format_version"] = 99
    cfg.write_text(json.dumps(state))
    with pytest.raises(ModelError, match="newer linker"):
        DittoMatcher.load(old)


def test_seeded_training_is_deterministic() -> None:
    train, valid, test = _pairs(0, 8, 0), _pairs(50, 54, 1), _pairs(60, 64, 2)
    runs = [lk.train(train, valid=valid, epochs=1, seed=7, **TINY) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].predict_proba(test), runs[1].predict_proba(test))


def test_merge_and_rerank_with_the_matcher(trained: tuple[DittoMatcher, Path]) -> None:
    m, folder = trained
    left, right, truth = demo_tables()
    t = truth.slice(200, 8)
    lsub = left.filter(pl.col("id").is_in(t["left_id"].implode()))
    rsub = right.filter(pl.col("id").is_in(t["right_id"].implode()))
    out = lk.merge(lsub, rsub, on=COLUMNS, id="id", k=3, matcher=folder)
    both = out.filter(pl.col("_merge") == "both")
    assert out.height >= lsub.height and both.height > 0
    pairs = (
        [{c: r[c] or "" for c in COLUMNS} for r in both.iter_rows(named=True)],
        [{c: r[f"{c}_right"] or "" for c in COLUMNS} for r in both.iter_rows(named=True)],
    )
    expected = m.predict_proba((
        [{k: v.lower() for k, v in r.items()} for r in pairs[0]],
        [{k: v.lower() for k, v in r.items()} for r in pairs[1]],
    ))  # fmt: skip
    np.testing.assert_allclose(both["_score"].to_numpy(), expected, atol=1e-5)
    res = lk.Linker(on=COLUMNS, k=3, rerank=f"cross-encoder:{folder}", rerank_band=(0.0, 1.0))
    reranked = res.link(lsub, rsub)
    assert reranked.stats["rerank_pairs"] > 0
    assert reranked.pairs.filter(pl.col("reranked")).height > 0


def test_merge_rejects_a_matcher_of_other_columns(trained: tuple[DittoMatcher, Path]) -> None:
    _, folder = trained
    df = pl.DataFrame({"street": ["1 main st"], "zip": ["10001"]})
    with pytest.raises(lk.ConfigError, match=r"trained on the columns \['name', 'city'\]"):
        lk.merge(df, df, on=["street", "zip"], matcher=folder)


def test_cli_train_and_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for split, (a, b, seed) in {"train": (0, 8, 0), "valid": (50, 54, 1)}.items():
        ps = _pairs(a, b, seed)
        lines = [
            f"{serialize_record(x)}\t{serialize_record(y)}\t{lab}"
            for x, y, lab in zip(ps.left, ps.right, ps.labels, strict=True)
        ]
        (tmp_path / f"{split}.txt").write_text("\n".join(lines) + "\n")
    model = tmp_path / "model"
    argv = ["train", str(tmp_path), "--epochs", "1", "--batch-size", "8", "--max-len", "32"]
    assert main([*argv, "-o", str(model), "--test", str(tmp_path / "valid.txt")]) == 0
    assert "valid F1" in capsys.readouterr().err
    scores = tmp_path / "scores.csv"
    assert main(["score", str(model), str(tmp_path / "valid.txt"), "-o", str(scores)]) == 0
    out = pl.read_csv(scores)
    assert out.columns == ["pair", "score", "match", "label"] and out.height == 8
    (tmp_path / "bad.txt").write_text("COL a VAL x\tCOL a VAL y\tmaybe\n")
    assert main(["score", str(model), str(tmp_path / "bad.txt")]) == 2
    assert "bad.txt, line 1: label 'maybe' is not 0 or 1" in capsys.readouterr().err
