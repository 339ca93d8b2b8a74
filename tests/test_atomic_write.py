"""One atomic writer: a failed write leaves the old file (or folder) whole and no temporary
file behind; a new file gets the usual mode, a replaced one keeps its own."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import polars as pl
import pytest

from linker.io.write import atomic_folder, atomic_write, write
from linker.review.export import write_table


class Stop(Exception):
    """Raised half way through a write."""


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(Stop), atomic_write(target) as tmp:
        tmp.write_text("half of the new", encoding="utf-8")
        assert tmp.parent == tmp_path and tmp.read_text(encoding="utf-8")
        raise Stop
    assert target.read_text(encoding="utf-8") == "old"
    assert _names(tmp_path) == ["out.txt"]


def test_a_whole_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.bin"  # the folder is made
    with atomic_write(target) as tmp:
        tmp.write_bytes(b"\x00new")
    assert target.read_bytes() == b"\x00new"
    assert _names(target.parent) == ["out.bin"]


def test_modes_follow_the_umask_or_the_replaced_file(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        with atomic_write(tmp_path / "new.txt") as tmp:
            tmp.write_text("x", encoding="utf-8")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640
    kept = tmp_path / "private.txt"
    kept.write_text("old", encoding="utf-8")
    kept.chmod(0o600)
    with atomic_write(kept) as tmp:
        tmp.write_text("new", encoding="utf-8")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


@pytest.mark.parametrize("name", ["t.csv", "t.parquet"])
def test_table_writers_keep_the_old_table_on_failure(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pl.DataFrame({"id": [1], "name": ["=Acme"]})
    targets = {writer: tmp_path / writer.__name__ / name for writer in (write, write_table)}
    before = {}
    for writer, target in targets.items():
        writer(frame, str(target))
        before[writer] = target.read_bytes()

    def half(self: pl.DataFrame, path: str | Path, *args: object, **kwargs: object) -> None:
        Path(path).write_text("id,name\n1,", encoding="utf-8")
        raise Stop

    monkeypatch.setattr(pl.DataFrame, "write_csv", half)
    monkeypatch.setattr(pl.DataFrame, "write_parquet", half)
    for writer, target in targets.items():
        with pytest.raises(Stop):
            writer(frame.with_columns(id=2), str(target))
        assert target.read_bytes() == before[writer]
        assert _names(target.parent) == [name]


def test_a_failed_folder_write_keeps_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with atomic_folder(target, marker="model.json") as tmp:
        (tmp / "weights.bin").write_bytes(b"old")
        (tmp / "model.json").write_text('{"v": 1}', encoding="utf-8")
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(Stop), atomic_folder(target, marker="model.json") as tmp:
        (tmp / "weights.bin").write_bytes(b"new")
        raise Stop
    assert (target / "weights.bin").read_bytes() == b"old"
    assert _names(tmp_path) == ["model"]  # no temporary folder left
    with atomic_folder(target, marker="model.json") as tmp:
        (tmp / "weights.bin").write_bytes(b"new")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "part.bin").write_bytes(b"p")
        (tmp / "model.json").write_text('{"v": 2}', encoding="utf-8")
    assert json.loads((target / "model.json").read_text(encoding="utf-8")) == {"v": 2}
    assert (target / "weights.bin").read_bytes() == b"new"
    assert _names(target) == ["model.json", "notes.txt", "sub", "weights.bin"]  # notes kept
    assert _names(tmp_path) == ["model"]


def test_a_folder_without_its_marker_is_not_moved_in(tmp_path: Path) -> None:
    with (
        pytest.raises(FileNotFoundError, match="model.json"),
        atomic_folder(tmp_path / "model", marker="model.json") as tmp,
    ):
        (tmp / "weights.bin").write_bytes(b"w")
    assert _names(tmp_path) == []


def test_the_marker_moves_in_last_and_the_old_one_goes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model"
    with atomic_folder(target, marker="m.json") as tmp:
        (tmp / "a.bin").write_bytes(b"1")
        (tmp / "m.json").write_text("{}", encoding="utf-8")
    moved: list[tuple[str, bool]] = []
    real = os.replace

    def spy(src: str | Path, dst: str | Path) -> None:
        moved.append((Path(dst).name, (target / "m.json").exists()))
        real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    with atomic_folder(target, marker="m.json") as tmp:
        for name in ("z.bin", "a.bin", "m.json"):
            (tmp / name).write_bytes(b"2")
    # no marker while the other files move: a crash then leaves a folder a reader refuses
    assert moved == [("a.bin", False), ("z.bin", False), ("m.json", False)]


def test_a_crash_while_moving_leaves_no_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from linker.scoring.base import CONFIG_FILE

    target = tmp_path / "model"
    with atomic_folder(target, marker=CONFIG_FILE) as tmp:
        (tmp / "weights.bin").write_bytes(b"old")
        (tmp / CONFIG_FILE).write_text("{}", encoding="utf-8")
    real = os.replace

    def crash(src: str | Path, dst: str | Path) -> None:
        if Path(dst).name == CONFIG_FILE:
            raise OSError("disk full")
        real(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with (
        pytest.raises(OSError, match="disk full"),
        atomic_folder(target, marker=CONFIG_FILE) as tmp,
    ):
        (tmp / "weights.bin").write_bytes(b"new")
        (tmp / CONFIG_FILE).write_text("{}", encoding="utf-8")
    assert not (target / CONFIG_FILE).exists()  # loaders refuse it: "not a saved matcher"
    assert _names(tmp_path) == ["model"]


def test_a_failed_matcher_save_keeps_the_saved_matcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import demo_pairs

    import linker.scoring.boosted
    from linker.scoring.base import CONFIG_FILE
    from linker.scoring.boosted import BoostedMatcher
    from linker.scoring.registry import load_matcher

    pairs = demo_pairs(0, 80, 1, ["name", "city"])
    matcher = BoostedMatcher(max_iter=20).fit(pairs)
    folder = matcher.save(tmp_path / "m")
    before = (folder / CONFIG_FILE).read_bytes()

    class Failing:
        @staticmethod
        def dumps(*args: object, **kwargs: object) -> str:
            raise Stop

    monkeypatch.setattr(linker.scoring.boosted, "json", Failing)
    with pytest.raises(Stop):
        matcher.save(folder)
    monkeypatch.undo()
    assert (folder / CONFIG_FILE).read_bytes() == before
    assert _names(folder) == [CONFIG_FILE]
    assert load_matcher(folder).predict_proba(pairs).shape == (len(pairs.labels),)
