"""Linker wiring: what is embedded, what is cached, progress callbacks, stage timings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

from linker.pipeline import Linker
from linker.serialize import wordy_columns

if TYPE_CHECKING:
    from conftest import HashingEncoder


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

    from linker.ann import pair_dots
    from linker.blocking import Blockers

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
