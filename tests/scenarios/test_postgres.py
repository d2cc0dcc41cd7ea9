"""PostgreSQL storage for real (a throwaway server, tests/helpers/postgres.py): parallel writers,
heartbeats that tell a dead trial from a live one, SIGKILLed runs and dask workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import psutil
import pytest
from optuna.trial import TrialState

from bench.core.attrs import FAIL_REASON, STALE, counts_toward_budget
from bench.core.errors import BenchError
from bench.execution import prelude
from bench.execution.prelude import fail_stale_trials
from bench.execution.run_suite import RunOptions, run_suite
from bench.results.schema import RUN_FILE
from bench.spec.cells import suite_cells
from bench.spec.suite import load_suite, parse_suite
from bench.storage.backends import open_storage
from bench.storage.heartbeats import HEARTBEAT_ENV, heartbeat_ages, trial_heartbeat
from bench.storage.urls import describe
from tests.helpers.paths import ROOT
from tests.helpers.suites import tiny_suite_data, write_suite

CLI = [sys.executable, "-c", "import sys; from bench.cli.main import main; sys.exit(main())"]


@pytest.fixture
def fast_heartbeat(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Heartbeats every second (grace 2 s) here and in child processes."""
    monkeypatch.setenv(HEARTBEAT_ENV, "1")
    yield 1


def _trials_by_study(url: str) -> dict[str, list[optuna.trial.FrozenTrial]]:
    storage = open_storage(url)
    return {s.study_name: storage.get_all_trials(s._study_id) for s in storage.get_all_studies()}


def _check_budgets(url: str, cells: int, budget: int) -> list[optuna.trial.FrozenTrial]:
    """Every cell holds exactly its budget of counted trials and nothing RUNNING."""
    by_study = _trials_by_study(url)
    assert len(by_study) == cells
    stale = []
    for trials in by_study.values():
        assert sum(counts_toward_budget(t) for t in trials) == budget
        assert [t.number for t in trials] == list(range(len(trials)))  # none lost or doubled
        assert not [t for t in trials if t.state == TrialState.RUNNING]
        stale += [t for t in trials if t.user_attrs.get(FAIL_REASON) == STALE]
    return stale


def test_parallel_trials_on_postgres_meet_each_budget(postgres_url: str, tmp_path: Path) -> None:
    suite = parse_suite(tiny_suite_data(seeds=2, trials=5, trials_in_parallel=3,
                                        storage=postgres_url))
    summary = run_suite(suite, RunOptions(output=tmp_path))
    assert not summary.failed
    assert _check_budgets(postgres_url, cells=2, budget=5) == []
    info = json.loads((tmp_path / RUN_FILE).read_text())
    assert info["storage"] == postgres_url  # no password to mask here
    secret = postgres_url.replace("postgres@", "postgres:s3cret@")
    assert "s3cret" not in describe(secret) and describe(secret).startswith("postgresql://postgres:***@")


PASSWORD = "Pw-4c1d-never-on-disk"


