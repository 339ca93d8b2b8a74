"""Taxonomy matching: phrases → nodes, linker against two baselines, and its speed.

Sets (from ``--data-root``; each is skipped with a note when its files are missing):

- ``dbpedia``: LLMs4OL 2024 A.5 DBpedia term typing, zero-shot (terms → 484 types);
- ``obi``, ``matonto``: LLMs4OL 2025 term typing; the published test split has no gold types,
  so the train split is split (seeded): ``--example-share`` of it are labelled examples,
  the rest are evaluated; the figures are the mean over ``--splits`` such splits (5), since
  one split evaluates only 43 (MatOnto) or 101 (OBI) terms;
- ``ncbi``: NCBI Disease mentions → MeSH/OMIM ids; nodes are the train concepts (label: the
  most frequent train mention), the train mentions are examples, the test mentions evaluated.
  Test mentions whose concept never occurs in train cannot be found (reported as coverage).
- ``schemaorg``: LLMs4OL 2024 B.2 Schema.org, used for placement: the taxonomy is the train
  is-a pairs, the phrases are the test types absent from it (CamelCase split into words), and
  the right answer is their parent: no exact node exists, so this measures back-off and the
  tree distance of wrong answers;
- any other folder holding ``terms.json`` (``[{"term", "types": [...]}]``) and optionally
  ``types.txt`` and ``pairs.json`` (``[{"parent", "child"}]``) is read like ``obi``.

Methods: linker's :class:`~linker.taxonomy.TaxonomyMatcher` (defaults; with and without the
examples), and the issue's two baselines: rapidfuzz best label (``fuzz.WRatio`` on
``utils.default_process``-ed text) and plain-embedding nearest label (the same MiniLM vectors,
cosine), both over the nodes' labels and synonyms. Where a set has examples, the same two
baselines are also run over labels, synonyms *and* the example phrases ("name" baselines),
which is what linker's few-shot mode sees; a baseline ranks a node by its best name.

With ``--rerank local`` (or ``openai:MODEL``) the script instead compares linker with and
without the LLM rerank on a seeded sample of each ``--set`` (default DBpedia; ``--rerank-n``
phrases), and writes ``benchmarks/results/taxonomy_rerank.md``; the default run is unchanged.

Run ``python benchmarks/taxonomy.py --help``; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from _common import fmt, header_lines, markdown_table, print_table, write_atomic
from _llm import Clock, add_rerank_args, counter_lines, load_lines

from linker.taxonomy import Taxonomy, TaxonomyMatcher
from linker.vectors.embed import Encoder, Matrix, get_encoder

ALL_SETS = ("dbpedia", "obi", "matonto", "ncbi", "schemaorg")
LLMS4OL = "llms4ol-challenge"
DBO = f"{LLMS4OL}/2024/TaskA-Term Typing/SubTask A.5(ZS) - DBO"
TERM_TYPING_2025 = {"obi": "OBI", "matonto": "MatOnto"}
NCBI = "ncbi-disease/original-data"
SCHEMA = f"{LLMS4OL}/2024/TaskB-Taxonomy Discovery/SubTask B.2(FS) - Schema.org"
TOP = 10  # ranks kept per phrase (MRR counts the gold within them)


@dataclass
class Task:
    """One evaluation set: phrases, their gold node ids, the taxonomy, and examples."""

    name: str
    phrases: list[str]
    gold: list[set[str]]
    taxonomy: Taxonomy
    examples: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hierarchy_known: bool = False


class CachedEncoder:
    """The shared encoder with a per-text cache, so baselines reuse linker's vectors."""

    def __init__(self, encoder: Encoder):
        self.inner, self.name, self.cache = encoder, encoder.name, dict[str, np.ndarray]()

    def encode(self, texts: Sequence[str], *, show_progress: bool | None = None) -> Matrix:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            self.cache.update(
                zip(todo, self.inner.encode(todo, show_progress=show_progress), strict=True)
            )
        if not texts:
            return self.inner.encode([], show_progress=False)
        return np.stack([self.cache[t] for t in texts])


# -- loaders -------------------------------------------------------------------------------------
def _flat(types: Sequence[str], name: str) -> Taxonomy:
    return Taxonomy.from_labels(sorted(set(types)), source=name)


