"""SIGTERM stops a run cleanly: trials marked interrupted, workers stopped, no orphan process,
no lock left, one line, exit 143. Each run hangs inside a trial until the test, having seen
every hanging process announce itself, sends the signal: nothing races against timing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import psutil
import pytest

from bench.core.attrs import FAIL_REASON, INTERRUPTED
from bench.storage.backends import open_storage
from bench.storage.urls import resolve_storage_url
from tests.helpers.paths import ROOT
from tests.helpers.suites import ONE_THREAD_ENV, tiny_suite_data, write_suite

CLI = [sys.executable, "-c", "import sys; from bench.cli.main import main; sys.exit(main())"]
CHILD_ENV = {**os.environ, **ONE_THREAD_ENV,
             "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                         os.environ.get("PYTHONPATH")]))}
WAIT_S = 180  # generous bounds on waiting for events; none is a measurement


class AnnouncingHangingSampler(optuna.samplers.RandomSampler):
    """Random search whose first trial writes `<folder>/<pid>` and then hangs until a signal."""

    def __init__(self, seed: int, folder: str) -> None:
        super().__init__(seed=seed)
        self.folder = Path(folder)

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                           name: str, dist: optuna.distributions.BaseDistribution) -> Any:
        if trial.number == 0:
            (self.folder / str(os.getpid())).write_text("hanging\n", encoding="utf-8")
            while True:
                time.sleep(1)
        return super().sample_independent(study, trial, name, dist)


def hanging(*, seed: int, space: object, folder: str) -> optuna.samplers.BaseSampler:
    """Registry factory (`HANGING`)."""
    return AnnouncingHangingSampler(seed, folder)


HANGING = f"{__name__}:hanging"


def _wait_for(condition: Any, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (status {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize(("executor", "cells"), [("serial", 1), ("processes", 2), ("dask", 2)])
def test_sigterm_stops_a_run_cleanly(tmp_path: Path, executor: str, cells: int) -> None:
    folder = tmp_path / "hanging"
    folder.mkdir()
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data(
        name="sigterm", seeds=cells, trials=2, executor=executor, workers=cells,
        strategies=[{"name": HANGING, "options": {"folder": str(folder)}}]))
    out = tmp_path / "out"
    log = tmp_path / "run.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen([*CLI, "run", str(suite), "-o", str(out), "--no-report"],
                                stdout=sink, stderr=sink, env=CHILD_ENV)
        _wait_for(lambda: len(list(folder.iterdir())) == cells,
                  f"{cells} trials hanging", proc)
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        assert len(family) >= 1 + (0 if executor == "serial" else cells)
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=WAIT_S)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert status == 143, text
    assert text.rstrip().splitlines()[-1] == (
        "samplerbench run: interrupted by SIGTERM; re-run the same command to resume"), text
    assert "Traceback" not in text
    _, alive = psutil.wait_procs(family, timeout=WAIT_S)
    assert alive == [], f"orphans left: {alive}"
    assert not list(out.glob("*.lock")), "a journal lock was left behind"
    storage = open_storage(resolve_storage_url("journal", out))
    trials = [t for s in storage.get_all_studies()
              for t in storage.get_all_trials(s._study_id, deepcopy=False)]
    assert len(trials) == cells  # the hanging trial of each cell, and nothing after it
    assert {(t.state, t.user_attrs.get(FAIL_REASON)) for t in trials} == {
        (optuna.trial.TrialState.FAIL, INTERRUPTED)}
