from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
import scipy.sparse as sp

import linker.vectors.ann
from linker.errors import ConfigError
from linker.vectors.ann import (
    AnnParams,
    merge_topk,
    search,
    search_shard,
    shard_bounds,
    shard_plan,
    topk_rows,
)

METHODS = ["exact", "hnsw"]


def unit(rng: np.random.Generator, n: int, d: int) -> npt.NDArray[np.float32]:
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def points() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    rng = np.random.default_rng(0)
    return unit(rng, 3000, 32), unit(rng, 400, 32)


def test_hnsw_recall_against_exact(points: tuple[np.ndarray, np.ndarray]) -> None:
    items, queries = points
    k = 10
    exact_ids, exact_sims = search(queries, items, k, method="exact")
    ann_ids, ann_sims = search(queries, items, k, method="hnsw")
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(exact_ids, ann_ids, strict=True)])
    assert recall >= 0.95
    # the similarities hnsw reports are the true cosines of the ids it returns
    true = np.einsum("ij,ikj->ik", queries, items[ann_ids])
    np.testing.assert_allclose(ann_sims, true, atol=1e-5)
    assert (np.diff(exact_sims, axis=1) <= 0).all()
    assert (np.diff(ann_sims, axis=1) <= 0).all()


def test_exact_matches_brute_force(points: tuple[np.ndarray, np.ndarray]) -> None:
    items, queries = points
    ids, sims = search(queries[:50], items, 5, method="exact")
    full = queries[:50] @ items.T
    np.testing.assert_array_equal(ids, np.argsort(-full, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(sims, np.sort(full, axis=1)[:, ::-1][:, :5], atol=1e-6)


def test_exact_search_in_many_chunks_gives_same_result(
    monkeypatch: pytest.MonkeyPatch, points: tuple[np.ndarray, np.ndarray]
) -> None:
    items, queries = points
    whole = search(queries, items, 7, method="exact")
    monkeypatch.setattr(linker.vectors.ann, "_CHUNK_CELLS", 3000 * 7)  # 7 queries per chunk
    chunked = search(queries, items, 7, method="exact")
    np.testing.assert_array_equal(whole[0], chunked[0])
    np.testing.assert_allclose(whole[1], chunked[1], atol=1e-6)  # BLAS blocks differ


@pytest.mark.parametrize("method", METHODS)
def test_each_point_finds_itself_first(method: str) -> None:
    items = unit(np.random.default_rng(1), 200, 16)
    ids, sims = search(items, items, 3, method=method)  # type: ignore[arg-type]
    assert ids.shape == sims.shape == (200, 3)
    assert ids.dtype == np.int64 and sims.dtype == np.float32
    np.testing.assert_array_equal(ids[:, 0], np.arange(200))
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-5)


def test_auto_switches_to_hnsw_at_exact_below(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = linker.vectors.ann._hnsw

    def spy(
        q: np.ndarray, items: np.ndarray, k: int, p: AnnParams
    ) -> tuple[np.ndarray, np.ndarray]:
        calls.append(items.shape[0])
        return real(q, items, k, p)

    monkeypatch.setattr(linker.vectors.ann, "_hnsw", spy)
    items = unit(np.random.default_rng(2), 100, 8)
    search(items, items, 2, params=AnnParams(exact_below=101))
    assert calls == []
    search(items, items, 2, params=AnnParams(exact_below=100))
    assert calls == [100]


def test_hnsw_is_deterministic_with_one_thread(points: tuple[np.ndarray, np.ndarray]) -> None:
    items, queries = points
    p = AnnParams(seed=7, threads=1)
    a = search(queries, items[:1000], 5, method="hnsw", params=p)
    b = search(queries, items[:1000], 5, method="hnsw", params=p)
    np.testing.assert_array_equal(a[0], b[0])


def test_sparse_search_equals_dense_exact() -> None:
    rng = np.random.default_rng(4)
    dense = rng.random((60, 40)).astype(np.float32)
    dense[dense < 0.8] = 0.0
    dense[:, 0] += 0.01  # no all-zero rows
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    matrix = sp.csr_matrix(dense)
    s_ids, s_sims = search(matrix[:20], matrix, 4)
    d_ids, d_sims = search(dense[:20], dense, 4, method="exact")
    np.testing.assert_array_equal(s_ids, d_ids)
    np.testing.assert_allclose(s_sims, d_sims, atol=1e-6)
    np.testing.assert_array_equal(s_ids[:, 0], np.arange(20))


def test_sparse_with_hnsw_is_config_error() -> None:
    m = sp.csr_matrix(np.eye(3, dtype=np.float32))
    with pytest.raises(ConfigError, match="dense"):
        search(m, m, 1, method="hnsw")


@pytest.mark.parametrize("kind", ["exact", "hnsw", "sparse"])
def test_k_larger_than_items_is_capped(kind: str) -> None:
    items = unit(np.random.default_rng(5), 4, 8)
    queries = unit(np.random.default_rng(6), 3, 8)
    if kind == "sparse":
        ids, sims = search(sp.csr_matrix(queries), sp.csr_matrix(items), 10)
    else:
        ids, sims = search(queries, items, 10, method=kind)  # type: ignore[arg-type]
    assert ids.shape == sims.shape == (3, 4)
    assert all(sorted(row) == [0, 1, 2, 3] for row in ids.tolist())


def test_empty_items_or_queries() -> None:
    items = np.zeros((0, 8), np.float32)
    q = unit(np.random.default_rng(7), 3, 8)
    ids, sims = search(q, items, 5)
    assert ids.shape == (3, 0) and sims.shape == (3, 0)
    ids, _ = search(q[:0], q, 2)
    assert ids.shape == (0, 2)


def test_ties_are_broken_by_row_number() -> None:
    items = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]], np.float32)
    ids, sims = search(np.array([[0.0, 1.0]], np.float32), items, 5, method="exact")
    assert ids.tolist() == [[0, 2, 3, 1, 4]]
    ids, _ = search(np.array([[0.0, 1.0]], np.float32), items, 2, method="exact")
    assert ids.tolist() == [[0, 2]]


