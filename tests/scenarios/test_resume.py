"""Resume: re-runs skip finished cells, larger budgets continue the same studies, a changed
spec is refused, stale trials fail, and a run killed with SIGKILL ten times still ends with
exactly the budgeted trials, each finished trial unchanged."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from bench.core.attrs import FAIL_REASON, STALE
from bench.core.spaces import SEED_SPACE
from bench.execution.prelude import sampler_seed
from bench.results.schema import TRIALS_FILE
from bench.spec.cells import suite_cells
from bench.spec.suite import load_suite
from bench.storage.journal import JOURNAL_FILE
from strategies.registry import build_sampler
from tests.helpers.suites import (
    ONE_THREAD_ENV,
    cli,
    digits_suite_data,
    one_torch_thread,
    write_suite,
)

SAMPLERBENCH = Path(sys.executable).with_name("samplerbench")


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


def _journal(results: Path) -> JournalStorage:
    return JournalStorage(JournalFileBackend(str(results / JOURNAL_FILE)))


def _trials(results: Path) -> pd.DataFrame:
    return pd.read_parquet(results / TRIALS_FILE)


def _counted(trials: pd.DataFrame) -> pd.Series:
    return trials[trials["state"].isin(["COMPLETE", "PRUNED"])].groupby("cell").size()


def test_rerun_of_a_finished_suite_runs_nothing(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path / "suite.toml",
                        digits_suite_data(trials=3, strategies=["random", "tpe"]))
    out = tmp_path / "out"
    assert cli(capsys, "run", suite, "-o", out, "--no-report")[0] == 0
    journal = (out / JOURNAL_FILE).read_bytes()
    before = _trials(out)
    code, _, err = cli(capsys, "run", suite, "-o", out, "--no-report")
    assert code == 0, err
    assert "2 cells, 0 to run (0 trials)" in err
    assert (out / JOURNAL_FILE).read_bytes() == journal  # not one write
    pd.testing.assert_frame_equal(_trials(out), before)


def test_raising_trials_continues_the_same_studies(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    kwargs: dict[str, Any] = {"strategies": ["random", "grid", "qmc"], "seeds": [4]}
    small = write_suite(tmp_path / "small.toml", digits_suite_data(trials=3, **kwargs))
    assert cli(capsys, "run", small, "-o", out, "--no-report")[0] == 0
    first = _trials(out)
    large = write_suite(tmp_path / "large.toml", digits_suite_data(trials=5, **kwargs))
    code, _, err = cli(capsys, "run", large, "-o", out, "--no-report")
    assert code == 0, err
    assert "3 cells, 3 to run (6 trials)" in err
    second = _trials(out)
    assert set(second["cell"]) == set(first["cell"])  # the same studies, continued
    assert len(_journal(out).get_all_studies()) == 3
    assert _counted(second).tolist() == [5, 5, 5]
    assert second.groupby("cell")["trial"].apply(list).tolist() == [[0, 1, 2, 3, 4]] * 3
    kept = second[second["trial"] < 3].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, first)  # finished trials untouched, timings too
    params = [c for c in second if c.startswith("param_")]
    assert not second.duplicated(["cell", *params]).any()  # resumed samplers repeat nothing


@pytest.mark.parametrize(("key", "field", "tamper"), [
    ("samplerbench_check", "versions.torch", lambda a: a["versions"].update(torch="1.0.0")),
    ("samplerbench_check", "dataset_checksum", lambda a: a.update(dataset_checksum="0" * 32)),
    ("samplerbench_spec", "objective.epochs", lambda a: a["objective"].update(epochs=9)),
    ("samplerbench_spec", "strategy.options.n_startup_trials",
     lambda a: a["strategy"]["options"].update(n_startup_trials=1)),
], ids=["torch-version", "dataset", "epochs", "strategy-option"])
def test_stored_study_with_another_spec_is_refused(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   key: str, field: str, tamper: Any) -> None:
    out = tmp_path / "out"
    suite = write_suite(tmp_path / "a.toml", digits_suite_data(
        trials=2, strategies=[{"name": "tpe", "options": {"n_startup_trials": 5}}]))
    assert cli(capsys, "run", suite, "-o", out, "--no-report")[0] == 0
    storage = _journal(out)
    (summary,) = storage.get_all_studies()
    attrs = json.loads(json.dumps(summary.user_attrs[key]))
    tamper(attrs)
    storage.set_study_user_attr(summary._study_id, key, attrs)
    more = write_suite(tmp_path / "b.toml", digits_suite_data(
        trials=3, strategies=[{"name": "tpe", "options": {"n_startup_trials": 5}}]))
    code, _, err = cli(capsys, "run", more, "-o", out, "--no-report")
    assert code == 1
    failed = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    assert f"was created with a different {field} (stored " in failed[0]
    assert "use a new output folder or restore the original settings" in failed[0]
    assert len(_trials(out)) == 2  # nothing ran on the mismatched study


def test_stale_running_trial_becomes_fail_with_reason(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    short = write_suite(tmp_path / "short.toml", digits_suite_data(trials=2))
    assert cli(capsys, "run", short, "-o", out, "--no-report")[0] == 0
    storage = _journal(out)
    (summary,) = storage.get_all_studies()
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    orphan = study.ask()  # as a process killed mid-trial leaves it
    orphan.suggest_float("learning_rate", 1e-5, 1e-1, log=True)
    full = write_suite(tmp_path / "full.toml", digits_suite_data(trials=4))
    code, _, err = cli(capsys, "run", full, "-o", out, "--no-report")
    assert code == 0, err
    trials = _trials(out)
    assert trials["state"].tolist() == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert trials["fail_reason"].tolist() == ["", "", STALE, "", ""]
    stale = study.trials[orphan.number]
    assert stale.state == TrialState.FAIL
    assert stale.user_attrs[FAIL_REASON] == STALE


def test_a_grid_cell_visits_a_stale_trials_point_again(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Optuna gives trial k the k-th grid point, so a killed trial's point would be skipped;
    the resumed cell must evaluate the same points as a run that was never killed."""
    out, clean = tmp_path / "out", tmp_path / "clean"
    short = write_suite(tmp_path / "a.toml", digits_suite_data(trials=2, strategies=["grid"]))
    assert cli(capsys, "run", short, "-o", out, "--no-report")[0] == 0
    storage = _journal(out)
    (summary,) = storage.get_all_studies()
    (cell,) = suite_cells(load_suite(str(tmp_path / "a.toml")))
    grid = build_sampler("grid", sampler_seed(cell.seed, 0), SEED_SPACE)
    study = optuna.load_study(study_name=summary.study_name, storage=storage, sampler=grid)
    orphan = study.ask()  # the grid sampler gave it point 2; then its process was killed
    assert storage.get_trial(orphan._trial_id).system_attrs["grid_id"] == 2
    full = write_suite(tmp_path / "b.toml", digits_suite_data(trials=4, strategies=["grid"]))
    assert cli(capsys, "run", full, "-o", out, "--no-report")[0] == 0
    assert cli(capsys, "run", full, "-o", clean, "--no-report")[0] == 0
    resumed, fresh = _trials(out), _trials(clean)
    assert resumed["state"].tolist() == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    params = ["param_learning_rate", "param_hidden_size"]
    counted = resumed[resumed["state"] != "FAIL"]
    assert counted[params].values.tolist() == fresh[params].values.tolist()


