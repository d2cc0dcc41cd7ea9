"""Replay on K simulated workers (`bench.execution.simulated`): one worker is the serial
replay trial for trial; on hand-made tables whose finish order is known, a recording sampler
and a recording pruner see exactly the trials and reports they should; suites store trials
in start order on the simulated clock, deterministically, and sweep K."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from bench.core.spaces import FloatParam, ParamValue, SearchSpace
from bench.execution.loops import LoopRun, serial_trials
from bench.execution.prelude import sampler_options, set_strategies
from bench.execution.simulated import simulated_trials
from bench.objectives.base import build_objective
from bench.objectives.outcome import Outcome
from bench.spec.cells import Cell, suite_cells
from bench.spec.suite import parse_suite
from tests.helpers.paths import DIGITS_TABLE
from tests.helpers.suites import cli, comparable, digits_suite_data, write_suite

REPLAY = {"kind": "mnist-table", "dataset": "digits", "table": str(DIGITS_TABLE),
          "epochs": 2, "reports_per_epoch": 2}
SCALE = 100.0  # hand-made seconds per unit: real sampler milliseconds stay far below it


def _replay_cell(**top: Any) -> Cell:
    settings = {"trials": 40, "strategies": ["tpe"], "pruners": ["median"], **top}
    return suite_cells(parse_suite(digits_suite_data(REPLAY, **settings)))[0]


def _loop_run(cell: Cell, held: dict[int, dict[str, Any]],
              times: dict[int, tuple[float, float]]) -> LoopRun:
    objective = build_objective(cell.objective, cell.device, cell.seed, None)
    study = optuna.create_study(direction="maximize")
    set_strategies(study, cell, objective, 0, sampler_options(cell))
    return LoopRun(study, objective, cell, 0, lambda _event: None, held, 1, times)


def test_one_simulated_worker_is_the_serial_replay_trial_for_trial() -> None:
    cell = _replay_cell()
    held_serial: dict[int, dict[str, Any]] = {}
    held_sim: dict[int, dict[str, Any]] = {}
    times: dict[int, tuple[float, float]] = {}
    serial = _loop_run(cell, held_serial, {})
    simulated = _loop_run(cell, held_sim, times)
    assert serial_trials(serial).done == simulated_trials(simulated).done == 40
    a, b = serial.study.get_trials(), simulated.study.get_trials()
    assert [t.params for t in a] == [t.params for t in b]
    assert [t.state for t in a] == [t.state for t in b]
    assert [t.intermediate_values for t in a] == [t.intermediate_values for t in b]
    assert TrialState.PRUNED in {t.state for t in a} and TrialState.COMPLETE in {
        t.state for t in a}
    timing = ("sampler_s", "duration_s")
    assert [{k: v for k, v in held_serial[n].items() if k not in timing} for n in held_serial] \
        == [{k: v for k, v in held_sim[n].items() if k not in timing} for n in held_sim]
    end = 0.0
    for n in sorted(times):  # one after another, each as long as its objective and sampler
        start, finish = times[n]
        assert start == pytest.approx(end, abs=1e-9)
        assert finish - start == pytest.approx(held_sim[n]["duration_s"], abs=1e-9)
        end = finish


class HandTrial:
    """A hand-made trial: value 0.5 at each report, reports at the given seconds."""

    def __init__(self, at: list[float]) -> None:
        self.at = [SCALE * x for x in at]
        self.values = [0.5] * len(at)

    def seconds(self, made: int) -> float:
        return self.at[made - 1]

    def outcome(self, made: int, pruned: bool, prune_s: float) -> Outcome:
        return Outcome(0.5, pruned, tuple(float(k) for k in range(1, made + 1)), {},
                       self.at[made - 1], prune_s)


class HandTable:
    """A replay objective whose trial n reports at `at[n]` seconds from its start."""

    time_simulated = True
    space = SearchSpace("x", (FloatParam("x", 0.0, 1.0),))

    def __init__(self, at: dict[int, list[float]]) -> None:
        self.at = at

    def plan(self, trial_number: int, params: dict[str, ParamValue]) -> HandTrial:
        return HandTrial(self.at[trial_number])


class RecordingSampler(optuna.samplers.RandomSampler):
    """Random search that records, at each ask, which other trials were finished and which
    were running."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.seen: dict[int, tuple[set[int], set[int]]] = {}

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        others = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        self.seen[trial.number] = ({t.number for t in others if t.state.is_finished()},
                                   {t.number for t in others if t.state == TrialState.RUNNING})


