"""Word evidence of pairs and the token-difference model of the boosted matcher: real
rapidfuzz and scikit-learn on small hand-made and demo pairs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_boosted import _hard_pairs

from linker.scoring.boosted import BoostedMatcher, PairFeatures
from linker.scoring.evidence import TokenStats, dates, evidence_features, record_words
from linker.scoring.trees import fit_trees
from linker.scoring.word_weights import TokenDiffModel


def test_record_words_join_codes_and_keep_unicode() -> None:
    assert record_words("KDL-40V4100 Müller 10.5") == {"kdl40v4100", "müller", "105"}
    assert record_words("") == frozenset()


def test_evidence_finds_codes_inside_the_other_text_and_misplaced_values() -> None:
    stats = TokenStats().fit(["nikon coolpix p6000 camera", "sony tv", "nikon d90 camera"])
    left = [{"title": "Nikon Coolpix P6000 camera", "brand": ""}]
    right = [{"title": "nikon coolpixp6000 black", "brand": ""}]
    f = evidence_features(left, right, ["title", "brand"], stats)
    assert f["record_code_found"][0] == 1.0  # p6000 is inside "coolpixp6000"
    assert f["record_code_jaccard"][0] == 0.0  # but no code is equal as a word
    assert f["c1_in_right"][0] == 0.5 and f["c1_in_left"][0] == 0.5  # empty column: no evidence
    # dirty data: the year sits in the title on the other side
    left, right = [{"t": "efficient locking", "y": "1995"}], [{"t": "efficient locking 1995"}]
    dirty = evidence_features(left, right, ["t", "y"], stats)
    assert dirty["c1_in_right"][0] == 1.0 and dirty["record_number_jaccard"][0] == 1.0


def test_evidence_weighs_rare_words_and_flags_one_sided_ones() -> None:
    texts = ["acme tools", "acme corp", "acme inc", "acme mac edition", "zeta"]
    stats = TokenStats().fit(texts)
    same = evidence_features([{"n": "acme tools"}], [{"n": "acme tools"}], ["n"], stats)
    rare_differs = evidence_features([{"n": "acme tools"}], [{"n": "acme zeta"}], ["n"], stats)
    common_differs = evidence_features([{"n": "tools acme"}], [{"n": "tools"}], ["n"], stats)
    assert same["record_idf_jaccard"][0] == pytest.approx(1.0)
    assert rare_differs["record_idf_jaccard"][0] < common_differs["record_idf_jaccard"][0]
    assert rare_differs["record_rarest_unshared"][0] > common_differs["record_rarest_unshared"][0]
    assert stats.weight("never-seen") > stats.weight("zeta") > stats.weight("acme")
    back = TokenStats.from_state(json.loads(json.dumps(stats.state())))
    assert back.weight("tools") == stats.weight("tools")


def test_core_compares_the_name_without_the_brewers_words() -> None:
    stats = TokenStats().fit(["a"])
    brewery = {"brewery": "Third Base Sports Bar"}
    left = [{"name": "Red Rocket Amber Ale", **brewery}] * 2
    right = [
        {"name": "Third Base Red Rocket Amber Ale", **brewery},  # same beer, brewer in the name
        {"name": "Third Base Blue Moon Ale", **brewery},  # another beer of the same brewer
    ]
    f = evidence_features(left, right, ["name", "brewery"], stats)
    assert f["c0_core_jaccard"].tolist() == [1.0, pytest.approx(1 / 6)]
    assert f["c0_core_order"][0] == 1.0 > f["c0_core_order"][1]
    assert f["c0_core_unshared"].tolist() == [1.0, pytest.approx(1 / 6)]  # 0 and 5 one-sided
    # the brewery's core (its words in no other column: "sports bar") agrees
    assert f["c1_core_jaccard"].tolist() == [pytest.approx(1.0), pytest.approx(1.0)]
    one = evidence_features(left[:1], right[:1], ["name"], stats)
    assert not any("core" in k for k in one)  # one column: nothing to take away


def _word_pairs(n: int) -> tuple[list[frozenset[str]], list[frozenset[str]], list[int]]:
    """A product rule: "mac" against "win" is another product, whatever else is shared."""
    rng = np.random.default_rng(0)
    names = ["office", "photoshop", "illustrator", "acrobat", "quicken", "norton"]
    left, right, labels = [], [], []
    for _ in range(n):
        name = names[int(rng.integers(len(names)))]
        a = {name, "suite", str(int(rng.integers(2000, 2010))), "mac"}
        same = rng.random() < 0.5
        b = {name, "suite", "mac" if same else "win"}
        left.append(frozenset(a)), right.append(frozenset(b)), labels.append(int(same))
    return left, right, labels


def test_token_model_learns_which_differences_matter_and_round_trips() -> None:
    left, right, labels = _word_pairs(200)
    m = TokenDiffModel(seed=0).fit(left, right, labels)
    weights = m.state()["weights"]
    assert weights["d:win"] < 0 and weights["s:mac"] > 0
    z = m.decision_function(left, right)
    assert ((z > 0) == np.asarray(labels, bool)).mean() == 1.0
    assert m.oof_.shape == (200,) and not np.allclose(m.oof_, z)  # out of fold, not refitted
    back = TokenDiffModel.from_state(json.loads(json.dumps(m.state())))
    np.testing.assert_allclose(back.decision_function(left, right), z, rtol=1e-6)
    assert back.decision_function([frozenset({"unseen"})], [frozenset()])[0] == pytest.approx(
        m.intercept_
    )


@pytest.mark.slow
def test_boosted_matcher_saves_its_token_model_and_reproduces_scores(tmp_path: Path) -> None:
    train, valid = _hard_pairs(0, 150), _hard_pairs(150, 200)
    m = BoostedMatcher(max_iter=40).fit(train, valid)
    assert "record_token_model" in m.feature_names_ and "record_idf_jaccard" in m.feature_names_
    state = json.loads((m.save(tmp_path / "m") / "linker_matcher.json").read_text())
    assert state["format_version"] == 2 and state["token_model"]["weights"]
    loaded = BoostedMatcher.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(valid), m.predict_proba(valid))
    plain = BoostedMatcher(max_iter=40, token_model=False).fit(train, valid)
    assert "record_token_model" not in plain.feature_names_


@pytest.mark.slow
def test_a_version_1_folder_still_loads_and_scores(tmp_path: Path) -> None:
    """Matchers saved before the word evidence: no `words`, no token model, old features."""
    train, valid = _hard_pairs(0, 120), _hard_pairs(120, 160)
    m = BoostedMatcher(max_iter=30, token_model=False)
    m.columns_ = train.columns
    m.features_ = PairFeatures(m.columns_, evidence=False).fit([*train.left, *train.right])
    X = m.features_.transform(train.left, train.right)
    m.feature_names_, m.tokens_ = X.columns, None
    m.trees_ = fit_trees(X.to_numpy().astype(np.float64), np.asarray(train.labels), max_iter=30)
    m.threshold_, m.valid_f1_, m.n_train_, m.train_seconds_ = 0.5, 1.0, {}, 0.0
    m.save(tmp_path / "v1")
    path = tmp_path / "v1" / "linker_matcher.json"
    state = json.loads(path.read_text())
    state["format_version"] = 1
    del state["words"], state["token_model"], state["params"]["token_model"]
    path.write_text(json.dumps(state))
    old = BoostedMatcher.load(tmp_path / "v1")
    assert old.tokens_ is None and not old.features_.evidence
    np.testing.assert_array_equal(old.predict_proba(valid), m.predict_proba(valid))


def test_dates_in_other_forms_and_durations_agree() -> None:
    assert dates("10-Jul-07") == dates("July 10 , 2007") == {(2007, 7, 10)}
    assert dates("31/12/2007") == dates("2007-12-31") == {(2007, 12, 31)}
    assert dates("1995.0 and 3:31") == set()  # a year or a duration is no date
    stats = TokenStats().fit(["a song", "another song"])
    f = evidence_features(
        [{"s": "Outversion 1:50 10-Jul-07"}, {"s": "Bad Blood 3:29 3-Mar-15"}, {"s": "x"}],
        [{"s": "Outversion 1:50 July 10 , 2007"}, {"s": "Bad Blood 4:31 October 27 , 2014"},
         {"s": "y"}],
        ["s"], stats,
    )  # fmt: skip
    assert f["record_date_jaccard"].tolist() == [1.0, 0.0, 0.5]
    assert f["record_duration"].tolist() == [1.0, 0.0, 0.5]
