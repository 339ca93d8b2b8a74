from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from linker.errors import ConfigError
from linker.matching.assign import assign, connected_components


def scored(rows: list[tuple[int, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["left_row", "right_row", "score"], orient="row")


def links(frame: pl.DataFrame) -> list[tuple[int, int]]:
    return [(a, b) for a, b, *_ in frame.iter_rows()]


# Two left records compete for right 0; left 0 also likes right 1; left 2 likes right 2.
PAIRS = scored(
    [(0, 0, 0.9), (0, 1, 0.7), (1, 0, 0.8), (1, 1, 0.3), (2, 2, 0.6), (2, 0, 0.55), (3, 3, 0.2)]
)


def test_one_to_one_greedy_never_reuses_a_row() -> None:
    out = assign(PAIRS, how="1:1")
    assert links(out) == [(0, 0), (2, 2)]  # (1, 0) loses right 0; (1, 1) is below 0.5
    assert out["left_row"].is_unique().all() and out["right_row"].is_unique().all()


def test_one_to_one_takes_pairs_best_first() -> None:
    out = assign(PAIRS, how="1:1", threshold=0.0)
    assert links(out) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert out["score"].to_list() == pytest.approx([0.9, 0.3, 0.6, 0.2])


def test_one_to_one_is_greedy_not_optimal() -> None:
    # optimal total would be (0,1)+(1,0) = 1.6; greedy takes (0,0)=0.9 first
    out = assign(scored([(0, 0, 0.9), (0, 1, 0.8), (1, 0, 0.8)]), how="1:1")
    assert links(out) == [(0, 0)]


def test_ties_are_broken_by_row_number() -> None:
    tied = scored([(1, 0, 0.7), (0, 1, 0.7), (0, 0, 0.7), (1, 1, 0.7)])
    assert links(assign(tied, how="1:1")) == [(0, 0), (1, 1)]
    assert links(assign(tied, how="m:1")) == [(0, 0), (1, 0)]
    assert links(assign(tied, how="1:m")) == [(0, 0), (0, 1)]
    shuffled = tied.sample(fraction=1.0, shuffle=True, seed=3)
    assert links(assign(shuffled, how="1:1")) == [(0, 0), (1, 1)]


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


def test_no_pairs() -> None:
    assert assign(PAIRS.clear(), how="1:1").height == 0


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