def test_spec_is_the_last_label_written(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A process killed while a study is being labelled must leave no spec, so the next session
    labels the study again instead of refusing it for a missing label."""
    out = tmp_path / "out"
    suite = write_suite(tmp_path / "s.toml", digits_suite_data(trials=1))
    assert cli(capsys, "run", suite, "-o", out, "--no-report")[0] == 0
    keys = []
    for line in (out / JOURNAL_FILE).read_text(encoding="utf-8").splitlines():
        keys += [k for k in json.loads(line).get("user_attr", {}) if k.startswith("samplerbench")]
    spec = keys.index("samplerbench_spec")
    assert {"samplerbench_check", "samplerbench_suite", "samplerbench_machine"} <= set(
        keys[:spec])


# --- ten SIGKILLs ------------------------------------------------------------------------

KILLS = 10
KILL_SEED = 20261127
WRITE_KILLS = {2, 5, 8}  # these kills wait for the journal's lock: mid storage write
BUDGET = 24  # 96 trials in all; ten kills got through 47 of 64 here, so a faster machine has room
# A session is killed once its journal has grown by a random number of bytes (about 3 KB per
# trial), then a random pause: moments spread over whole trials, whatever the machine's load.
GROWTH_BYTES = (0, 9000)
PAUSE_S = (0.0, 0.3)


def _snapshot(results: Path) -> tuple[dict[tuple[str, int], Any], set[tuple[str, int]]]:
    """Finished trials (state, value, params, reports) and RUNNING ones, read via Optuna."""
    storage = _journal(results)
    finished, running = {}, set()
    for s in storage.get_all_studies():
        for t in storage.get_all_trials(s._study_id, deepcopy=False):
            key = (s.study_name, t.number)
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
                finished[key] = (t.state.name, t.value, dict(t.params),
                                 dict(t.intermediate_values))
            elif t.state == TrialState.RUNNING:
                running.add(key)
    return finished, running


def _start(suite: Path, out: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as sink:
        return subprocess.Popen([str(SAMPLERBENCH), "run", str(suite), "-o", str(out),
                                 "--no-report"], stdout=sink, stderr=sink,
                                env={**os.environ, **ONE_THREAD_ENV})


def _wait_for_growth(proc: subprocess.Popen[bytes], journal: Path, size: int) -> bool:
    """Wait until the journal is larger than `size` bytes; False if the run ended first."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if journal.exists() and journal.stat().st_size > size:
            return True
        time.sleep(0.002)
    raise AssertionError(f"the run did not grow its journal past {size} bytes within 180 s")


def _kill_mid_write(proc: subprocess.Popen[bytes], lock: Path) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.lexists(lock):
            break
        time.sleep(0.0002)
    proc.send_signal(signal.SIGKILL)


@pytest.mark.slow
def test_ten_sigkills_then_a_full_run_keep_every_trial_exactly_once(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite.toml", digits_suite_data(
        {"epochs": 4, "reports_per_epoch": 2}, trials=BUDGET, seeds=[3],
        strategies=["grid", {"name": "tpe", "options": {"n_startup_trials": 3}}],
        pruners=["none", {"name": "median", "options": {"n_startup_trials": 2}}]))
    out = tmp_path / "out"
    journal, lock, log = out / JOURNAL_FILE, out / f"{JOURNAL_FILE}.lock", tmp_path / "runs.log"
    rng = random.Random(KILL_SEED)
    seen: dict[tuple[str, int], Any] = {}
    stale: set[tuple[str, int]] = set()
    kills = 0
    kills_after_progress = 0  # kills that found finished trials to keep
    for k in range(KILLS):
        size = journal.stat().st_size if journal.exists() else 0
        proc = _start(suite, out, log)
        if not _wait_for_growth(proc, journal, size + rng.randint(*GROWTH_BYTES)):
            break  # finished before this kill: the run was too short
        time.sleep(rng.uniform(*PAUSE_S))
        if k in WRITE_KILLS:
            _kill_mid_write(proc, lock)
        else:
            proc.send_signal(signal.SIGKILL)
        if proc.wait(timeout=60) == -signal.SIGKILL:
            kills += 1
        finished, running = _snapshot(out)
        print(f"kill {k}: lock file left behind: {os.path.lexists(lock)}, "  # shown with -s
              f"{len(finished)} of {4 * BUDGET} trials finished")
        kills_after_progress += bool(seen)
        for key, record in seen.items():
            assert finished.get(key) == record, f"kill {k}: trial {key} changed or vanished"
        seen = finished
        stale |= running
    assert kills == KILLS, f"only {kills} kills hit a running process; lengthen the run"
    assert kills_after_progress >= KILLS // 2, "most kills came before any trial finished"
    assert stale, "no kill landed inside a trial"
    done = subprocess.run([str(SAMPLERBENCH), "run", str(suite), "-o", str(out),
                           "--no-report"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **ONE_THREAD_ENV}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr

    trials = _trials(out)
    assert trials["cell"].nunique() == 4
    assert not trials.duplicated(["cell", "trial"]).any()  # no trial counted twice
    assert _counted(trials).tolist() == [BUDGET] * 4
    assert set(trials["state"]) <= {"COMPLETE", "PRUNED", "FAIL"}
    final, running = _snapshot(out)
    assert not running
    for key, record in seen.items():
        assert final[key] == record
    failed = trials[trials["state"] == "FAIL"]
    assert set(zip(failed["cell"], failed["trial"], strict=True)) == stale
    assert (failed["fail_reason"] == STALE).all()
    storage = _journal(out)
    for s in storage.get_all_studies():
        for t in storage.get_all_trials(s._study_id, deepcopy=False):
            if (s.study_name, t.number) in stale:
                assert t.state == TrialState.FAIL
                assert t.user_attrs[FAIL_REASON] == STALE
    grid = trials[(trials["strategy"] == "grid") & trials["state"].ne("FAIL")]
    assert not grid.duplicated(["cell", "param_learning_rate", "param_hidden_size"]).any()