def load_dbpedia(root: Path, max_phrases: int | None, seed: int) -> Task:
    d = root / DBO
    terms = json.loads((d / "A.5(ZS)_Test.json").read_text(encoding="utf-8"))
    gt = {g["ID"]: g["type"] for g in json.loads((d / "A.5(ZS)_Test_GT.json").read_text())}
    types = [t.strip() for t in (d / "A.5(ZS)-Types.txt").read_text().splitlines() if t.strip()]
    phrases = [t["term"] for t in terms]
    gold = [set(gt[t["ID"]]) for t in terms]
    task = Task("DBpedia (LLMs4OL A.5, zero-shot)", phrases, gold, _flat(types, "DBpedia types"))
    return _sample(task, max_phrases, seed)


def load_term_typing(folder: Path, name: str, share: float, seed: int, cap: int | None) -> Task:
    """A ``[{"term", "types"}]`` train file: part examples, the rest evaluated."""
    rows = json.loads(folder.read_text(encoding="utf-8")) if folder.is_file() else []
    rows = [r for r in rows if r.get("term") and r.get("types")]
    types = sorted({t for r in rows for t in r["types"]})
    order = np.random.default_rng(seed).permutation(len(rows))
    n_ex = int(round(share * len(rows)))
    ex, ev = [rows[i] for i in order[:n_ex]], [rows[i] for i in order[n_ex:]]
    task = Task(
        name,
        [r["term"] for r in ev],
        [set(r["types"]) for r in ev],
        _flat(types, name),
        examples=[(r["term"], t) for r in ex for t in r["types"]],
    )
    task.notes.append(
        f"{len(rows)} labelled train terms, {len(types)} types: {len(ex)} used as examples, "
        f"{len(ev)} evaluated (seed {seed}); {_unseen(task)} of the evaluated have a type "
        "with no example"
    )
    return _sample(task, cap, seed)


def _unseen(task: Task) -> int:
    seen = {n for _, n in task.examples}
    return sum(not (g & seen) for g in task.gold)


