"""Decisions per component (issue 25): the components pass over blocks, and assign / cluster
solved on work units, must give what the calls on all pairs at once give, exactly.

Random graphs and pairs come from Hypothesis (scores drawn from a few values, so ties are
common); real pairs are the demo firms' candidates scored by the packaged model.
"""

from __future__ import annotations

import os
from typing import get_args

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import linker as lk
from linker.data.demo import make_demo
from linker.decide.assign import AssignMethod, How, assign, connected_components
from linker.decide.cluster import ClusterMethod, cluster
from linker.decide.components import component_labels, forest, merge_forests, reduce_blocks
from linker.decide.runner import InProcess, runner_of
from linker.decide.units import assign_by_component, cluster_by_component
from linker.errors import ConfigError
from linker.vectors.embed import Encoder

EXAMPLES = int(os.environ.get("LINKER_PROPERTY_EXAMPLES", "50"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ON = ["name", "street", "city", "state", "zip", "phone"]
HOWS: list[How] = list(get_args(How))
ONE_TO_ONE: list[AssignMethod] = list(get_args(AssignMethod))
CLUSTERS: list[ClusterMethod] = list(get_args(ClusterMethod))


# -- the components pass ----------------------------------------------------------------------
@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, np.ndarray, np.ndarray, list[int], int]:
    """``(n, a, b, cuts, fan_in)``: a random graph on ``n`` nodes (self-loops and repeated
    edges included), its edges cut into blocks at ``cuts``, and a merge fan-in."""
    n = draw(st.integers(1, 60))
    m = draw(st.integers(0, 120))
    ends = st.lists(st.integers(0, n - 1), min_size=m, max_size=m)
    a, b = np.array(draw(ends), np.int64), np.array(draw(ends), np.int64)
    cuts = sorted(draw(st.lists(st.integers(0, m), max_size=12)))
    return n, a, b, cuts, draw(st.integers(2, 4))


@PROPERTY
@given(graphs())
def test_components_over_blocks_equal_scipy(
    case: tuple[int, np.ndarray, np.ndarray, list[int], int],
) -> None:
    n, a, b, cuts, fan_in = case
    bounds = [0, *cuts, len(a)]
    blocks = [(a[s:e], b[s:e]) for s, e in zip(bounds[:-1], bounds[1:], strict=True)]
    runner = InProcess()
    final = runner.get([reduce_blocks(runner, forest, blocks, fan_in=fan_in)])[0]
    expected = connected_components(n, a, b)
    assert component_labels(n, final).tolist() == expected.tolist()


def test_forest_holds_one_root_per_node_not_one_entry_per_edge() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 100, 5000), rng.integers(0, 100, 5000)
    nodes, roots = forest(a, b)
    assert len(nodes) == len(np.unique(np.concatenate([a, b]))) <= 100
    assert (roots <= nodes).all()
    again = merge_forests((nodes, roots), forest(a[:10], b[:10]))
    assert again[0].tolist() == nodes.tolist() and again[1].tolist() == roots.tolist()


def test_no_blocks_is_no_edges() -> None:
    runner = InProcess()
    final = runner.get([reduce_blocks(runner, forest, [])])[0]
    assert component_labels(3, final).tolist() == [0, 1, 2]
    with pytest.raises(ConfigError, match="fan_in"):
        reduce_blocks(runner, forest, [], fan_in=1)


# -- assign and cluster per component -------------------------------------------------------
@st.composite
def scored_pairs(draw: st.DrawFn, *, self_join: bool = False) -> pl.DataFrame:
    """Random pairs between up to 30 x 30 records, scores from a few values (ties are common);
    with ``self_join``, pairs of one table with a ``twin`` flag."""
    rows = st.integers(0, 29)
    keys = draw(st.lists(st.tuples(rows, rows), max_size=90, unique=True))
    scores = draw(
        st.lists(
            st.sampled_from([0.2, 0.5, 0.6, 0.75, 0.9, 0.99]),
            min_size=len(keys),
            max_size=len(keys),
        )
    )
    frame = pl.DataFrame(
        {"left_row": [k[0] for k in keys], "right_row": [k[1] for k in keys], "score": scores},
        schema={"left_row": pl.Int64, "right_row": pl.Int64, "score": pl.Float64},
    )
    if self_join:
        twin = draw(st.lists(st.booleans(), min_size=len(keys), max_size=len(keys)))
        frame = frame.with_columns(twin=pl.Series(twin, dtype=pl.Boolean))
    return frame


sizes = st.tuples(st.integers(1, 40), st.integers(1, 40))  # block_pairs, unit_pairs


@PROPERTY
@given(scored_pairs(), sizes, st.sampled_from([0.0, 0.5, 0.7]))
def test_assign_per_component_equals_assign(
    pairs: pl.DataFrame, size: tuple[int, int], threshold: float
) -> None:
    for how in HOWS:
        for method in ONE_TO_ONE if how == "1:1" else ONE_TO_ONE[:1]:
            whole = assign(pairs, how=how, threshold=threshold, method=method)
            parts = assign_by_component(
                pairs, how=how, threshold=threshold, method=method,
                block_pairs=size[0], unit_pairs=size[1],
            )  # fmt: skip
            assert_frame_equal(parts, whole)


