"""Run a suite end to end: validate, prepare the output folder, run cells, export tables."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import optuna

from bench.core.attrs import counts_toward_budget
from bench.core.errors import BenchError
from bench.core.files import now_iso, write_json
from bench.core.optuna_internals import study_id
from bench.core.prefetch import imported_meanwhile
from bench.execution.executors import make_executor
from bench.execution.plan import machine_cells
from bench.execution.progress import SuiteProgress
from bench.execution.task import CellResult, CellTask
from bench.objectives.base import build_objective
from bench.results.export import build_tables, tables_from_rows, write_tables
from bench.results.rows import TableRows
from bench.results.schema import RUN_FILE, SCHEMA_VERSION
from bench.spec.cells import Cell
from bench.spec.suite import Suite, build_strategies
from bench.storage.backends import check_writable, open_storage
from bench.storage.urls import check_writers, describe, resolve_storage_url
from bench.training.machine import machine_info


@dataclass(frozen=True)
class RunOptions:
    """Command-line overrides of a suite's execution settings (results do not depend on them)."""

    output: Path | None = None
    storage: str | None = None
    executor: str | None = None
    workers: int | None = None
    scheduler: str | None = None
    data_root: Path | None = None
    cells: slice | None = None  # run only these cells of the plan (`compare` interleaves)


@dataclass(frozen=True)
class RunSummary:
    """What a suite run did."""

    results: Path
    cells: list[CellResult]
    seconds: float
    objective_s: float
    sampler_s: float
    time_simulated: bool = False

    @property
    def failed(self) -> list[CellResult]:
        """Cells that ended with an error."""
        return [c for c in self.cells if c.error]


def apply_options(suite: Suite, options: RunOptions) -> Suite:
    """The suite with the command line's execution overrides."""
    changes: dict[str, Any] = {}
    if options.storage:
        changes["storage"] = options.storage
    if options.executor:
        changes["executor"] = options.executor
    if options.workers:
        changes["workers"] = options.workers
    return replace(suite, **changes) if changes else suite


def prepare_output(path: Path) -> Path:
    """Create the results folder and prove it is writable, or raise BenchError."""
    path = path.expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise BenchError(f"output folder {path} is not writable ({err.strerror}); "
                         "choose another with --output") from None
    return path


def writers(suite: Suite) -> int:
    """How many processes may write to the storage at once (a replay cell's simulated
    workers write nothing: its study is copied in one write)."""
    parallel = suite.workers if suite.executor != "serial" else 1
    live = suite.objective.kind == "mnist"
    return parallel * (max(suite.trials_in_parallel) if live else 1)


def cell_status(storage: optuna.storages.BaseStorage, cells: list[Cell]) -> dict[str, int]:
    """Trials that already count toward each cell's budget."""
    ids = {s.study_name: study_id(s) for s in storage.get_all_studies()}
    done = {}
    for cell in cells:
        if cell.name in ids:
            trials = storage.get_all_trials(ids[cell.name], deepcopy=False)
            done[cell.name] = sum(counts_toward_budget(t) for t in trials)
        else:
            done[cell.name] = 0
    return done


def rows_written(results: list[CellResult], cells: list[Cell]) -> TableRows | None:
    """The table rows of every cell of the plan when this run wrote each one's whole study
    (replay cells on a fresh results folder), in the form it was written; else None, and the
    tables are read back from the storage.

    A replay cell's study goes to the storage in one write that refuses a name already
    stored, so the rows it returns are its stored study's, and the tables are those the
    storage would give (`tests/bench/execution/test_rows_written.py` compares the two)."""
    by_cell = {r.cell: r for r in results}
    out = TableRows()
    for cell in cells:
        result = by_cell.get(cell.name)
        if result is None or result.error is not None or result.rows is None:
            return None
        out.extend(result.rows)
    return out