def _pubtator(path: Path) -> list[tuple[str, set[str]]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 6 and parts[5]:
            ids = {i.strip() for i in parts[5].replace("+", "|").split("|") if i.strip()}
            out.append((parts[3], ids))
    return out


def load_ncbi(root: Path, cap: int | None, seed: int) -> Task:
    train = _pubtator(root / NCBI / "train/NCBItrainset_corpus.txt")
    test = _pubtator(root / NCBI / "test/NCBItestset_corpus.txt")
    names: dict[str, Counter[str]] = {}
    for mention, ids in train:
        for i in ids:
            names.setdefault(i, Counter())[mention] += 1
    concepts = sorted(names)
    labels = [names[c].most_common(1)[0][0] for c in concepts]
    tax = Taxonomy(concepts, labels, source="NCBI train concepts")
    examples = [(m, i) for m, ids in train for i in ids]
    task = Task(
        "NCBI Disease (train mentions as prototypes)",
        [m for m, _ in test],
        [ids for _, ids in test],
        tax,
        examples=examples,
    )
    covered = sum(bool(g & set(concepts)) for g in task.gold)
    task.notes.append(
        f"{len(train)} train mentions of {len(concepts)} concepts; {len(test)} test mentions, "
        f"{covered} ({covered / max(len(test), 1):.3f}) with a concept seen in train: the "
        "ceiling of acc@1 here"
    )
    return _sample(task, cap, seed)


def _words(name: str) -> str:
    """``"AMRadioChannel"`` → ``"AM Radio Channel"``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)


def load_schemaorg(root: Path, cap: int | None, seed: int) -> Task:
    d = root / SCHEMA
    train = json.loads((d / "schemaorg_train_pairs.json").read_text(encoding="utf-8"))
    test = json.loads((d / "schemaorg_test_pairs.json").read_text(encoding="utf-8"))
    parents: dict[str, list[str]] = {}
    for p in train:
        parents.setdefault(p["child"], []).append(p["parent"])
        parents.setdefault(p["parent"], [])
    ids = sorted(parents)
    tax = Taxonomy(ids, [_words(i) for i in ids], [parents[i] for i in ids], source="Schema.org")
    gold: dict[str, set[str]] = {}
    for p in test:
        if p["child"] not in tax.index and p["parent"] in tax.index:
            gold.setdefault(p["child"], set()).add(p["parent"])
    kids = sorted(gold)
    task = Task(
        "Schema.org placement (LLMs4OL B.2: new type → its parent)",
        [_words(k) for k in kids],
        [gold[k] for k in kids],
        tax,
        hierarchy_known=True,
    )
    task.notes.append(
        f"{len(ids)} types in the train hierarchy (depth {tax.max_depth}); {len(kids)} test "
        "types not in it whose parent is: each must be mapped to that parent"
    )
    return _sample(task, cap, seed)


def _sample(task: Task, cap: int | None, seed: int) -> Task:
    if cap is None or len(task.phrases) <= cap:
        task.notes.append(f"all {len(task.phrases)} phrases evaluated")
        return task
    keep = np.sort(np.random.default_rng(seed).choice(len(task.phrases), cap, replace=False))
    task.notes.append(f"{cap} of {len(task.phrases)} phrases evaluated (seeded sample, {seed})")
    task.phrases = [task.phrases[i] for i in keep]
    task.gold = [task.gold[i] for i in keep]
    return task


def load_folder(folder: Path, share: float, seed: int, cap: int | None) -> Task:
    """Another folder of the same form: ``terms.json`` [+ ``types.txt``, ``pairs.json``]."""
    task = load_term_typing(folder / "terms.json", folder.name, share, seed, cap)
    extra = folder / "types.txt"
    types = {n for n in task.taxonomy.ids}
    if extra.is_file():
        types |= {t.strip() for t in extra.read_text(encoding="utf-8").splitlines() if t.strip()}
    pairs_file = folder / "pairs.json"
    pairs = json.loads(pairs_file.read_text()) if pairs_file.is_file() else []
    parents: dict[str, list[str]] = {t: [] for t in sorted(types)}
    for p in pairs:
        parents.setdefault(p["child"], []).append(p["parent"])
        parents.setdefault(p["parent"], [])
    ids = list(parents)
    task.taxonomy = Taxonomy(ids, ids, [parents[i] for i in ids], source=folder.name)
    task.hierarchy_known = bool(pairs)
    return task


# -- methods and metrics --------------------------------------------------------------------------
Ranked = npt.NDArray[np.int64]


def names_of(task: Task, with_examples: bool = True) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Every name a baseline may match: labels, synonyms and (optionally) example phrases."""
    tax = task.taxonomy
    pairs = [(tax.labels[i], i) for i in range(len(tax))]
    pairs += [(s, i) for i in range(len(tax)) for s in tax.synonyms[i]]
    if with_examples:
        pairs += [(p, tax.index[n]) for p, n in task.examples]
    pairs = sorted(set(pairs), key=lambda x: (x[1], x[0]))
    return [p for p, _ in pairs], np.array([i for _, i in pairs], np.int64)


def _rank_by_best_name(sims: np.ndarray, node_of: npt.NDArray[np.int64]) -> Ranked:
    """Rank nodes by their best name's score (names sorted by node); ties by node row."""
    starts = np.flatnonzero(np.r_[True, node_of[1:] != node_of[:-1]])
    best = np.maximum.reduceat(sims, starts, axis=1)
    order = np.argsort(-best, axis=1, kind="stable")[:, :TOP]
    return node_of[starts][order]


def run_rapidfuzz(task: Task, names: list[str], node_of: npt.NDArray[np.int64]) -> Ranked:
    from rapidfuzz import fuzz, process, utils

    out = []
    for s in range(0, len(task.phrases), 2000):
        sims = process.cdist(
            task.phrases[s : s + 2000],
            names,
            scorer=fuzz.WRatio,
            processor=utils.default_process,
            workers=-1,
        )
        out.append(_rank_by_best_name(np.asarray(sims, np.float32), node_of))
    return np.vstack(out)


def run_embedding(
    task: Task, names: list[str], node_of: npt.NDArray[np.int64], enc: Encoder
) -> Ranked:
    q, n = enc.encode(task.phrases), enc.encode(names)
    return np.vstack(
        [_rank_by_best_name(q[s : s + 2000] @ n.T, node_of) for s in range(0, len(q), 2000)]
    )


def run_linker(task: Task, enc: Encoder, *, examples: bool) -> Ranked:
    matcher = TaxonomyMatcher(enc, show_progress=False)
    matcher.fit(task.taxonomy, task.examples if examples else None)
    return matcher.predict(task.phrases, top_k=TOP).nodes


def metrics(task: Task, ranked: Ranked) -> dict[str, float | None]:
    tax = task.taxonomy
    gold_rows = [{tax.index[g] for g in gs if g in tax.index} for gs in task.gold]
    ranks = np.array(
        [
            next((r + 1 for r, n in enumerate(row) if n in g), 0)
            for row, g in zip(ranked.tolist(), gold_rows, strict=True)
        ]
    )
    dist = None
    if task.hierarchy_known:
        wrong = [
            (row[0], g)
            for row, g, r in zip(ranked.tolist(), gold_rows, ranks, strict=True)
            if r != 1 and row[0] >= 0 and g
        ]
        dist = (
            float(np.mean([min(tax.distance(p, x) for x in g) for p, g in wrong])) if wrong else 0.0
        )
    return {
        "acc@1": float(np.mean(ranks == 1)),
        "acc@5": float(np.mean((ranks >= 1) & (ranks <= 5))),
        "MRR": float(np.mean(np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0))),
        "tree distance": dist,
    }


