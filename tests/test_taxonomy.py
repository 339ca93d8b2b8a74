"""Taxonomy loading and validation: tables, pairs, OBO; cycles, orphans, duplicates rejected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from linker.errors import ConfigError, InputError, NotFittedError
from linker.taxonomy import Taxonomy, TaxonomyMatcher, as_taxonomy, read_obo
from linker.taxonomy.api import as_examples, as_phrases
from linker.taxonomy.matcher import qualifier
from linker.taxonomy.nodes import build_prototypes
from linker.taxonomy.score import HierarchyParams, back_off, rank_pairs
from linker.vectors.embed import Encoder

OBO = """format-version: 1.2
ontology: mini

[Term]
id: DOID:4
name: disease
def: "A disposition to undergo pathological processes." [url:x]

[Term]
id: DOID:1287
name: cardiovascular system disease
synonym: "heart and blood vessel disease" EXACT []
is_a: DOID:4 ! disease

[Term]
id: DOID:114
name: heart disease
synonym: "cardiac disease" EXACT []
synonym: "disorder of heart" RELATED []
is_a: DOID:1287 ! cardiovascular system disease
is_a: BFO:0000016 ! disposition (not defined here)

[Term]
id: DOID:999
name: old term
is_obsolete: true

[Typedef]
id: part_of
name: part of
"""


def table(**cols: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(cols, schema=dict.fromkeys(cols, pl.String))


def test_table_with_synonyms_and_paths() -> None:
    t = Taxonomy.from_table(
        table(
            id=["thing", "agent", "org", "company"],
            label=["Thing", "Agent", "Organisation", "Company"],
            parent=[None, "thing", "agent", "org"],
            syn=[None, None, "organization", "firm|business"],
            desc=[None, None, None, "A business."],
        ),
        synonyms="syn",
        description="desc",
    )
    company = t.index["company"]
    assert t.path(company) == "Thing > Agent > Organisation > Company"
    assert t.synonyms[company] == ("firm", "business")
    assert t.depth.tolist() == [0, 1, 2, 3]
    assert t.distance(company, t.index["agent"]) == 2
    assert t.subsumes(t.index["thing"], company)


def test_duplicate_ids_name_the_rows() -> None:
    with pytest.raises(InputError, match=r"'b' at rows \[1, 2\]"):
        Taxonomy.from_table(table(id=["a", "b", "b"], label=["A", "B", "B2"]))


def test_orphans_name_the_missing_parent() -> None:
    with pytest.raises(InputError, match=r"orphans.*'b' \(row 1\) -> parent 'zzz'"):
        Taxonomy.from_table(table(id=["a", "b"], label=["A", "B"], parent=[None, "zzz"]))


def test_cycles_are_rejected_with_the_cycle_shown() -> None:
    with pytest.raises(InputError, match=r"cycle \('b' -> 'c' -> 'd' -> 'b'"):
        Taxonomy(["a", "b", "c", "d"], ["A", "B", "C", "D"], [None, ["c"], ["d"], ["b"]])
    with pytest.raises(InputError, match="cycle"):
        Taxonomy.from_pairs([("x", "x")])


def test_empty_labels_and_null_ids_are_rejected() -> None:
    with pytest.raises(InputError, match="no label"):
        Taxonomy(["a", "b"], ["A", " "])
    with pytest.raises(InputError, match="no id"):
        Taxonomy.from_table(table(id=["a", None], label=["A", "B"]))
    with pytest.raises(InputError, match="missing|column"):
        Taxonomy.from_table(table(node=["a"], label=["A"]))


def test_from_pairs_and_multiple_parents() -> None:
    t = Taxonomy.from_pairs(
        pl.DataFrame({"child": ["dog", "dog", "mammal", "pet"], "parent": ["mammal", "pet",
                      "animal", "animal"]}),
        labels={"dog": "Dog"},
    )  # fmt: skip
    dog = t.index["dog"]
    assert t.labels[dog] == "Dog"
    assert t.path(dog) == "animal > mammal > Dog"  # the first parent gives the path
    assert {t.ids[a] for a in t.ancestors(dog)} == {"mammal", "pet", "animal"}


def test_obo_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "mini.obo"
    path.write_text(OBO, encoding="utf-8")
    t = read_obo(path)
    assert len(t) == 3  # the obsolete term is skipped
    heart = t.index["DOID:114"]
    assert t.path(heart) == "disease > cardiovascular system disease > heart disease"
    assert t.synonyms[heart] == ("cardiac disease", "disorder of heart")
    assert t.descriptions[t.index["DOID:4"]] == "A disposition to undergo pathological processes."
    assert as_taxonomy(str(path)).ids == t.ids


def test_obo_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Cannot read OBO"):
        read_obo(tmp_path / "missing.obo")
    bad = tmp_path / "bad.obo"
    bad.write_text("[Term]\nid: X:1\nthis line has no tag\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.obo:3"):
        read_obo(bad)
    cyc = tmp_path / "cyc.obo"
    cyc.write_text("[Term]\nid: A\nname: a\nis_a: B\n\n[Term]\nid: B\nname: b\nis_a: A\n")
    with pytest.raises(InputError, match="cycle"):
        read_obo(cyc)


def test_prototypes_hold_label_synonyms_context_and_examples() -> None:
    t = Taxonomy(["a", "b"], ["Animal", "Dog"], [None, ["a"]], synonyms=[[], ["hound"]])
    p = build_prototypes(t, [("puppy", 1), ("Dog", 1)])
    assert p.kind == ("label", "label", "synonym", "context", "example")
    assert p.lexical.tolist() == [True, True, True, False, True]
    assert build_prototypes(t, use_context=False).texts == ("Animal", "Dog", "hound")


def test_back_off_moves_a_weak_answer_to_the_common_parent() -> None:
    t = Taxonomy(["dog", "beagle", "poodle"], ["Dog", "Beagle", "Poodle"],
                 [None, ["dog"], ["dog"]])  # fmt: skip
    ids, scores = np.array([[1, 2, 0]]), np.array([[0.40, 0.39, 0.2]], np.float32)
    new, new_scores, off = back_off(t, ids, scores, HierarchyParams())
    assert new[0].tolist() == [0, 1, 2] and off.tolist() == [True]
    assert new_scores[0, 0] == pytest.approx(0.40)
    # confident answers and disabled back-off keep the ranking
    assert back_off(t, ids, scores + 0.5, HierarchyParams())[2].tolist() == [False]
    off_params = HierarchyParams(backoff_threshold=None)
    assert back_off(t, ids, scores, off_params)[0].tolist() == ids.tolist()


def test_back_off_keeps_the_answer_when_no_node_holds_the_weight() -> None:
    # three trees: a weak answer whose weight is split between them has no ancestor to go to
    # (this raised IndexError before)
    t = Taxonomy.from_pairs([("planet", "body"), ("deity", "figure"), ("element", "substance")])
    rows = [t.index[n] for n in ("planet", "deity", "element")]
    ids = np.array([rows, rows[::-1]])
    scores = np.array([[0.40, 0.39, 0.38], [0.30, 0.29, 0.28]], np.float32)
    new, new_scores, off = back_off(t, ids, scores, HierarchyParams())
    assert new.tolist() == ids.tolist() and off.tolist() == [False, False]
    assert new_scores.tolist() == scores.tolist()


def test_qualifier_is_the_trailing_parenthesis() -> None:
    assert qualifier("Mercury (mythology)") == "mythology"
    assert qualifier("Canal 10 (Salvadoran TV channel) ") == "Salvadoran TV channel"
    assert qualifier("adult (pornographic) actor") is None  # not at the end
    assert qualifier("(1814)") is None  # no head before it
    assert qualifier("Campaign (1814)") == "1814"
    assert qualifier("f(x) ()") is None and qualifier("plain") is None


def test_rank_pairs_pads_and_breaks_ties_by_node() -> None:
    ids, scores = rank_pairs(
        np.array([0, 0, 0, 2]), np.array([5, 3, 4, 1]),
        np.array([0.5, 0.5, 0.9, 0.1], np.float32), 3,
    )  # fmt: skip
    assert ids.tolist() == [[4, 3, 5], [-1, -1, -1], [1, -1, -1]]
    assert np.isnan(scores[1]).all()


def test_inputs_are_coerced() -> None:
    assert as_phrases(pl.DataFrame({"x": ["a"], "phrase": ["b"]}))[0] == ["b"]
    assert as_phrases(pl.Series(["a", None]))[0] == ["a", ""]
    assert as_examples([("hound", "dog")]) == [("hound", "dog")]
    with pytest.raises(InputError, match="node_id"):
        as_examples(pl.DataFrame({"phrase": ["x"], "node": ["dog"]}))


def test_predict_before_fit_and_unknown_example_nodes() -> None:
    t = Taxonomy.from_labels(["dog", "cat"])
    with pytest.raises(NotFittedError, match="fit"):
        TaxonomyMatcher().predict(["x"])
    with pytest.raises(InputError, match=r"row 1: 'bird'"):
        TaxonomyMatcher().fit(t, [("hound", "dog"), ("robin", "bird")])


def test_matcher_edges_with_a_small_fake_encoder(hashing_encoder: object) -> None:
    one = Taxonomy.from_labels(["only node"])
    m = TaxonomyMatcher(hashing_encoder).fit(one)  # type: ignore[arg-type]
    empty = m.predict(["", "  "], top_k=3)
    assert (empty.nodes == -1).all() and np.isnan(empty.scores).all()
    got = m.predict(["only", "node", ""], top_k=2)
    assert got.nodes[:, 0].tolist() == [0, 0, -1] and got.nodes[:, 1].tolist() == [-1, -1, -1]
    t = Taxonomy.from_pairs([("dog", "animal"), ("cat", "animal"), ("car", "vehicle")])
    a = TaxonomyMatcher(hashing_encoder).fit(t).predict(["doggy", "cars", "cat"], top_k=4)  # type: ignore[arg-type]
    b = TaxonomyMatcher(hashing_encoder).fit(t).predict(["doggy", "cars", "cat"], top_k=4)  # type: ignore[arg-type]
    assert a.nodes.tolist() == b.nodes.tolist() and np.array_equal(a.scores, b.scores)
    with pytest.raises(ConfigError, match="k must be"):
        TaxonomyMatcher(hashing_encoder, k=0).fit(t)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="top_k"):
        m.predict(["x"], top_k=0)


def test_pairs_without_a_parent_make_roots() -> None:
    t = Taxonomy.from_pairs(
        pl.DataFrame({"child": ["dog", "thing", None], "parent": ["thing", None, "x"]})
    )
    assert t.ids == ("dog", "thing") and t.roots == (t.index["thing"],)


DAG = Taxonomy(
    ["thing", "animal", "pet", "dog", "cat", "robot_dog"],
    ["Thing", "Animal", "Pet", "Dog", "Cat", "Robot dog"],
    [None, ["thing"], ["thing"], ["animal", "pet"], ["animal", "pet"], ["dog"]],
)


def test_ancestor_index_matches_ancestors() -> None:
    starts, rows = DAG.ancestor_index
    for n in range(len(DAG)):
        assert rows[starts[n] : starts[n + 1]].tolist() == DAG.ancestors(n)
    assert DAG.ancestors(DAG.index["robot_dog"]) == [3, 1, 2, 0]


def test_back_off_in_a_dag_sums_weight_over_every_parent_line() -> None:
    # dog and cat split the weight; both sit under animal and pet (depth 1, equal mass), so
    # the tie goes to the lower row (animal); a confident row is left alone
    ids = np.array([[3, 4, -1], [3, 4, 5]])
    scores = np.array([[0.30, 0.30, np.nan], [0.90, 0.30, 0.20]], np.float32)
    new, new_scores, off = back_off(DAG, ids, scores, HierarchyParams())
    assert off.tolist() == [True, False]
    assert new[0].tolist() == [1, 3, 4] and new_scores[0, 0] == pytest.approx(0.30)
    assert new[1].tolist() == [3, 4, 5]


def test_ancestor_agreement_is_the_mean_over_all_ancestors(hashing_encoder: Encoder) -> None:
    m = TaxonomyMatcher(hashing_encoder, lexical_weight=0.0).fit(DAG)
    q = hashing_encoder.encode(["a robot dog toy"])
    node = DAG.index["robot_dog"]
    want = np.mean([q[0] @ m.label_vectors_[a] for a in DAG.ancestors(node)])
    starts = m.ancestor_starts_
    assert starts[node + 1] - starts[node] == 1 and starts[1] - starts[0] == 0  # a root has none
    assert float(q[0] @ m.ancestor_means_[starts[node]]) == pytest.approx(want, abs=1e-6)
