from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest

from linker.errors import InputError
from linker.measures import evaluate

TRUTH = pl.DataFrame({"left_id": ["a", "b", "c", "d"], "right_id": ["1", "2", "3", "4"]})


def test_precision_recall_f1_on_crafted_pairs() -> None:
    pred = pl.DataFrame(
        {"left_id": ["a", "b", "c", "x", "y"], "right_id": ["1", "2", "9", "8", "7"]}
    )
    ev = evaluate(pred, TRUTH)
    assert (ev.true_positives, ev.false_positives, ev.false_negatives) == (2, 3, 2)
    assert ev.precision == pytest.approx(2 / 5)
    assert ev.recall == pytest.approx(2 / 4)
    assert ev.f1 == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert ev.pair_completeness == ev.recall
    assert ev.predicted == 5 and ev.truth == 4
    assert ev.reduction_ratio is None


def test_reduction_ratio() -> None:
    pred = pl.DataFrame({"left_id": ["a", "a", "b"], "right_id": ["1", "2", "2"]})
    ev = evaluate(pred, TRUTH, n_left=4, n_right=5)
    assert ev.reduction_ratio == pytest.approx(1 - 3 / 20)


def test_perfect_and_empty_predictions() -> None:
    assert evaluate(TRUTH, TRUTH).f1 == 1.0
    none = evaluate(TRUTH.clear(), TRUTH)
    assert (none.precision, none.recall, none.f1) == (0.0, 0.0, 0.0)


def test_duplicate_predictions_count_once() -> None:
    pred = pl.DataFrame({"left_id": ["a", "a"], "right_id": ["1", "1"]})
    ev = evaluate(pred, TRUTH)
    assert ev.predicted == 1 and ev.precision == 1.0


def test_only_both_rows_of_a_merged_frame_count() -> None:
    merged = pl.DataFrame(
        {
            "id": ["a", "b", "c", None],
            "id_right": ["1", "2", "3", "4"],
            "_merge": ["both", "left_only", "both", "right_only"],
        }
    )
    ev = evaluate(
        merged,
        TRUTH,
        left_id="id",
        right_id="id_right",
        truth_left_id="left_id",
        truth_right_id="right_id",
    )
    assert ev.predicted == 2  # ("b", "2") is not a link: its row is left_only
    assert ev.true_positives == 2 and ev.precision == 1.0 and ev.recall == 0.5


def test_ids_of_different_types_compare_as_text() -> None:
    pred = pl.DataFrame({"left_id": [1, 2], "right_id": [10, 20]})
    truth = pl.DataFrame({"left_id": ["1", "2"], "right_id": ["10", "30"]})
    assert evaluate(pred, truth).true_positives == 1


def test_paths_are_read(tmp_path: Path) -> None:
    TRUTH.write_csv(tmp_path / "truth.csv")
    TRUTH.head(2).write_parquet(tmp_path / "pred.parquet")
    ev = evaluate(tmp_path / "pred.parquet", str(tmp_path / "truth.csv"))
    assert ev.recall == 0.5 and ev.precision == 1.0


def test_empty_truth_is_input_error() -> None:
    with pytest.raises(InputError, match="truth"):
        evaluate(TRUTH, TRUTH.clear())


def test_missing_id_column_is_input_error() -> None:
    with pytest.raises(InputError, match="'lid'"):
        evaluate(TRUTH, TRUTH, left_id="lid")


def test_as_dict_has_every_measure() -> None:
    d = evaluate(TRUTH, TRUTH).as_dict()
    assert {"precision", "recall", "f1", "reduction_ratio", "true_positives"} <= set(d)


def test_same_left_and_right_id_name_reads_the_merge_right_copy() -> None:
    merged = pl.DataFrame({"id": ["L1", "L2", None], "id_right": ["R1", None, "R2"]}).with_columns(
        _merge=pl.Series(["both", "left_only", "right_only"])
    )
    truth = pl.DataFrame({"left_id": ["L1", "L2"], "right_id": ["R1", "R2"]})
    ev = evaluate(merged, truth, left_id="id", right_id="id")
    assert (ev.true_positives, ev.false_negatives) == (1, 1)


def test_same_id_name_without_a_right_copy_is_input_error() -> None:
    pairs = pl.DataFrame({"id": ["L1"], "other": ["R1"]})
    with pytest.raises(InputError, match="id_right"):
        evaluate(pairs, pairs, left_id="id", right_id="id")


def test_truth_ids_that_appear_nowhere_warn(caplog: pytest.LogCaptureFixture) -> None:
    pairs = pl.DataFrame({"left_id": ["L1"], "right_id": ["R1"]})
    truth = pl.DataFrame({"left_id": ["X1"], "right_id": ["R1"]})
    with caplog.at_level(logging.WARNING, logger="linker.measures"):
        ev = evaluate(pairs, truth)
    assert ev.recall == 0.0
    assert "none of the truth's left ids" in caplog.text