# -- speed: 50,000 phrases against 10,000 nodes ---------------------------------------------------
def speed(
    root: Path, n_phrases: int, n_nodes: int, seed: int, model: str = "minilm"
) -> dict[str, float | int | str]:
    """Fit on ``n_nodes`` DBpedia terms in a random tree, predict ``n_phrases`` distinct phrases.

    A fresh encoder of ``model`` is used, so model loading and every embedding are inside the
    time. CPU seconds (all threads of the process) and the 1-minute load average before and
    after are given too: on a shared box the CPU seconds are the steadier figure.
    """
    terms = sorted({t["term"] for t in json.loads((root / DBO / "A.5(ZS)_Test.json").read_text())})
    rng = np.random.default_rng(seed)
    labels = [terms[i] for i in np.sort(rng.choice(len(terms), n_nodes, replace=False))]
    parents: list[list[str] | None] = [None] * min(50, n_nodes)
    parents += [[str(rng.integers(0, i))] for i in range(len(parents), n_nodes)]
    tax = Taxonomy([str(i) for i in range(n_nodes)], labels, parents, source="speed tree")
    phrases = list(dict.fromkeys(terms + [t.lower() for t in terms] + [t.upper() for t in terms]))
    phrases = phrases[:n_phrases]
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    matcher = TaxonomyMatcher(get_encoder(model), show_progress=False).fit(tax)
    t1, c1 = time.perf_counter(), time.process_time()
    matcher.predict(phrases, top_k=5)
    t2, c2 = time.perf_counter(), time.process_time()
    return {
        "model": model,
        "phrases": len(phrases),
        "nodes": n_nodes,
        "depth": tax.max_depth,
        "fit s": t1 - t0,
        "predict s": t2 - t1,
        "total s": t2 - t0,
        "fit CPU s": c1 - c0,
        "predict CPU s": c2 - c1,
        "load before": load0,
        "load after": os.getloadavg()[0],
    }


# -- report ---------------------------------------------------------------------------------------
LABEL_BASELINES = ("rapidfuzz best label", "embedding nearest label")
NAME_BASELINES = ("rapidfuzz best name (+ examples)", "embedding nearest name (+ examples)")
METHODS = ("linker", "linker, no examples", *LABEL_BASELINES, *NAME_BASELINES)
COLUMNS = ("acc@1", "acc@5", "MRR", "tree distance")


@dataclass
class SetResult:
    task: Task
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def verdict(r: SetResult) -> str:
    """The issue's goal against its two baselines (best label), then against the name ones."""
    ours = r.scores["linker"]["acc@1"] or 0.0
    if r.task.hierarchy_known and not r.task.name.startswith(("DBpedia", "OBI", "MatOnto")):
        goal, need = "none (extra set); margin over the label baselines", None
    elif r.task.name.startswith("DBpedia"):
        goal, need = "≥ +0.10 acc@1 over both label baselines", 0.10
    else:
        goal, need = "beat both label baselines (acc@1)", 0.0
    best = max(r.scores[m]["acc@1"] or 0.0 for m in LABEL_BASELINES)
    out = f"{goal}: {ours - best:+.3f}"
    if need is not None:
        out += " — " + ("met" if ours - best > need - 1e-12 else "NOT met")
    names = [r.scores[m]["acc@1"] or 0.0 for m in NAME_BASELINES if m in r.scores]
    if names:
        out += f"; over the name baselines, which also see the examples: {ours - max(names):+.3f}"
    return out


