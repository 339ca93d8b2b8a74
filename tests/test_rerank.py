"""One rerank contract for records, schema columns and taxonomy nodes.

A real boosted pair matcher, trained here on a few dozen labelled column pairs (or phrase-node
pairs) and saved to a folder, reranks ``lk.match_schema`` and ``lk.map_taxonomy`` candidates
through ``rerank="cross-encoder:<folder>"``; the new scores are checked against the matcher's
own probabilities and each matcher's policy. One :class:`~linker.protocols.Reranker` class,
written once, then serves ``lk.merge``, ``lk.match_schema`` and ``lk.map_taxonomy``, and so does
the LLM reranker, with a prompt per kind.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest

import linker as lk
from linker.cli import main
from linker.errors import ConfigError, RerankError
from linker.llm import RECORDS, ScriptedChatClient
from linker.llm.tasks import COLUMNS, NODES
from linker.llm.testing import picks
from linker.protocols import Encoder, PairMatcher, Query, Record, Reranker
from linker.rerank.cross_encoder import CrossEncoderReranker
from linker.rerank.spec import open_reranker
from linker.schema import ColumnProfile, as_schema
from linker.schema.rerank import RERANK_WEIGHT, column_record
from linker.scoring.labelled_pairs import PairSet
from linker.scoring.registry import load_matcher
from linker.taxonomy import Taxonomy
from linker.taxonomy.rerank import node_record, phrase_record

# columns that mean the same, each as (name, description)
CONCEPTS = [
    [("date_of_birth", "Date the person was born"), ("dob", "birth date"),
     ("birth_dt", "day of birth")],
    [("gender", "Self-reported gender"), ("sex", "sex of the patient"), ("gndr", "")],
    [("postal_code", "Postal code of the address"), ("zip", "zip code"),
     ("postcode", "post code")],
    [("first_name", "Given name"), ("fname", "first name"), ("given_nm", "given name")],
    [("last_name", "Family name"), ("surname", "family name"), ("lname", "last name")],
    [("phone_number", "Telephone number"), ("tel", "phone"), ("phone", "contact telephone")],
    [("email_address", "E-mail address"), ("email", "electronic mail"), ("e_mail", "")],
    [("city", "City of the address"), ("town", "town or city"), ("municipality", "city")],
]  # fmt: skip


def _column_pairs() -> PairSet:
    """Every same-concept pair (a match) and as many cross-concept pairs (non-matches)."""
    recs = [[column_record(ColumnProfile(n, d)) for n, d in c] for c in CONCEPTS]
    pos = [(a, b) for group in recs for a, b in itertools.permutations(group, 2)]
    neg = [(recs[i][j % 3], recs[(i + 1 + j % 5) % len(recs)][(j + 1) % 3])
           for i in range(len(recs)) for j in range(6)]  # fmt: skip
    pairs = [(a, b, 1) for a, b in pos] + [(a, b, 0) for a, b in neg]
    return PairSet([a for a, _, _ in pairs], [b for _, b, _ in pairs], [y for *_, y in pairs])


@pytest.fixture(scope="module")
def column_matcher(tmp_path_factory: pytest.TempPathFactory) -> tuple[PairMatcher, Path]:
    folder = tmp_path_factory.mktemp("columns") / "matcher"
    matcher = lk.train(
        _column_pairs(), model="boosted", save=folder, max_iter=60, token_model=False
    )
    return matcher, folder


SOURCE = {"pt_dob": "patient birth date", "gndr_cd": "", "zip5": "", "tel_no": "phone", "surnm": ""}
TARGET = {n: d for c in CONCEPTS for n, d in c[:1]}


def test_cross_encoder_reranks_schema_candidates(
    column_matcher: tuple[PairMatcher, Path], minilm: Encoder
) -> None:
    matcher, folder = column_matcher
    plain = lk.match_schema(SOURCE, TARGET, top_k=4, model=minilm)
    report: dict[str, float] = {}
    out = lk.match_schema(SOURCE, TARGET, top_k=4, model=minilm, rerank_top=4,
                          rerank=f"cross-encoder:{folder}", rerank_report=report)  # fmt: skip
    assert report["pairs"] == plain.height == 4 * len(SOURCE) and report["seconds"] > 0
    src = {c.name: c for c in as_schema(SOURCE, name="source").columns}
    tgt = {c.name: c for c in as_schema(TARGET, name="target").columns}
    for col in SOURCE:
        before = dict(plain.filter(pl.col("source_column") == col).select(
            "target_column", "score").iter_rows())  # fmt: skip
        after = out.filter(pl.col("source_column") == col)
        names = after["target_column"].to_list()
        assert sorted(names) == sorted(before)  # the same candidates, re-scored
        proba = matcher.predict_proba(
            ([column_record(src[col])] * len(names), [column_record(tgt[n]) for n in names])
        ).tolist()
        expect = [(RERANK_WEIGHT * p + before[n]) / (RERANK_WEIGHT + 1)
                  for p, n in zip(proba, names, strict=True)]  # fmt: skip
        assert after["score"].to_list() == pytest.approx(expect, abs=2e-4)
        assert after["score"].is_sorted(descending=True)
    first = dict(plain.filter(pl.col("rank") == 1).select("source_column", "target_column").rows())
    best = dict(out.filter(pl.col("rank") == 1).select("source_column", "target_column").rows())
    assert first["gndr_cd"] != "gender" and first["surnm"] != "last_name"  # retrieval misses
    assert best["gndr_cd"] == "gender" and best["surnm"] == "last_name"  # the matcher fixes
    assert best["zip5"] == "postal_code" and best["pt_dob"] == "date_of_birth"
    # the matcher object and the CLI take the same matcher
    again = lk.match_schema(SOURCE, TARGET, top_k=4, model=minilm, rerank_top=4,
                            rerank=load_matcher(folder))  # fmt: skip
    assert again.equals(out)


def test_cli_schema_takes_a_cross_encoder(
    column_matcher: tuple[PairMatcher, Path],
    default_model: Encoder,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, folder = column_matcher
    src, std, out = tmp_path / "src.csv", tmp_path / "std.csv", tmp_path / "out.csv"
    pl.DataFrame({"gndr_cd": ["M", "F"], "surnm": ["Lee", "Chan"]}).write_csv(src)
    pl.DataFrame({"column": list(TARGET), "description": list(TARGET.values())}).write_csv(std)
    argv = ["schema", str(src), str(std), "--target-is-schema", "-k", "1", "--rerank-top", "4",
            "--rerank", f"cross-encoder:{folder}", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert "8 pairs scored" in capsys.readouterr().err
    best = dict(pl.read_csv(out).select("source_column", "target_column").rows())
    assert best == {"gndr_cd": "gender", "surnm": "last_name"}
    assert main([*argv[:-4], "--rerank", "cross-encoder:no/such/folder"]) == 2


ANIMALS = Taxonomy.from_pairs([
    ("dog", "mammal"), ("cat", "mammal"), ("horse", "mammal"), ("mammal", "animal"),
    ("eagle", "bird"), ("owl", "bird"), ("bird", "animal"), ("salmon", "fish"), ("fish", "animal"),
])  # fmt: skip
EXAMPLES = [("puppy", "dog"), ("hound", "dog"), ("kitten", "cat"), ("tomcat", "cat"),
            ("pony", "horse"), ("stallion", "horse"), ("eaglet", "eagle"), ("hawk eagle", "eagle"),
            ("barn owl", "owl"), ("owlet", "owl"), ("trout salmon", "salmon"),
            ("smolt", "salmon")]  # fmt: skip


def _node_pairs() -> PairSet:
    """Each example phrase against every leaf: its own node a match, the others not."""
    leaves = [n for n in range(len(ANIMALS)) if ANIMALS.ids[n] in dict(EXAMPLES).values()]
    left: list[Record] = []
    right: list[Record] = []
    labels: list[int] = []
    for phrase, node in EXAMPLES:
        for n in leaves:
            left.append(phrase_record(phrase))
            right.append(node_record(ANIMALS.labels[n], ANIMALS.path(n)))
            labels.append(int(ANIMALS.ids[n] == node))
    return PairSet(left, right, labels)


def test_cross_encoder_reranks_taxonomy_candidates(tmp_path: Path, minilm: Encoder) -> None:
    folder = tmp_path / "nodes"
    matcher = lk.train(_node_pairs(), model="boosted", save=folder, max_iter=60, token_model=False)
    phrases = ["young dog", "baby cat", "small owl"]
    plain = lk.map_taxonomy(phrases, ANIMALS, top_k=3, model=minilm)
    report: dict[str, float] = {}
    out = lk.map_taxonomy(phrases, ANIMALS, top_k=3, model=minilm, rerank_top=3,
                          rerank=f"cross-encoder:{folder}", rerank_report=report)  # fmt: skip
    assert report["pairs"] == 3 * len(phrases)
    for phrase in phrases:
        before = plain.filter(pl.col("phrase") == phrase)
        after = out.filter(pl.col("phrase") == phrase)
        proba = matcher.predict_proba((
            [phrase_record(phrase)] * before.height,
            [node_record(lb, p) for lb, p in before.select("label", "path").iter_rows()],
        )).tolist()  # fmt: skip
        order = sorted(range(before.height), key=lambda i: (-proba[i], i))
        assert after["node_id"].to_list() == [before["node_id"][i] for i in order]
        assert after["score"].to_list() == [before["score"][i] for i in order]  # scores travel


class Recorder:
    """One :class:`Reranker`, written once: prefers the candidate sharing the most characters
    with the left item's text, and keeps every query it is asked."""

    def __init__(self) -> None:
        self.queries: list[Query] = []
        self.answers: list[list[float | None]] = []

    def rerank(self, queries: Sequence[Query]) -> list[list[float | None]]:
        out: list[list[float | None]] = []
        for q in queries:
            text = set(" ".join(q.left.values()).lower())
            shared = [len(text & set(" ".join(r.values()).lower())) for r in q.right]
            out.append([s / max(max(shared), 1) for s in shared])
        self.queries += queries
        self.answers += out
        return out

    def report(self) -> dict[str, float]:
        return {"queries": float(len(self.queries))}


