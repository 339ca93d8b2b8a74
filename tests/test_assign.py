from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from linker.decide.assign import assign, connected_components, matching_weight
from linker.errors import ConfigError


def scored(rows: list[tuple[int, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["left_row", "right_row", "score"], orient="row")


def links(frame: pl.DataFrame) -> list[tuple[int, int]]:
    return [(a, b) for a, b, *_ in frame.iter_rows()]


# Two left records compete for right 0; left 0 also likes right 1; left 2 likes right 2.
PAIRS = scored(
    [(0, 0, 0.9), (0, 1, 0.7), (1, 0, 0.8), (1, 1, 0.3), (2, 2, 0.6), (2, 0, 0.55), (3, 3, 0.2)]
)


def test_one_to_one_greedy_never_reuses_a_row() -> None:
    out = assign(PAIRS, how="1:1", method="greedy")
    assert links(out) == [(0, 0), (2, 2)]  # (1, 0) loses right 0; (1, 1) is below 0.5
    assert out["left_row"].is_unique().all() and out["right_row"].is_unique().all()


def test_one_to_one_takes_pairs_best_first() -> None:
    out = assign(PAIRS, how="1:1", threshold=0.0, method="greedy")
    assert links(out) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert out["score"].to_list() == pytest.approx([0.9, 0.3, 0.6, 0.2])


def test_greedy_is_not_optimal_but_hungarian_is() -> None:
    # optimal total would be (0,1)+(1,0); greedy takes (0,0)=0.9 first
    pairs = scored([(0, 0, 0.9), (0, 1, 0.8), (1, 0, 0.8)])
    assert links(assign(pairs, how="1:1", method="greedy")) == [(0, 0)]
    assert links(assign(pairs, how="1:1")) == [(0, 1), (1, 0)]


def test_hungarian_never_reuses_a_row_and_respects_threshold() -> None:
    out = assign(PAIRS, how="1:1")
    assert links(out) == [(0, 1), (1, 0), (2, 2)]  # log-odds 0.85+1.39+0.41 > 2.20+0.41
    assert out["left_row"].is_unique().all() and out["right_row"].is_unique().all()
    assert out["score"].min() >= 0.5


def test_ties_are_broken_by_row_number() -> None:
    tied = scored([(1, 0, 0.7), (0, 1, 0.7), (0, 0, 0.7), (1, 1, 0.7)])
    assert links(assign(tied, how="1:1", method="greedy")) == [(0, 0), (1, 1)]
    assert links(assign(tied, how="m:1")) == [(0, 0), (1, 0)]
    assert links(assign(tied, how="1:m")) == [(0, 0), (0, 1)]
    shuffled = tied.sample(fraction=1.0, shuffle=True, seed=3)
    assert links(assign(shuffled, how="1:1", method="greedy")) == [(0, 0), (1, 1)]
    # the optimal matching does not depend on the input order either
    assert links(assign(shuffled, how="1:1")) == links(assign(tied, how="1:1"))


def test_many_to_one_each_left_row_to_its_best_right_row() -> None:
    out = assign(PAIRS, how="m:1")
    assert links(out) == [(0, 0), (1, 0), (2, 2)]
    assert out["left_row"].is_unique().all()


def test_one_to_many_each_right_row_to_its_best_left_row() -> None:
    out = assign(PAIRS, how="1:m")
    assert links(out) == [(0, 0), (0, 1), (2, 2)]
    assert out["right_row"].is_unique().all()


def test_many_to_many_keeps_everything_above_threshold() -> None:
    out = assign(PAIRS, how="m:m")
    assert links(out) == [(0, 0), (0, 1), (1, 0), (2, 0), (2, 2)]
    assert links(assign(PAIRS, how="m:m", threshold=0.75)) == [(0, 0), (1, 0)]


def test_threshold_is_inclusive() -> None:
    assert links(assign(scored([(0, 0, 0.5)]), threshold=0.5)) == [(0, 0)]
    assert links(assign(scored([(0, 0, 0.5)]), threshold=0.51)) == []


def test_bad_how_is_config_error() -> None:
    with pytest.raises(ConfigError, match="1:1"):
        assign(PAIRS, how="one-to-one")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="hungarian"):
        assign(PAIRS, how="1:1", method="optimal")  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["hungarian", "greedy"])