def run_info(suite: Suite, url: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The content of run.json."""
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": {**suite.to_dict(), "storage": describe(suite.storage)},
        "storage": describe(url),
        "machine": machine_info(torch_fields=suite.objective.kind == "mnist"),
        **extra,
    }


def _check_same_suite(out: Path, suite: Suite) -> None:
    """Refuse a results folder that holds another suite's run: its run.json, tables and
    report would be replaced."""
    path = out / RUN_FILE
    if not path.is_file():
        return
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))["suite"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BenchError(f"{path} is not a samplerbench run.json; choose another --output "
                         "folder or move that one away") from None
    if stored != suite.name:
        raise BenchError(f"{out} holds the results of suite {stored!r}, not {suite.name!r}; "
                         "choose another --output folder (nothing was written)")


def run_suite(suite: Suite, options: RunOptions, stream: TextIO | None = None,
              prefetch: Sequence[str] = ()) -> RunSummary:
    """Run every unfinished cell of `suite`, then export the tables to the results folder.

    `prefetch` names modules to import on a background thread while the cells run (the
    report's, which `run` writes next).
    """
    stream = stream or sys.stderr
    suite = apply_options(suite, options)
    # Everything that can refuse the suite runs before anything is written.
    build_strategies(suite, imported=True)  # the suite's own code runs from here on
    probe = build_objective(suite.objective, suite.devices[0], 0, options.data_root)
    provenance = probe.provenance()  # loads and verifies the data once, before any cell
    target = (options.output or Path("results") / suite.name).expanduser().resolve()
    created = not target.exists()
    _check_same_suite(target, suite)
    out = prepare_output(target)
    try:
        url = resolve_storage_url(suite.storage, out)
        check_writers(url, writers(suite))
        storage = open_storage(url)
        check_writable(storage, url)
    except BenchError:
        if created and not any(out.iterdir()):
            out.rmdir()  # leave no trace of a refused run
        raise
    cells = machine_cells(suite)
    info = run_info(suite, url, {"time_simulated": probe.time_simulated,
                                 "table": provenance.get("table"),
                                 "provenance": provenance, "created": now_iso()})
    write_json(out / RUN_FILE, info)
    chosen = cells if options.cells is None else cells[options.cells]
    done = cell_status(storage, chosen)
    todo = [c for c in chosen if done[c.name] < c.trials]
    left = sum(c.trials - done[c.name] for c in todo)
    part = ""
    if options.cells is not None:
        start, stop, _ = options.cells.indices(len(cells))
        part = f" (cells {start}:{stop})"
    print(f"samplerbench: suite {suite.name!r}: {len(cells)} cells{part}, {len(todo)} to run "
          f"({left} trials), results in {out}, storage {describe(url)}", file=stream)
    progress = SuiteProgress(len(todo), left, stream)
    data_root = str(options.data_root) if options.data_root else None
    tasks = [CellTask(c, url, data_root, suite.hash()) for c in todo]
    executor = make_executor(suite.executor, suite.workers, options.scheduler)
    start = time.perf_counter()
    started = dt.datetime.now()  # Optuna's trial datetimes are naive local time
    try:
        with imported_meanwhile(prefetch):
            results = executor.run(tasks, progress)
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    rows = rows_written(results, cells)
    if rows is None:  # some cell was stored before, or not written whole by this run
        trials, steps = build_tables(open_storage(url), [c.name for c in cells])
    else:
        trials, steps = tables_from_rows(rows)
    write_tables(trials, steps, out)
    info["updated"] = now_iso()
    write_json(out / RUN_FILE, info)
    if probe.time_simulated:  # replayed whole, with simulated datetimes: count by cell
        ran = trials[trials["cell"].isin({c.name for c in todo})]
    else:
        ran = trials[trials["datetime_start"] >= started]
    return RunSummary(out, results, seconds, float(ran["objective_s"].sum()),
                      float(ran["sampler_s"].sum()), probe.time_simulated)
