from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
import scipy.sparse as sp

from linker.blocking.blockers import Blockers, Representations, block, key_groups
from linker.blocking.twins import twin_codes
from linker.errors import ConfigError
from linker.vectors.ann import search
from linker.vectors.ngrams import NgramVectorizer


def unit(rng: np.random.Generator, n: int, d: int = 16) -> npt.NDArray[np.float32]:
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def as_lists(groups: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[list[int], list[int]]]:
    return [(a.tolist(), b.tolist()) for a, b in groups]


# ----------------------------------------------------------------------------- key_groups


def test_key_groups_match_on_every_key_column() -> None:
    left = pl.DataFrame({"s": ["MA", "MA", "TX", "CA"], "t": ["x", "y", "x", "x"]})
    right = pl.DataFrame({"s": ["MA", "TX", "MA", "NY"], "t": ["x", "x", "y", "x"]})
    groups = as_lists(key_groups(left, right, n_left=4, n_right=4))
    assert sorted(groups) == [([0], [0]), ([1], [2]), ([2], [1])]  # CA and NY find nobody


def test_key_groups_null_keys_search_the_whole_other_side() -> None:
    left = pl.DataFrame({"s": ["MA", None, "TX"]})
    right = pl.DataFrame({"s": ["TX", "MA", None, "MA"]})
    groups = as_lists(key_groups(left, right, n_left=3, n_right=4))
    # keyed blocks hold their own right rows, then the null-key right rows
    assert ([0], [1, 3, 2]) in groups
    assert ([2], [0, 2]) in groups
    assert ([1], [0, 1, 2, 3]) in groups  # the null-key left row meets every right row
    # every keyed left row also meets the null-key right row
    covered = {(a, b) for ls, rs in groups for a in ls for b in rs}
    assert (0, 2) in covered and (2, 2) in covered
    # and never a right row of another state
    assert (0, 0) not in covered and (2, 1) not in covered


def test_key_groups_null_in_one_of_two_columns_counts_as_null() -> None:
    left = pl.DataFrame({"s": ["MA", "MA"], "t": ["x", None]})
    right = pl.DataFrame({"s": ["MA", "MA"], "t": ["x", "y"]})
    groups = as_lists(key_groups(left, right, n_left=2, n_right=2))
    assert ([0], [0]) in groups
    assert ([1], [0, 1]) in groups


def test_key_groups_differently_named_and_typed_keys() -> None:
    left = pl.DataFrame({"zip": [1, 2]})
    right = pl.DataFrame({"postcode": ["2", "1", "3"]})
    assert sorted(as_lists(key_groups(left, right, n_left=2, n_right=3))) == [
        ([0], [1]),
        ([1], [0]),
    ]


def test_key_groups_without_keys_is_one_block() -> None:
    assert as_lists(key_groups(None, None, n_left=2, n_right=3)) == [([0, 1], [0, 1, 2])]


# ----------------------------------------------------------------------------- block


@pytest.fixture
def reps() -> tuple[Representations, Representations]:
    rng = np.random.default_rng(3)
    words = ["acme", "zeta", "blue", "sky", "orion", "labs", "corp", "inc", "tools", "harbor"]
    lt = [" ".join(rng.choice(words, 3)) for _ in range(40)]
    rt = [" ".join(rng.choice(words, 3)) for _ in range(50)]
    vec = NgramVectorizer().fit(lt + rt)
    return (
        Representations(unit(rng, 40), vec.transform(lt)),
        Representations(unit(rng, 50), vec.transform(rt)),
    )


def test_block_keeps_each_blockers_top_k_and_fills_the_budget(
    reps: tuple[Representations, Representations],
) -> None:
    left, right = reps
    k = 4
    pairs = block(left, right, k=k).pairs
    got = set(pairs.select("left_row", "right_row").iter_rows())
    top_k, top_2k = set(), set()
    for q, items in ((left.dense, right.dense), (left.sparse, right.sparse)):
        ids, _ = search(q, items, 2 * k)
        top_k |= {(i, int(j)) for i, row in enumerate(ids) for j in row[:k]}
        top_2k |= {(i, int(j)) for i, row in enumerate(ids) for j in row}
    assert top_k <= got <= top_2k  # every blocker's top k, the rest from the next-best
    per_left = pairs.group_by("left_row").len()["len"]
    assert per_left.min() == per_left.max() == 2 * k  # the budget is filled
    assert pairs.select("left_row", "right_row").rows() == sorted(got)


