"""Every registered sampler and pruner runs a real cell; grids, options and import paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import torch
from optuna.trial import TrialState

from bench.core.attrs import FAIL_REASON, STALE, TRIAL_ATTR
from bench.core.errors import BenchError
from bench.core.spaces import CategoricalParam, FloatParam, IntParam, SearchSpace, get_space
from bench.execution.cell_runner import run_cell
from bench.execution.loops import grid_exhausted
from bench.execution.task import CellResult, CellTask
from bench.spec.cells import Cell
from bench.spec.objective import ObjectiveSpec
from bench.spec.suite import ObjectiveConfig, Strategy
from bench.storage.backends import open_storage
from strategies.grid import MAX_GRID_POINTS, derive_grid
from strategies.registry import PRUNERS, SAMPLERS, build_pruner, build_sampler

EPOCHS = 2
REPORTS_PER_EPOCH = 2
BUDGET = 6
DIGITS = ObjectiveConfig("mnist", ObjectiveSpec(dataset="digits", epochs=EPOCHS,
                                                reports_per_epoch=REPORTS_PER_EPOCH))
SEED_SPACE = get_space("seed")
# Model-based samplers start modelling after 2 trials, so a 6-trial cell exercises the model;
# an entry not named here runs with its defaults.
FAST_START: dict[str, dict[str, Any]] = {
    "tpe": {"n_startup_trials": 2},
    "tpe-multivariate": {"n_startup_trials": 2},
    "cmaes": {"n_startup_trials": 2},
    "gp": {"n_startup_trials": 2},
}
SOME_PRUNERS = ("none", "median")
# A user's module on the path, named by import path (the checkout's root is on sys.path).
FACTORIES = "tests.helpers.factories"


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Digits networks are tiny: one thread trains them fastest, and on a busy CPU two thrash."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _matrix() -> list[tuple[str, str]]:
    pairs = [(s, p) for s in SAMPLERS for p in SOME_PRUNERS]
    pairs += [("random", p) for p in PRUNERS if p not in SOME_PRUNERS]
    return pairs


def run_digits_cell(folder: Path, strategy: Strategy, pruner: Strategy, trials: int = BUDGET,
                    seed: int = 0) -> tuple[CellResult, optuna.Study]:
    """Run one real cell on digits into a journal in `folder`; return its result and study."""
    cell = Cell("registry-test", DIGITS, strategy, pruner, seed, "cpu", trials)
    url = f"journal:{folder / 'journal.log'}"
    result = run_cell(CellTask(cell, url))
    return result, optuna.load_study(study_name=cell.name, storage=open_storage(url))


def _measurements(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The harness's per-trial measurements, stored as one user attribute."""
    return dict(trial.user_attrs[TRIAL_ATTR])


def _assert_sane(study: optuna.Study, budget: int, pruning: bool) -> None:
    trials = study.get_trials(deepcopy=False)
    states = [t.state for t in trials]
    assert len(trials) == budget
    assert set(states) <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert pruning or TrialState.PRUNED not in states
    assert TrialState.COMPLETE in states
    reports = EPOCHS * REPORTS_PER_EPOCH
    for t in trials:
        assert 1e-5 <= t.params["learning_rate"] <= 1e-1
        assert t.params["hidden_size"] in range(64, 257, 32)
        steps = sorted(t.intermediate_values)
        assert steps == list(range(1, len(steps) + 1))
        assert all(0.0 <= v <= 1.0 for v in t.intermediate_values.values())
        measured = _measurements(t)
        assert measured["objective_s"] > 0
        assert measured["sampler_s"] >= 0
        if t.state == TrialState.COMPLETE:
            assert len(steps) == reports
            assert t.value == t.intermediate_values[reports]
            assert 0.0 <= measured["test_accuracy"] <= 1.0
        else:  # pruned after at least one report
            assert pruning and 1 <= len(steps) <= reports