SpeedRow = dict[str, float | int | str]


def render(results: list[SetResult], speed_rows: list[SpeedRow], settings: dict[str, str]) -> str:
    lines = header_lines("Taxonomy matching benchmark", extra=settings)
    lines += [
        "Seconds: linker's include embedding the phrases and nodes (the model runs there); the",
        "embedding baselines reuse those cached vectors, so theirs are the search alone.",
        "",
    ]
    for r in results:
        lines += [f"## {r.task.name}", ""]
        lines += [f"- {n}" for n in r.task.notes]
        lines += [f"- Target: {verdict(r)}", ""]
        rows = [
            [m, *(fmt(r.scores[m][c]) for c in COLUMNS), fmt(r.seconds.get(m), 1)]
            for m in METHODS
            if m in r.scores
        ]
        lines += markdown_table(["method", *COLUMNS, "seconds"], rows)
        lines.append("")
    if speed_rows:
        lines += ["## Speed: phrases against a taxonomy", ""]
        heads = list(speed_rows[0])
        lines += markdown_table(heads, [[fmt(r[h], 1) for h in heads] for r in speed_rows])
        lines += [
            "",
            "- Seconds include loading the model and embedding every node text and phrase; "
            "load is the 1-minute load average before and after (2 cores: above 2 means the "
            "run shared them).",
        ]
        for r in speed_rows:
            ok = "met" if float(r["total s"]) < 120 else "NOT met"
            lines.append(f"- Target under 120 s for 50,000 × 10,000, model {r['model']}: {ok}")
        lines.append("")
    return "\n".join(lines) + "\n"


def measure(task: Task, enc: CachedEncoder) -> SetResult:
    res = SetResult(task)
    labels, label_node = names_of(task, with_examples=False)
    runs = [("linker", lambda: run_linker(task, enc, examples=True))]
    if task.examples:
        runs.append(("linker, no examples", lambda: run_linker(task, enc, examples=False)))
    runs += [
        (LABEL_BASELINES[0], lambda: run_rapidfuzz(task, labels, label_node)),
        (LABEL_BASELINES[1], lambda: run_embedding(task, labels, label_node, enc)),
    ]
    if task.examples:
        names, node_of = names_of(task, with_examples=True)
        runs += [
            (NAME_BASELINES[0], lambda: run_rapidfuzz(task, names, node_of)),
            (NAME_BASELINES[1], lambda: run_embedding(task, names, node_of, enc)),
        ]
    for name, fn in runs:
        t0 = time.perf_counter()
        ranked = fn()
        res.seconds[name] = time.perf_counter() - t0
        res.scores[name] = metrics(task, ranked)
        s = res.scores[name]
        print(
            f"  {name:36s} acc@1 {s['acc@1']:.3f} acc@5 {s['acc@5']:.3f} "
            f"MRR {s['MRR']:.3f} ({res.seconds[name]:.1f} s)",
            flush=True,
        )
    return res


def split_args(name: str, args: argparse.Namespace) -> list[argparse.Namespace]:
    """One set of arguments per split: several seeds where a set is split into examples and
    evaluated terms (the few-shot term-typing sets), the one seed elsewhere."""
    split = name in TERM_TYPING_2025 or name not in ALL_SETS
    seeds = range(args.seed, args.seed + max(args.splits, 1)) if split else [args.seed]
    return [argparse.Namespace(**{**vars(args), "seed": s}) for s in seeds]


