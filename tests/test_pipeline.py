"""Linker wiring: what is embedded, what is cached, progress callbacks, stage timings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

import linker as lk
from linker.pipeline.linker import Linker
from linker.pipeline.serialize import wordy_columns
from linker.vectors.ann import AnnParams

if TYPE_CHECKING:
    from conftest import HashingEncoder

    from linker.decide.cluster import ClusterMethod
    from linker.vectors.embed import Encoder


def test_only_wordy_columns_are_embedded(hashing_encoder: HashingEncoder) -> None:
    left = pl.DataFrame({"name": ["Acme Corp", "Zeta Ltd"], "phone": ["555-1234", "555-9876"]})
    right = pl.DataFrame({"name": ["ACME Corp."], "phone": ["555 1234"]})
    Linker(on=["name", "phone"], model=hashing_encoder).link(left, right)
    embedded = {t for call in hashing_encoder.calls for t in call}
    assert embedded == {"acme corp", "zeta ltd", "acme corp."}  # no phone digits


def test_numeric_only_tables_embed_every_column() -> None:
    df = pl.DataFrame({"zip": ["02139", "10001"], "year": ["1999", "2001"]})
    assert wordy_columns(df, ["zip", "year"]) == ["zip", "year"]


def test_a_linker_embeds_each_table_once(
    hashing_encoder: HashingEncoder, firms: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    left, right = firms
    linker = Linker(on=["name", "city"], model=hashing_encoder)
    linker.prepare(left, right)
    calls = len(hashing_encoder.calls)
    linker.link(left, right)
    linker.candidates(left, right)
    assert len(hashing_encoder.calls) == calls == 2  # one call per table, then none


def test_progress_callback_sees_every_stage_in_order(
    hashing_encoder: HashingEncoder, firms: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    seen: list[tuple[str, int, int]] = []
    left, right = firms
    result = Linker(on="name", model=hashing_encoder, callback=lambda *a: seen.append(a)).link(
        left, right
    )
    stages = ["serialize", "embed", "ngram", "block", "features", "score", "assign"]
    assert [s for s, _, _ in seen] == stages
    assert [d for _, d, _ in seen] == list(range(1, 8))
    assert {t for _, _, t in seen} == {7}
    assert set(stages) < set(result.timings) and result.timings["total"] > 0


def test_bad_how_fails_before_any_embedding(hashing_encoder: HashingEncoder) -> None:
    df = pl.DataFrame({"name": ["a"]})
    with pytest.raises(ValueError, match="how="):
        Linker(on="name", how="1:2", model=hashing_encoder).link(df, df)  # type: ignore[arg-type]
    assert hashing_encoder.calls == []


def test_vectors_of_a_table_past_the_embedding_list_are_float16(
    hashing_encoder: HashingEncoder, firms: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    import numpy as np

    from linker.blocking.blockers import Blockers
    from linker.vectors.ann import pair_dots

    left, right = firms
    small = Linker(on=["name", "city"], model=hashing_encoder)
    big = Linker(on=["name", "city"], model=hashing_encoder, blockers=Blockers(dense_below=3))
    lside, rside, _ = small.prepare(left, right)
    assert lside.vectors is not None and rside.vectors is not None
    assert rside.vectors.dense is not None and rside.vectors.dense.dtype == np.float32
    lbig, rbig, _ = big.prepare(left, right)
    assert lbig.vectors is not None and rbig.vectors is not None
    assert rbig.vectors.dense is not None and rbig.vectors.dense.dtype == np.float16
    # the pairs' dense_sim is the float32 cosine to within float16's rounding
    pairs = big.candidates(left, right)
    li, ri = pairs["left_row"].to_numpy(), pairs["right_row"].to_numpy()
    assert lside.vectors.dense is not None
    exact = np.clip(pair_dots(lside.vectors.dense, rside.vectors.dense, li, ri), 0, 1)
    np.testing.assert_allclose(pairs["dense_sim"].to_numpy(), exact, atol=3e-3)


# ----------------------------------------------------------------------------- exact twins
# Records identical on every compared column always meet (linker.blocking.twins), whatever k.
# The links and clusters asserted below also need the scorer to put twin pairs above the threshold.

SEARCHES = {"exact": None, "hnsw": AnnParams(exact_below=0)}


def stores(n: int, prefix: str) -> pl.DataFrame:
    ids = [f"{prefix}{i}" for i in range(n)]
    return pl.DataFrame({"id": ids, "name": ["Starbucks Coffee"] * n, "city": ["Seattle"] * n})


@pytest.mark.parametrize("search", SEARCHES)
def test_identical_tables_link_every_row_one_to_one(search: str, minilm: Encoder) -> None:
    rows = stores(300, "S")
    out = lk.merge(rows, rows, on=["name", "city"], how="1:1", model=minilm, ann=SEARCHES[search])
    assert out["_merge"].to_list() == ["both"] * 300


@pytest.mark.parametrize("search", SEARCHES)
def test_chain_store_links_every_store_of_the_smaller_side(search: str, minilm: Encoder) -> None:
    left, right = stores(60, "L"), stores(40, "R")
    out = lk.merge(left, right, on=["name", "city"], how="1:1", model=minilm, ann=SEARCHES[search])
    counts = dict(out.group_by("_merge").len().iter_rows())
    assert counts == {"both": 40, "left_only": 20}


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize("method", ["components", "centre", "average"])
def test_dedup_of_identical_rows_is_one_cluster(
    search: str, method: ClusterMethod, minilm: Encoder
) -> None:
    linker = Linker(on=["name", "city"], model=minilm, cluster=method, ann=SEARCHES[search])
    out = linker.dedup(stores(300, "S"))
    assert out.frame["_cluster"].to_list() == [0] * 300


@pytest.fixture(scope="module")
def ordinary() -> tuple[pl.DataFrame, pl.DataFrame, set[tuple[str, str]]]:
    """200 demo firms (name, city) and their true partners on the right."""
    from conftest import demo_tables

    left, right, truth = demo_tables()
    truth = truth.head(200)
    lsub = left.join(truth, left_on="id", right_on="left_id").select("id", "name", "city")
    rsub = right.join(truth.select("right_id"), left_on="id", right_on="right_id")
    return lsub, rsub.select("id", "name", "city"), set(truth.rows())


@pytest.mark.parametrize("search", SEARCHES)
def test_twins_mixed_with_ordinary_records_link(
    search: str,
    minilm: Encoder,
    ordinary: tuple[pl.DataFrame, pl.DataFrame, set[tuple[str, str]]],
) -> None:
    lsub, rsub, truth = ordinary
    left, right = pl.concat([lsub, stores(50, "LT")]), pl.concat([stores(30, "RT"), rsub])
    out = Linker(on=["name", "city"], id="id", model=minilm, ann=SEARCHES[search]).link(left, right)
    m = out.matches
    links = set(
        zip(
            left["id"].gather(m["left_row"]).to_list(),
            right["id"].gather(m["right_row"]).to_list(),
            strict=True,
        )
    )
    twin_links = {(a, b) for a, b in links if a.startswith("LT") or b.startswith("RT")}
    assert len(twin_links) == 30
    assert all(a.startswith("LT") and b.startswith("RT") for a, b in twin_links)
    assert len((links - twin_links) & truth) >= 180  # the ordinary firms still find theirs


@pytest.mark.parametrize("method", ["components", "centre", "average"])
def test_dedup_twins_mixed_with_ordinary_records(
    method: ClusterMethod,
    minilm: Encoder,
    ordinary: tuple[pl.DataFrame, pl.DataFrame, set[tuple[str, str]]],
) -> None:
    lsub, _, _ = ordinary
    copies = lsub.head(20).with_columns(id=pl.col("id") + "b")  # exact duplicates, in pairs
    df = pl.concat([lsub.head(100), stores(100, "T"), lsub.slice(100), copies])
    out = Linker(on=["name", "city"], id="id", model=minilm, cluster=method).dedup(df).frame
    cl = dict(zip(out["id"].to_list(), out["_cluster"].to_list(), strict=True))
    stores_cluster = {cl[f"T{i}"] for i in range(100)}
    assert len(stores_cluster) == 1
    assert sum(c in stores_cluster for c in cl.values()) == 100  # no other firm joins them
    assert all(cl[i] == cl[f"{i}b"] for i in lsub.head(20)["id"])