def test_no_pairs(method: str) -> None:
    assert assign(PAIRS.clear(), how="1:1", method=method).height == 0  # type: ignore[arg-type]
    assert assign(PAIRS, how="1:1", threshold=0.99, method=method).height == 0  # type: ignore[arg-type]


def brute_force_best(pairs: pl.DataFrame, threshold: float) -> float:
    """The largest total weight of any one-to-one subset of the eligible pairs (exhaustive)."""
    p = pairs.filter(pl.col("score") >= threshold)
    edges = list(
        zip(
            p["left_row"],
            p["right_row"],
            matching_weight(p["score"].to_numpy(), threshold),
            strict=True,
        )
    )
    best = 0.0

    def walk(i: int, used_l: frozenset[int], used_r: frozenset[int], total: float) -> None:
        nonlocal best
        if i == len(edges):
            best = max(best, total)
            return
        walk(i + 1, used_l, used_r, total)
        a, b, w = edges[i]
        if a not in used_l and b not in used_r:
            walk(i + 1, used_l | {a}, used_r | {b}, total + w)

    walk(0, frozenset(), frozenset(), 0.0)
    return best


def total_weight(out: pl.DataFrame, threshold: float) -> float:
    return float(matching_weight(out["score"].to_numpy(), threshold).sum())


@pytest.mark.parametrize("seed", range(40))
def test_hungarian_equals_brute_force_and_beats_greedy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_left, n_right = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    n_pairs = int(rng.integers(1, min(n_left * n_right, 12) + 1))
    cells = rng.choice(n_left * n_right, size=n_pairs, replace=False)
    scores = rng.choice([0.2, 0.45, 0.5, 0.55, 0.7, 0.8, 0.9, 0.99], size=n_pairs)  # with ties
    pairs = pl.DataFrame(
        {"left_row": cells // n_right, "right_row": cells % n_right, "score": scores}
    )
    threshold = float(rng.choice([0.3, 0.5, 0.6]))
    hung = assign(pairs, how="1:1", threshold=threshold)
    greedy = assign(pairs, how="1:1", threshold=threshold, method="greedy")
    for out in (hung, greedy):
        assert out["left_row"].is_unique().all() and out["right_row"].is_unique().all()
        assert (out["score"] >= threshold).all()
    best = brute_force_best(pairs, threshold)
    assert total_weight(hung, threshold) == pytest.approx(best, abs=1e-9)
    assert total_weight(hung, threshold) >= total_weight(greedy, threshold) - 1e-9


def test_hungarian_on_a_large_sparse_graph_without_dense_matrix() -> None:
    rng = np.random.default_rng(0)
    n = 20_000  # 20k x 20k would be 3.2 GB dense; the sparse solver needs a few MB
    left = np.repeat(np.arange(n), 3)
    right = (left + rng.integers(0, 5, size=len(left))) % n
    pairs = pl.DataFrame({"left_row": left, "right_row": right, "score": rng.random(len(left))})
    pairs = pairs.unique(["left_row", "right_row"])
    hung = assign(pairs, how="1:1")
    greedy = assign(pairs, how="1:1", method="greedy")
    assert hung["left_row"].is_unique().all() and hung["right_row"].is_unique().all()
    assert total_weight(hung, 0.5) >= total_weight(greedy, 0.5)


def test_connected_components_numbered_by_first_appearance() -> None:
    labels = connected_components(7, np.array([5, 1, 3]), np.array([6, 3, 0]))
    assert labels.tolist() == [0, 0, 1, 0, 2, 3, 3]
    assert labels.dtype == np.int64


def test_connected_components_transitive_and_isolated() -> None:
    labels = connected_components(5, np.array([0, 1, 2]), np.array([1, 2, 3]))
    assert labels.tolist() == [0, 0, 0, 0, 1]
    assert connected_components(3, np.array([], np.int64), np.array([], np.int64)).tolist() == [
        0,
        1,
        2,
    ]
