from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from linker.blocking.rare_tokens import context_columns, token_neighbours
from linker.data.demo import make_demo
from linker.decide.runner import InProcess
from linker.vectors.ann import pair_dots
from linker.vectors.ngrams import NgramVectorizer, ngram_texts

ON = ["name", "street", "city", "state", "zip", "phone"]


def test_phones_in_other_formats_are_found() -> None:
    left = [pl.Series(["acme", "zeta"]), pl.Series(["(614) 452-3372", "+49 89 6916088"])]
    right = [
        pl.Series(["other", "firm", "names"]),
        pl.Series(["089 6916088", "none", "614.452.3372"]),
    ]
    assert token_neighbours(left, right, 1).tolist() == [[2], [0]]


def test_rarer_shared_keys_rank_first_and_ties_go_to_the_lower_row() -> None:
    left = [pl.Series(["common rare"])]
    right = [pl.Series(["common", "common", "common rare", "rare"])]
    # "common rare" shares both words and the word pair; rows 0 and 1 tie on "common"
    ids = token_neighbours(left, right, 4).tolist()
    assert ids[0][0] == 2 and ids[0][1] == 3 and ids[0][2:] == [0, 1]


def test_keys_are_per_column() -> None:
    left = [pl.Series(["1234"]), pl.Series([""])]
    right = [pl.Series([""]), pl.Series(["1234"])]
    assert token_neighbours(left, right, 1).tolist() == [[-1]]


def test_common_keys_are_dropped() -> None:
    left = [pl.Series(["inc"])]
    right = [pl.Series(["inc"] * 5)]
    assert (token_neighbours(left, right, 2, max_df=4) == -1).all()
    assert token_neighbours(left, right, 2, max_df=5).tolist() == [[0, 1]]


def test_budget_keeps_the_rarest_keys() -> None:
    left = [pl.Series(["a b", "a c"])]
    right = [pl.Series(["a", "a", "a", "b", "c"])]
    # "a" meets 3 right rows, "b" and "c" one each: a budget of 1 per left row keeps b, c
    ids = token_neighbours(left, right, 3, pairs_per_left=1)
    assert ids.tolist() == [[3, -1, -1], [4, -1, -1]]


def test_budget_is_per_left_row_and_keeps_each_rows_rarest_key() -> None:
    left = [pl.Series(["a b", "a"])]
    right = [pl.Series(["a", "a", "a", "b"])]
    # row 0 spends its budget on "b"; row 1 has only "a", over budget, and still joins on it
    ids = token_neighbours(left, right, 3, pairs_per_left=1)
    assert ids.tolist() == [[3, -1, -1], [0, 1, 2]]


def test_a_town_column_qualifies_common_names() -> None:
    names = pl.Series(["acme tools"] * 3 + ["beta", "gamma", "delta", "epsilon"])
    towns = pl.Series(["Austin", "austin", "Boston", "boston", "BOSTON", "Austin", "Boston"])
    assert context_columns([names, towns], max_df=2) == [1]
    left = [pl.Series(["Acme Tools"]), pl.Series(["Boston"])]
    # "acme tools" is held by 3 > max_df rows: only "acme tools" in Boston finds row 2
    assert token_neighbours(left, [names, towns], 2, max_df=2).tolist() == [[2, -1]]
    # a town alone is no key
    only_town = [pl.Series(["omega"]), pl.Series(["Boston"])]
    assert token_neighbours(only_town, [names, towns], 2, max_df=2).tolist() == [[-1, -1]]


def test_no_context_when_every_column_would_be_one() -> None:
    towns = pl.Series(["austin"] * 4)
    assert context_columns([towns, towns], max_df=2) == []
    assert context_columns([pl.Series(["a", "b", None, None])], max_df=2) == []


def test_score_ranks_the_candidates() -> None:
    left = [pl.Series(["common rare"])]
    right = [pl.Series(["common", "common", "common rare", "rare"])]
    by_row = token_neighbours(left, right, 4, score=lambda li, ri: ri.astype(np.float32))
    assert by_row.tolist() == [[3, 2, 1, 0]]
    # equal scores fall back to the summed IDF, then the lower row
    flat = token_neighbours(left, right, 4, score=lambda li, ri: np.zeros(len(ri), np.float32))
    assert flat.tolist() == [[2, 3, 0, 1]]


def test_nulls_and_empty_tables() -> None:
    left = [pl.Series([None, "acme"], dtype=pl.Utf8)]
    right = [pl.Series(["acme"])]
    assert token_neighbours(left, right, 1).tolist() == [[-1], [0]]
    empty = [pl.Series([], dtype=pl.Utf8)]
    assert token_neighbours(left, empty, 2).shape == (2, 2)
    assert token_neighbours(empty, right, 2).shape == (0, 2)
    assert np.all(token_neighbours(left, empty, 2) == -1)


