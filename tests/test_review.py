"""The UI-free review session: queue order, decisions, undo, two sessions, retrain, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import linker as lk
from linker.errors import ConfigError, InputError
from linker.measures import threshold_curve
from linker.review import (
    EXPLANATIONS,
    ID,
    Linkage,
    ReviewSession,
    ReviewStore,
    clusters,
    export_config,
    export_labels,
    export_linked,
    field_diffs,
    histogram,
    linkage_from_merged,
    linkage_from_tables,
    linked_frame,
    retrain,
    waterfall,
)

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo"


def _linkage(kind: str = "link") -> Linkage:
    """Four left and four right firms, each left with two candidates; feature = score."""
    left = pl.DataFrame({ID: ["a", "b", "c", "d"], "name": ["=cmd()", "Bolt Co", "Cog", "Dyn"]})
    right = pl.DataFrame({ID: ["w", "x", "y", "z"], "name": ["Acme", "Bolt", "Cogs", "+Dyn"]})
    score = [0.9, 0.2, 0.55, 0.1, 0.48, 0.25, 0.7, 0.65]
    pairs = pl.DataFrame(
        {
            "left_id": ["a", "a", "b", "b", "c", "c", "d", "d"],
            "right_id": ["w", "x", "x", "y", "y", "z", "z", "w"],
            "sim": score, "score": score, "base_score": score,
        }
    )  # fmt: skip
    config = {"threshold": 0.5, "features": ["sim"], "left_on": ["name"], "right_on": ["name"],
              "how": "1:1"}  # fmt: skip
    return Linkage(kind, left, right, pairs, config)  # type: ignore[arg-type]


@pytest.fixture
def session(tmp_path: Path) -> ReviewSession:
    return ReviewSession.create(tmp_path / "r.sqlite", _linkage(), reviewer="ann")


def _queue(s: ReviewSession, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        p = s.current()
        assert p is not None
        out.append((p.left_id, p.right_id))
        s.decide("skip", pair=out[-1])
    return out


def test_queue_starts_closest_to_the_threshold(session: ReviewSession) -> None:
    # |score - 0.5|: 0.48 (c,y), 0.55 (b,x), 0.65 (d,w), 0.7 (d,z), 0.25 (c,z) ...
    assert _queue(session, 5) == [("c", "y"), ("b", "x"), ("d", "w"), ("d", "z"), ("c", "z")]


def test_decide_moves_on_and_survives_reopening(session: ReviewSession) -> None:
    session.decide("match", note="same firm")
    session.decide("non_match")
    assert session.progress() == {
        "total": 8, "decided": 2, "match": 1, "non_match": 1, "skip": 0, "remaining": 6,
    }  # fmt: skip
    again = ReviewSession(session.store.path.as_posix(), session.linkage_id)
    assert again.progress()["decided"] == 2
    assert again.pair("c", "y").label == "match"
    assert again.pair("c", "y").note == "same firm"
    assert again.current().left_id == "d"  # type: ignore[union-attr]


def test_undo_restores_the_previous_label_and_shows_the_pair_again(
    session: ReviewSession,
) -> None:
    session.decide("match", pair=("a", "w"))
    session.decide("non_match", pair=("a", "w"))
    back = session.undo()
    assert back is not None and (back.left_id, back.label) == ("a", "match")
    back = session.undo()
    assert back is not None and back.label is None
    assert session.current().right_id == "w"  # type: ignore[union-attr]
    assert session.undo() is None


def test_two_sessions_on_one_file_see_each_others_decisions(session: ReviewSession) -> None:
    other = ReviewSession(session.store.path.as_posix(), session.linkage_id, reviewer="bob")
    first = session.current()
    assert first is not None and other.current() == first
    other.decide("match", pair=(first.left_id, first.right_id))
    nxt = session.current()
    assert nxt is not None and (nxt.left_id, nxt.right_id) != (first.left_id, first.right_id)
    session.decide("non_match", pair=(first.left_id, first.right_id))  # same pair, later
    log = session.store.decisions(session.linkage_id)
    assert [(d.reviewer, d.label) for d in log] == [("bob", "match"), ("ann", "non_match")]
    assert other.pair(first.left_id, first.right_id).label == "non_match"


def test_undo_does_not_take_back_another_sessions_decision(session: ReviewSession) -> None:
    other = ReviewSession(session.store.path.as_posix(), session.linkage_id, reviewer="bob")
    other.decide("match", pair=("a", "w"))
    assert session.undo() is None
    assert session.pair("a", "w").label == "match"


def test_skipped_pairs_come_back_after_the_rest(session: ReviewSession) -> None:
    seen = _queue(session, 8)
    assert len(set(seen)) == 8
    again = session.current()  # all skipped: the first skipped pair again
    assert again is not None and again.label == "skip"
    for p in seen:
        session.decide("non_match", pair=p)
    assert session.current() is None
    with pytest.raises(InputError, match="nothing to decide"):
        session.decide("match")


def test_bad_label_order_and_pair_are_clear_errors(session: ReviewSession) -> None:
    with pytest.raises(ConfigError, match="label 'yes'"):
        session.decide("yes")
    with pytest.raises(InputError, match="not a pair"):
        session.decide("match", pair=("a", "z"))
    with pytest.raises(ConfigError, match="order='random'"):
        session.set_order("random")  # type: ignore[arg-type]


def test_disagreement_order_puts_the_largest_gap_first(tmp_path: Path) -> None:
    link = _linkage()
    link.pairs = link.pairs.with_columns(
        base_score=pl.Series([0.9, 0.2, 0.55, 0.9, 0.48, 0.3, 0.7, 0.65])
    )
    s = ReviewSession.create(tmp_path / "r.sqlite", link, order="disagreement")
    assert (s.current().left_id, s.current().right_id) == ("b", "y")  # type: ignore[union-attr]


def test_candidates_of_a_left_record(session: ReviewSession) -> None:
    session.decide("match", pair=("d", "z"))
    c = session.candidates_of("d")
    assert c.rows() == [("z", 0.7, "match"), ("w", 0.65, None)]


def test_retrain_learns_from_labels_and_reports_changes(session: ReviewSession) -> None:
    with pytest.raises(InputError, match="at least one match and one non-match"):
        retrain(session)
    # the reviewer says high "sim" is a non-match here: the opposite of the first scores
    session.decide("non_match", pair=("a", "w"))
    session.decide("non_match", pair=("d", "z"))
    session.decide("match", pair=("a", "x"))
    session.decide("match", pair=("b", "y"))
    other = ReviewSession(session.store.path.as_posix(), session.linkage_id)
    report = retrain(session)
    assert report.labels == 4 and report.matches == 2
    flipped = (session.scores >= 0.5) != (session.pairs["base_score"].to_numpy() >= 0.5)
    assert report.changed == int(flipped.sum())
    assert report.changed >= 1
    # the weights are non-negative (more similarity never lowers the score), so the model
    # cannot invert "sim"; what it can do is flatten the scores toward the middle
    assert report.agree_before == 0.0
    other.current()  # the other session picks up the new scores
    assert np.allclose(other.scores, session.scores)
    assert session.store.retrains(session.linkage_id)[0]["changed"] == report.changed


def test_views_histogram_curve_and_diffs(session: ReviewSession) -> None:
    h = histogram(session.scores, bins=10)
    assert h["count"].sum() == 8 and h.filter(pl.col("start") == 0.5)["count"][0] == 1
    c = threshold_curve(np.array([0.9, 0.6, 0.4]), np.array([1, 0, 1]), steps=11)
    row = c.filter(pl.col("threshold").round(2) == 0.5).row(0, named=True)
    assert (row["precision"], row["recall"]) == (0.5, 0.5)
    assert c.filter(pl.col("threshold") == 1.0)["precision"][0] is None
    d = field_diffs({"name": "Acme Tools Inc", "zip": None}, {"name": "Acme Tool Inc", "zip": "1"},
                    ["name", "zip"], ["name", "zip"])  # fmt: skip
    assert [x.status for x in d] == ["similar", "missing"]
    assert ("Tools", True) in d[0].left_spans and ("Acme ", False) in d[0].left_spans


def test_export_applies_decisions_and_neutralises_formulas(
    session: ReviewSession, tmp_path: Path
) -> None:
    before = linked_frame(session)
    assert before.filter(pl.col("_merge") == "both").select("name", "name_right").rows() == [
        ("=cmd()", "Acme"), ("Bolt Co", "Bolt"), ("Dyn", "+Dyn"),
    ]  # fmt: skip
    session.decide("non_match", pair=("a", "w"))
    session.decide("match", pair=("c", "y"), note="=HYPERLINK()")
    after = linked_frame(session).filter(pl.col("_merge") == "both")
    assert after.select("name", "name_right", "_review").rows() == [
        ("Bolt Co", "Bolt", None), ("Cog", "Cogs", "match"), ("Dyn", "+Dyn", None),
    ]  # fmt: skip
    out = export_linked(session, tmp_path / "out" / "linked.csv")
    text = out.read_text()
    assert "'=cmd()" in text and "'+Dyn" in text and "\n=cmd" not in text
    assert pl.read_parquet(export_linked(session, tmp_path / "l.parquet"))["name"][0] == "=cmd()"
    labels = pl.read_csv(export_labels(session, tmp_path / "labels.csv"))
    assert labels.select("left_id", "right_id", "label", "note").rows() == [
        ("a", "w", 0, ""), ("c", "y", 1, "'=HYPERLINK()"),
    ]  # fmt: skip
    assert labels["left_name"].to_list() == ["'=cmd()", "Cog"]
    config = json.loads(export_config(session, tmp_path / "config.json").read_text())
    assert config["cli"].startswith("linker merge LEFT.csv RIGHT.csv --on name --how 1:1")
    assert not list(tmp_path.glob("**/*.part"))  # no temp file left behind


def test_a_store_from_before_the_config_format_exports_a_linker_config(tmp_path: Path) -> None:
    link = _linkage()
    link.config = {  # what linkage_from_tables stored before the linker config format
        "command": "merge", "left": "a.csv", "right": "b.csv", "left_on": ["name"],
        "right_on": ["name"], "id": None, "how": "1:1", "threshold": 0.5, "k": 10,
        "features": ["sim"],
    }  # fmt: skip
    store = tmp_path / "r.sqlite"
    ReviewSession.create(store, link)
    session = ReviewSession(store.as_posix(), link.id)
    doc = json.loads(export_config(session, tmp_path / "config.json").read_text())
    assert doc["cli"] == (
        "linker merge a.csv b.csv --on name --how 1:1 --threshold 0.5 -k 10 -o linked.csv"
    )
    assert (doc["format_version"], doc["linkage"], doc["left"]) == (1, link.id, "a.csv")
    linker = lk.Linker.from_config(tmp_path / "config.json")
    assert (linker.left_on, linker.right_on, linker.how, linker.k) == (
        ["name"],
        ["name"],
        "1:1",
        10,
    )


def test_the_linkage_id_ignores_settings_left_at_their_defaults() -> None:
    link = _linkage()
    same = Linkage(link.kind, link.left, link.right, link.pairs, {**link.config, "k": 10,
                   "ann": None, "cluster": "components"})  # type: ignore[arg-type]  # fmt: skip
    other = Linkage(link.kind, link.left, link.right, link.pairs, {**link.config, "k": 5})  # type: ignore[arg-type]
    assert same.id == link.id != other.id


def test_a_review_export_reproduces_the_linkage(
    tmp_path: Path, firms: tuple[pl.DataFrame, pl.DataFrame], default_model: object
) -> None:
    left, right = firms
    link = linkage_from_tables(left, right, on=["name", "city"], id="id", threshold=0.4, k=3,
                               sources=("l.csv", "r.csv"))  # fmt: skip
    assert (link.config["left_on"], link.config["k"], link.config["left"]) == (
        ["name", "city"], 3, "l.csv",
    )  # fmt: skip
    session = ReviewSession.create(tmp_path / "r.sqlite", link)
    config = export_config(session, tmp_path / "config.json")
    again = lk.Linker.from_config(config, show_progress=False).link(left, right).pairs
    rescored = again.select(
        left["id"].gather(again["left_row"]).alias("left_id"),
        right["id"].gather(again["right_row"]).alias("right_id"),
        pl.col("score").cast(pl.Float64),
    ).sort("left_id", "right_id")
    assert rescored.equals(
        link.pairs.select("left_id", "right_id", "score").sort("left_id", "right_id")
    )


def test_dedup_export_and_clusters(tmp_path: Path) -> None:
    recs = pl.DataFrame({ID: ["0", "1", "2", "3"], "name": ["Ann", "Anne", "Bob", "Rob"]})
    pairs = pl.DataFrame({"left_id": ["0", "2", "1"], "right_id": ["1", "3", "2"],
                          "sim": [0.9, 0.45, 0.2], "score": [0.9, 0.45, 0.2],
                          "base_score": [0.9, 0.45, 0.2]})  # fmt: skip
    link = Linkage("dedup", recs, recs, pairs, {"threshold": 0.5, "features": ["sim"]})
    s = ReviewSession.create(tmp_path / "r.sqlite", link)
    c = clusters(s.left, s.pairs, threshold=0.5)
    assert c.filter(pl.col("_size") == 2)[ID].to_list() == ["0", "1"]
    s.decide("match", pair=("2", "3"))
    out = linked_frame(s)
    assert out["_cluster"].to_list() == [0, 0, 1, 1]


def test_linkage_from_merged_reads_a_merge_output(tmp_path: Path) -> None:
    left = pl.DataFrame({"id": ["L1", "L2", "L3"], "name": ["Acme Inc", "Bolt", "Cog Ltd"]})
    right = pl.DataFrame({"id": ["R1", "R2"], "name": ["ACME Inc.", "Cog Limited"], "x": [1, 2]})
    m = pl.DataFrame({"left_row": [0, 2], "right_row": [0, 1], "score": [0.9, 0.6]})
    from linker.pipeline.result import merged_frame

    merged = merged_frame(left, right, m)
    merged.write_csv(tmp_path / "m.csv")
    link = linkage_from_merged(tmp_path / "m.csv")
    assert link.left[ID].to_list() == ["L1", "L2", "L3"]
    assert link.right.columns == ["id", "name", "x", ID]
    assert link.pairs.select("left_id", "right_id", "score").rows() == [
        ("L1", "R1", 0.9), ("L3", "R2", 0.6),
    ]  # fmt: skip
    assert link.config["left_on"] == ["name"]
    assert link.pairs["name_token_set_ratio"][0] > 0.8
    assert link.id == linkage_from_merged(tmp_path / "m.csv").id  # reopening resumes
    with pytest.raises(InputError, match="not a `linker merge` output"):
        linkage_from_merged(left)


@pytest.mark.slow
def test_linkage_from_tables_on_the_demo_firms(tmp_path: Path) -> None:
    left = lk.read(DEMO / "left.csv").head(150)
    right = lk.read(DEMO / "right.csv").head(150)
    link = linkage_from_tables(left, right, on=["name", "city", "zip"], id="id")
    assert link.pairs["left_id"].str.starts_with("L").all()
    assert "name_ratio" in link.config["features"] and "score" not in link.config["features"]
    s = ReviewSession.create(tmp_path / "r.sqlite", link)
    first = s.current()
    assert first is not None
    assert abs(first.score - 0.5) == pytest.approx(np.abs(s.scores - 0.5).min())
    with pytest.raises(InputError, match="no column.*'nope'"):
        linkage_from_tables(left, right, on=["name"], id="nope")


def test_undo_after_reopening_takes_back_this_reviewers_last_decision(
    session: ReviewSession,
) -> None:
    session.decide("match", pair=("a", "w"))
    bob = ReviewSession(session.store.path.as_posix(), session.linkage_id, reviewer="bob")
    bob.decide("non_match", pair=("b", "x"))
    again = ReviewSession(session.store.path.as_posix(), session.linkage_id, reviewer="ann")
    back = again.undo()
    assert back is not None and (back.left_id, back.right_id) == ("a", "w")
    assert again.pair("b", "x").label == "non_match"  # bob's decision stays
    assert ReviewSession(session.store.path.as_posix(), session.linkage_id).undo() is None


@pytest.fixture(scope="module")
def explained() -> Linkage:
    """A zero-label link of 150 demo firms a side, plus a copy of the first left firm on the
    right (a twin: identical on every compared column)."""
    left = lk.read(DEMO / "left.csv").head(150)
    right = lk.read(DEMO / "right.csv").head(150)
    twin = left.head(1).with_columns(id=pl.lit("R-twin"))
    return linkage_from_tables(left, pl.concat([right, twin]), on=["name", "city", "zip"], id="id")


def _scores_from(why: pl.DataFrame) -> pl.DataFrame:
    """Each pair's probability, from its stored contributions."""
    total = why.group_by("left_id", "right_id").agg(pl.col("contribution").sum())
    return total.with_columns(explained=1 / (1 + (-pl.col("contribution")).exp()))


