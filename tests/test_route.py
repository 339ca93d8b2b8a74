"""Routed search (``AnnParams(cells=, probes=)``): probing every cell is the broadcast search,
fewer cells cost little recall on clustered data, the output repeats, bad settings say which."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp

from linker.errors import ConfigError
from linker.vectors.ann import AnnParams, route_plan, search
from linker.vectors.route import plan_routes, quantise, view

Vecs = npt.NDArray[np.float32]


def clustered(seed: int, n: int, centres: int = 12, d: int = 24, noise: float = 0.35) -> Vecs:
    """Unit vectors around ``centres`` random directions: data with regions to find."""
    rng = np.random.default_rng(seed)
    middle = np.random.default_rng(99).standard_normal((centres, d))
    v = middle[rng.integers(0, centres, n)] + noise * rng.standard_normal((n, d))
    v = v.astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def data() -> tuple[Vecs, Vecs]:
    return clustered(1, 300), clustered(2, 1200)


def recall(found: np.ndarray, want: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, want, strict=True)]))


def test_probing_every_cell_is_the_broadcast_search(data: tuple[Vecs, Vecs]) -> None:
    """With g = C every query searches every cell: the lists of the broadcast sharded search,
    which are the exact search's (each graph, with a beam wider than its items, is exhaustive)."""
    q, items = data
    exact = search(q, items, 10, method="exact")
    wide = AnnParams(shards=4, ef_search=2000, threads=2)
    broadcast = search(q, items, 10, method="hnsw", params=wide)
    routed = search(
        q, items, 10, method="hnsw", params=AnnParams(cells=4, probes=4, ef_search=2000)
    )
    np.testing.assert_array_equal(routed[0], broadcast[0])  # hnswlib's scores: same ties
    np.testing.assert_array_equal(routed[1], broadcast[1])
    assert recall(routed[0], exact[0]) == 1.0  # BLAS rounds differently: near ties may swap
    routes = route_plan(q, items, 10, "hnsw", AnnParams(cells=4, probes=4))
    assert routes is not None and len(routes.items) == 4
    assert all(len(r) == len(q) for r in routes.queries)  # every query in every cell
    held = np.concatenate(routes.items)  # each item in its two nearest cells (spill=2)
    np.testing.assert_array_equal(np.sort(held), np.repeat(np.arange(len(items)), 2))


def test_few_probes_keep_most_neighbours_and_search_less(data: tuple[Vecs, Vecs]) -> None:
    q, items = data
    exact, _ = search(q, items, 10, method="exact")
    p = AnnParams(cells=12, probes=3, ef_search=2000)
    ids, sims = search(q, items, 10, method="hnsw", params=p)
    assert recall(ids, exact) > 0.95
    assert np.all(np.diff(sims, axis=1) <= 0)  # best first
    routes = route_plan(q, items, 10, "hnsw", p)
    assert routes is not None
    searched = sum(len(r) for r in routes.queries) / len(q)
    assert 3 <= searched < 4  # three cells each, more only where three hold fewer than 2k
    hard = clustered(4, 1200, noise=1.0)  # weak regions: routing misses neighbours
    exact, _ = search(hard[:300], hard, 10, method="exact")
    found = {
        (probes, spill): recall(search(hard[:300], hard, 10, method="hnsw", params=AnnParams(
            cells=12, probes=probes, spill=spill, ef_search=2000))[0], exact)
        for probes, spill in [(1, 1), (3, 1), (1, 2)]
    }  # fmt: skip
    assert found[1, 1] < found[3, 1] < 1.0  # fewer probes miss more
    assert found[1, 1] < found[1, 2]  # copies of the items near borders miss fewer


def test_every_query_gets_k_distinct_items_from_tiny_cells() -> None:
    """Cells smaller than k: a query searches more cells than its probes, until it has k."""
    items = clustered(3, 60)
    ids, _ = search(items[:20], items, 10, method="hnsw", params=AnnParams(cells=40, probes=1))
    assert ids.shape == (20, 10) and (ids >= 0).all()
    assert all(len(set(row)) == 10 for row in ids.tolist())
    assert ids[:, 0].tolist() == list(range(20))  # each finds itself


