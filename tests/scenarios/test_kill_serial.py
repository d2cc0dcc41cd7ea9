"""Crash safety of a serial run: 20 SIGKILLs at seeded random moments, each followed by a
resume, lose nothing: every finished trial survives every later kill unchanged, and the
suite ends with exactly its budget in every cell. A replay cell cut off while its study was
being copied to the storage is replayed whole."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from bench.core.attrs import FAIL_REASON, REPLAY_COMPLETE, STALE, counts_toward_budget
from bench.execution.cell_runner import run_cell
from bench.execution.task import CellTask
from bench.spec.cells import suite_cells
from bench.spec.suite import parse_suite
from bench.storage.backends import open_storage
from bench.storage.urls import resolve_storage_url
from tests.helpers.suites import tiny_suite_data, write_suite

CLI = [sys.executable, "-c", "import sys; from bench.cli.main import main; sys.exit(main())"]
KILLS = 20
SEED = 20261127
BUDGET = 25  # per cell; raised when a session finishes before its kill
OBJECTIVE = {"kind": "mnist", "dataset": "digits", "epochs": 2, "batch_size": 512}
HEADER = "samplerbench: suite"  # printed once the storage is open, before any cell runs

Finished = dict[tuple[str, int], tuple[str, float | None]]


def _finished(url: str) -> Finished:
    """(cell, trial number) -> (state, value) of every finished trial in the journal."""
    storage = open_storage(url)
    return {(s.study_name, t.number): (t.state.name, t.value)
            for s in storage.get_all_studies()
            for t in storage.get_all_trials(s._study_id)
            if t.state.is_finished()}


def _run_until_killed(cmd: list[str], delay: float) -> bool:
    """Start a run, SIGKILL it `delay` s after it opened the storage; False if it ended first."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 300
        for line in proc.stderr:
            if line.startswith(HEADER) or time.monotonic() > deadline:
                break
        time.sleep(delay)
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return alive
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_twenty_sigkills_of_a_serial_run_lose_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    url = resolve_storage_url("journal", out)
    rng = np.random.default_rng(SEED)
    budget = BUDGET

    def command() -> list[str]:
        suite = write_suite(tmp_path / f"suite-{budget}.toml", tiny_suite_data(
            trials=budget, strategies=["random", "tpe"], objective=OBJECTIVE))
        return [*CLI, "run", str(suite), "-o", str(out), "--no-report"]

    cmd = command()
    seen: Finished = {}
    kills = 0
    for _ in range(3 * KILLS):
        if kills == KILLS:
            break
        if _run_until_killed(cmd, float(rng.uniform(0.0, 1.5))):
            kills += 1
        else:  # it finished first (a fast machine): a larger budget continues the cells
            budget += BUDGET
            cmd = command()
        now = _finished(url)
        lost = {k: v for k, v in seen.items() if now.get(k) != v}
        assert not lost, f"finished trials lost or changed after kill {kills}: {lost}"
        seen = now
    assert kills == KILLS

    final = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    assert final.returncode == 0, final.stderr[-3000:]
    now = _finished(url)
    assert all(now.get(k) == v for k, v in seen.items())
    storage = open_storage(url)
    studies = storage.get_all_studies()
    assert len(studies) == 2
    stale = 0
    for study in studies:
        trials = storage.get_all_trials(study._study_id)
        assert [t.number for t in trials] == list(range(len(trials)))
        assert sum(counts_toward_budget(t) for t in trials) == budget
        assert not [t for t in trials if t.state == TrialState.RUNNING]
        failed = [t for t in trials if t.state == TrialState.FAIL]
        assert all(t.user_attrs.get(FAIL_REASON) == STALE for t in failed)
        stale += len(failed)
    assert stale <= KILLS  # at most the one trial each kill interrupted
    print(f"\n{KILLS} SIGKILLs + resumes: {2 * budget} trials counted, {stale} interrupted "
          "trials failed as stale and replaced, no finished trial lost or changed")


def test_a_replay_cell_killed_while_copying_its_study_is_replayed(tmp_path: Path) -> None:
    data = {"name": "replay-copy", "trials": 5, "seeds": 1, "strategies": ["random"],
            "objective": {"kind": "mnist-table", "dataset": "mnist", "epochs": 2,
                          "reports_per_epoch": 4}}
    cell = suite_cells(parse_suite(data))[0]
    (tmp_path / "cut").mkdir()
    (tmp_path / "clean").mkdir()
    cut, clean = (resolve_storage_url("journal", tmp_path / d) for d in ("cut", "clean"))
    # A worker died while copying the finished in-memory study: created, partly labelled.
    study = optuna.create_study(study_name=cell.name, storage=open_storage(cut),
                                direction="maximize")
    study.set_user_attr("samplerbench_spec", cell.spec())
    result = run_cell(CellTask(cell, cut))
    assert result.error is None and result.done == 5
    assert run_cell(CellTask(cell, clean)).error is None

    def values(url: str) -> list[tuple[str, float | None]]:
        replayed = optuna.load_study(study_name=cell.name, storage=open_storage(url))
        assert replayed.user_attrs[REPLAY_COMPLETE] == 5
        return [(t.state.name, t.value) for t in replayed.trials]

    assert values(cut) == values(clean)
    assert len(values(cut)) == 5
