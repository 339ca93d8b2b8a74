"""The Ray backend's reading and writing on a real local Ray cluster of two nodes.

Every test compares with the local reading or writing of the same files: the frames must be
the same, not merely close.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import linker as lk
from linker.cli import main
from linker.data.demo import make_demo
from linker.errors import InputError

try:
    import ray
    from ray.cluster_utils import Cluster
except ImportError:  # pragma: no cover - CI installs the extra, so there it must not skip
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("the Ray backend needs Ray: pip install 'linker[ray]'", allow_module_level=True)

from linker.backend.ray import RayBackend

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),  # Ray's own
]

ON = "name,street,city"


@pytest.fixture(scope="module")
def backend(ray_two_nodes: Cluster) -> Iterator[RayBackend]:
    b = RayBackend(address=ray_two_nodes.address)
    b.workers()  # connect now: the CLI's backend of this module reuses this connection
    yield b
    b.close()
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, pl.DataFrame]:
    left, right, _ = make_demo(300, seed=11)
    return left, right


def _split(df: pl.DataFrame, folder: Path, parts: int, *, kind: str) -> Path:
    folder.mkdir(parents=True)
    for i in range(parts):
        piece = df[i::parts]
        path = folder / f"part-{i}.{kind}"
        piece.write_parquet(path) if kind == "parquet" else piece.write_csv(path)
    return folder


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_ray_reads_a_folder_as_the_local_read(
    backend: RayBackend, demo: tuple[pl.DataFrame, pl.DataFrame], tmp_path: Path, kind: str
) -> None:
    folder = _split(demo[0], tmp_path / "left", 4, kind=kind)
    assert_frame_equal(backend.read_table(folder), lk.read(folder))  # row order too
    assert_frame_equal(backend.read_table(folder.as_uri()), lk.read(folder))


def test_ray_reads_hive_partitions_as_the_local_read(backend: RayBackend, tmp_path: Path) -> None:
    for state, ids in (("NY", ["a", "b"]), ("CA", ["c"]), ("__HIVE_DEFAULT_PARTITION__", ["d"])):
        folder = tmp_path / "t" / f"state={state}"
        folder.mkdir(parents=True)
        pl.DataFrame({"id": ids, "n": range(len(ids))}).write_parquet(folder / "p.parquet")
    local = lk.read(tmp_path / "t")
    assert local["id"].to_list() == ["c", "a", "b", "d"]  # folders in name order
    assert local["state"].to_list() == ["CA", "NY", "NY", None]  # Hive's null partition
    assert_frame_equal(backend.read_table(tmp_path / "t"), local)


def test_ray_read_errors_are_the_local_ones(backend: RayBackend, tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.csv").write_text("id,x\n1,2\n", encoding="utf-8")
    (tmp_path / "t" / "b.csv").write_text("id,y\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"missing \['x'\], extra \['y'\]"):
        backend.read_table(tmp_path / "t")
    (tmp_path / "t" / "b.csv").write_text("id,x\n1,2\n3,4,5\n", encoding="utf-8")
    with pytest.raises(InputError) as info:  # raised in a Ray task, given back as it was
        backend.read_table(tmp_path / "t")
    assert type(info.value) is InputError
    assert str(info.value).startswith(f"File {str(tmp_path / 't' / 'b.csv')!r}, line 3")


def test_ray_writes_the_parts_the_local_writer_writes(
    backend: RayBackend, demo: tuple[pl.DataFrame, pl.DataFrame], tmp_path: Path
) -> None:
    df = demo[0]
    from linker.io.parts import write_parts

    ray_paths = backend.write_parts(df, tmp_path / "ray", rows_per_part=70)
    local_paths = write_parts(df, tmp_path / "local", rows_per_part=70)
    assert [p.name for p in ray_paths] == [p.name for p in local_paths]
    for a, b in zip(ray_paths, local_paths, strict=True):
        assert_frame_equal(pl.read_parquet(a), pl.read_parquet(b))
    assert sorted(os.listdir(tmp_path)) == ["local", "ray"]


def test_cli_ray_parquet_in_parts_out_same_as_local(
    backend: RayBackend, demo: tuple[pl.DataFrame, pl.DataFrame], tmp_path: Path
) -> None:
    left, right = demo
    _split(left, tmp_path / "left", 3, kind="parquet")
    _split(right, tmp_path / "right", 3, kind="parquet")
    args = ["merge", str(tmp_path / "left"), str(tmp_path / "right"), "--on", ON, "-q"]
    ray_args = ["--backend", "ray", "--address", backend.address or "", "--part-rows", "100"]
    assert main([*args, *ray_args, "-o", str(tmp_path / "ray") + "/"]) == 0
    assert main([*args, "-o", str(tmp_path / "local.parquet")]) == 0
    assert len(list((tmp_path / "ray").iterdir())) >= 4
    got = pl.read_parquet(tmp_path / "ray" / "*.parquet")
    assert (got["_merge"] == "both").sum() > 150
    assert_frame_equal(got, pl.read_parquet(tmp_path / "local.parquet"))