def _typo_names(n: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` random three-word names, and each with one letter of every word changed."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    clean, typed = [], []
    for _ in range(n):
        words = ["".join(rng.choice(letters, int(rng.integers(7, 10)))) for _ in range(3)]
        clean.append(" ".join(words))
        bent = []
        for w in words:
            i = int(rng.integers(2, len(w) - 2))
            bent.append(w[:i] + ("x" if w[i] != "x" else "y") + w[i + 1 :])
        typed.append(" ".join(bent))
    return clean, typed


def test_band_keys_find_names_with_a_typo_in_every_word() -> None:
    clean, typed = _typo_names(200, seed=3)
    left, right = [pl.Series(clean)], [pl.Series(typed)]
    # no word is shared, so the words alone find nothing
    assert (token_neighbours(left, right, 1, fuzzy_columns=0) == -1).all()
    found = token_neighbours(left, right, 1)[:, 0] == np.arange(200)
    assert found.mean() >= 0.85  # about 0.97 expected for names this close (module docstring)


def test_each_row_holds_each_key_once() -> None:
    # repeated words (and a long number cut to the last digits of another) make one key, also
    # when conjoined with a context value: a repeat would count the key's holders twice
    from linker.blocking.rare_keys import table_keys as _keys

    names = pl.Series(["acme acme tools acme tools", "beta 12345678 2345678", None])
    towns = pl.Series(["springfield", "springfield", "austin"])
    keys = _keys([names, towns], contexts=[1], fuzzy=[0])
    assert keys.height == keys.unique().height
    assert set(keys["row"].to_list()) == {0, 1, 2}


def test_rarest_within_cuts_as_a_sort_and_running_sum_do() -> None:
    from linker._kernels import rarest_within

    rng = np.random.default_rng(2)
    n = 5000
    frame = pl.DataFrame(
        {
            "row": rng.integers(0, 300, n),
            "df_r": rng.integers(1, 40, n),
            "key": rng.choice(np.arange(10**6, dtype=np.uint64), n, replace=False),
        }
    ).with_row_index("at")
    first = pl.col("row") != pl.col("row").shift(1, fill_value=-1)
    total = pl.col("df_r").cum_sum()
    spent = total - pl.when(first).then(total - pl.col("df_r")).forward_fill()
    want = frame.sort(["row", "df_r", "key"]).filter((spent <= 60) | first)["at"].to_list()
    got = rarest_within(
        frame["row"].to_numpy(), frame["df_r"].to_numpy(), frame["key"].to_numpy(), 300, 60
    )
    assert got.tolist() == want


def test_best_per_group_ranks_as_the_sort_does() -> None:
    from linker._kernels import best_per_group

    rng = np.random.default_rng(4)
    n, groups, k = 6000, 200, 7
    frame = pl.DataFrame(
        {
            "g": rng.integers(0, groups, n),
            "item": rng.permutation(n),
            # few distinct values: many ties on the score, and on the weight too
            "score": rng.integers(0, 4, n).astype(np.float32) / 4,
            "weight": rng.integers(0, 3, n).astype(np.float32),
        }
    )
    ranked = (
        frame.sort(["g", "score", "weight", "item"], descending=[False, True, True, False])
        .with_columns(rank=pl.int_range(pl.len()).over("g"))
        .filter(pl.col("rank") < k)
    )
    want = np.full((groups, k), -1)
    want[ranked["g"].to_numpy(), ranked["rank"].to_numpy()] = ranked["item"].to_numpy()
    got = best_per_group(
        frame["g"].to_numpy(), frame["item"].to_numpy(), frame["score"].to_numpy(),
        frame["weight"].to_numpy(), groups + 1, k,
    )  # fmt: skip
    np.testing.assert_array_equal(got[:groups], want)
    assert (got[groups] == -1).all()  # a group without entries


def demo_columns(n: int, seed: int) -> tuple[list[pl.Series], list[pl.Series]]:
    """The compared columns of the demo firms, as the pipeline links them."""
    left, right, _ = make_demo(n, seed=seed)
    return [left[c] for c in ON], [right[c] for c in ON]


def ngram_cosine(left: list[pl.Series], right: list[pl.Series]):  # type: ignore[no-untyped-def]
    """The pair score the blocker passes: the n-gram TF-IDF cosine of the two records."""
    lm, rm = NgramVectorizer().fit_transform([ngram_texts(left), ngram_texts(right)])

    def score(li: npt.NDArray[np.int64], ri: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        return pair_dots(lm, rm, li, ri)

    return score


@pytest.mark.parametrize("workers", [2, 3])
def test_blocks_and_partitions_give_the_one_process_lists(workers: int) -> None:
    # the stages cut into blocks and key partitions as a cluster of `workers` cuts them, run
    # here one call after the other: the lists of the one-block, one-partition run, ties too
    left, right = demo_columns(1500, seed=5)
    assert context_columns(right, max_df=20) == [2, 3]  # the town and state qualify the keys
    split = InProcess()
    split.workers = workers
    assert context_columns(right, max_df=20, runner=split) == [2, 3]
    for score in (None, ngram_cosine(left, right)):
        kw = {"max_df": 20, "pairs_per_left": 40, "score": score}
        one = token_neighbours(left, right, 8, **kw)  # type: ignore[arg-type]
        many = token_neighbours(left, right, 8, runner=split, **kw)  # type: ignore[arg-type]
        assert (one[:, 0] >= 0).mean() > 0.95
        np.testing.assert_array_equal(many, one)