@pytest.mark.parametrize(("sampler", "pruner"), _matrix(), ids=lambda x: str(x))
def test_every_registered_entry_runs_a_real_cell(tmp_path: Path, sampler: str,
                                                 pruner: str) -> None:
    strategy = Strategy(sampler, tuple(sorted(FAST_START.get(sampler, {}).items())))
    result, study = run_digits_cell(tmp_path, strategy, Strategy(pruner))
    assert result.error is None
    assert (result.done, result.ran) == (BUDGET, BUDGET)
    _assert_sane(study, BUDGET, pruning=pruner != "none")
    assert study.user_attrs["samplerbench_spec"]["strategy"]["name"] == sampler
    assert result.best == max(t.value for t in study.trials if t.state == TrialState.COMPLETE)


def test_grid_takes_ints_at_their_step_and_log_floats_geometrically() -> None:
    grid = derive_grid(SEED_SPACE)
    assert grid["hidden_size"] == [64, 96, 128, 160, 192, 224, 256]
    lr = np.array(grid["learning_rate"])
    assert len(lr) == 10
    assert lr[0] == pytest.approx(1e-5) and lr[-1] == pytest.approx(1e-1)
    assert np.allclose(lr[1:] / lr[:-1], 10 ** (4 / 9))  # evenly spaced in log space


def test_grid_points_option_sets_float_and_log_int_axes() -> None:
    space = SearchSpace("mixed", (
        FloatParam("momentum", 0.0, 0.9),
        IntParam("width", 1, 1000, log=True),
        CategoricalParam("optimizer", ("adam", "sgd")),
    ))
    grid = derive_grid(space, points=4)
    assert grid["momentum"] == pytest.approx([0.0, 0.3, 0.6, 0.9])
    assert grid["width"] == [1, 10, 100, 1000]
    assert grid["optimizer"] == ["adam", "sgd"]
    points = _grid_order(0, trials=21, points=3)
    assert len(set(points)) == 21  # 3 learning rates x 7 hidden sizes, each once
    assert sorted({lr for lr, _ in points}) == derive_grid(SEED_SPACE, 3)["learning_rate"]


def test_grid_over_the_limit_is_refused_with_the_fix() -> None:
    with pytest.raises(BenchError) as err:
        build_sampler("grid", 0, SEED_SPACE, {"points": 200})
    message = str(err.value)
    assert "grid of 1400 points" in message
    assert "learning_rate:200 x hidden_size:7" in message
    assert f"limit of {MAX_GRID_POINTS}" in message
    assert "points" in message and "max_points" in message
    assert "\n" not in message
    assert build_sampler("grid", 0, SEED_SPACE, {"points": 200, "max_points": 1400})


def _grid_order(seed: int, trials: int = 10, **options: Any) -> list[tuple[float, int]]:
    study = optuna.create_study(sampler=build_sampler("grid", seed, SEED_SPACE, options))
    order = []
    for _ in range(trials):
        trial = study.ask()
        params = SEED_SPACE.suggest(trial)
        order.append((params["learning_rate"], params["hidden_size"]))
        study.tell(trial, 0.0)
    return order


def test_grid_shuffle_follows_the_seed() -> None:
    assert _grid_order(1) == _grid_order(1)
    assert _grid_order(1) != _grid_order(2)
    assert _grid_order(0) != _grid_order(3)
    assert len(set(_grid_order(2, trials=70))) == 70  # every point once


def test_grid_hands_a_stale_trials_point_out_again_and_runs_out_when_every_point_counts(
        ) -> None:
    study = optuna.create_study(sampler=build_sampler("grid", 0, SEED_SPACE, {"points": 1}))
    killed = study.ask()  # its process was killed: the next session fails it as stale
    lost = SEED_SPACE.suggest(killed)["hidden_size"]
    study._storage.set_trial_user_attr(killed._trial_id, FAIL_REASON, STALE)
    study.tell(killed, state=TrialState.FAIL)
    counted: list[int] = []
    while not grid_exhausted(study, len(counted)) and len(counted) < 8:
        trial = study.ask()
        counted.append(SEED_SPACE.suggest(trial)["hidden_size"])
        study.tell(trial, 0.0)
    assert counted[0] == lost
    assert sorted(counted) == list(range(64, 257, 32))  # all 7 points, each once


