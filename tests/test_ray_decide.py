"""Decisions per component on a real local Ray cluster of two nodes (one CPU each): every step
runs as Ray tasks, and the result must be the one of ``assign`` / ``cluster`` on all pairs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import get_args

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import linker as lk
from linker.data.demo import make_demo
from linker.decide.assign import AssignMethod, How, assign
from linker.decide.cluster import ClusterMethod, cluster
from linker.decide.components import merge_forests
from linker.decide.units import assign_by_component, cluster_by_component
from linker.vectors.embed import Encoder

try:
    import ray
    from ray.cluster_utils import Cluster
except ImportError:  # pragma: no cover - CI installs the extra, so there it must not skip
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("the Ray backend needs Ray: pip install 'linker[ray]'", allow_module_level=True)

from linker.backend.ray import RayBackend
from linker.backend.ray_decide import RayUnits

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),  # Ray's own
]

ON = ["name", "street", "city", "state", "zip", "phone"]
HOWS: list[How] = list(get_args(How))
ONE_TO_ONE: list[AssignMethod] = list(get_args(AssignMethod))
CLUSTERS: list[ClusterMethod] = list(get_args(ClusterMethod))


@pytest.fixture(scope="module")
def backend(ray_two_nodes: Cluster) -> Iterator[RayBackend]:
    """A backend on conftest's two-node cluster."""
    b = RayBackend(address=ray_two_nodes.address)
    b.workers()
    yield b
    b.close()


@pytest.fixture(scope="module")
def demo_pairs(minilm: Encoder) -> pl.DataFrame:
    left, right, _ = make_demo(300, seed=3)
    pairs = lk.Linker(on=ON, model=minilm).candidates(left, right)
    return pairs.select("left_row", "right_row", "score")


def test_the_ray_backend_runs_units_as_ray_tasks(backend: RayBackend) -> None:
    runner = backend.unit_runner()
    assert isinstance(runner, RayUnits) and runner.workers == 2
    edges = runner.put((np.array([4, 2]), np.array([2, 9])))
    handles = runner.map(merge_forests, [(edges,), ((np.array([7]), np.array([7])),)], returns=2)
    assert all(isinstance(h, ray.ObjectRef) for pair in handles for h in pair)
    values = runner.get([h for pair in handles for h in pair])
    assert [v.tolist() for v in values] == [[2, 4, 9], [2, 2, 2], [7], [7]]


@pytest.mark.parametrize("unit_pairs", [40, 2_000_000])
def test_assign_on_ray_equals_assign(
    backend: RayBackend, demo_pairs: pl.DataFrame, unit_pairs: int
) -> None:
    pairs = demo_pairs
    for how in HOWS:
        for method in ONE_TO_ONE if how == "1:1" else ONE_TO_ONE[:1]:
            for threshold in (0.05, 0.5):
                whole = assign(pairs, how=how, threshold=threshold, method=method)
                remote = assign_by_component(
                    pairs, how=how, threshold=threshold, method=method, backend=backend,
                    block_pairs=200, unit_pairs=unit_pairs,
                )  # fmt: skip
                assert whole.height > 100
                assert_frame_equal(remote, whole)


def test_cluster_on_ray_equals_cluster(backend: RayBackend, minilm: Encoder) -> None:
    left, right, _ = make_demo(150, seed=11)
    df = pl.concat([left, right.select(left.columns)])
    pairs = lk.Linker(on=ON, model=minilm).dedup(df).pairs
    pairs = pairs.filter(pl.col("left_row") < pl.col("right_row"))
    for method in CLUSTERS:
        whole = cluster(df.height, pairs, threshold=0.5, method=method)
        remote = cluster_by_component(
            df.height, pairs, threshold=0.5, method=method, backend=backend,
            block_pairs=100, unit_pairs=40,
        )  # fmt: skip
        assert len(np.unique(whole)) < df.height * 0.8
        assert remote.tolist() == whole.tolist()


def test_tied_pairs_on_ray_equal_assign(backend: RayBackend) -> None:
    rng = np.random.default_rng(4)
    n = 3000
    pairs = pl.DataFrame(
        {
            "left_row": rng.integers(0, 2000, n),
            "right_row": rng.integers(0, 2000, n),
            "score": rng.choice([0.6, 0.7, 0.9], n),  # many equal-weight matchings
        }
    ).unique(["left_row", "right_row"], maintain_order=True)
    for method in ONE_TO_ONE:
        whole = assign(pairs, method=method)
        remote = assign_by_component(
            pairs, method=method, backend=backend, block_pairs=500, unit_pairs=300
        )
        assert_frame_equal(remote, whole)