@pytest.mark.slow
def test_explain_is_a_waterfall_that_adds_up_to_the_score(
    explained: Linkage, session: ReviewSession, tmp_path: Path
) -> None:
    s = ReviewSession.create(tmp_path / "r.sqlite", explained)
    pair = s.current()
    assert pair is not None
    why = s.explain(pair)
    assert why is not None and not why.identical
    steps = why.steps
    assert steps.columns == ["feature", "value", "contribution", "total"]
    assert steps["feature"][0] == "prior" and steps.height >= 3  # prior, name, city+zip
    size = steps["contribution"].abs().to_list()[1:]
    assert size == sorted(size, reverse=True)  # features by absolute contribution
    assert np.allclose(steps["total"], np.cumsum(steps["contribution"]))
    assert why.probability == pytest.approx(pair.score, abs=1e-4)
    bars = waterfall(why)
    assert bars["bar"][0] == "prior" and bars["kind"][0] == "prior"
    assert bars["end"][-1] == pytest.approx(steps["total"][-1])
    named = bars.filter(~pl.col("bar").str.starts_with("others") & (pl.col("bar") != "prior"))
    assert (named["contribution"].abs() >= 0.05).all()  # the tiny ones are folded
    kinds = named.select((pl.col("contribution") >= 0) == (pl.col("kind") == "for"))
    assert kinds.to_series().all()
    # every stored pair's contributions add up to its first score
    both = s.pairs.join(_scores_from(explained.explanations), on=["left_id", "right_id"])  # type: ignore[arg-type]
    assert both.height == s.pairs.height
    assert np.allclose(both["explained"], both["base_score"], atol=1e-4)
    twin = s.explain(("L00001", "R-twin"))
    assert twin is not None and twin.identical and twin.probability == 1.0
    assert s.pair("L00001", "R-twin").score == 1.0
    assert session.explain(("a", "w")) is None  # built by hand: nothing to explain
    with pytest.raises(InputError, match="not a pair"):
        s.explain(("L00001", "nope"))