def test_grid_that_runs_out_records_it_and_stops(tmp_path: Path) -> None:
    grid = Strategy("grid", (("points", 1),))  # 1 learning rate x 7 hidden sizes
    result, study = run_digits_cell(tmp_path, grid, Strategy("none"), trials=9)
    assert result.error is None
    assert (result.done, result.ran) == (7, 7)
    assert len(study.trials) == 7
    assert study.user_attrs["samplerbench_grid_exhausted_after"] == 7
    assert sorted(t.params["hidden_size"] for t in study.trials) == list(range(64, 257, 32))
    again, study = run_digits_cell(tmp_path, grid, Strategy("none"), trials=9)
    assert (again.done, again.ran) == (7, 0)
    assert len(study.trials) == 7


@pytest.mark.parametrize("sampler", ["grid", "qmc"])
def test_resumed_sequence_sampler_continues_its_sequence(tmp_path: Path, sampler: str) -> None:
    """Grid and QMC walk one seeded sequence: a cell resumed with a larger budget must give the
    points of one uninterrupted run, not repeat some and skip others."""
    strategy, none = Strategy(sampler), Strategy("none")
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    run_digits_cell(first, strategy, none, trials=3, seed=5)
    _, resumed = run_digits_cell(first, strategy, none, trials=12, seed=5)
    _, straight = run_digits_cell(second, strategy, none, trials=12, seed=5)
    assert [t.params for t in resumed.trials] == [t.params for t in straight.trials]
    if sampler == "grid":
        points = [tuple(sorted(t.params.items())) for t in resumed.trials]
        assert len(set(points)) == 12


@pytest.mark.parametrize(("name", "options", "valid"), [
    ("grid", {"pointz": 3}, "valid options: points, max_points"),
    ("qmc", {"kind": "halton"}, "valid options: qmc_type, scramble"),
    ("random", {"n_startup_trials": 2}, "valid options: none"),
])
def test_unknown_sampler_option_lists_the_valid_ones(name: str, options: dict[str, Any],
                                                     valid: str) -> None:
    with pytest.raises(BenchError, match=valid):
        build_sampler(name, 0, SEED_SPACE, options)


def test_unknown_pruner_option_is_refused() -> None:
    with pytest.raises(BenchError, match="none: unknown option 'patience'; valid options: none"):
        build_pruner("none", {"patience": 3})
    with pytest.raises(BenchError, match="pruner 'median' rejected its options"):
        build_pruner("median", {"patience": 3})
    with pytest.raises(BenchError, match="strategy 'tpe' rejected its options"):
        build_sampler("tpe", 0, SEED_SPACE, {"n_startup": 3})


def test_unknown_names_list_the_registered_ones() -> None:
    with pytest.raises(BenchError) as err:
        build_sampler("bayes", 0, SEED_SPACE)
    assert all(name in str(err.value) for name in SAMPLERS)
    with pytest.raises(BenchError) as err:
        build_pruner("asha")
    assert all(name in str(err.value) for name in PRUNERS)


def test_custom_sampler_and_pruner_by_import_path_run_a_cell(tmp_path: Path) -> None:
    sampler = Strategy(f"{FACTORIES}:make_sampler", (("startup", 3),))
    pruner = Strategy(f"{FACTORIES}:make_pruner", (("warmup", 2),))
    result, study = run_digits_cell(tmp_path, sampler, pruner)
    assert result.error is None
    assert result.done == BUDGET
    _assert_sane(study, BUDGET, pruning=True)


def test_custom_factory_problems_are_one_line_errors() -> None:
    with pytest.raises(BenchError, match="returned dict, not an Optuna sampler"):
        build_sampler(f"{FACTORIES}:make_not_a_sampler", 0, SEED_SPACE)
    with pytest.raises(BenchError, match="returned RandomSampler, not an Optuna pruner"):
        build_pruner(f"{FACTORIES}:make_not_a_pruner")
    with pytest.raises(BenchError, match="has no callable 'NOT_CALLABLE'"):
        build_sampler(f"{FACTORIES}:NOT_CALLABLE", 0, SEED_SPACE)
    with pytest.raises(BenchError, match="has no callable 'missing'"):
        build_sampler(f"{FACTORIES}:missing", 0, SEED_SPACE)
    with pytest.raises(BenchError, match="cannot import 'no_such_module_xyz'"):
        build_sampler("no_such_module_xyz:make", 0, SEED_SPACE)
    with pytest.raises(BenchError, match="valid options: startup"):
        build_sampler(f"{FACTORIES}:make_sampler", 0, SEED_SPACE, {"warmup": 1})
