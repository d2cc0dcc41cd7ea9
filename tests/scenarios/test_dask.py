"""The dask executor on a real LocalCluster: results equal the serial run's, a worker killed
mid-cell is replaced and its cell resumes, a cell that keeps killing workers is reported."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from bench.core.attrs import FAIL_REASON, STALE, counts_toward_budget
from bench.core.errors import BenchError
from bench.execution.dask_executor import DaskExecutor, _Relay
from bench.execution.executors import SerialExecutor
from bench.execution.task import CellEvent, CellTask
from bench.spec.cells import suite_cells
from bench.spec.suite import parse_suite
from bench.storage.backends import open_storage
from bench.storage.urls import resolve_storage_url
from tests.helpers.suites import tiny_suite_data


class DyingSampler(optuna.samplers.RandomSampler):
    """Random search whose process SIGKILLs itself while suggesting any trial after the first:
    always, or only until `marker` exists (so the retried task gets through)."""

    def __init__(self, seed: int, marker: str, always: bool) -> None:
        super().__init__(seed=seed)
        self.marker = Path(marker)
        self.always = always

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                           name: str, dist: optuna.distributions.BaseDistribution) -> Any:
        if trial.number >= 1 and (self.always or not self.marker.exists()):
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().sample_independent(study, trial, name, dist)


def dying(*, seed: int, space: object, marker: str = "", always: bool = False
          ) -> optuna.samplers.BaseSampler:
    """Registry factory (`DYING`)."""
    return DyingSampler(seed, marker, always)


DYING = f"{__name__}:dying"  # tests.scenarios.test_dask:dying, imported by the dask workers


def _tasks(data: dict[str, Any], url: str) -> list[CellTask]:
    return [CellTask(c, url) for c in suite_cells(parse_suite(data))]


def _values(url: str) -> dict[tuple[str, int], float]:
    storage = open_storage(url)
    return {(s.study_name, t.number): t.value
            for s in storage.get_all_studies()
            for t in storage.get_all_trials(s._study_id)
            if t.state == TrialState.COMPLETE}


@pytest.mark.slow
def test_dask_results_equal_the_serial_run_and_progress_is_relayed(tmp_path: Path) -> None:
    data = tiny_suite_data(seeds=2, strategies=["random", "tpe"], trials=3)
    (tmp_path / "dask").mkdir()
    (tmp_path / "serial").mkdir()
    dask_url = resolve_storage_url("journal", tmp_path / "dask")
    serial_url = resolve_storage_url("journal", tmp_path / "serial")
    events: list[CellEvent] = []
    results = DaskExecutor(2).run(_tasks(data, dask_url), events.append)
    assert [r.error for r in results] == [None] * 4
    assert [r.done for r in results] == [3] * 4
    SerialExecutor().run(_tasks(data, serial_url), lambda _e: None)
    assert _values(dask_url) == _values(serial_url)
    assert len(_values(dask_url)) == 12
    assert sum(e.new for e in events if not e.finished) == 12
    assert sorted(e.cell for e in events if e.finished) == sorted(r.cell for r in results)


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_its_cell_resumes(tmp_path: Path) -> None:
    marker = tmp_path / "killed-once"
    data = tiny_suite_data(trials=4, seeds=2, strategies=[
        {"name": DYING, "options": {"marker": str(marker)}}])
    url = resolve_storage_url("journal", tmp_path)
    events: list[CellEvent] = []
    results = DaskExecutor(2, retries=2).run(_tasks(data, url), events.append)
    assert marker.exists()  # a worker did die
    assert [r.error for r in results] == [None, None]
    storage = open_storage(url)
    stale = 0
    for study in storage.get_all_studies():
        trials = storage.get_all_trials(study._study_id)
        assert sum(counts_toward_budget(t) for t in trials) == 4
        assert not [t for t in trials if t.state == TrialState.RUNNING]
        stale += sum(t.user_attrs.get(FAIL_REASON) == STALE for t in trials)
    assert stale == 1  # the trial its worker was running when it died
    assert sum(e.new for e in events if not e.finished) == 8  # no trial counted twice


@pytest.mark.slow
def test_a_cell_that_keeps_killing_its_workers_is_reported_and_the_others_finish(
        tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    data = tiny_suite_data(trials=2, strategies=[
        "random", {"name": DYING, "options": {"marker": str(marker), "always": True}}])
    url = resolve_storage_url("journal", tmp_path)
    results = DaskExecutor(2, retries=1).run(_tasks(data, url), lambda _e: None)
    good, bad = results
    assert good.error is None and good.done == 2
    assert bad.error is not None
    assert bad.error.startswith("its worker died 2 times")
    assert "\n" not in bad.error


def test_a_remote_scheduler_refuses_a_storage_file_of_this_machine(tmp_path: Path) -> None:
    tasks = _tasks(tiny_suite_data(), resolve_storage_url("journal", tmp_path))
    with pytest.raises(BenchError, match="workers of a remote dask scheduler cannot reach"):
        DaskExecutor(1, "tcp://127.0.0.1:8786").run(tasks, lambda _e: None)


def test_an_unreachable_scheduler_is_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tasks = _tasks(tiny_suite_data(), "postgresql://postgres@127.0.0.1:1/none")
    executor = DaskExecutor(1, f"tcp://127.0.0.1:{port}", connect_timeout_s=2)
    with pytest.raises(BenchError, match=f"cannot reach the dask scheduler at tcp://127.0.0.1:"
                                         f"{port}"):
        executor.run(tasks, lambda _e: None)


def test_relay_counts_the_trials_of_a_retried_cell_once() -> None:
    seen: list[CellEvent] = []
    relay = _Relay(seen.append)
    first = [CellEvent("a", d, 6, 0.5) for d in (1, 2, 3)]  # then its worker died
    retry = [CellEvent("a", d, 6, 0.5) for d in (3, 4, 5, 6)]  # resumed from the storage
    for event in [*first, CellEvent("b", 25, 30, None, new=25), *retry,
                  CellEvent("a", 6, 6, 0.5, finished=True),
                  CellEvent("a", 6, 6, 0.5, finished=True)]:
        relay(event)
    assert sum(e.new for e in seen if not e.finished and e.cell == "a") == 6
    assert [e.done for e in seen if e.cell == "a" and not e.finished] == [1, 2, 3, 4, 5, 6]
    assert [e.new for e in seen if e.cell == "b"] == [25]
    assert sum(e.finished for e in seen) == 1