@pytest.mark.slow
def test_explanations_round_trip_through_the_store(explained: Linkage, tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    s = ReviewSession.create(path, explained)
    why = explained.explanations
    assert why is not None
    assert why.columns == ["left_id", "right_id", "feature", "value", "contribution"]
    store = ReviewStore(path)  # another connection, as a reopened app has
    back = store.frame(s.linkage_id, EXPLANATIONS)
    assert back.equals(why)  # +inf (the twin) and nulls (the prior's value) included
    twin = back.filter((pl.col("left_id") == "L00001") & (pl.col("right_id") == "R-twin"))
    assert twin["contribution"].to_list() == [np.inf]
    pair = s.current()
    assert pair is not None
    again = ReviewSession(store, s.linkage_id).explain(pair)
    assert again is not None and again.steps.equals(s.explain(pair).steps)  # type: ignore[union-attr]
    # a store saved without explanations (an older linker, a trained matcher) still opens
    old = Linkage(explained.kind, explained.left, explained.right, explained.pairs,
                  {**explained.config, "threshold": 0.4})  # fmt: skip
    s_old = ReviewSession.create(store, old)
    assert not store.has_frame(s_old.linkage_id, EXPLANATIONS)
    first = s_old.current()
    assert first is not None and s_old.explain(first) is None
    s_old.decide("match")
    assert s_old.progress()["decided"] == 1


@pytest.mark.slow
def test_dedup_explanations_follow_the_stored_pairs(tmp_path: Path) -> None:
    left, right = lk.read(DEMO / "left.csv").head(80), lk.read(DEMO / "right.csv").head(80)
    link = linkage_from_tables(pl.concat([left, right]), on=["name", "city", "zip"], id="id")
    assert link.explanations is not None
    both = link.pairs.join(_scores_from(link.explanations), on=["left_id", "right_id"])
    assert both.height == link.pairs.height  # one explanation per undirected pair
    assert np.allclose(both["explained"], both["base_score"], atol=1e-4)
    s = ReviewSession.create(tmp_path / "r.sqlite", link)
    pair = s.current()
    assert pair is not None and s.explain(pair) is not None