class RecordingPruner(optuna.pruners.BasePruner):
    """Records, at each report, the steps every other trial had reported; prunes where told."""

    def __init__(self, prune_at: set[tuple[int, int]]) -> None:
        self.prune_at = prune_at
        self.seen: dict[tuple[int, int], dict[int, list[int]]] = {}

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        assert step is not None
        self.seen[(trial.number, step)] = {
            t.number: sorted(t.intermediate_values) for t in study.get_trials(deepcopy=False)
            if t.number != trial.number and t.intermediate_values}
        return (trial.number, step) in self.prune_at


def _hand_run(at: dict[int, list[float]], workers: int, pruner: optuna.pruners.BasePruner
              ) -> tuple[RecordingSampler, dict[int, tuple[float, float]], optuna.Study]:
    sampler = RecordingSampler()
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    cell = replace(_replay_cell(), trials=len(at), trials_in_parallel=workers)
    times: dict[int, tuple[float, float]] = {}
    end = simulated_trials(LoopRun(study, HandTable(at), cell, 0, lambda _e: None, {}, 1, times))
    assert end.done == len(at)
    return sampler, times, study


def test_each_ask_sees_exactly_the_trials_finished_and_running_then() -> None:
    """3 workers, 6 one-report trials. By hand: 0, 1, 2 start at 0; 1 ends at 2 and 3 starts
    (ends 3); 4 starts at 3 (ends 5); at 5 trials 0 and 4 both end, and 5 starts after both
    (reports go before asks at the same moment)."""
    at = {0: [5], 1: [2], 2: [7], 3: [1], 4: [2], 5: [3]}
    sampler, times, study = _hand_run(at, 3, optuna.pruners.NopPruner())
    assert sampler.seen == {
        0: (set(), set()), 1: (set(), {0}), 2: (set(), {0, 1}), 3: ({1}, {0, 2}),
        4: ({1, 3}, {0, 2}), 5: ({0, 1, 3, 4}, {2})}
    starts = {0: 0, 1: 0, 2: 0, 3: 2, 4: 3, 5: 5}
    ends = {0: 5, 1: 2, 2: 7, 3: 3, 4: 5, 5: 8}
    for n, (start, end) in times.items():  # the sampler's real seconds add milliseconds
        assert start == pytest.approx(SCALE * starts[n], abs=1.0)
        assert end == pytest.approx(SCALE * ends[n], abs=1.0)
    assert [t.number for t in study.get_trials()] == list(range(6))  # stored in start order


def test_each_report_sees_exactly_the_values_reported_by_then() -> None:
    """2 workers, 4 two-report trials; the pruner stops trial 2 at its first report (time 4),
    which frees its worker for trial 3 at once."""
    at = {0: [2, 6], 1: [1, 3], 2: [1, 5], 3: [1, 3]}
    pruner = RecordingPruner({(2, 1)})
    sampler, times, study = _hand_run(at, 2, pruner)
    assert pruner.seen == {
        (1, 1): {}, (0, 1): {1: [1]}, (1, 2): {0: [1]}, (2, 1): {0: [1], 1: [1, 2]},
        (3, 1): {0: [1], 1: [1, 2], 2: [1]}, (0, 2): {1: [1, 2], 2: [1], 3: [1]},
        (3, 2): {0: [1, 2], 1: [1, 2], 2: [1]}}
    assert sampler.seen[2] == ({1}, {0}) and sampler.seen[3] == ({1, 2}, {0})
    assert study.trials[2].state == TrialState.PRUNED
    assert times[2][1] == pytest.approx(4 * SCALE, abs=1.0)
    assert times[3][0] == pytest.approx(4 * SCALE, abs=1.0)


