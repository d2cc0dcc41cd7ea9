"""Parallel trials inside one cell (`trials_in_parallel = K`): exact budget, constant liar,
stale handling that leaves the session's own RUNNING trials alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from bench.core.attrs import FAIL_REASON, STALE
from bench.core.errors import BenchError
from bench.execution.cell_runner import run_cell
from bench.execution.prelude import sampler_options
from bench.execution.task import CellEvent, CellTask
from bench.spec.cells import Cell, suite_cells
from bench.spec.suite import parse_suite
from bench.storage.backends import open_storage
from bench.storage.urls import resolve_storage_url
from strategies.registry import build_sampler
from tests.helpers.suites import tiny_suite_data


class ExplodingSampler(optuna.samplers.RandomSampler):
    """Random search that raises on its fourth suggestion (a bug inside a sampler)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        self.calls = 0

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                           name: str, dist: optuna.distributions.BaseDistribution) -> Any:
        self.calls += 1
        if self.calls == 4:
            raise RuntimeError("sampler exploded")
        return super().sample_independent(study, trial, name, dist)


def exploding(*, seed: int, space: object) -> optuna.samplers.BaseSampler:
    """Registry factory (`EXPLODING`)."""
    return ExplodingSampler(seed)


EXPLODING = f"{__name__}:exploding"  # tests.bench.execution.test_loops_threads:exploding


def _cell(**overrides: Any) -> Cell:
    return suite_cells(parse_suite(tiny_suite_data(**overrides)))[0]


def _run(cell: Cell, url: str) -> tuple[list[CellEvent], optuna.Study]:
    events: list[CellEvent] = []
    result = run_cell(CellTask(cell, url), events.append)
    assert result.error is None
    return events, optuna.load_study(study_name=cell.name, storage=open_storage(url))


def test_parallel_trials_meet_the_budget_exactly_and_overlap(tmp_path: Path) -> None:
    cell = _cell(trials=7, trials_in_parallel=3)
    events, study = _run(cell, resolve_storage_url("journal", tmp_path))
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(7))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert [e.done for e in events if not e.finished] == list(range(1, 8))
    assert events[-1].finished and events[-1].done == 7
    # the threads really ran trials at the same time
    overlaps = sum(a.datetime_start < b.datetime_complete and b.datetime_start < a.datetime_complete
                   for i, a in enumerate(trials) for b in trials[i + 1:])
    assert overlaps > 0


def test_parallel_session_fails_only_trials_left_by_a_stopped_process(tmp_path: Path) -> None:
    url = resolve_storage_url("journal", tmp_path)
    cell = _cell(trials=3, trials_in_parallel=3)
    _run(cell, url)
    orphan = optuna.load_study(study_name=cell.name, storage=open_storage(url)).ask()
    bigger = replace(cell, trials=8)  # a larger budget continues the study
    _, study = _run(bigger, url)
    trials = study.get_trials()
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert [t.number for t in failed] == [orphan.number]
    assert failed[0].user_attrs[FAIL_REASON] == STALE
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 8
    assert not [t for t in trials if t.state == TrialState.RUNNING]


def test_parallel_trials_stop_when_the_grid_is_used_up_without_repeating_a_point(
        tmp_path: Path) -> None:
    cell = _cell(trials=12, trials_in_parallel=3,
                 strategies=[{"name": "grid", "options": {"points": 1}}])  # 1 x 7 points
    _, study = _run(cell, resolve_storage_url("journal", tmp_path))
    trials = study.get_trials()
    assert len(trials) == 7
    assert len({t.params["hidden_size"] for t in trials}) == 7
    assert study.user_attrs["samplerbench_grid_exhausted_after"] == 7


def test_constant_liar_is_on_for_tpe_with_parallel_trials() -> None:
    tpe = _cell(strategies=["tpe"], trials_in_parallel=2)
    assert sampler_options(tpe) == {"constant_liar": True}
    sampler = build_sampler("tpe", 0, tpe.objective.space(), sampler_options(tpe))
    assert sampler._constant_liar is True
    assert tpe.spec()["trials_in_parallel"] == 2
    assert sampler_options(_cell(strategies=["tpe"])) == {}
    assert sampler_options(_cell(trials_in_parallel=2)) == {}  # random
    explicit = _cell(trials_in_parallel=2, strategies=[
        {"name": "tpe", "options": {"constant_liar": False}}])
    assert sampler_options(explicit) == {"constant_liar": False}


def test_an_error_in_one_thread_stops_the_cell_and_is_recorded(tmp_path: Path) -> None:
    url = resolve_storage_url("journal", tmp_path)
    cell = _cell(trials=10, trials_in_parallel=2, strategies=[EXPLODING])
    with pytest.raises(RuntimeError, match="sampler exploded"):
        run_cell(CellTask(cell, url))
    trials = optuna.load_study(study_name=cell.name, storage=open_storage(url)).get_trials()
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 1
    assert failed[0].user_attrs[FAIL_REASON] == "error: RuntimeError: sampler exploded"
    assert len(trials) < 10
    assert not [t for t in trials if t.state == TrialState.RUNNING]


def test_sqlite_is_refused_for_parallel_trials(tmp_path: Path) -> None:
    from bench.execution.run_suite import RunOptions, run_suite

    suite = parse_suite(tiny_suite_data(trials_in_parallel=2,
                                        storage=f"sqlite:///{tmp_path / 'db.sqlite'}"))
    with pytest.raises(BenchError, match="SQLite storage with 2 writers"):
        run_suite(suite, RunOptions(output=tmp_path / "out"))