def test_one_reranker_serves_records_columns_and_nodes(
    firms: tuple[pl.DataFrame, pl.DataFrame], minilm: Encoder
) -> None:
    rr = Recorder()
    assert isinstance(rr, Reranker)
    left, right = firms
    res = lk.Linker(on=["name", "city"], id="id", model=minilm, rerank=rr,
                    rerank_band=(0.0, 1.0), k=2).link(left, right)  # fmt: skip
    records = list(rr.queries)
    assert records and res.stats["rerank_queries"] == len(records)
    assert res.pairs.filter(pl.col("reranked")).height == sum(len(q.right) for q in records)
    assert all(set(q.left) == {"name", "city"} for q in records)

    lk.match_schema(SOURCE, TARGET, top_k=3, model=minilm, rerank=rr, rerank_top=3)
    columns = rr.queries[len(records) :]
    assert [q.left["name"] for q in columns] == list(SOURCE)
    assert all(set(r) >= {"name", "description"} for q in columns for r in q.right)

    out = lk.map_taxonomy(["owl chick"], ANIMALS, top_k=3, model=minilm, rerank=rr, rerank_top=3)
    (node_query,) = rr.queries[len(records) + len(columns) :]
    assert node_query.left == {"term": "owl chick"} and len(node_query.right) == 3
    got = rr.answers[-1]
    order = sorted(range(3), key=lambda i: (-(got[i] or 0.0), i))
    assert out["label"].to_list() == [node_query.right[i]["label"] for i in order]
    assert rr.report()["queries"] == len(rr.queries)