def _suite(path: Path, **top: Any) -> Path:
    settings = {"trials": 16, "seeds": 2, "strategies": ["random", "tpe"],
                "pruners": ["none", "median"], "trials_in_parallel": 4, **top}
    return write_suite(path, digits_suite_data(REPLAY, **settings))


def test_k_workers_store_start_order_and_simulated_times_deterministically(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = _suite(tmp_path / "s.toml")
    tables = []
    for name in ("a", "b"):
        code, _, err = cli(capsys, "run", suite, "-o", tmp_path / name, "--no-report")
        assert code == 0, err
        tables.append(pd.read_parquet(tmp_path / name / "trials.parquet"))
    pd.testing.assert_frame_equal(comparable(tables[0]), comparable(tables[1]))
    code, out, err = cli(capsys, "run", suite, "-o", tmp_path / "a", "--no-report")
    assert code == 0, err  # a rerun finds every cell stored complete and replays nothing
    assert "simulated objective time 0.0s" in out
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "trials.parquet"), tables[0])
    overlapped = 0
    for _, cell in tables[0].groupby("cell"):
        cell = cell.sort_values("trial")
        assert cell["datetime_start"].is_monotonic_increasing  # numbered in start order
        span = (cell["datetime_complete"] - cell["datetime_start"]).dt.total_seconds()
        # a span is the table's seconds plus every sampler call during it, its own included
        assert (span >= cell["duration_s"] - 2e-6).all()
        assert (span - cell["objective_s"]).sum() <= cell["sampler_s"].sum() * 4 + 1e-5
        later_start = cell["datetime_start"].to_numpy()[1:]
        overlapped += int((later_start < cell["datetime_complete"].to_numpy()[:-1]).any())
    assert overlapped == tables[0]["cell"].nunique()  # 4 workers: every cell overlaps


def test_a_suite_sweeps_k_with_one_label_per_k(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    suite = _suite(tmp_path / "s.toml", trials_in_parallel=[1, 4], strategies=["tpe"])
    code, _, err = cli(capsys, "run", suite, "-o", tmp_path / "out", "--target", "0.9")
    assert code == 0, err
    trials = pd.read_parquet(tmp_path / "out" / "trials.parquet")
    assert sorted(trials["strategy"].unique()) == ["tpe-k1", "tpe-k4"]
    report = tmp_path / "out" / "report"
    assert "## Parallel workers" in (report / "report.md").read_text(encoding="utf-8")
    for name in ("parallel_regret_vs_time", "parallel_speedup"):
        assert (report / "figures" / f"{name}.png").stat().st_size > 10_000
    speed = pd.read_csv(report / "tables" / "parallel.csv")
    assert sorted(speed["k"]) == [1, 1, 4, 4] and set(speed["strategy"]) == {"tpe"}
    assert (speed.loc[speed["k"] == 1, "speedup"] == 1.0).all()
    one = trials[trials["strategy"] == "tpe-k1"]
    alone = _suite(tmp_path / "one.toml", trials_in_parallel=1, strategies=["tpe"])
    code, _, err = cli(capsys, "run", alone, "-o", tmp_path / "one", "--no-report")
    assert code == 0, err
    serial = pd.read_parquet(tmp_path / "one" / "trials.parquet")
    keep = ["pruner", "seed", "trial", "state", "value", "param_learning_rate"]
    pd.testing.assert_frame_equal(one[keep].reset_index(drop=True),
                                  serial[keep].reset_index(drop=True))


@pytest.mark.parametrize(("k", "message"), [
    (0, "`trials_in_parallel` must be a positive integer or a list of them, got 0"),
    ([4, -1], "`trials_in_parallel` must be a positive integer or a list of them, got -1"),
    (17, "`trials_in_parallel` 17 is more than the 16 trials of a cell"),
    ([1, 4, 4], "`trials_in_parallel` lists a K twice"),
], ids=["zero", "negative-in-sweep", "above-trials", "repeated"])
def test_bad_worker_counts_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        k: object, message: str) -> None:
    code, _, err = cli(capsys, "run", _suite(tmp_path / "s.toml", trials_in_parallel=k),
                       "-o", tmp_path / "out")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "out").exists()