def test_a_password_in_the_storage_url_reaches_no_file_or_line(
        postgres_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The test server trusts loopback, so any password connects; none may be written."""
    from bench.cli.main import main

    secret = postgres_url.replace("postgres@", f"postgres:{PASSWORD}@")
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data(name="secret", trials=2,
                                                                  storage=secret))
    out = tmp_path / "out"
    assert main(["run", str(suite), "-o", str(out)]) == 0
    assert main(["run", str(suite), "-o", str(out), "--no-report"]) == 0  # a resume
    written = [f for f in out.rglob("*") if f.is_file()]
    assert {"run.json", "trials.parquet", "report.html"} <= {f.name for f in written}
    leaks = [f for f in written if PASSWORD.encode() in f.read_bytes()]
    assert leaks == []
    studies = open_storage(postgres_url).get_all_studies()
    assert studies and PASSWORD not in json.dumps([s.user_attrs for s in studies], default=str)
    captured = capfd.readouterr()
    assert PASSWORD not in captured.out + captured.err
    info = json.loads((out / RUN_FILE).read_text())
    assert info["suite"]["storage"] == info["storage"] == describe(secret)
    # export cannot connect with the masked URL: it says so in one line, then takes the real one
    code = main(["export", str(out)])
    err = capfd.readouterr().err
    assert code == 2 and "without its password" in err and "SAMPLERBENCH_STORAGE" in err
    assert PASSWORD not in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("SAMPLERBENCH_STORAGE", secret)
    assert main(["export", str(out)]) == 0
    assert PASSWORD not in "".join(capfd.readouterr())


def _running_trial(url: str) -> tuple[optuna.Study, int]:
    study = optuna.create_study(storage=open_storage(url, heartbeat=True))
    with warnings.catch_warnings():  # Optuna: heartbeats are meant for study.optimize
        warnings.simplefilter("ignore", UserWarning)
        return study, study.ask()._trial_id


class StaleCheck:
    """What `fail_stale_trials` saw and did while it waited: the heartbeat ages it polled (by
    the database's clock, the one that decides) and the sleeps between its polls."""

    def __init__(self) -> None:
        self.polls: list[dict[int, float | None]] = []
        self.sleeps: list[float] = []


@pytest.fixture
def stale_check(monkeypatch: pytest.MonkeyPatch) -> StaleCheck:
    """Watch the prelude's heartbeat polls and its clock's sleeps (which still sleep)."""
    seen = StaleCheck()

    def ages(storage: Any, trial_ids: Any) -> dict[int, float | None]:
        polled = heartbeat_ages(storage, trial_ids)
        seen.polls.append(polled)
        return polled

    class Clock:  # stands in for the prelude's `time` module
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(seconds: float) -> None:
            seen.sleeps.append(seconds)
            time.sleep(seconds)

    monkeypatch.setattr(prelude, "heartbeat_ages", ages)
    monkeypatch.setattr(prelude, "time", Clock)
    return seen


def test_a_running_trial_is_failed_once_its_heartbeats_stop(
        postgres_url: str, fast_heartbeat: int, stale_check: StaleCheck) -> None:
    study, trial_id = _running_trial(postgres_url)
    study._storage.record_heartbeat(trial_id)  # its process beat just now, then died
    assert fail_stale_trials(study) == 1
    ages = [poll[trial_id] for poll in stale_check.polls]
    grace = 2 * fast_heartbeat
    assert len(ages) >= 2 and None not in ages
    # It waited while the last beat was within the grace period, and failed the trial at the
    # first poll that found it silent for longer.
    assert all(age <= grace for age in ages[:-1]), ages
    assert ages[-1] > grace, ages
    # Between polls it slept at most one heartbeat interval: it noticed the silence within
    # one interval of the grace period's end.
    assert len(stale_check.sleeps) == len(ages) - 1
    assert all(0 < pause <= fast_heartbeat for pause in stale_check.sleeps), stale_check.sleeps
    trial = study._storage.get_trial(trial_id)
    assert trial.state == TrialState.FAIL and trial.user_attrs[FAIL_REASON] == STALE


def test_a_trial_that_never_beat_is_failed_at_once(
        postgres_url: str, fast_heartbeat: int, stale_check: StaleCheck) -> None:
    study, trial_id = _running_trial(postgres_url)
    assert heartbeat_ages(study._storage, [trial_id]) == {trial_id: None}
    assert fail_stale_trials(study) == 1
    # At once: one look at the heartbeats, no wait.
    assert stale_check.polls == [{trial_id: None}]
    assert stale_check.sleeps == []


def test_a_trial_that_keeps_beating_blocks_a_second_session(
        postgres_url: str, fast_heartbeat: int) -> None:
    study, trial_id = _running_trial(postgres_url)
    with trial_heartbeat(study._storage, trial_id):
        # the beat thread's first beat lands when its thread runs: wait for it, not a time
        _wait_for(lambda: heartbeat_ages(study._storage, [trial_id])[trial_id] is not None,
                  30, "the trial's first heartbeat")
        with pytest.raises(BenchError, match="another process is running this cell"):
            fail_stale_trials(study)  # the beating trial belongs to a live process
    assert study._storage.get_trial(trial_id).state == TrialState.RUNNING


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _still_running(proc: subprocess.Popen[Any]) -> bool:
    """True while `proc` runs; fails the test at once if it ended before it could be killed."""
    if proc.poll() is not None:
        raise AssertionError(f"the run ended (exit {proc.returncode}) before the kill")
    return True


def _beating_trials(url: str) -> int:
    """How many RUNNING trials have a recent heartbeat (their process is in a trial)."""
    storage = open_storage(url)
    ids = [t._trial_id for s in storage.get_all_studies()
           for t in storage.get_all_trials(s._study_id, states=(TrialState.RUNNING,))]
    return sum(age is not None and age < 2 for age in heartbeat_ages(storage, ids).values())


class HangingSampler(optuna.samplers.RandomSampler):
    """Random search that hangs inside trial 1 until it is killed, so a test can SIGKILL a
    process at a known moment. Only the first process to create `marker` hangs, and it writes
    its pid there; once `marker` exists, no process hangs."""

    def __init__(self, seed: int, marker: str) -> None:
        super().__init__(seed=seed)
        self.marker = Path(marker)

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                           name: str, dist: optuna.distributions.BaseDistribution) -> Any:
        if trial.number == 1 and not self.marker.exists():
            try:
                with open(self.marker, "x", encoding="utf-8") as claim:
                    claim.write(f"{os.getpid()}\n")
            except FileExistsError:
                pass
            else:
                time.sleep(600)
        return super().sample_independent(study, trial, name, dist)


def hanging(*, seed: int, space: object, marker: str) -> optuna.samplers.BaseSampler:
    """Registry factory (`HANGING`)."""
    return HangingSampler(seed, marker)


HANGING = f"{__name__}:hanging"  # tests.scenarios.test_postgres:hanging
# Child runs import this module (from the checkout's root) to build `HANGING`.
CHILD_ENV = {**os.environ,
             "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                         os.environ.get("PYTHONPATH")]))}


def _hung_pid(marker: Path) -> int | None:
    """The pid of the process hanging in `HangingSampler` (None until it has written it)."""
    text = marker.read_text(encoding="utf-8") if marker.exists() else ""
    return int(text) if text.endswith("\n") else None


@pytest.mark.slow
def test_a_sigkilled_run_on_postgres_resumes_without_losing_a_trial(
        postgres_url: str, fast_heartbeat: int, tmp_path: Path) -> None:
    # Digits trials last a few milliseconds, too short to catch from outside: trial 1 hangs
    # (heartbeat still beating) until the kill, and the resumed run no longer hangs.
    marker = tmp_path / "hung"
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data(
        trials=2, strategies=[{"name": HANGING, "options": {"marker": str(marker)}}]))
    cmd = [*CLI, "run", str(suite), "-o", str(tmp_path / "out"), "--storage", postgres_url,
           "--no-report"]
    log = tmp_path / "killed-run.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=sink, env=CHILD_ENV)
    try:
        _wait_for(lambda: _still_running(proc) and _hung_pid(marker) is not None and
                  _beating_trials(postgres_url) > 0, 120, "the hanging trial's heartbeat")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, log.read_text()[-2000:]
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                             env=CHILD_ENV)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    stale = _check_budgets(postgres_url, cells=1, budget=2)
    assert [t.number for t in stale] == [1]


