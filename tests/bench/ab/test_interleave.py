"""Chunks of cells, the ABBA order, and the comparison folder's manifest."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.ab.environments import Environment
from bench.ab.interleave import (
    MANIFEST,
    Side,
    check_folder,
    check_manifest,
    chunk_slices,
    order,
    run_chunk,
    write_manifest,
)
from bench.core.errors import BenchError


def test_chunks_cover_every_cell_once() -> None:
    for n, k in ((240, 4), (10, 3), (3, 8), (1, 1)):
        slices = chunk_slices(n, k)
        covered = [i for s in slices for i in range(n)[s]]
        assert covered == list(range(n)) and len(slices) == min(n, k)
    assert chunk_slices(240, 4) == [slice(0, 60), slice(60, 120), slice(120, 180),
                                    slice(180, 240)]


def test_sides_alternate_abba() -> None:
    env = Environment("current", "current", Path(sys.executable))
    a, b = Side("a", env, Path("a")), Side("b", env, Path("b"))
    assert [tuple(s.label for s in order(k, (a, b))) for k in range(4)] == [
        ("a", "b"), ("b", "a"), ("a", "b"), ("b", "a")]


def test_a_manifest_of_other_environments_is_refused(tmp_path: Path) -> None:
    doc = {"a": {"spec": "current"}, "b": {"spec": "pip:optuna==4.9.0"}, "suite": {"x": 1}}
    write_manifest(tmp_path / "cmp", doc)
    check_manifest(tmp_path / "cmp", doc)  # the same comparison continues
    with pytest.raises(BenchError, match=r"holds a comparison of other environments \(B\)"):
        check_manifest(tmp_path / "cmp", {**doc, "b": {"spec": "current"}})
    with pytest.raises(BenchError, match="holds a comparison of other suites"):
        check_manifest(tmp_path / "cmp", {**doc, "suite": {"x": 2}})


def test_a_foreign_folder_or_file_is_refused(tmp_path: Path) -> None:
    check_folder(tmp_path / "new")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(BenchError, match=f"is not empty and holds no {MANIFEST}"):
        check_folder(tmp_path / "full")
    (tmp_path / "file").write_text("")
    with pytest.raises(BenchError, match="is a file"):
        check_folder(tmp_path / "file")


def test_a_side_that_refuses_its_chunk_is_one_line(tmp_path: Path) -> None:
    env = Environment("current", "current", Path(sys.executable))
    side = Side("b", env, tmp_path / "b")
    with pytest.raises(BenchError) as err:
        run_chunk(side, tmp_path / "missing.toml", slice(0, 1))
    assert str(err.value).startswith("environment 'current' failed on cells 0:1 (exit 2): "
                                     "samplerbench run: error: no suite file")
    assert not (tmp_path / "b").exists()