def test_topk_rows_orders_by_score_then_column() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.9], [0.3, 0.2, 0.1, 0.0]], np.float32)
    ids, vals = topk_rows(scores, 3)
    assert ids.tolist() == [[1, 3, 2], [0, 1, 2]]
    np.testing.assert_allclose(vals, [[0.9, 0.9, 0.5], [0.3, 0.2, 0.1]])
    assert topk_rows(scores, 0)[0].shape == (2, 0)


def test_topk_rows_breaks_ties_by_column_when_k_is_small() -> None:
    scores = np.full((2, 1000), 0.5, dtype=np.float32)
    scores[1, 500] = 0.9
    ids, _ = topk_rows(scores, 3)
    assert ids.tolist() == [[0, 1, 2], [500, 0, 1]]


@pytest.mark.parametrize(("kwargs", "match"), [({"method": "fast"}, "method"), ({"k": 0}, "k")])
def test_bad_arguments_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    v = np.eye(3, dtype=np.float32)
    args: dict[str, object] = {"k": 1} | kwargs
    with pytest.raises(ConfigError, match=match):
        search(v, v, **args)  # type: ignore[arg-type]


def test_large_sparse_search_goes_through_the_sketch_and_rescored_cosines() -> None:
    from linker.data.demo import make_demo
    from linker.vectors.ngrams import NgramVectorizer

    left, right, truth = make_demo(1500, seed=2)
    texts = (
        [" ".join(v for v in row if v) for row in left.drop("id").rows()],
        [" ".join(v for v in row if v) for row in right.drop("id").rows()],
    )
    vec = NgramVectorizer().fit(texts[0] + texts[1])
    q, items = vec.transform(texts[0]), vec.transform(texts[1])
    exact_ids, _ = search(q, items, 10)
    ids, sims = search(q, items, 10, params=AnnParams(sparse_exact_below=1000))
    # the returned similarities are the exact cosines of the returned rows, best first
    true_sims = np.asarray(
        (q[np.repeat(np.arange(q.shape[0]), 10)].multiply(items[ids.ravel()])).sum(axis=1)
    )
    np.testing.assert_allclose(sims.ravel(), true_sims.ravel(), atol=1e-5)
    assert (np.diff(sims, axis=1) <= 1e-6).all()
    top1 = (ids[:, 0] == exact_ids[:, 0]).mean()
    assert top1 > 0.97
    li = truth["left_id"].str.slice(1).cast(pl.Int64).to_numpy() - 1
    ri = truth["right_id"].str.slice(1).cast(pl.Int64).to_numpy() - 1
    found, exact_found = (ids[li] == ri[:, None]).any(1), (exact_ids[li] == ri[:, None]).any(1)
    assert found.mean() >= exact_found.mean() - 0.01  # the true match is still among the 10