def test_the_llm_serves_all_three_with_a_prompt_each(
    firms: tuple[pl.DataFrame, pl.DataFrame], minilm: Encoder, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the LLM call cache
    client = ScriptedChatClient(lambda query, candidates: json.dumps({"match": 1}))
    left, right = firms
    lk.merge(left, right, on=["name", "city"], id="id", model=minilm, rerank=client,
             rerank_band=(0.0, 1.0), k=2)  # fmt: skip
    lk.match_schema(["dob"], TARGET, top_k=2, model=minilm, rerank=client)
    lk.map_taxonomy(["owl chick"], ANIMALS, top_k=2, model=minilm, rerank=client)
    systems = [r[0]["content"] for r in client.requests]
    assert {RECORDS.system, COLUMNS.system, NODES.system} == set(systems)


def test_open_reranker_gives_the_same_kind_for_every_task(
    column_matcher: tuple[PairMatcher, Path],
) -> None:
    _, folder = column_matcher
    for task in (None, COLUMNS, NODES):
        with open_reranker(f"cross-encoder:{folder}", task=task) as rr:
            assert isinstance(rr, CrossEncoderReranker) and isinstance(rr, Reranker)
    judge = ScriptedChatClient(picks("name", "x"))
    with open_reranker(judge, task=NODES, cache=":memory:") as rr:
        assert rr.task is NODES  # type: ignore[attr-defined]


def test_a_reranker_out_of_shape_is_a_rerank_error(minilm: Encoder) -> None:
    class Short(Recorder):
        def rerank(self, queries: Sequence[Query]) -> list[list[float | None]]:
            return [[0.5] for _ in queries]

    with pytest.raises(RerankError, match="1 scores for 2 candidates of phrase 'owl chick'"):
        lk.map_taxonomy(["owl chick"], ANIMALS, top_k=2, model=minilm, rerank=Short(),
                        rerank_top=2)  # fmt: skip

    class Old:
        def rerank(self, phrase: str, candidates: Sequence[object]) -> list[int]:
            return [0]

    with pytest.raises(ConfigError, match="must take the queries"):
        lk.merge(pl.DataFrame({"name": ["a"]}), pl.DataFrame({"name": ["a"]}), on="name",
                 model=minilm, rerank=Old())  # type: ignore[arg-type]  # fmt: skip