def average(runs: list[SetResult], seeds: list[int]) -> SetResult:
    """The mean of each method's figures over several splits of one set."""
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    out = SetResult(dataclasses.replace(first.task, notes=[]))
    for method in first.scores:
        out.scores[method] = {
            c: (None if first.scores[method][c] is None else
                float(np.mean([r.scores[method][c] or 0.0 for r in runs])))
            for c in COLUMNS
        }  # fmt: skip
        out.seconds[method] = float(np.mean([r.seconds[method] for r in runs]))
    out.task.notes.append(
        f"mean over {len(runs)} splits (seeds {seeds[0]}-{seeds[-1]}); the first split: "
        + first.task.notes[0]
    )
    for method in ("linker", *LABEL_BASELINES):
        per = ", ".join(f"{r.scores[method]['acc@1']:.3f}" for r in runs)
        out.task.notes.append(f"acc@1 of {method} per split: {per}")
    return out


def load(name: str, args: argparse.Namespace) -> Task:
    root = Path(args.data_root)
    if name == "dbpedia":
        return load_dbpedia(root, args.max_phrases, args.seed)
    if name in TERM_TYPING_2025:
        path = root / LLMS4OL / "2025/TaskB-TermTyping" / TERM_TYPING_2025[name]
        path = path / "train/term_typing_train_data.json"
        title = f"{TERM_TYPING_2025[name]} (LLMs4OL 2025 term typing, few-shot)"
        return load_term_typing(path, title, args.example_share, args.seed, args.max_phrases)
    if name == "ncbi":
        return load_ncbi(root, args.max_phrases, args.seed)
    if name == "schemaorg":
        return load_schemaorg(root, args.max_phrases, args.seed)
    return load_folder(Path(name), args.example_share, args.seed, args.max_phrases)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--data-root", default="../shared/datasets", help="shared datasets folder")
    p.add_argument(
        "--set",
        action="append",
        metavar="NAME",
        help=f"one of {', '.join(ALL_SETS)} or a folder; repeat (default: all)",
    )
    p.add_argument("--max-phrases", type=int, metavar="N", help="evaluate N seeded phrases per set")
    p.add_argument("--example-share", type=float, default=0.5, help="train share used as examples")
    p.add_argument("--seed", type=int, default=0, help="seed of splits and samples")
    p.add_argument(
        "--splits",
        type=int,
        default=5,
        metavar="N",
        help="few-shot sets split into examples and evaluated terms: average over N splits "
        "(seeds SEED..SEED+N-1); their evaluated sets are small (43-101 terms)",
    )
    p.add_argument("--speed-phrases", type=int, default=50_000, help="phrases of the speed run")
    p.add_argument("--speed-nodes", type=int, default=10_000, help="nodes of the speed run")
    p.add_argument(
        "--model",
        default="minilm",
        help="embedding model of the sets, for linker and the embedding baselines (e.g. static)",
    )
    p.add_argument("--skip-speed", action="store_true", help="skip the speed run")
    p.add_argument(
        "--speed-model",
        action="append",
        metavar="NAME",
        help="embedding model of the speed run; repeat (default: minilm and static)",
    )
    p.add_argument("--out", default="benchmarks/results/taxonomy.md", help="results markdown")
    add_rerank_args(p, out="benchmarks/results/taxonomy_rerank.md", default_n=100,
                    subset="seeded phrases per set")  # fmt: skip
    return p.parse_args(argv)


# -- LLM rerank on a sample (only with --rerank) --------------------------------------------------
def rerank_set(task: Task, enc: CachedEncoder, rr: object, args: argparse.Namespace,
               clock: Clock) -> tuple[list[str], int]:  # fmt: skip
    """linker with and without the LLM on the same phrases (those done within the budget)."""
    matcher = TaxonomyMatcher(enc, show_progress=False).fit(task.taxonomy, task.examples)
    t0 = time.perf_counter()
    plain = matcher.predict(task.phrases, top_k=TOP).nodes
    plain_s = time.perf_counter() - t0
    matcher.reranker, matcher.rerank_top = rr, args.rerank_top  # type: ignore[assignment]
    parts, t0 = [], time.perf_counter()
    for s in range(0, len(task.phrases), 5):
        if parts and clock.spent:
            break
        parts.append(matcher.predict(task.phrases[s : s + 5], top_k=TOP).nodes)
        print(f"  {s + len(parts[-1])} phrases reranked ({clock.seconds():.0f} s)", flush=True)
    llm, llm_s = np.vstack(parts), time.perf_counter() - t0
    n = len(llm)
    done = dataclasses.replace(task, phrases=task.phrases[:n], gold=task.gold[:n])
    runs = [("linker, no LLM", plain[:n], plain_s * n / len(plain)),
            (f"linker + LLM rerank ({args.rerank})", llm, llm_s)]  # fmt: skip
    rows = [[m, *(fmt(metrics(done, r)[c]) for c in COLUMNS), fmt(t, 1)] for m, r, t in runs]
    gold = [{task.taxonomy.index[g] for g in gs if g in task.taxonomy.index} for gs in done.gold]
    first = [(a[0] in g, b[0] in g) for a, b, g in zip(plain[:n], llm, gold, strict=True)]
    lines = [f"## {task.name}", "", f"- {n} of the {len(task.phrases)} sampled phrases done "
             f"(seed {args.rerank_seed}); {len(task.taxonomy)} nodes", "",
             *markdown_table(["method", *COLUMNS, "seconds"], rows), "",
             f"Rank 1 right without the LLM and wrong with it: {sum(a > b for a, b in first)}; "
             f"wrong without and right with: {sum(b > a for a, b in first)}.", ""]  # fmt: skip
    print_table(task.name, ["method", *COLUMNS, "seconds"], rows)
    return lines, n