@pytest.mark.parametrize("threads", [1, 2])
def test_routed_search_repeats(data: tuple[Vecs, Vecs], threads: int) -> None:
    q, items = data
    p = AnnParams(cells=8, probes=2, threads=threads, seed=3)
    a, b = (
        search(q, items, 5, method="hnsw", params=p),
        search(q, items, 5, method="hnsw", params=p),
    )
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    one = search(q, items, 5, method="hnsw", params=AnnParams(cells=8, probes=2, threads=1, seed=3))
    np.testing.assert_array_equal(a[0], one[0])  # threads change the speed, not the output
    c1 = quantise(items, 8, seed=3)
    np.testing.assert_array_equal(c1, quantise(items, 8, seed=3))
    assert not np.array_equal(c1, quantise(items, 8, seed=4))


def test_quantise_leaves_no_cell_empty() -> None:
    x = np.repeat(np.eye(3, dtype=np.float32), [50, 50, 2], axis=0)  # 3 points, uneven
    c = quantise(x, 3, seed=0)
    assert sorted(set(np.argmax(x @ c.T, axis=1).tolist())) == [0, 1, 2]


def test_sparse_rows_are_routed_on_their_sketch() -> None:
    rows = sp.random(400, 300, density=0.05, format="csr", dtype=np.float32, random_state=4)
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1))).ravel()
    rows = sp.csr_matrix(sp.diags(1 / np.maximum(norms, 1e-9)) @ rows)
    p = AnnParams(sparse_exact_below=300, cells=4, probes=2)
    ids, sims = search(rows[:50], rows, 5, params=p)
    assert ids[:, 0].tolist() == list(range(50))
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-5)  # re-scored: exact cosines
    again = search(rows[:50], rows, 5, params=p)
    np.testing.assert_array_equal(ids, again[0])
    routes = route_plan(rows[:50], rows, 5, "auto", p)
    assert routes is not None and routes.width >= 2
    sketched = view(rows, p.sketch_dim, seed=p.seed)(np.arange(3))
    assert sketched.shape == (3, p.sketch_dim)


def test_exact_searches_are_not_routed(data: tuple[Vecs, Vecs]) -> None:
    """Routing cuts graph searches; an exact search stays one exact search."""
    q, items = data
    p = AnnParams(cells=8, probes=1)
    assert route_plan(q, items, 5, "exact", p) is None
    assert route_plan(q, items, 5, "auto", p) is None  # 1,200 items: below exact_below
    np.testing.assert_array_equal(
        search(q, items, 5, params=p)[0], search(q, items, 5, method="exact")[0]
    )


def test_plan_routes_directly() -> None:
    v = np.eye(6, dtype=np.float32)
    r = plan_routes(lambda rows: v[rows], 6, lambda rows: v[rows], 6, cells=6, probes=2, k=1)
    assert r.width == 2 and len(r.items) == 6
    assert sum(len(x) for x in r.queries) == 12  # each query in two cells
    for held, asked in zip(r.items, r.queries, strict=True):  # one of them its own
        assert set(held.tolist()) <= set(asked.tolist())


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"cells": 0}, "AnnParams.cells"),
        ({"cells": 4, "probes": 0}, "AnnParams.probes"),
        ({"cells": 4, "probes": 5}, "AnnParams.probes=5"),
        ({"probes": 2}, "AnnParams.probes=2 needs cells="),
        ({"spill": 2}, "AnnParams.spill=2 needs cells="),
        ({"cells": 4, "spill": 5}, "AnnParams.spill=5 is more than cells=4"),
        ({"cells": 4, "spill": 0}, "AnnParams.spill must be at least 1"),
        ({"cells": 4, "shards": 2}, "AnnParams.cells=4 and shards=2"),
    ],
)
def test_bad_routing_settings_name_the_setting(kwargs: dict[str, int], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        AnnParams(**kwargs)  # type: ignore[arg-type]
