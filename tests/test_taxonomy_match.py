"""Matching phrases to a small real hierarchy with the packaged model: synonyms, the
hierarchy (same label under two parents), back-off to ancestors, few-shot examples, the
rerank hook, ``lk.map_taxonomy`` and ``linker taxonomy``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import linker as lk
from linker.cli import main
from linker.errors import RerankError
from linker.protocols import Query
from linker.taxonomy import NodeCandidate, Taxonomy, TaxonomyMatcher
from linker.vectors.embed import Encoder

ROWS = [
    ("thing", "Thing", None, None),
    ("animal", "Animal", "thing", None),
    ("mammal", "Mammal", "animal", None),
    ("dog", "Dog", "mammal", "hound|canine"),
    ("cat", "Cat", "mammal", "feline|kitty"),
    ("horse", "Horse", "mammal", "pony|stallion"),
    ("jaguar_cat", "Jaguar", "mammal", None),
    ("bird", "Bird", "animal", None),
    ("eagle", "Eagle", "bird", None),
    ("parrot", "Parrot", "bird", "macaw"),
    ("fish", "Fish", "animal", None),
    ("salmon", "Salmon", "fish", None),
    ("shark", "Shark", "fish", None),
    ("vehicle", "Vehicle", "thing", None),
    ("car", "Car", "vehicle", "automobile"),
    ("jaguar_car", "Jaguar", "car", None),
    ("bicycle", "Bicycle", "vehicle", "bike"),
    ("aircraft", "Aircraft", "vehicle", "airplane|plane"),
]


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return pl.DataFrame(ROWS, schema=["id", "label", "parent", "synonyms"], orient="row")


@pytest.fixture(scope="module")
def tax(frame: pl.DataFrame) -> Taxonomy:
    return Taxonomy.from_table(frame, synonyms="synonyms")


@pytest.fixture(scope="module")
def matcher(tax: Taxonomy, memo_minilm: Encoder) -> TaxonomyMatcher:
    return TaxonomyMatcher(memo_minilm).fit(tax)


def top1(m: TaxonomyMatcher, tax: Taxonomy, phrases: Sequence[str]) -> list[str]:
    return [tax.ids[n] for n in m.predict(phrases, top_k=1).nodes[:, 0]]


def test_synonyms_find_their_node(matcher: TaxonomyMatcher, tax: Taxonomy) -> None:
    assert top1(matcher, tax, ["automobile", "macaw", "tabby kitty", "jet airliner"]) == [
        "car", "parrot", "cat", "aircraft",
    ]  # fmt: skip


def test_synonyms_raise_the_score(tax: Taxonomy, memo_minilm: Encoder) -> None:
    bare = Taxonomy(list(tax.ids), list(tax.labels), [[tax.ids[p] for p in ps] for ps in
                    tax.parents])  # fmt: skip
    with_syn = TaxonomyMatcher(memo_minilm).fit(tax).predict(["macaw"], top_k=1)
    without = TaxonomyMatcher(memo_minilm).fit(bare).predict(["macaw"], top_k=1)
    assert with_syn.scores[0, 0] > without.scores[0, 0] + 0.2


def test_a_trailing_qualifier_pulls_towards_its_node(tax: Taxonomy, memo_minilm: Encoder) -> None:
    phrases = ["Mustang (car)", "Mustang"]
    on = TaxonomyMatcher(memo_minilm).fit(tax)
    off = TaxonomyMatcher(memo_minilm, qualifier_weight=0.0).fit(tax)
    car = tax.index["car"]

    def car_score(m: TaxonomyMatcher) -> list[float]:
        match = m.predict(phrases, top_k=len(tax))
        pairs = zip(match.nodes, match.scores, strict=True)
        return [float(s[list(n).index(car)]) for n, s in pairs]

    with_q, without_q = car_score(on), car_score(off)
    assert with_q[0] > without_q[0] + 0.05  # the qualifier's vector is blended in
    assert with_q[1] == pytest.approx(without_q[1])  # a phrase without one is unchanged
    assert top1(on, tax, ["Mustang (car)"]) == ["car"]
    with pytest.raises(lk.errors.ConfigError, match="qualifier_weight"):
        TaxonomyMatcher(memo_minilm, qualifier_weight=1.5).fit(tax)


def test_same_label_is_told_apart_by_its_ancestors(matcher: TaxonomyMatcher, tax: Taxonomy) -> None:
    assert top1(matcher, tax, ["jaguar sports car"]) == ["jaguar_car"]


def test_back_off_to_the_parent_instead_of_a_sibling(
    matcher: TaxonomyMatcher, tax: Taxonomy
) -> None:
    # no wolf node: the dog/cat/horse siblings share the weight, so the answer is Mammal
    match = matcher.predict(["wolf"], top_k=3)
    assert tax.ids[match.nodes[0, 0]] == "mammal"
    assert match.backed_off.tolist() == [True]
    assert match.nodes[0, 1] >= 0  # the candidates still follow


def test_no_back_off_when_turned_off(tax: Taxonomy, memo_minilm: Encoder) -> None:
    params = lk.taxonomy.HierarchyParams(backoff_threshold=None)
    m = TaxonomyMatcher(memo_minilm, hierarchy=params).fit(tax)
    match = m.predict(["wolf"], top_k=1)
    assert not match.backed_off.any()
    assert tax.ids[match.nodes[0, 0]] in {"dog", "cat", "horse", "jaguar_cat"}


def test_few_shot_examples_help(
    matcher: TaxonomyMatcher, tax: Taxonomy, memo_minilm: Encoder
) -> None:
    phrases = ["golden retriever", "delivery truck"]
    zero = matcher.predict(phrases, top_k=1)
    examples = [("labrador retriever", "dog"), ("pickup truck", "car")]
    few = TaxonomyMatcher(memo_minilm).fit(tax, examples).predict(phrases, top_k=1)
    assert [tax.ids[n] for n in few.nodes[:, 0]] == ["dog", "car"]
    assert top1(matcher, tax, ["delivery truck"]) != ["car"]  # zero-shot misses it
    assert few.scores[0, 0] > zero.scores[0, 0] + 0.1


class Reverse:
    """A :class:`~linker.protocols.Reranker` that scores the retriever's last candidate best."""

    def rerank(self, queries: Sequence[Query]) -> list[list[float | None]]:
        assert all(r["path"].startswith("Thing > ") for q in queries for r in q.right)
        return [[i / len(q.right) for i in range(len(q.right))] for q in queries]

    def report(self) -> dict[str, float]:
        return {}