def _worker_processes(pid: int) -> list[psutil.Process]:
    """The dask worker processes under a `samplerbench run --executor dask` process."""
    return [p for p in psutil.Process(pid).children(recursive=True)
            if "multiprocessing" in " ".join(p.cmdline()) and
            "resource_tracker" not in " ".join(p.cmdline())]


def _complete_values(url: str) -> dict[tuple[str, int], float]:
    return {(name, t.number): t.value for name, trials in _trials_by_study(url).items()
            for t in trials if t.state == TrialState.COMPLETE}


@pytest.mark.slow
def test_dask_workers_on_postgres_survive_a_sigkilled_worker_and_match_the_serial_run(
        postgres_server: Any, fast_heartbeat: int, tmp_path: Path) -> None:
    budget = 3
    # Digits trials last milliseconds: one cell's trial 1 hangs (heartbeat beating) in one
    # worker, and the test SIGKILLs that worker once a quarter of the trials are done.
    marker = tmp_path / "hung"
    hanging = {"name": HANGING, "options": {"marker": str(marker)}}
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data(
        seeds=6, trials=budget, strategies=[hanging, "tpe"], pruners=["none", "median"],
        objective={"kind": "mnist", "dataset": "digits", "epochs": 2, "batch_size": 512}))
    assert len(suite_cells(load_suite(str(suite)))) == 24
    dask_url, serial_url = postgres_server.create_database(), postgres_server.create_database()
    cmd = [*CLI, "run", str(suite), "-o", str(tmp_path / "dask"), "--storage", dask_url,
           "--executor", "dask", "--workers", "2", "--no-report"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=CHILD_ENV)
    try:
        _wait_for(lambda: _still_running(proc) and _hung_pid(marker) is not None and
                  len(_complete_values(dask_url)) >= 24 * budget // 4 and
                  _beating_trials(dask_url) >= 1, 600, "a hanging trial and a quarter done")
        victim = _hung_pid(marker)
        assert victim in [p.pid for p in _worker_processes(proc.pid)]
        os.kill(victim, signal.SIGKILL)
        killed_at = len(_complete_values(dask_url))
        _, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    dask_s = time.monotonic() - start
    assert proc.returncode == 0, err[-3000:]
    stale = _check_budgets(dask_url, cells=24, budget=budget)
    assert [t.number for t in stale] == [1]  # the hanging trial, failed and replaced

    start = time.monotonic()
    serial = subprocess.run([*CLI, "run", str(suite), "-o", str(tmp_path / "serial"),
                             "--storage", serial_url, "--no-report"],
                            capture_output=True, text=True, timeout=900, check=False,
                            env=CHILD_ENV)
    serial_s = time.monotonic() - start
    assert serial.returncode == 0, serial.stderr[-3000:]
    assert _check_budgets(serial_url, cells=24, budget=budget) == []

    got, want = _complete_values(dask_url), _complete_values(serial_url)
    by_study = _trials_by_study(dask_url)
    resumed: set[str] = set()
    for name, trials in by_study.items():
        cut = next((t.number for t in trials if t.user_attrs.get(FAIL_REASON) == STALE), None)
        mine = {k: v for k, v in got.items() if k[0] == name}
        if cut is None and mine == {k: v for k, v in want.items() if k[0] == name}:
            continue
        resumed.add(name)  # the killed worker's cell: identical up to its stale trial
        for t in trials:
            if t.state == TrialState.COMPLETE and cut is not None and t.number < cut:
                assert got[(name, t.number)] == want[(name, t.number)], (name, t.number)
    assert len(resumed) == 1, resumed  # only the killed worker's cell differs
    untouched = [n for n in by_study if n not in resumed]
    assert len(untouched) == 23
    print(f"\n24 cells x {budget} trials, 2 dask workers on PostgreSQL, one worker SIGKILLed "
          f"after {killed_at} trials: {dask_s:.1f}s, {len(stale)} stale trial(s) failed and "
          f"replaced, {len(untouched)} cells identical to the serial run ({serial_s:.1f}s)")


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def dask_cluster_processes() -> Iterator[str]:
    """`dask scheduler` and `dask worker` (2 processes) as separate commands, as on machines
    of a real cluster; yields the scheduler's address."""
    dask = str(Path(sys.executable).parent / "dask")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        _wait_for(lambda: _accepts(port), 120, "the dask scheduler")
        procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "2", "--nthreads",
                                       "1", "--no-dashboard"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_the_multi_machine_recipe_runs_a_suite_on_a_separate_scheduler_and_workers(
        postgres_url: str, dask_cluster_processes: str, tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite.toml",
                        tiny_suite_data(seeds=2, trials=2, strategies=["random", "tpe"]))
    run = subprocess.run([*CLI, "run", str(suite), "-o", str(tmp_path / "out"),
                          "--executor", "dask", "--scheduler", dask_cluster_processes,
                          "--storage", postgres_url, "--no-report"],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _check_budgets(postgres_url, cells=4, budget=2) == []
