from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from linker.decide.cluster import cluster, cluster_sizes, representatives
from linker.errors import ConfigError

METHODS = ["components", "centre", "average"]


def scored(rows: list[tuple[int, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["left_row", "right_row", "score"], orient="row")


def random_pairs(seed: int, n: int = 30, m: int = 60) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    return pl.DataFrame({"left_row": a, "right_row": b, "score": rng.random(m)})


def partition(labels: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(labels == c).tolist()) for c in np.unique(labels)}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(8))
def test_invariants(method: str, seed: int) -> None:
    pairs, n = random_pairs(seed), 30
    labels = cluster(n, pairs, threshold=0.5, method=method)  # type: ignore[arg-type]
    assert labels.dtype == np.int64 and len(labels) == n
    # numbered 0..k-1 by first appearance
    _, first = np.unique(labels, return_index=True)
    assert np.array_equal(labels[np.sort(first)], np.arange(len(first)))
    # every cluster is connected through edges at or above the threshold, so it refines
    # the connected components
    comps = cluster(n, pairs, threshold=0.5, method="components")
    for c in np.unique(labels):
        assert len(np.unique(comps[labels == c])) == 1
    # direction and order of the pairs do not matter
    flipped = pairs.select(
        pl.col("right_row").alias("left_row"), pl.col("left_row").alias("right_row"), "score"
    ).sample(fraction=1.0, shuffle=True, seed=seed)
    again = cluster(n, flipped, threshold=0.5, method=method)  # type: ignore[arg-type]
    assert partition(again) == partition(labels)
    # nothing above the threshold: all singletons
    alone = cluster(n, pairs, threshold=1.01, method=method)  # type: ignore[arg-type]
    assert alone.tolist() == list(range(n))
    sizes = cluster_sizes(labels)
    assert sizes["size"].sum() == n and sizes["size"].is_sorted(descending=True)


def test_chaining_resistance() -> None:
    # Two tight triangles joined by one weak-but-eligible edge 2-3.
    pairs = scored(
        [(0, 1, 0.95), (0, 2, 0.9), (1, 2, 0.92), (3, 4, 0.95), (3, 5, 0.9), (4, 5, 0.9),
         (2, 3, 0.55)]
    )  # fmt: skip
    assert partition(cluster(6, pairs, method="components")) == {frozenset(range(6))}
    expected = {frozenset({0, 1, 2}), frozenset({3, 4, 5})}
    assert partition(cluster(6, pairs, method="centre")) == expected
    assert partition(cluster(6, pairs, method="average")) == expected


def test_average_merges_when_the_mean_is_high() -> None:
    pairs = scored([(0, 1, 0.9), (1, 2, 0.9), (0, 2, 0.8)])
    assert cluster(3, pairs, method="average").tolist() == [0, 0, 0]
    # without the 0-2 edge the mean of {0,1} vs {2} is 0.9 / 2 < 0.5
    assert cluster(3, pairs.head(2), method="average").tolist() == [0, 0, 1]


def test_centre_stars() -> None:
    chain = scored([(0, 1, 0.9), (1, 2, 0.8), (2, 3, 0.9)])
    assert cluster(4, chain, method="centre").tolist() == [0, 0, 1, 1]


def test_representative_one_per_cluster() -> None:
    pairs = random_pairs(3)
    labels = cluster(30, pairs, threshold=0.5)
    golden = representatives(labels, pairs.filter(pl.col("score") >= 0.5))
    assert golden.sum() == len(np.unique(labels))
    assert len(np.unique(labels[golden])) == len(np.unique(labels))


def test_unknown_method() -> None:
    with pytest.raises(ConfigError, match="centre"):
        cluster(2, scored([(0, 1, 0.9)]), method="louvain")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- exact twins


def twin_star(n: int, score: float = 1.0) -> pl.DataFrame:
    """Blocking's twin pairs of ``n`` identical records: a star around record 0."""
    return pl.DataFrame(
        {"left_row": [0] * (n - 1), "right_row": list(range(1, n)), "score": [score] * (n - 1),
         "twin": [True] * (n - 1)}
    )  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
def test_a_star_of_twins_is_one_cluster(method: str) -> None:
    labels = cluster(300, twin_star(300), method=method)  # type: ignore[arg-type]
    assert labels.tolist() == [0] * 300


def test_without_the_twin_flag_average_linkage_splits_a_star() -> None:
    # the absent edges among the leaves count as 0: why blocking flags twins
    labels = cluster(300, twin_star(300).drop("twin"), method="average")
    assert len(np.unique(labels)) > 1


@pytest.mark.parametrize("method", METHODS)
def test_twins_below_the_threshold_are_not_merged(method: str) -> None:
    labels = cluster(5, twin_star(5, score=0.4), method=method)  # type: ignore[arg-type]
    assert labels.tolist() == list(range(5))


def test_centre_keeps_twins_together_when_another_centre_comes_first() -> None:
    # twins 2, 3, 4 (star around 2); record 0 ties with twin 3 and is taken first (row order):
    # without the flag, 0 becomes the centre of 3 and 2 the centre of 4
    edges = [(0, 3, 1.0, False), (2, 3, 1.0, True), (2, 4, 1.0, True), (1, 5, 0.9, False)]
    pairs = pl.DataFrame(edges, schema=["left_row", "right_row", "score", "twin"], orient="row")
    assert partition(cluster(6, pairs.drop("twin"), method="centre")) == {
        frozenset({0, 3}), frozenset({2, 4}), frozenset({1, 5})
    }  # fmt: skip
    assert partition(cluster(6, pairs, method="centre")) == {
        frozenset({0, 2, 3, 4}), frozenset({1, 5})
    }  # fmt: skip


def test_average_weighs_a_record_against_twins_as_against_each_of_them() -> None:
    # twins 0..99 (star); record 100 met only twin 5 (score 0.9), record 101 twin 7 (0.3)
    pairs = pl.concat(
        [twin_star(100), scored([(5, 100, 0.9), (7, 101, 0.3)]).with_columns(twin=False)],
        how="vertical_relaxed",
    )
    labels = cluster(102, pairs, method="average")
    assert labels[:101].tolist() == [0] * 101  # 100 is as close to every twin as to twin 5
    assert labels[101] == 1


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(4))
def test_invariants_with_twins(method: str, seed: int) -> None:
    pairs, n = random_pairs(seed), 30
    rng = np.random.default_rng(seed)
    pairs = pairs.with_columns(twin=pl.Series(rng.random(pairs.height) < 0.2))
    labels = cluster(n, pairs, threshold=0.5, method=method)  # type: ignore[arg-type]
    _, first = np.unique(labels, return_index=True)
    assert np.array_equal(labels[np.sort(first)], np.arange(len(first)))
    comps = cluster(n, pairs, threshold=0.5, method="components")
    for c in np.unique(labels):
        assert len(np.unique(comps[labels == c])) == 1
    twins = pairs.filter(pl.col("twin") & (pl.col("score") >= 0.5))
    for a, b in twins.select("left_row", "right_row").iter_rows():
        assert labels[a] == labels[b]