def test_rerank_reorders_and_scores_travel(tax: Taxonomy, memo_minilm: Encoder) -> None:
    plain = TaxonomyMatcher(memo_minilm).fit(tax).predict(["automobile"], top_k=3)
    m = TaxonomyMatcher(memo_minilm, reranker=Reverse(), rerank_top=3).fit(tax)
    got = m.predict(["automobile"], top_k=3)
    assert got.nodes[0].tolist() == plain.nodes[0].tolist()[::-1]
    assert got.scores[0].tolist() == plain.scores[0].tolist()[::-1]

    class Undecided(Reverse):
        def rerank(self, queries: Sequence[Query]) -> list[list[float | None]]:
            return [[None, *[0.5] * (len(q.right) - 1)] for q in queries]

    m = TaxonomyMatcher(memo_minilm, reranker=Undecided(), rerank_top=3).fit(tax)
    order = plain.nodes[0].tolist()
    assert m.predict(["automobile"], top_k=3).nodes[0].tolist() == [*order[1:], order[0]]

    class TooHigh(Reverse):
        def rerank(self, queries: Sequence[Query]) -> list[list[float | None]]:
            return [[2.0] * len(q.right) for q in queries]

    with pytest.raises(RerankError, match="phrase 'automobile'.*in \\[0, 1\\]"):
        TaxonomyMatcher(memo_minilm, reranker=TooHigh()).fit(tax).predict(["automobile"])


class OldReverse:
    """An older hook, ``rerank(phrase, candidates) -> positions`` (deprecated)."""

    def rerank(self, phrase: str, candidates: Sequence[NodeCandidate]) -> list[int]:
        assert all(c.path.startswith("Thing > ") for c in candidates)
        return list(range(len(candidates)))[::-1]


