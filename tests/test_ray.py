"""The Ray backend on a real local Ray cluster of two nodes (a head and one worker, 1 CPU each).

Every test compares the Ray backend with the local one on the same data: the output must be
the same, not merely close. Starting the cluster is most of this module's run time, so it is
started once for the module and shut down at its end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from polars.testing import assert_frame_equal

import linker as lk
from linker.backend import LocalBackend, get_backend
from linker.blocking.blockers import Blockers
from linker.blocking.rare_tokens import context_columns, token_neighbours
from linker.data.demo import make_demo
from linker.errors import ConfigError
from linker.vectors.ann import AnnParams, merge_topk, search
from linker.vectors.embed import Encoder, StaticEncoder, get_encoder

try:
    import ray  # noqa: F401
    from ray.cluster_utils import Cluster
except ImportError:  # pragma: no cover - CI installs the extra, so there it must not skip
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("the Ray backend needs Ray: pip install 'linker[ray]'", allow_module_level=True)

from linker.backend.ray import RayBackend
from tests.test_tokens import demo_columns, ngram_cosine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),  # Ray's own
]

ON = ["name", "street", "city", "state", "zip", "phone"]


@pytest.fixture(scope="module")
def backend(ray_two_nodes: Cluster) -> Iterator[RayBackend]:
    b = RayBackend(address=ray_two_nodes.address)
    b.workers()  # connect now: the other backends of this module reuse this connection
    yield b
    b.close()
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, pl.DataFrame]:
    left, right, _ = make_demo(300, seed=7)
    return left, right


def test_backend_sees_two_workers(backend: RayBackend) -> None:
    assert backend.workers() == 2
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert len(nodes) == 2


def test_merge_same_as_local(
    backend: RayBackend, demo: tuple[pl.DataFrame, pl.DataFrame], minilm: Encoder
) -> None:
    left, right = demo
    local = lk.merge(left, right, on=ON, model=minilm)
    remote = lk.merge(left, right, on=ON, model=minilm, backend=backend)
    assert (local["_merge"] == "both").sum() > 100  # a real linkage, not an empty one
    assert_frame_equal(remote, local)


def test_merge_with_hnsw_graphs_same_as_local(
    backend: RayBackend, demo: tuple[pl.DataFrame, pl.DataFrame], minilm: Encoder
) -> None:
    """Above the exact thresholds both backends search two one-thread shard graphs (dense and
    sketched n-grams): the same graphs, so the same linkage, not merely a close one."""
    left, right = demo
    ann = AnnParams(exact_below=100, sparse_exact_below=100, shards=2)
    local = lk.merge(left, right, on=ON, model=minilm, ann=ann)
    remote = lk.merge(left, right, on=ON, model=minilm, ann=ann, backend=backend)
    assert (local["_merge"] == "both").sum() > 100
    assert_frame_equal(remote, local)


def test_dedup_same_as_local(backend: RayBackend, minilm: Encoder) -> None:
    left, right, _ = make_demo(150, seed=11)
    df = pl.concat([left, right.select(left.columns)])
    local = lk.dedup(df, on=ON, model=minilm)
    remote = lk.dedup(df, on=ON, model=minilm, backend=backend)
    assert local["_cluster"].n_unique() < df.height
    assert_frame_equal(remote, local)


def test_token_lists_same_as_local(backend: RayBackend) -> None:
    """The rare-token stages as Ray tasks on two nodes (blocks, key partitions, the pair score
    shipped once): the local lists, context columns and MinHash band keys included."""
    left, right = demo_columns(1500, seed=5)
    assert context_columns(right, max_df=20) == [2, 3]
    assert context_columns(right, max_df=20, runner=backend.unit_runner()) == [2, 3]
    for score in (None, ngram_cosine(left, right)):
        kw = {"max_df": 20, "pairs_per_left": 40, "score": score}
        local = token_neighbours(left, right, 8, **kw)  # type: ignore[arg-type]
        remote = token_neighbours(left, right, 8, runner=backend.unit_runner(), **kw)  # type: ignore[arg-type]
        assert (local[:, 0] >= 0).mean() > 0.95
        np.testing.assert_array_equal(remote, local)


def test_link_with_token_blocking_same_as_local(
    backend: RayBackend, demo: tuple[pl.DataFrame, pl.DataFrame], minilm: Encoder
) -> None:
    """The rare-token list alone (as from 100,000 right rows by default), reached through
    ``Linker(backend=...)``: the same candidates and links."""
    left, right = demo
    only_tokens = Blockers(dense_below=0, tokens_from=0, ngram_below=0, token_max_df=20)
    local = lk.Linker(on=ON, model=minilm, blockers=only_tokens).link(left, right)
    remote = lk.Linker(on=ON, model=minilm, blockers=only_tokens, backend=backend).link(left, right)
    assert local.pairs.height > 2 * left.height
    assert_frame_equal(remote.pairs, local.pairs)
    assert_frame_equal(remote.matches, local.matches)


def _random_cases() -> list[tuple[str, object, object]]:
    rng = np.random.default_rng(0)
    ties_q = rng.integers(0, 3, (60, 8)).astype(np.float32)  # small integers: many exact ties
    ties_i = rng.integers(0, 3, (203, 8)).astype(np.float32)
    gauss_q = rng.standard_normal((80, 32)).astype(np.float32)
    gauss_i = rng.standard_normal((301, 32)).astype(np.float32)
    gauss_q /= np.linalg.norm(gauss_q, axis=1, keepdims=True)
    gauss_i /= np.linalg.norm(gauss_i, axis=1, keepdims=True)
    sparse_q = sp.random(70, 500, density=0.02, format="csr", dtype=np.float32, random_state=1)
    sparse_i = sp.random(257, 500, density=0.02, format="csr", dtype=np.float32, random_state=2)
    return [
        ("ties", ties_q, ties_i),
        ("gaussian", gauss_q, gauss_i),
        ("sparse", sparse_q, sparse_i),  # many all-zero rows: ties at 0 broken by row
    ]


@pytest.mark.parametrize("shards", [2, 3])
def test_sharded_search_equals_exact(backend: RayBackend, shards: int) -> None:
    sharded = RayBackend(address=backend.address, shards=shards)  # same connection, reused
    for label, q, items in _random_cases():
        for k in (1, 5, 150):  # 150: more than one shard holds
            want = search(q, items, k, method="exact")  # type: ignore[arg-type]
            got = sharded.search(q, items, k, method="exact")  # type: ignore[arg-type]
            assert got[0].shape == want[0].shape, (label, k)
            np.testing.assert_array_equal(got[0], want[0], err_msg=f"{label} k={k}")
            if label == "gaussian":
                # OpenBLAS rounds a dot product differently with the matrix shape and its
                # thread count (the local search itself changes with OPENBLAS_NUM_THREADS):
                # a shard's product is a different shape, so scores differ in the last bits.
                np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-6)
            else:  # exact sums (small integers) and scipy's row-wise sparse products
                np.testing.assert_array_equal(got[1], want[1], err_msg=f"{label} k={k}")
    sharded.close()
    assert ray.is_initialized()  # it did not start the connection, so it leaves it open


def test_sharded_search_auto_decides_on_all_items(backend: RayBackend) -> None:
    """Above ``exact_below`` items in all, every shard runs hnswlib, though each is smaller."""
    rng = np.random.default_rng(1)
    items = rng.standard_normal((400, 16)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    params = AnnParams(exact_below=300, threads=1)
    ids, sims = backend.search(items[:50], items, 3, params=params)
    assert ids[:, 0].tolist() == list(range(50))  # each query finds itself first
    exact_ids, _ = search(items[:50], items, 3, method="exact")
    assert (ids == exact_ids).mean() > 0.95
    assert np.all(np.diff(sims, axis=1) <= 0)
    # sparse n-gram rows above sparse_exact_below: each shard sketches, searches and re-scores
    rows = sp.random(400, 300, density=0.05, format="csr", dtype=np.float32, random_state=4)
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1))).ravel()
    rows = sp.csr_matrix(sp.diags(1 / np.maximum(norms, 1e-9)) @ rows)
    params = AnnParams(sparse_exact_below=300, threads=1)
    ids, sims = backend.search(rows[:50], rows, 5, params=params)
    want_ids, want_sims = search(rows[:50], rows, 5, params=params)  # one sketched search
    assert ids[:, 0].tolist() == list(range(50))
    exact_ids, _ = search(rows[:50], rows, 5, method="exact")
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(ids, exact_ids, strict=True)])
    single = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(want_ids, exact_ids, strict=True)])
    assert recall > single - 0.1  # random rows: many near-equal cosines for the sketch to swap
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-5)  # re-scored: exact cosines


def test_routed_search_same_as_local(backend: RayBackend) -> None:
    """``AnnParams(cells=, probes=)``: one Ray task per cell, the plan made as locally: the
    local lists, dense (hnswlib per cell) and sparse (a sketch per cell), scores included."""
    rng = np.random.default_rng(5)
    items = rng.standard_normal((600, 16)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    rows = sp.random(400, 300, density=0.05, format="csr", dtype=np.float32, random_state=4)
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1))).ravel()
    rows = sp.csr_matrix(sp.diags(1 / np.maximum(norms, 1e-9)) @ rows)
    local = LocalBackend()
    cases = [
        (items[:80], items, AnnParams(exact_below=300, cells=6, probes=2)),
        (rows[:50], rows, AnnParams(sparse_exact_below=300, cells=4, probes=2)),
    ]
    for q, its, params in cases:
        for k in (3, 150):  # 150: more than two cells hold, so queries search more cells
            got = backend.search(q, its, k, params=params)
            want = local.search(q, its, k, params=params)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_merge_topk_orders_ties_by_row() -> None:
    a = (np.array([[4, 0]]), np.array([[0.5, 0.5]], np.float32))
    b = (np.array([[2, 9]]), np.array([[0.5, 0.1]], np.float32))
    ids, sims = merge_topk([a, b], 3)
    assert ids.tolist() == [[0, 2, 4]]
    assert sims.tolist() == [[0.5, 0.5, 0.5]]


def test_features_equal_local(backend: RayBackend, demo: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    left, right = demo
    cols = ["name", "street", "phone"]
    lcols = [left[c].fill_null("") for c in cols]
    rcols = [right[c].fill_null("") for c in cols]
    rng = np.random.default_rng(3)
    li = rng.integers(0, left.height, 4000)
    ri = rng.integers(0, right.height, 4000)
    want = LocalBackend().features(lcols, rcols, li, ri, names=cols)
    got = backend.features(lcols, rcols, li, ri, names=cols)
    assert list(got) == list(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    empty = backend.features(lcols, rcols, li[:0], ri[:0], names=cols)
    assert all(len(v) == 0 for v in empty.values())


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_address_is_a_clear_error(backend: RayBackend) -> None:
    texts = ["acme corp"]
    encoder = get_encoder("static")  # never loaded: the address fails first
    with pytest.raises(ConfigError, match="no Ray cluster answers at"):
        RayBackend(address=f"127.0.0.1:{_closed_port()}").embed(encoder, texts)
    with pytest.raises(ConfigError, match="HOST:PORT"):
        get_backend("ray", address="not-an-address").embed(encoder, texts)
    with pytest.raises(ConfigError, match="num_workers"):
        RayBackend(num_workers=0)


def test_another_cluster_while_connected_is_a_clear_error(backend: RayBackend) -> None:
    with socket.socket() as listener:  # something answers there, but not this cluster
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        other = f"127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(ConfigError, match="already connected to the Ray cluster"):
            RayBackend(address=other).workers()


def test_a_task_error_reaches_the_caller(backend: RayBackend, tmp_path: Path) -> None:
    # Ray Data wraps it (UserCodeException), but the model's own message comes through
    with pytest.raises(Exception, match=r"ModelError: model='static' needs"):  # noqa: B017
        backend.embed(StaticEncoder(tmp_path / "missing"), ["acme corp", "zeta ltd"])


def test_cli_merge_on_the_cluster(
    ray_two_nodes: Cluster, demo: tuple[pl.DataFrame, pl.DataFrame], tmp_path: Path
) -> None:
    left, right = demo
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    left.write_csv(a)
    right.write_csv(b)
    out = tmp_path / "out.csv"
    cmd = [sys.executable, "-m", "linker", "merge", str(a), str(b), "--on", ",".join(ON)]
    cmd += ["--backend", "ray", "--address", ray_two_nodes.address, "-q", "-o", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    from linker.frames import read

    want = lk.merge(read(str(a)), read(str(b)), on=ON)  # the CLI's default model too
    expected = tmp_path / "expected.csv"
    want.write_csv(expected)
    assert out.read_bytes() == expected.read_bytes()
