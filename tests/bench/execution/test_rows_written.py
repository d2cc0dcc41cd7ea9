"""A fresh replay run builds its tables from the rows its cells return, as written: the same
tables, to the bit, as reading the storage back (a journal file, and SQLite, where the copy
goes through Optuna's `add_trials`); any cell the run did not write whole sends
the export back to the storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import bench.execution.run_suite as run_suite_module
from bench.execution.run_suite import rows_written
from bench.execution.task import CellResult
from bench.results.export import build_tables
from bench.results.rows import TableRows
from bench.results.schema import STEPS_FILE, TRIALS_FILE
from bench.spec.cells import suite_cells
from bench.spec.suite import parse_suite
from bench.storage.backends import open_storage
from tests.helpers.paths import DIGITS_TABLE
from tests.helpers.suites import cli, digits_suite_data, write_suite

REPLAY = {"kind": "mnist-table", "dataset": "digits", "table": str(DIGITS_TABLE),
          "epochs": 2, "reports_per_epoch": 2}


def _suite(path: Path, **top: Any) -> Path:
    settings = {"trials": 12, "seeds": 2, "strategies": ["grid", "tpe"],
                "pruners": ["none", "median"], **top}
    return write_suite(path, digits_suite_data(REPLAY, **settings))


def _tables(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(out / TRIALS_FILE), pd.read_parquet(out / STEPS_FILE)


def _exported(out: Path, url: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the storage gives (default: the results folder's journal), through a parquet
    round trip as the written tables took."""
    trials, steps = build_tables(open_storage(url or f"journal:{out / 'journal.log'}"))
    back = []
    for frame in (trials, steps):
        path = out / "check.parquet"
        frame.to_parquet(path, index=False)
        back.append(pd.read_parquet(path))
    return back[0], back[1]


@pytest.mark.parametrize(("k", "storage"), [(1, "journal"), (3, "journal"), (3, "sqlite")])
def test_a_fresh_run_writes_the_tables_its_storage_gives(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, k: int, storage: str) -> None:
    read_back: list[object] = []
    monkeypatch.setattr(run_suite_module, "build_tables",
                        lambda *a, **kw: read_back.append(a) or build_tables(*a, **kw))
    suite = _suite(tmp_path / "s.toml", trials_in_parallel=k)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if storage == "sqlite" else None
    code, _, err = cli(capsys, "run", suite, "-o", tmp_path / "out", "--no-report",
                       *(["--storage", url] if url else []))
    assert code == 0, err
    assert read_back == []  # built from the cells' rows
    written, exported = _tables(tmp_path / "out"), _exported(tmp_path / "out", url)
    assert len(written[0]) == 2 * 2 * 2 * 12 and len(written[1]) > len(written[0])
    for mine, theirs in zip(written, exported, strict=True):
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)


def test_a_run_that_resumes_reads_its_tables_from_the_storage(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    suite = _suite(tmp_path / "s.toml")
    code, _, err = cli(capsys, "run", suite, "-o", tmp_path / "out", "--no-report",
                       "--cells", "0:3")
    assert code == 0, err
    read_back: list[object] = []
    monkeypatch.setattr(run_suite_module, "build_tables",
                        lambda *a, **kw: read_back.append(a) or build_tables(*a, **kw))
    code, _, err = cli(capsys, "run", suite, "-o", tmp_path / "out", "--no-report")
    assert code == 0, err
    assert len(read_back) == 1  # three cells were stored by the first run
    written = _tables(tmp_path / "out")
    assert written[0]["cell"].nunique() == 8
    for mine, theirs in zip(written, _exported(tmp_path / "out"), strict=True):
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)


def test_rows_count_only_when_every_cell_of_the_plan_returned_them() -> None:
    cells = suite_cells(parse_suite(digits_suite_data(REPLAY, seeds=2)))
    rows = TableRows([{"trial": 0}], [{"step": 1}])

    def result(name: str, **kw: Any) -> CellResult:
        return CellResult(name, 4, 4, 0.9, 0.1, **{"rows": rows, **kw})

    every = [result(c.name) for c in cells]
    assert rows_written(every, cells) == TableRows([{"trial": 0}] * 2, [{"step": 1}] * 2)
    assert rows_written(every[:1], cells) is None  # the other cell was stored before
    assert rows_written([every[0], result(cells[1].name, rows=None)], cells) is None
    assert rows_written([every[0], result(cells[1].name, error="boom")], cells) is None