class Broken:
    def rerank(self, phrase: str, candidates: Sequence[NodeCandidate]) -> list[int]:
        return [0, 0]


def test_older_hook_still_works_with_a_deprecation_warning(
    tax: Taxonomy, memo_minilm: Encoder
) -> None:
    plain = TaxonomyMatcher(memo_minilm).fit(tax).predict(["automobile"], top_k=3)
    with pytest.warns(DeprecationWarning, match=r"rerank\(\) takes \(phrase") as seen:
        m = TaxonomyMatcher(memo_minilm, reranker=OldReverse(), rerank_top=3).fit(tax)
    assert [w.filename for w in seen] == [__file__]
    assert m.predict(["automobile"], top_k=3).nodes[0].tolist() == plain.nodes[0].tolist()[::-1]
    with pytest.warns(DeprecationWarning), pytest.raises(RerankError, match="distinct positions"):
        TaxonomyMatcher(memo_minilm, reranker=Broken()).fit(tax).predict(["automobile"])
    with pytest.warns(DeprecationWarning) as seen:
        out = lk.map_taxonomy(["automobile"], tax, top_k=3, model=memo_minilm, rerank_top=3,
                              reranker=OldReverse())  # fmt: skip
    assert len(seen) == 1 and seen[0].filename == __file__
    assert out["node_id"].to_list() == [tax.ids[n] for n in plain.nodes[0].tolist()[::-1]]


def test_map_taxonomy_returns_the_kind_given(frame: pl.DataFrame, default_model: Encoder) -> None:
    tax = lk.Taxonomy.from_table(frame, synonyms="synonyms")
    out = lk.map_taxonomy(["hound", "", "hound"], tax, top_k=2)
    assert out.columns == ["phrase", "node_id", "label", "path", "score", "rank"]
    assert out.filter(pl.col("phrase") == "hound")["rank"].to_list() == [1, 2, 1, 2]
    assert out.row(0)[:4] == ("hound", "dog", "Dog", "Thing > Animal > Mammal > Dog")
    assert out.filter(pl.col("phrase") == "")["node_id"].to_list() == [None]  # kept, not dropped
    pdf = lk.map_taxonomy(pd.DataFrame({"phrase": ["bike"]}), tax, examples={"pony": "horse"})
    assert isinstance(pdf, pd.DataFrame) and pdf["node_id"].tolist() == ["bicycle"]


def test_cli_taxonomy(tmp_path: Path, frame: pl.DataFrame, default_model: Encoder) -> None:
    taxonomy_csv, phrases_csv, out = tmp_path / "t.csv", tmp_path / "p.csv", tmp_path / "o.csv"
    frame.write_csv(taxonomy_csv)
    phrases_csv.write_text("phrase\nautomobile\nmacaw\n", encoding="utf-8")
    argv = ["taxonomy", str(phrases_csv), str(taxonomy_csv), "--synonyms", "synonyms", "-q"]
    assert main([*argv, "-k", "2", "-o", str(out)]) == 0
    got = pl.read_csv(out)
    assert got.filter(pl.col("rank") == 1)["node_id"].to_list() == ["car", "parrot"]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label,parent\na,A,b\nb,B,a\n", encoding="utf-8")
    assert main(["taxonomy", str(phrases_csv), str(bad), "-o", str(out)]) == 2


def test_readme_taxonomy_example_runs(
    default_model: Encoder, capsys: pytest.CaptureFixture[str]
) -> None:
    guide = Path(__file__).resolve().parents[1] / "docs" / "guide" / "taxonomy.md"
    block = re.search(r"```python\n(.*?)```", guide.read_text(encoding="utf-8"), re.S)
    assert block is not None, "docs/guide/taxonomy.md lost its first example"
    scope: dict[str, object] = {}
    exec(compile(block.group(1), str(guide), "exec"), scope)  # noqa: S102 - our own docs
    mapped = scope["mapped"]
    assert isinstance(mapped, pl.DataFrame)
    best = mapped.filter(pl.col("rank") == 1)
    assert best["node_id"].to_list() == ["dog", "cat", "dog"]
    assert "animal > mammal > dog" in capsys.readouterr().out
