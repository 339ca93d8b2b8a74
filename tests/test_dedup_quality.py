"""Dedup where most records are singletons: the unsupervised scorer must not chain strangers.

Febrl 2 (the shared benchmark data) has 4,000 original people and 1,000 rewritten duplicates,
so most records have no duplicate and many mutual nearest neighbours are strangers. The
scorer's pseudo-labels once took those as matches and the records fell into one cluster of
3,585. The test runs the real pipeline on the people numbered below 800 (1,043 records).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import polars as pl
import pytest

import linker as lk
from linker.data.benchmarks import load_dedup_benchmark
from linker.vectors.embed import Encoder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.mark.slow
def test_dedup_of_mostly_singletons_does_not_chain_strangers(minilm: Encoder) -> None:
    if not SHARED.is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED}")
    df, idc, gt = load_dedup_benchmark("febrl2", data_root=SHARED)
    people = df.filter(pl.col(idc).str.extract(r"rec-(\d+)-").cast(pl.Int64) < 800)
    ids = set(people[idc].to_list())
    true = {tuple(sorted(p)) for p in gt.iter_rows() if p[0] != p[1] and set(p) <= ids}
    assert len(true) > 300  # the subset really holds duplicates

    out = lk.dedup(people, id=idc, model=minilm, show_progress=False)

    assert out.height == people.height
    members = out.group_by("_cluster").agg(pl.col(idc))[idc].to_list()
    predicted = {tuple(sorted(p)) for m in members for p in itertools.combinations(m, 2)}
    hits = len(predicted & true)
    assert max(len(m) for m in members) <= 10  # Febrl 2 has at most 5 duplicates a person
    assert hits / len(predicted) >= 0.95, f"precision {hits}/{len(predicted)}"
    assert hits / len(true) >= 0.95, f"recall {hits}/{len(true)}"