def test_block_similarities_are_the_cosines(reps: tuple[Representations, Representations]) -> None:
    left, right = reps
    pairs = block(left, right, k=3).pairs
    li, ri = pairs["left_row"].to_numpy(), pairs["right_row"].to_numpy()
    dense = np.clip((left.dense[li] * right.dense[ri]).sum(axis=1), 0, 1)
    ngram = np.asarray(left.sparse[li].multiply(right.sparse[ri]).sum(axis=1)).ravel()
    np.testing.assert_allclose(pairs["dense_sim"].to_numpy(), dense, atol=1e-6)
    np.testing.assert_allclose(pairs["ngram_sim"].to_numpy(), np.clip(ngram, 0, 1), atol=1e-6)


def test_block_one_blocker_switched_off(reps: tuple[Representations, Representations]) -> None:
    left, right = reps
    pairs = block(Representations(left.dense, None), Representations(right.dense, None), k=2).pairs
    assert pairs.columns == ["left_row", "right_row", "dense_sim", "twin"]
    assert not pairs["twin"].any()  # no columns: no twins
    assert pairs.height == 2 * 40


def test_block_respects_groups(reps: tuple[Representations, Representations]) -> None:
    left, right = reps
    groups = [(np.arange(0, 20), np.arange(0, 25)), (np.arange(20, 40), np.arange(25, 50))]
    pairs = block(left, right, k=5, groups=groups).pairs
    same = (pairs["left_row"] < 20) == (pairs["right_row"] < 25)
    assert same.all()
    assert pairs["left_row"].n_unique() == 40


def test_block_self_join_never_pairs_a_row_with_itself() -> None:
    rng = np.random.default_rng(0)
    dense = unit(rng, 30)
    dense[5] = dense[4]  # an exact duplicate pair
    texts = [f"firm {i % 7}" for i in range(30)]
    sparse = NgramVectorizer().fit(texts).transform(texts)
    r = Representations(dense, sparse)
    pairs = block(r, r, k=3, self_join=True).pairs
    assert (pairs["left_row"] != pairs["right_row"]).all()
    got = set(pairs.select("left_row", "right_row").iter_rows())
    assert (4, 5) in got and (5, 4) in got
    assert pairs["left_row"].n_unique() == 30


def test_block_self_join_within_groups() -> None:
    rng = np.random.default_rng(1)
    dense = unit(rng, 6)
    r = Representations(dense, None)
    groups = key_groups(
        pl.DataFrame({"s": ["a", "a", "b", "b", "b", None]}),
        pl.DataFrame({"s": ["a", "a", "b", "b", "b", None]}),
        n_left=6,
        n_right=6,
    )
    pairs = block(r, r, k=5, groups=groups, self_join=True).pairs
    assert (pairs["left_row"] != pairs["right_row"]).all()
    got = set(pairs.select("left_row", "right_row").iter_rows())
    assert (0, 2) not in got and (2, 0) not in got
    assert {(0, 1), (2, 3), (2, 4), (5, 0), (0, 5)} <= got


def test_block_empty_group_is_skipped() -> None:
    v = np.eye(3, dtype=np.float32)
    groups = [(np.arange(0, 0), np.arange(3)), (np.arange(3), np.arange(0, 0))]
    pairs = block(Representations(v, None), Representations(v, None), groups=groups).pairs
    assert pairs.height == 0


def test_block_keeps_k_per_blocker_when_right_keys_are_null() -> None:
    rng = np.random.default_rng(2)
    left = Representations(unit(rng, 4), None)
    right = Representations(unit(rng, 8), None)
    groups = key_groups(
        pl.DataFrame({"s": ["a", "a", "b", "b"]}),
        pl.DataFrame({"s": ["a", "a", "b", "b", None, None, None, None]}),
        n_left=4,
        n_right=8,
    )
    pairs = block(left, right, k=1, groups=groups).pairs
    assert pairs.group_by("left_row").len()["len"].max() <= 1


def test_sparse_representations_are_csr() -> None:
    m = NgramVectorizer().fit(["acme corp", "zeta"]).transform(["acme corp"])
    assert sp.issparse(m) and m.dtype == np.float32
    assert abs(float(m.multiply(m).sum()) - 1.0) < 1e-5


# ----------------------------------------------------------------------------- Blockers


def test_blockers_choose_lists_by_right_size() -> None:
    b = Blockers(dense_below=100, tokens_from=50)
    assert b.lists(10, dense=True, sparse=True, columns=True) == ["dense", "ngram"]
    assert b.lists(60, dense=True, sparse=True, columns=True) == ["dense", "ngram", "tokens"]
    assert b.lists(100, dense=True, sparse=True, columns=True) == ["ngram", "tokens"]
    assert b.lists(100, dense=True, sparse=True, columns=False) == ["ngram"]
    # the embedding list stays when nothing else is there
    assert b.lists(100, dense=True, sparse=False, columns=False) == ["dense"]
    assert Blockers(dense_below=None, tokens_from=None).lists(
        10**9, dense=True, sparse=True, columns=True
    ) == ["dense", "ngram"]
    # large blocks: the rare-token list alone, the n-gram list only where there is none
    alone = Blockers(dense_below=100, tokens_from=50, ngram_below=80)
    assert alone.lists(79, dense=True, sparse=True, columns=True) == ["dense", "ngram", "tokens"]
    assert alone.lists(100, dense=True, sparse=True, columns=True) == ["tokens"]
    assert alone.lists(100, dense=True, sparse=True, columns=False) == ["ngram"]
    assert Blockers(tokens_from=50, ngram_below=None).lists(
        10**9, dense=True, sparse=True, columns=True
    ) == ["ngram", "tokens"]