def test_threads_follow_the_item_count() -> None:
    assert linker.vectors.ann._threads(10, AnnParams()) == 1
    assert linker.vectors.ann._threads(10**6, AnnParams(threads=1)) == 1
    assert linker.vectors.ann._threads(10**6, AnnParams(parallel_from=100)) >= 1


def test_pair_dots_sparse_matches_the_dense_product() -> None:
    rng = np.random.default_rng(3)
    a = sp.random(300, 500, density=0.05, format="csr", random_state=1, dtype=np.float32)
    b = sp.random(200, 500, density=0.05, format="csr", random_state=2, dtype=np.float32)
    # column indices out of order within rows (as a hand-built CSR may have): still exact
    b_shuffled = sp.csr_matrix((b.data.copy(), b.indices.copy(), b.indptr.copy()), b.shape)
    b_shuffled.has_sorted_indices = False
    for i in range(b.shape[0]):
        lo, hi = b.indptr[i], b.indptr[i + 1]
        b_shuffled.data[lo:hi] = b.data[lo:hi][::-1]
        b_shuffled.indices[lo:hi] = b.indices[lo:hi][::-1]
    for arr in (
        a.data,
        a.indices,
        a.indptr,
        b_shuffled.data,
        b_shuffled.indices,
        b_shuffled.indptr,
    ):
        arr.flags.writeable = False  # as Ray hands them over: sorted in a copy, not in place
    ai, bj = rng.integers(0, 300, 5000), rng.integers(0, 200, 5000)
    want = (a.toarray() @ b.toarray().T)[ai, bj]
    for right in (b, b_shuffled):
        got = linker.vectors.ann.pair_dots(a, right, ai, bj)
        assert got.dtype == np.float32 and got.shape == (5000,)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not b_shuffled.has_sorted_indices  # the caller's matrix is left as it was
    assert linker.vectors.ann.pair_dots(a, b, ai[:0], bj[:0]).shape == (0,)


@pytest.mark.parametrize("method", METHODS)
def test_float16_vectors_are_searched_like_float32(
    points: tuple[np.ndarray, np.ndarray], method: str
) -> None:
    # the pipeline keeps large tables' embeddings in float16; search computes in float32
    items, queries = points
    full_ids, full_sims = search(queries, items, 5, method=method)  # type: ignore[arg-type]
    ids, sims = search(
        queries.astype(np.float16),
        items.astype(np.float16),
        5,
        method=method,  # type: ignore[arg-type]
    )
    assert sims.dtype == np.float32
    assert (ids[:, 0] == full_ids[:, 0]).mean() > 0.98
    np.testing.assert_allclose(sims[:, 0], full_sims[:, 0], atol=5e-3)


def _sparse_rows(n: int, seed: int) -> sp.csr_matrix:
    rows = sp.random(n, 300, density=0.05, format="csr", dtype=np.float32, random_state=seed)
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1))).ravel()
    return sp.csr_matrix(sp.diags(1 / np.maximum(norms, 1e-9)) @ rows)


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_sharded_graph_search_is_the_merge_of_its_shards_and_repeats(
    points: tuple[np.ndarray, np.ndarray], kind: str
) -> None:
    """Two threads each build and search one shard's graph; the result is the merged lists of
    the shards searched one by one, and the same on every run (one-thread graphs)."""
    items, queries = points
    if kind == "sparse":
        items, queries = _sparse_rows(1200, 3), _sparse_rows(200, 4)
    p = AnnParams(exact_below=500, sparse_exact_below=500, threads=2, shards=3)
    ids, sims = search(queries, items, 7, params=p)
    again = search(queries, items, 7, params=p)
    np.testing.assert_array_equal(ids, again[0])
    np.testing.assert_array_equal(sims, again[1])
    method, shard_p = shard_plan(queries, items, "auto", p)
    assert (method, shard_p.threads, shard_p.shards) == (
        "auto" if kind == "sparse" else "hnsw",
        1,
        1,
    )
    b = shard_bounds(items.shape[0], 3)
    parts = [
        search_shard(queries, items[b[i] : b[i + 1]], 7, method, shard_p, int(b[i]))
        for i in range(3)
    ]
    want = merge_topk(parts, 7)
    np.testing.assert_array_equal(ids, want[0])
    np.testing.assert_array_equal(sims, want[1])
    exact_ids, _ = search(queries, items, 7, method="exact")
    one = AnnParams(exact_below=500, sparse_exact_below=500, threads=1)
    one_graph, _ = search(queries, items, 7, params=one)

    def recall(found: np.ndarray) -> float:
        pairs = zip(found, exact_ids, strict=True)
        return float(np.mean([len(set(a) & set(e)) / 7 for a, e in pairs]))

    # random sparse rows have many near-equal cosines for the sketch to swap: no better than 0.9
    assert recall(ids) > (0.95 if kind == "dense" else 0.8)
    assert recall(ids) >= recall(one_graph) - 0.02


