from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from linker.errors import InputError, NotFittedError
from linker.scoring.selftrained import FastMatcher, pseudo_labels, split_point


def grid(n: int, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """All n x n candidate pairs; the diagonal (true matches) scores high on both features."""
    rng = np.random.default_rng(seed)
    li, ri = np.divmod(np.arange(n * n), n)
    true = li == ri
    a = np.where(true, rng.uniform(0.75, 0.95, n * n), rng.uniform(0.1, 0.55, n * n))
    b = np.where(true, rng.uniform(0.6, 1.0, n * n), rng.uniform(0.0, 0.6, n * n))
    feats = pl.DataFrame({"dense_sim": a.astype(np.float32), "name_ratio": b.astype(np.float32)})
    return feats, li.astype(np.int64), ri.astype(np.int64), true


# ----------------------------------------------------------------------------- pseudo_labels


def test_pseudo_labels_on_crafted_candidates() -> None:
    left = np.array([0, 0, 1, 1, 2, 2, 3])
    right = np.array([0, 1, 1, 2, 2, 0, 3])
    base = np.array([0.95, 0.30, 0.90, 0.20, 0.52, 0.50, 0.40], dtype=np.float32)
    labels = pseudo_labels(left, right, base)
    # mutual bests: (0,0) margin .65, (1,1) margin .6, (2,2) margin .02, (3,3) margin .4
    # median cut .5: (0,0) and (1,1) are positives; every other candidate of L0, L1, R0 or
    # R1 is a negative; (2,2) and (3,3) are mutual but not clear enough: unknown.
    assert labels.tolist() == [1, 0, 1, 0, -1, 0, -1]
    assert labels.dtype == np.int8


def test_pseudo_labels_without_mutual_pairs_are_unknown() -> None:
    labels = pseudo_labels(np.array([0]), np.array([0]), np.array([np.nan], dtype=np.float32))
    assert labels.tolist() == [-1]


def test_pseudo_labels_find_the_diagonal() -> None:
    feats, li, ri, true = grid(30)
    labels = pseudo_labels(li, ri, feats.to_numpy().mean(axis=1).astype(np.float32))
    assert (labels[labels == 1] == 1).all() and true[labels == 1].all()
    assert not true[labels == 0].any()
    assert (labels == 1).sum() >= 15


def test_split_point_separates_two_groups() -> None:
    assert split_point(np.array([0.1, 0.12, 0.11, 0.8, 0.82])) == 0.46
    assert split_point(np.array([0.3])) == 0.3
    assert split_point(np.array([])) == 0.0


def dedup_like(n_true: int, n_strangers: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Mutual best pairs of a dedup: a few clear duplicates (big lead over the runner-up) and
    many strangers who are each other's nearest by a small, spread-out lead."""
    rng = np.random.default_rng(seed)
    n = n_true + n_strangers
    left = np.repeat(np.arange(n), 2)
    right = np.stack([np.arange(n), (np.arange(n) + 1) % n], axis=1).ravel()
    best = np.where(np.arange(n) < n_true, 0.95, rng.uniform(0.45, 0.6, n))
    runner = np.where(np.arange(n) < n_true, 0.3, best - rng.uniform(0.05, 0.25, n))
    base = np.stack([best, runner], axis=1).ravel().astype(np.float32)
    return left, right, base, left == right


def test_pseudo_labels_in_dedup_keep_only_clearly_separated_pairs() -> None:
    left, right, base, diagonal = dedup_like(n_true=20, n_strangers=200)
    is_dup = diagonal & (left < 20)
    linking = pseudo_labels(left, right, base)
    assert ((linking == 1) & ~is_dup).sum() > 50  # the median rule takes strangers as matches
    dedup = pseudo_labels(left, right, base, mostly_matched=False)
    assert (dedup == 1).sum() == 20 and is_dup[dedup == 1].all()


# ----------------------------------------------------------------------------- FastMatcher


def test_fit_returns_self_and_sets_fitted_state() -> None:
    feats, _, _, true = grid(20)
    m = FastMatcher()
    assert m.fit(feats, true.astype(int)) is m
    assert m.feature_names_ == ["dense_sim", "name_ratio"]
    assert len(m.coef_) == 2 and all(c > 0 for c in m.coef_)
    assert m.n_train_ == {"matches": 20, "non_matches": 380}


def test_predict_proba_separates_matches() -> None:
    feats, _, _, true = grid(20)
    p = FastMatcher().fit(feats, true.astype(int)).predict_proba(feats)
    assert p.dtype == np.float32 and ((p >= 0) & (p <= 1)).all()
    assert p[true].min() > 0.5 > p[~true].max()


def test_predict_uses_feature_names_not_positions() -> None:
    feats, _, _, true = grid(10)
    m = FastMatcher().fit(feats, true.astype(int))
    swapped = feats.select("name_ratio", "dense_sim").with_columns(extra=pl.lit(0.0))
    np.testing.assert_array_equal(m.predict_proba(swapped), m.predict_proba(feats))
    with pytest.raises(InputError, match="name_ratio"):
        m.predict_proba(feats.drop("name_ratio"))


def test_fit_needs_both_classes() -> None:
    feats, *_ = grid(3)
    with pytest.raises(InputError, match="both"):
        FastMatcher().fit(feats, [1] * feats.height)


def test_predict_before_fit_is_not_fitted_error() -> None:
    feats, *_ = grid(3)
    with pytest.raises(NotFittedError, match="fit"):
        FastMatcher().predict_proba(feats)
    with pytest.raises(AttributeError):  # NotFittedError is an AttributeError too
        FastMatcher().decision_function(feats)


def test_fit_unlabelled_learns_from_the_candidate_graph() -> None:
    feats, li, ri, true = grid(30, seed=1)
    m = FastMatcher().fit_unlabelled(feats, li, ri)
    assert m.link_ == "logistic"
    p = m.predict_proba(feats)
    assert p[true].mean() > 0.5 > p[~true].mean()
    assert ((p > 0.5) == true).mean() > 0.95


def test_fallback_when_too_few_confident_pairs(caplog: pytest.LogCaptureFixture) -> None:
    feats, li, ri, _ = grid(3)  # at most 3 mutual pairs: fewer than 5 positives
    with caplog.at_level(logging.WARNING, logger="linker"):
        m = FastMatcher().fit_unlabelled(feats, li, ri)
    assert m.link_ == "identity"
    assert "mean similarity" in caplog.text
    expected = feats.to_numpy().mean(axis=1)
    np.testing.assert_allclose(m.predict_proba(feats), expected, atol=1e-6)


def test_save_load_round_trip(tmp_path: Path) -> None:
    feats, li, ri, _ = grid(30, seed=2)
    m = FastMatcher(C=0.5).fit_unlabelled(feats, li, ri)
    m.save(tmp_path / "matcher.json")
    state = json.loads((tmp_path / "matcher.json").read_text())
    assert state["type"] == "FastMatcher" and state["params"]["C"] == 0.5
    loaded = FastMatcher.load(tmp_path / "matcher.json")
    assert loaded.C == 0.5
    np.testing.assert_array_equal(loaded.predict_proba(feats), m.predict_proba(feats))


def test_save_load_round_trip_of_fallback(tmp_path: Path) -> None:
    feats, li, ri, _ = grid(3)
    m = FastMatcher().fit_unlabelled(feats, li, ri)
    m.save(tmp_path / "m.json")
    loaded = FastMatcher.load(tmp_path / "m.json")
    assert loaded.link_ == "identity"
    np.testing.assert_array_equal(loaded.predict_proba(feats), m.predict_proba(feats))


def test_best_two_matches_a_sort_over_random_groups_with_ties() -> None:
    from linker.scoring.selftrained import _best_two

    rng = np.random.default_rng(4)
    groups = rng.integers(0, 300, 5000)
    score = rng.integers(0, 20, 5000).astype(np.float32) / 20  # many ties
    best, second = _best_two(groups, score)
    for g in np.unique(groups)[:100]:
        mine = np.sort(score[groups == g])[::-1]
        assert (best[groups == g] == mine[0]).all()
        assert (second[groups == g] == (mine[1] if len(mine) > 1 else 0.0)).all()


def test_fit_is_balanced_l2_logistic_regression_and_restores_blas_threads() -> None:
    # all the best weights are positive here, so the bounds do not bind and the fit is
    # scikit-learn's (same objective up to the factor C; the intercept is not penalised)
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_info

    feats, _, _, true = grid(40, seed=3)
    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    m = FastMatcher(C=0.5).fit(feats, true.astype(int))
    assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] == before
    ref = LogisticRegression(C=0.5, class_weight="balanced", tol=1e-10, max_iter=10_000)
    ref.fit(feats.to_numpy().astype(np.float64), true.astype(int))
    assert min(ref.coef_[0]) > 0
    np.testing.assert_allclose(m.coef_, ref.coef_[0], rtol=1e-3)
    np.testing.assert_allclose(m.intercept_, ref.intercept_[0], rtol=1e-3)