def test_bad_blockers_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="token_max_df"):
        Blockers(token_max_df=0)


def _firms() -> tuple[Representations, Representations, list[str], list[str]]:
    lt = ["acme tools 614 452 3372", "zeta labs 030 1234567", "orion corp 555 0000"]
    rt = ["zeta lab 0301234567", "acme tool (614) 452-3372", "blue sky 777 1111", "orion co"]
    vec = NgramVectorizer().fit(lt + rt)
    rng = np.random.default_rng(5)

    def side(texts: list[str]) -> Representations:
        cols = [pl.Series(texts)]
        return Representations(unit(rng, len(texts)), vec.transform(texts), columns=cols)

    return side(lt), side(rt), lt, rt


def test_block_with_the_token_list() -> None:
    left, right, _, _ = _firms()
    only_tokens = Blockers(dense_below=0, tokens_from=0)
    pairs = block(left, right, k=1, blockers=only_tokens).pairs
    got = set(pairs.select("left_row", "right_row").iter_rows())
    assert {(0, 1), (1, 0)} <= got  # the shared phone numbers
    assert pairs.columns == ["left_row", "right_row", "dense_sim", "ngram_sim", "twin"]
    assert pairs.group_by("left_row").len()["len"].max() <= 2  # k per list, two lists


def test_block_self_join_with_the_token_list_never_pairs_a_row_with_itself() -> None:
    left, _, _, _ = _firms()
    pairs = block(left, left, k=2, self_join=True, blockers=Blockers(tokens_from=0)).pairs
    assert (pairs["left_row"] != pairs["right_row"]).all()


def test_block_tokens_within_groups() -> None:
    left, right, _, _ = _firms()
    groups = [(np.array([0]), np.array([1, 2])), (np.array([1, 2]), np.array([0, 3]))]
    pairs = block(left, right, k=1, groups=groups, blockers=Blockers(tokens_from=0)).pairs
    got = set(pairs.select("left_row", "right_row").iter_rows())
    assert (0, 1) in got and (1, 0) in got
    assert all((a == 0) == (b in (1, 2)) for a, b in got)


# ----------------------------------------------------------------------------- exact twins


def texts_side(
    texts: list[str], vec: NgramVectorizer, extra: list[str] | None = None
) -> Representations:
    """A side whose vectors come from its texts alone: equal texts get equal vectors, as from a
    real encoder."""
    cols = [pl.Series(texts)] + ([pl.Series(extra)] if extra is not None else [])
    sparse = vec.transform(texts)
    dense = np.asarray(sparse[:, :16].todense(), dtype=np.float32) + 1e-3
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    return Representations(dense, sparse, columns=cols)


def pairs_of(frame: pl.DataFrame) -> set[tuple[int, int]]:
    return set(frame.select("left_row", "right_row").iter_rows())


def test_identical_rows_all_meet_whatever_k() -> None:
    texts = ["starbucks coffee"] * 300
    vec = NgramVectorizer().fit(texts)
    side = texts_side(texts, vec)
    k = 3
    pairs = block(side, side, k=k).pairs
    got = pairs_of(pairs)
    assert {(i, i) for i in range(300)} <= got  # a one-to-one assignment can link all 300
    assert pairs["twin"].all()
    assert pairs.height <= 300 * 3 * k  # the 2k budget plus k twins per turn, not 300 x 300


def test_chain_store_twins_meet_every_twin_of_the_smaller_side() -> None:
    rng = np.random.default_rng(7)
    words = ["acme", "zeta", "orion", "labs", "corp", "tools", "harbor", "blue", "sky"]
    others = [" ".join(rng.choice(words, 3)) + f" {i}" for i in range(50)]
    left_t = others[:25] + ["starbucks coffee seattle"] * 60
    right_t = ["starbucks coffee seattle"] * 40 + others[25:]
    vec = NgramVectorizer().fit(left_t + right_t)
    pairs = block(texts_side(left_t, vec), texts_side(right_t, vec), k=2).pairs
    twins = pairs.filter(pl.col("twin"))
    # every twin on both sides meets one, and left twin t meets right twin t
    assert set(twins["left_row"]) == set(range(25, 85))
    assert set(twins["right_row"]) == set(range(40))
    assert {(25 + t, t) for t in range(40)} <= pairs_of(twins)
    # only the twin pairs are flagged
    assert not pairs.filter((pl.col("left_row") < 25) | (pl.col("right_row") >= 40))["twin"].any()