def test_one_graph_unless_shards_are_asked_for() -> None:
    assert linker.vectors.ann._shards(10**6, AnnParams()) == 1
    assert linker.vectors.ann._shards(10**6, AnnParams(threads=3)) == 1
    assert linker.vectors.ann._shards(10**6, AnnParams(threads=3, shards=2)) == 2
    assert linker.vectors.ann._shards(2, AnnParams(shards=5)) == 2  # never more shards than items


@pytest.mark.parametrize("field", ["threads", "shards"])
def test_zero_threads_or_shards_is_a_config_error(field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        AnnParams(**{field: 0})  # type: ignore[arg-type]


def _merged_dots(a: sp.csr_matrix, b: sp.csr_matrix, ai: np.ndarray, bj: np.ndarray) -> np.ndarray:
    """The rows' dots as a merge of their sorted column lists adds them: float32 products,
    a float64 sum in column order (what csr_pair_dots must give to the bit)."""
    out = np.empty(len(ai), np.float32)
    for t, (i, j) in enumerate(zip(ai, bj, strict=True)):
        ra, rb = a[int(i)], b[int(j)]
        common, pa, pb = np.intersect1d(ra.indices, rb.indices, return_indices=True)
        s = 0.0
        for p, q in zip(pa, pb, strict=True):
            s += float(np.float32(ra.data[p]) * np.float32(rb.data[q]))
        out[t] = s
    return out


@pytest.mark.parametrize("grouped", [True, False])
def test_sparse_pair_dots_equal_a_merge_to_the_bit(grouped: bool) -> None:
    rng = np.random.default_rng(5)
    a = sp.random(120, 400, density=0.08, format="csr", random_state=3, dtype=np.float32)
    b = sp.random(90, 400, density=0.08, format="csr", random_state=4, dtype=np.float32)
    keep = np.ones((120, 1), np.float32)
    keep[7] = 0.0  # a row with no entries
    a = sp.csr_matrix(a.multiply(keep))
    ai, bj = rng.integers(0, 120, 3000), rng.integers(0, 90, 3000)
    if grouped:  # sorted by the left row (the pipeline's order), else in any order
        order = np.argsort(ai, kind="stable")
        ai, bj = ai[order], bj[order]
    got = linker.vectors.ann.pair_dots(a, b, ai, bj)
    np.testing.assert_array_equal(got, _merged_dots(a, b, ai, bj))


def test_sparse_pair_dots_sum_repeated_entries() -> None:
    # a hand-built CSR may hold a column twice in a row: its entries count as their sum
    a = sp.csr_matrix(
        (np.array([1.0, 2.0, 3.0], np.float32), np.array([2, 0, 2]), np.array([0, 3])), (1, 3)
    )
    b = sp.csr_matrix(np.array([[1.0, 5.0, 10.0]], np.float32))
    assert linker.vectors.ann.pair_dots(a, b, np.array([0]), np.array([0])).tolist() == [42.0]
    assert a.nnz == 3  # the caller's matrix is left as it was


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dense_pair_dots_within_one_rounding_of_the_exact_dot(dtype: type) -> None:
    rng = np.random.default_rng(7)
    a, b = unit(rng, 500, 256).astype(dtype), unit(rng, 400, 256).astype(dtype)
    ai, bj = rng.integers(0, 500, 4000), rng.integers(0, 400, 4000)
    exact = np.einsum("ij,ij->i", a[ai].astype(np.float64), b[bj].astype(np.float64))
    got = linker.vectors.ann.pair_dots(a, b, ai, bj)
    assert got.dtype == np.float32 and got.shape == (4000,)
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-7)
    assert linker.vectors.ann.pair_dots(a, b, ai[:0], bj[:0]).shape == (0,)
