"""Live cells that train their K parallel trials as one batch (`batch_trials`): every trial
trains as it would alone, pruning acts inside the batch, the budget is exact; suite checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import optuna
import pytest
import torch
from optuna.trial import TrialState

from bench.core.attrs import TRIAL_ATTR, counts_toward_budget
from bench.core.errors import BenchError
from bench.execution.cell_runner import run_cell
from bench.execution.plan import machine_cells
from bench.execution.task import CellTask
from bench.objectives.base import build_objective
from bench.objectives.live import network_config
from bench.spec.cells import Cell, suite_cells
from bench.spec.suite import parse_suite
from bench.storage.backends import open_storage
from bench.storage.urls import resolve_storage_url
from bench.training.loop import ReportPoint, train, trial_seed
from tests.helpers.suites import one_torch_thread, tiny_suite_data

ABS = 1e-6  # as tests/bench/training/test_batched.py: float tolerance between batched and alone
OBJECTIVE = {"kind": "mnist", "dataset": "digits", "epochs": 2, "reports_per_epoch": 2,
             "batch_size": 128}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


def _cell(**overrides: Any) -> Cell:
    settings = {"objective": OBJECTIVE, "trials_in_parallel": 3, "batch_trials": True,
                **overrides}
    return suite_cells(parse_suite(tiny_suite_data(**settings)))[0]


def _run(cell: Cell, tmp_path: Any) -> list[optuna.trial.FrozenTrial]:
    url = resolve_storage_url("journal", tmp_path)
    result = run_cell(CellTask(cell, url))
    assert result.error is None, result.error
    study = optuna.load_study(study_name=cell.name, storage=open_storage(url))
    assert study.user_attrs["samplerbench_spec"]["batch_trials"] is True
    return study.trials


def _alone(cell: Cell, trial: optuna.trial.FrozenTrial, steps: int) -> list[ReportPoint]:
    """The trial's first `steps` reports when its network trains on its own."""
    objective = build_objective(cell.objective, cell.device, cell.seed, None)
    result = train(network_config(trial.params), objective.data, cell.objective.spec.settings(),
                   trial_seed(cell.seed, trial.number))
    return result.reports[:steps]


def test_each_trial_of_a_batch_trains_as_it_would_alone(tmp_path: Any) -> None:
    cell = _cell(trials=6)
    trials = _run(cell, tmp_path)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert len({t.params["hidden_size"] for t in trials}) > 1  # mixed sizes in one batch
    for t in trials:
        curve = [t.intermediate_values[s] for s in sorted(t.intermediate_values)]
        assert curve == pytest.approx([r.accuracy for r in _alone(cell, t, 4)], abs=ABS)
        assert t.value == pytest.approx(curve[-1], abs=ABS)
        attrs = t.user_attrs[TRIAL_ATTR]
        assert attrs["batched_with"] == 3 and attrs["epochs_completed"] == 2.0
        assert attrs["objective_s"] > 0 and attrs["test_accuracy"] is not None


def test_pruning_acts_inside_the_batch_and_the_budget_is_exact(tmp_path: Any) -> None:
    pruner = {"name": "percentile", "options": {"percentile": 75.0, "n_startup_trials": 1}}
    cell = _cell(trials=7, pruners=[pruner])  # batches of 3, 3 and 1
    trials = _run(cell, tmp_path)
    assert sum(counts_toward_budget(t) for t in trials) == 7 == len(trials)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned, "the pruner stopped nothing: the test lost its point"
    for t in pruned:
        steps = len(t.intermediate_values)
        assert steps < 4  # stopped before the end, and its network left the batch
        curve = [t.intermediate_values[s] for s in sorted(t.intermediate_values)]
        alone = _alone(cell, t, steps)
        assert curve == pytest.approx([r.accuracy for r in alone], abs=ABS)
        assert t.user_attrs[TRIAL_ATTR]["epochs_completed"] == alone[-1].epoch


def test_batch_trials_is_auto_on_gpus_only_and_leaves_other_cells_as_they_were() -> None:
    auto = {"objective": OBJECTIVE, "trials_in_parallel": 4, "trials": 4}
    (cpu,) = suite_cells(parse_suite(tiny_suite_data(**auto)))
    (gpu,) = suite_cells(parse_suite(tiny_suite_data(**auto, devices=["cuda"])))
    assert not cpu.batch_trials and gpu.batch_trials
    (mine,) = machine_cells(parse_suite(tiny_suite_data(**auto, devices=["auto"])))
    assert mine.batch_trials == torch.cuda.is_available()  # "auto" picks this machine's device
    assert "batch_trials" not in cpu.spec() and gpu.spec()["batch_trials"] is True
    assert parse_suite(tiny_suite_data(**auto)).hash() == parse_suite(
        tiny_suite_data(**auto, batch_trials="auto")).hash()
    (off,) = suite_cells(parse_suite(tiny_suite_data(**auto, devices=["cuda"], batch_trials=False)))
    assert not off.batch_trials


@pytest.mark.parametrize(("overrides", "message"), [
    ({"batch_trials": "yes", "trials_in_parallel": 2}, "must be \"auto\", true or false"),
    ({"batch_trials": True}, "set trials_in_parallel to 2 or more"),
    ({"batch_trials": True, "trials_in_parallel": 2,
      "objective": {**OBJECTIVE, "space": "conditional"}}, "needs the live objective"),
    ({"batch_trials": True, "trials_in_parallel": 2,
      "objective": {"kind": "mnist-table"}}, "needs the live objective"),
], ids=["not-a-bool", "one-trial-at-a-time", "conditional-space", "replay"])
def test_bad_batch_trials_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(BenchError, match=message):
        parse_suite(tiny_suite_data(**overrides))