@PROPERTY
@given(scored_pairs(self_join=True), sizes, st.sampled_from([0.5, 0.7]))
def test_cluster_per_component_equals_cluster(
    pairs: pl.DataFrame, size: tuple[int, int], threshold: float
) -> None:
    for method in CLUSTERS:
        whole = cluster(30, pairs, threshold=threshold, method=method)
        parts = cluster_by_component(
            30, pairs, threshold=threshold, method=method,
            block_pairs=size[0], unit_pairs=size[1],
        )  # fmt: skip
        assert parts.tolist() == whole.tolist()


def test_tied_one_to_one_same_matching_alone_or_together() -> None:
    """Two components, one of them a square of equal scores with two optimal matchings: the
    matching of each must not depend on which other components share its call."""
    square = [(0, 0, 0.7), (0, 1, 0.7), (1, 0, 0.7), (1, 1, 0.7)]
    strong = [(5, 5, 0.99), (5, 6, 0.6), (6, 5, 0.6)]
    pairs = pl.DataFrame(square + strong, schema=["left_row", "right_row", "score"], orient="row")
    together = assign(pairs, how="1:1")
    alone = pl.concat([assign(pairs.head(4), how="1:1"), assign(pairs.tail(3), how="1:1")])
    assert_frame_equal(together, alone)
    assert_frame_equal(assign_by_component(pairs, unit_pairs=1), together)


def test_bad_arguments_are_config_errors() -> None:
    p = pl.DataFrame({"left_row": [0], "right_row": [0], "score": [0.9]})
    with pytest.raises(ConfigError, match="how"):
        assign_by_component(p, how="1:2")
    with pytest.raises(ConfigError, match="method"):
        assign_by_component(p, method="best")
    with pytest.raises(ConfigError, match="cluster"):
        cluster_by_component(1, p, method="single")
    with pytest.raises(ConfigError, match="unit_pairs"):
        assign_by_component(p, unit_pairs=0)


def test_no_accepted_pairs() -> None:
    p = pl.DataFrame({"left_row": [0], "right_row": [1], "score": [0.1]})
    assert_frame_equal(assign_by_component(p), assign(p))
    assert cluster_by_component(3, p).tolist() == [0, 1, 2]


def test_a_backend_without_a_runner_decides_in_process() -> None:
    assert isinstance(runner_of(object()), InProcess)
    assert isinstance(runner_of(lk.backend.LocalBackend()), InProcess)


# -- the demo firms' real scored pairs --------------------------------------------------------
@pytest.fixture(scope="module")
def demo_pairs(minilm: Encoder) -> pl.DataFrame:
    left, right, _ = make_demo(600, seed=5)
    pairs = lk.Linker(on=ON, model=minilm, k=10).candidates(left, right)
    return pairs.select("left_row", "right_row", "score")


@pytest.fixture(scope="module")
def demo_self_pairs(minilm: Encoder) -> tuple[int, pl.DataFrame]:
    left, right, _ = make_demo(300, seed=9)
    df = pl.concat([left, right.select(left.columns)])
    pairs = lk.Linker(on=ON, model=minilm, k=10).dedup(df).pairs
    undirected = pairs.filter(pl.col("left_row") < pl.col("right_row"))
    return df.height, undirected.select("left_row", "right_row", "score", "twin")


@pytest.mark.slow  # the packaged model scores the demo firms
@pytest.mark.parametrize("threshold", [0.05, 0.5, 0.9])
@pytest.mark.parametrize("unit_pairs", [1, 50, 10_000])
def test_demo_assign_per_component_equals_assign(
    demo_pairs: pl.DataFrame, threshold: float, unit_pairs: int
) -> None:
    assert demo_pairs.height > 3000
    for how in HOWS:
        for method in ONE_TO_ONE if how == "1:1" else ONE_TO_ONE[:1]:
            whole = assign(demo_pairs, how=how, threshold=threshold, method=method)
            parts = assign_by_component(
                demo_pairs, how=how, threshold=threshold, method=method,
                block_pairs=700, unit_pairs=unit_pairs,
            )  # fmt: skip
            assert whole.height > 50
            assert_frame_equal(parts, whole)


@pytest.mark.slow  # the packaged model scores the demo firms
@pytest.mark.parametrize("method", CLUSTERS)
@pytest.mark.parametrize("unit_pairs", [1, 50, 10_000])
def test_demo_cluster_per_component_equals_cluster(
    demo_self_pairs: tuple[int, pl.DataFrame], method: ClusterMethod, unit_pairs: int
) -> None:
    n, pairs = demo_self_pairs
    whole = cluster(n, pairs, threshold=0.5, method=method)
    parts = cluster_by_component(
        n, pairs, threshold=0.5, method=method, block_pairs=300, unit_pairs=unit_pairs
    )
    assert len(np.unique(whole)) < n * 0.8  # real duplicates found
    assert parts.tolist() == whole.tolist()
