from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from linker.errors import ConfigError
from linker.matching.cluster import cluster, cluster_sizes, representatives

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