def run_rerank(args: argparse.Namespace) -> int:
    from linker.llm.tasks import NODES
    from linker.rerank.spec import open_reranker

    enc = CachedEncoder(get_encoder())
    tasks = [_sample(load(name, args), args.rerank_n, args.rerank_seed)
             for name in args.set or ["dbpedia"]]  # fmt: skip
    clock, body, items = Clock(args.rerank_minutes), [], 0
    with open_reranker(args.rerank, task=NODES, cache=args.rerank_cache) as rr:
        rr.rounds = args.rerank_rounds  # type: ignore[attr-defined]  # an LLMSelectReranker
        for task in tasks:
            if body and clock.spent:
                break
            lines, n = rerank_set(task, enc, rr, args, clock)
            body, items = body + lines, items + n
        report = rr.report()
    lines = header_lines(
        "Taxonomy matching: LLM rerank on a sample",
        extra={
            "LLM": f"{args.rerank}, top {args.rerank_top} candidate nodes, "
            f"{args.rerank_rounds} shuffled rounds, vote, temperature 0, cached"
        },  # fmt: skip
    )
    lines += [
        "Both rows map the same phrases with the same fitted matcher; only the LLM rerank of",
        "each phrase's best candidates differs (it reorders them; scores travel with nodes).",
        "",
        *body,
        *counter_lines(report, clock.seconds(), items, "phrases"),
        *load_lines(clock),
    ]
    write_atomic(args.rerank_out, "\n".join(lines) + "\n")
    print(f"wrote {args.rerank_out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.rerank:
        return run_rerank(args)
    settings = {
        "Settings": f"max phrases {args.max_phrases or 'all'}, example share "
        f"{args.example_share}, seed {args.seed}, {args.splits} splits of the few-shot sets, "
        f"top {TOP} ranks kept for MRR, "
        f"embedding model of the sets {args.model} (linker and the embedding baselines)"
    }
    settings["Load average (1, 5, 15 min) at start"] = ", ".join(
        f"{x:.1f}" for x in os.getloadavg()
    )
    enc = CachedEncoder(get_encoder(args.model))
    results: list[SetResult] = []
    for name in args.set or ALL_SETS:
        try:
            tasks = [load(name, seeded) for seeded in split_args(name, args)]
        except (OSError, KeyError, ValueError) as e:
            print(f"{name}: skipped ({e})", flush=True)
            continue
        runs = []
        for task in tasks:
            print(f"{task.name}: {len(task.phrases)} phrases, {len(task.taxonomy)} nodes")
            runs.append(measure(task, enc))
        results.append(average(runs, [a.seed for a in split_args(name, args)]))
        write_atomic(args.out, render(results, [], settings))
    speed_rows: list[SpeedRow] = []
    for model in [] if args.skip_speed else args.speed_model or ["minilm", "static"]:
        row = speed(Path(args.data_root), args.speed_phrases, args.speed_nodes, args.seed, model)
        speed_rows.append(row)
        print_table("speed", list(row), [[fmt(v, 1) for v in row.values()]])
    if speed_rows:
        avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        settings["Load average (1, 5, 15 min) after the speed run"] = avg
    write_atomic(args.out, render(results, speed_rows, settings))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
