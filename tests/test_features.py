"""Pair features: each distinct value pair compared once gives what comparing every pair gives."""

from __future__ import annotations

import numpy as np
import polars as pl
from rapidfuzz import fuzz

from linker._kernels import first_seen
from linker.data.demo import make_demo
from linker.scoring.features import MISSING, column_features
from linker.vectors._keys import radix_sort, unique_codes


def test_each_pair_gets_the_similarity_of_its_own_values() -> None:
    left, right, _ = make_demo(500, seed=3)
    cols = ["name", "city", "state", "zip"]
    lcols = [left[c] for c in cols]
    rcols = [right[c].fill_null("") if c != "zip" else right[c] for c in cols]  # nulls too
    rng = np.random.default_rng(0)
    li = rng.integers(0, left.height, 3000)
    ri = rng.integers(0, right.height, 3000)
    got = column_features(lcols, rcols, li, ri, names=cols, chunk_size=97)
    for name, lc, rc in zip(cols, lcols, rcols, strict=True):
        a, b = lc.gather(li).to_list(), rc.gather(ri).to_list()
        for scorer in ("ratio", "token_set_ratio"):
            want = np.array(
                [
                    MISSING if not x or not y else np.float32(getattr(fuzz, scorer)(x, y)) / 100
                    for x, y in zip(a, b, strict=True)
                ],
                dtype=np.float32,
            )
            np.testing.assert_array_equal(got[f"{name}_{scorer}"], want, err_msg=name)


def test_no_pairs_give_empty_features() -> None:
    none = np.zeros(0, np.int64)
    got = column_features([pl.Series(["a"])], [pl.Series(["b"])], none, none, names=["n"])
    assert {k: len(v) for k, v in got.items()} == {"n_ratio": 0, "n_token_set_ratio": 0}


def test_first_seen_numbers_keys_as_unique_does() -> None:
    keys = np.random.default_rng(1).integers(-50, 50, 10_000) * 1_000_003
    ids, first = first_seen(keys)
    assert np.array_equal(keys[first][ids], keys)
    assert np.array_equal(first, np.sort(np.unique(keys, return_index=True)[1]))
    assert np.all(np.diff(first) > 0)  # numbered in order of first appearance


def test_radix_sort_sorts_as_numpy_does() -> None:
    rng = np.random.default_rng(2)
    for bits in (1, 9, 40, 64):
        keys = rng.integers(0, 2**63, 5000, dtype=np.uint64) >> np.uint64(64 - bits)
        keys[::7] = keys[0]  # repeats
        assert np.array_equal(radix_sort(keys.copy()), np.sort(keys))
    assert radix_sort(np.zeros(0, np.uint64)).tolist() == []


def test_unique_codes_is_np_unique_and_leaves_its_input() -> None:
    codes = np.random.default_rng(3).integers(0, 10**12, 20_000)
    codes[::3] = codes[1]
    before = codes.copy()
    assert np.array_equal(unique_codes(codes), np.unique(codes))
    assert np.array_equal(codes, before)
    assert unique_codes(np.zeros(0, np.int64)).tolist() == []
