"""The boosted feature matcher: real features (rapidfuzz, the packaged static model, n-grams),
real scikit-learn trees, trained on a small real sample of the demo firms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import demo_pairs, demo_tables

import linker as lk
from linker.cli import main
from linker.errors import ConfigError, InputError, ModelError
from linker.scoring.boosted import BoostedMatcher, PairFeatures, number_similarity
from linker.scoring.labelled_pairs import PairSet
from linker.scoring.registry import load_matcher
from linker.scoring.trees import fit_trees, predict_trees

COLUMNS = ["name", "street", "city", "zip", "phone"]


def _pairs(start: int, stop: int, seed: int) -> PairSet:
    return demo_pairs(start, stop, seed, COLUMNS)


def _hard_pairs(start: int, stop: int) -> PairSet:
    """True pairs and, for each, a near miss: the right record of the next true pair in the
    same city when there is one (names alike in kind, same place), else the next one."""
    left, right, truth = demo_tables()
    lrec = {r["id"]: {c: r[c] or "" for c in COLUMNS} for r in left.iter_rows(named=True)}
    rrec = {r["id"]: {c: r[c] or "" for c in COLUMNS} for r in right.iter_rows(named=True)}
    rows = truth.rows()
    out = PairSet([], [], [])
    for i, (lid, rid) in enumerate(rows[start:stop], start):
        city = lrec[lid]["city"]
        others = [r for _, r in rows[i + 1 : i + 200] if rrec[r]["city"] == city]
        neg = others[0] if others else rows[i + 1][1]
        for r, y in ((rid, 1), (neg, 0)):
            out.left.append(lrec[lid])
            out.right.append(rrec[r])
            out.labels.append(y)
    return out


@pytest.fixture(scope="module")
def fitted() -> BoostedMatcher:
    return BoostedMatcher(max_iter=100).fit(_hard_pairs(0, 400), _hard_pairs(400, 500))


@pytest.mark.slow
def test_trees_equal_sklearn_including_missing_values() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.random((2000, 5))
    y = ((X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(0, 0.2, 2000)) > 0.8).astype(np.int64)
    X[::7, 3] = np.nan
    trees = fit_trees(X, y, max_iter=50, n_models=3, seed=4)
    refs = [
        HistGradientBoostingClassifier(
            max_iter=50, learning_rate=0.05, l2_regularization=1.0, max_features=0.5,
            early_stopping=False, random_state=seed,
        ).fit(X, y)
        for seed in (4, 5, 6)
    ]  # fmt: skip
    Z = rng.random((500, 5))
    Z[::5, 3] = np.nan
    mean = np.mean([ref._raw_predict(Z).ravel() for ref in refs], axis=0)
    np.testing.assert_allclose(predict_trees(trees, Z), mean, atol=1e-9)
    assert np.abs(refs[0]._raw_predict(Z).ravel() - mean).max() > 1e-3  # the seeds differ


def test_number_similarity() -> None:
    sims = number_similarity(["$ 1,299.00", "v2", "", "0"], ["1299", "v3", "7", "0"]).tolist()
    assert sims[0] == 1.0 and sims[1] == pytest.approx(2 / 3) and sims[2:] == [0.5, 1.0]


def test_features_are_similarities_with_neutral_missing() -> None:
    left = [{"name": "Acme Corp", "city": ""}, {"name": "Acme Corp", "city": "Boston"}]
    right = [{"name": "acme corporation", "city": "Boston"}, {"name": "zeta ltd", "city": "Boston"}]
    f = PairFeatures(["name", "city"]).fit(left + right)
    x = f.transform(left, right)
    assert x["c1_ratio"].to_list()[0] == 0.5 and x["c1_embedding"].to_list()[0] == 0.5
    assert x["c0_embedding"][0] > x["c0_embedding"][1]  # the real static model
    assert x["record_ngram"][0] > x["record_ngram"][1]
    assert all(0.0 <= v <= 1.0 for col in x.iter_columns() for v in col.to_list())


@pytest.mark.slow
def test_beats_the_best_single_similarity_on_held_out_near_misses(
    fitted: BoostedMatcher,
) -> None:
    test = _hard_pairs(500, 700)
    y = np.asarray(test.labels)
    got = fitted.evaluate(test)["f1"]
    # trivial baseline: the best single feature with its threshold chosen on the test pairs
    from linker.measures import best_threshold

    x = fitted.features_.transform(test.left, test.right)
    baseline = max(best_threshold(x[c].to_numpy(), y)[1] for c in x.columns)
    assert got > 0.9 and got >= baseline - 0.01, (got, baseline)
    assert got > 2 * y.mean() / (1 + y.mean())  # F1 of calling every pair a match


@pytest.mark.slow
def test_save_load_reproduces_scores_and_writes_no_pickle(
    fitted: BoostedMatcher, tmp_path: Path
) -> None:
    test = _pairs(700, 760, 3)
    folder = fitted.save(tmp_path / "m")
    assert [p.name for p in folder.iterdir()] == ["linker_matcher.json"]
    state = json.loads((folder / "linker_matcher.json").read_text())
    assert state["type"] == "BoostedMatcher" and len(state["trees"]["trees"]) == 5 * 100
    loaded = load_matcher(folder)
    assert isinstance(loaded, BoostedMatcher)
    np.testing.assert_array_equal(loaded.predict_proba(test), fitted.predict_proba(test))
    assert loaded.threshold_ == fitted.threshold_


@pytest.mark.slow
def test_same_seed_same_matcher() -> None:
    a = BoostedMatcher(max_iter=30).fit(_hard_pairs(0, 120))
    b = BoostedMatcher(max_iter=30).fit(_hard_pairs(0, 120))
    test = _pairs(800, 830, 4)
    np.testing.assert_array_equal(a.predict_proba(test), b.predict_proba(test))


@pytest.mark.slow
def test_merge_with_a_boosted_matcher_folder(fitted: BoostedMatcher, tmp_path: Path) -> None:
    left, right, truth = demo_tables()
    true_pairs = truth.head(300)
    left = left.join(true_pairs, left_on="id", right_on="left_id", how="semi")
    right = right.join(true_pairs, left_on="id", right_on="right_id", how="semi")
    folder = fitted.save(tmp_path / "m")
    out = lk.merge(left, right, on=COLUMNS, id="id", matcher=str(folder), model="static")
    both = out.filter(pl.col("_merge") == "both")
    pairs = set(zip(both["id"], both["id_right"], strict=True))
    true = set(true_pairs.rows())
    assert len(pairs & true) / len(true) > 0.9 and len(pairs - true) < 0.05 * len(pairs)
    assert out.height >= left.height  # every left row survives


@pytest.mark.slow
def test_train_api_and_errors(tmp_path: Path) -> None:
    m = lk.train(_hard_pairs(0, 100), model="boosted", max_iter=20, save=tmp_path / "m")
    assert isinstance(m, BoostedMatcher) and (tmp_path / "m" / "linker_matcher.json").is_file()
    with pytest.raises(ConfigError, match="not one of"):
        lk.train(_hard_pairs(0, 20), model="forest")
    with pytest.raises(ConfigError, match="backbone"):
        lk.train(_hard_pairs(0, 20), model="boosted", backbone="minilm")
    with pytest.raises(ConfigError, match="boosted"):
        lk.train(_hard_pairs(0, 20), model="boosted", epochs_per_step=3)
    one_class = PairSet([{"name": "a"}] * 4, [{"name": "a"}] * 4, [1] * 4)
    with pytest.raises(InputError, match="both matches"):
        lk.train(one_class, model="boosted")
    with pytest.raises(ModelError, match="not a saved matcher"):
        BoostedMatcher.load(tmp_path / "nothing")


@pytest.mark.slow
def test_cli_train_and_score_boosted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    left, right, truth = demo_tables()
    left.write_csv(tmp_path / "tableA.csv")
    right.write_csv(tmp_path / "tableB.csv")
    rng = np.random.default_rng(0)
    rows = []
    for lid, rid in truth.head(300).rows():
        rows += [(lid, rid, 1), (lid, right["id"][int(rng.integers(right.height))], 0)]
    pairs = pl.DataFrame(rows, schema=["ltable_id", "rtable_id", "label"], orient="row")
    pairs.head(400).write_csv(tmp_path / "train.csv")
    pairs.slice(400, 100).write_csv(tmp_path / "valid.csv")
    pairs.tail(100).write_csv(tmp_path / "test.csv")
    code = main(["train", str(tmp_path), "--model", "boosted", "-o", str(tmp_path / "m"), "-q"])
    assert code == 0
    out = tmp_path / "scores.csv"
    assert main(["score", str(tmp_path / "m"), str(tmp_path / "test.csv"), "-o", str(out)]) == 0
    scores = pl.read_csv(out)
    assert scores.height == 100
    assert (scores["match"] == scores["label"]).mean() > 0.9  # type: ignore[operator]
    capsys.readouterr()
    bad = ["train", str(tmp_path), "--model", "boosted", "--hard-negatives", "2", "-o", "x", "-q"]
    assert main(bad) == 2
    assert "hard_negatives is a setting of model='stack'" in capsys.readouterr().err


@pytest.mark.slow
def test_stack_trains_both_saves_and_loads(tmp_path: Path) -> None:
    from linker.scoring.stack import StackedMatcher

    tiny = {"batch_size": 8, "max_len": 32, "lr": 1e-4, "show_progress": False}
    m = lk.train(
        _hard_pairs(0, 60), valid=_hard_pairs(400, 460), model="stack", epochs=1,
        max_iter=50, save=tmp_path / "s", **tiny,
    )  # fmt: skip
    assert isinstance(m, StackedMatcher) and len(m.weights_) == 2
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "boosted", "ditto", "linker_matcher.json"
    ]  # fmt: skip
    test = _hard_pairs(500, 560)
    assert m.evaluate(test)["f1"] > 0.85
    loaded = load_matcher(tmp_path / "s")
    assert isinstance(loaded, StackedMatcher)
    np.testing.assert_allclose(loaded.predict_proba(test), m.predict_proba(test), atol=1e-5)


@pytest.mark.slow
def test_out_of_fold_scores_are_less_sure_than_in_sample() -> None:
    from linker.scoring.trees import out_of_fold

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(scale=1.0, size=300) > 0).astype(np.int64)  # noisy labels
    settings = {"max_iter": 100, "n_models": 1}
    in_sample = predict_trees(fit_trees(X, y, **settings), X)
    held_out = out_of_fold(X, y, **settings)
    assert held_out.shape == (300,) and not np.allclose(held_out, in_sample)
    # the trees fit their own noise: in sample they agree with the labels far more often
    agree = lambda z: float(np.mean((z > 0) == (y == 1)))  # noqa: E731
    assert agree(in_sample) > agree(held_out) + 0.1
    assert agree(held_out) > 0.6  # yet the held-out scores still carry the signal
    np.testing.assert_array_equal(held_out, out_of_fold(X, y, **settings))  # seeded


def test_hard_pairs_keeps_matches_and_the_highest_scored_non_matches() -> None:
    from linker.scoring.stack import hard_pairs

    pairs = PairSet([{"a": str(i)} for i in range(8)], [{"a": "x"}] * 8, [1, 0, 0, 1, 0, 0, 0, 0])
    scores = [0.9, 0.2, 0.7, 0.1, 0.6, 0.65, 0.05, 0.3]
    kept = hard_pairs(pairs, scores, per_match=1.5)  # 2 matches -> 3 non-matches
    assert [r["a"] for r in kept.left] == ["0", "2", "3", "4", "5"]
    assert kept.labels == [1, 0, 1, 0, 0]
    assert len(hard_pairs(pairs, scores, per_match=10).left) == 8  # more than there are: all
    with pytest.raises(ConfigError, match="above 0"):
        hard_pairs(pairs, scores, per_match=0)
    with pytest.raises(ConfigError, match="one score per pair"):
        hard_pairs(pairs, scores[:3], per_match=1)


@pytest.mark.slow
def test_stack_with_hard_negatives_trains_its_cross_encoder_on_them(tmp_path: Path) -> None:
    from linker.scoring.stack import StackedMatcher

    train = _hard_pairs(0, 60)  # 60 matches, 60 near misses
    m = lk.train(
        train, valid=_hard_pairs(400, 460), model="stack", epochs=1, max_iter=50,
        hard_negatives=0.5, save=tmp_path / "s", batch_size=8, max_len=32, lr=1e-4,
        max_train_seconds=600, show_progress=False,
    )  # fmt: skip
    assert isinstance(m, StackedMatcher)
    assert m.ditto_pairs_ == {"pairs": 90, "matches": 60}
    assert m.parts_["ditto"].n_train_ == {"pairs": 90, "matches": 60}
    assert m.n_train_ == {"pairs": 120, "matches": 60}
    boosted = m.parts_["boosted"]
    assert boosted.train_oof_.shape == (120,)
    # the cross-encoder's budget is what the boosted matcher left of the whole fit's
    assert m.parts_["ditto"].max_train_seconds < 600
    loaded = load_matcher(tmp_path / "s")
    assert isinstance(loaded, StackedMatcher) and loaded.hard_negatives == 0.5
    assert loaded.ditto_pairs_ == m.ditto_pairs_
    with pytest.raises(ConfigError, match="model='stack'"):
        lk.train(train, model="boosted", hard_negatives=1.0)


@pytest.mark.slow
def test_folder_from_before_the_averaged_trees_loads_as_one_model(
    fitted: BoostedMatcher, tmp_path: Path
) -> None:
    test = _pairs(700, 760, 3)
    folder = fitted.save(tmp_path / "m")
    state = json.loads((folder / "linker_matcher.json").read_text())
    for key in ("l2_regularization", "max_features", "n_models"):
        del state["params"][key]
    (folder / "linker_matcher.json").write_text(json.dumps(state))
    loaded = load_matcher(folder)
    assert isinstance(loaded, BoostedMatcher)
    assert (loaded.n_models, loaded.max_features, loaded.l2_regularization) == (1, 1.0, 0.0)
    np.testing.assert_array_equal(loaded.predict_proba(test), fitted.predict_proba(test))


def test_tree_export_names_an_unknown_scikit_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scikit-learn that renamed the private tree arrays fails with a ModelError that says
    which version to install, not with an AttributeError from inside the export."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from linker.errors import ModelError

    monkeypatch.delattr(HistGradientBoostingClassifier, "_predictors", raising=False)
    original_fit = HistGradientBoostingClassifier.fit

    def fit_then_hide(self: HistGradientBoostingClassifier, *a: object, **k: object) -> object:
        out = original_fit(self, *a, **k)
        del self._predictors
        return out

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", fit_then_hide)
    X = np.array([[0.1], [0.2], [0.8], [0.9]] * 10)
    with pytest.raises(ModelError, match="scikit-learn"):
        fit_trees(X, np.array([0, 0, 1, 1] * 10), max_iter=3, n_models=1)