def test_twin_flag_needs_every_compared_column_and_a_nonempty_record() -> None:
    # pair 0-0: same name and city (twins); 1-1: same name, other city; 2-2: both empty
    names, cities = ["acme corp", "zeta ltd", ""], ["boston", "paris", ""]
    rnames, rcities = ["acme corp", "zeta ltd", ""], ["boston", "lyon", ""]
    vec = NgramVectorizer().fit(names[:2] + ["x"])
    left = texts_side(names, vec, cities)
    right = texts_side(rnames, vec, rcities)
    pairs = block(left, right, k=3).pairs
    twin = {(a, b) for a, b, t in pairs.select("left_row", "right_row", "twin").rows() if t}
    assert twin == {(0, 0)}
    lc, rc = twin_codes(left.columns or [], right.columns or [])
    assert lc.tolist()[1:] == [-1, -1] and rc.tolist()[1:] == [-1, -1]


def test_twins_found_by_the_neighbour_lists_are_flagged_too() -> None:
    texts = ["acme corp", "zeta ltd", "acme corp"]
    vec = NgramVectorizer().fit(texts)
    side = texts_side(texts, vec)
    pairs = block(side, side, k=2, self_join=True).pairs
    flags = {(a, b): t for a, b, t in pairs.select("left_row", "right_row", "twin").rows()}
    assert flags[(0, 2)] and flags[(2, 0)]
    assert not any(t for (a, b), t in flags.items() if 1 in (a, b))


def test_self_join_twins_form_one_connected_group_without_self_pairs() -> None:
    from linker.decide.assign import connected_components

    texts = ["starbucks coffee"] * 300 + [f"firm {i}" for i in range(20)]
    vec = NgramVectorizer().fit(texts)
    side = texts_side(texts, vec)
    pairs = block(side, side, k=2, self_join=True).pairs
    assert (pairs["left_row"] != pairs["right_row"]).all()
    twins = pairs.filter(pl.col("twin"))
    labels = connected_components(320, twins["left_row"].to_numpy(), twins["right_row"].to_numpy())
    assert len(set(labels[:300].tolist())) == 1
    assert pairs.height < 300 * 20  # a star, not all 300 x 299 pairs


def test_twins_stay_within_their_key_block() -> None:
    texts = ["starbucks coffee"] * 20
    vec = NgramVectorizer().fit(texts)
    side = texts_side(texts, vec)
    keys = pl.DataFrame({"s": ["a"] * 10 + ["b"] * 10})
    groups = key_groups(keys, keys, n_left=20, n_right=20)
    pairs = block(side, side, k=2, groups=groups).pairs
    assert ((pairs["left_row"] < 10) == (pairs["right_row"] < 10)).all()
    assert {(i, i) for i in range(20)} <= pairs_of(pairs)


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("self_join", [False, True])
def test_token_list_similarities_read_back_are_the_cosines(grouped: bool, self_join: bool) -> None:
    from linker.data.demo import make_demo
    from linker.vectors.ann import pair_dots

    left_df, right_df, _ = make_demo(600, seed=4)
    if self_join:
        right_df = left_df
    cols = ["name", "street", "city", "zip"]

    def texts(df: pl.DataFrame) -> list[str]:
        return df.select(pl.concat_str(cols, separator=" ", ignore_nulls=True))[:, 0].to_list()

    vec = NgramVectorizer().fit(texts(left_df) + texts(right_df))
    rng = np.random.default_rng(0)

    def side(df: pl.DataFrame) -> Representations:
        columns = [df[c].fill_null("") for c in cols]
        return Representations(unit(rng, df.height), vec.transform(texts(df)), columns=columns)

    left = side(left_df)
    right = left if self_join else side(right_df)
    groups = key_groups(
        left_df.select("state"), right_df.select("state"), n_left=left_df.height,
        n_right=right_df.height,
    ) if grouped else None  # fmt: skip
    only_tokens = Blockers(dense_below=0, tokens_from=0, ngram_below=0)
    pairs = block(left, right, k=3, groups=groups, self_join=self_join, blockers=only_tokens).pairs
    assert pairs.height > 3 * left_df.height
    li, ri = pairs["left_row"].to_numpy(), pairs["right_row"].to_numpy()
    for name, lv, rv in (
        ("ngram_sim", left.sparse, right.sparse),
        ("dense_sim", left.dense, right.dense),
    ):
        want = np.clip(pair_dots(lv, rv, li, ri), 0, 1)
        np.testing.assert_array_equal(pairs[name].to_numpy(), want)
