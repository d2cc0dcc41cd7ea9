"""The replay objective (`mnist-table`): the live objective's recorded curves, looked up.

A suggested learning rate gets the curve its recorded neighbours imply
(`bench.objectives.interpolation`: "log-linear" by default, or "nearest", which snaps to the
nearest tabulated rate and records it as `learning_rate_snapped`). Trial k replays the k-th
replicate of one stream per cell, seeded by the cell's seed
(`numpy.random.default_rng(study_seed)`), and the curve is reported step by step, so pruners
act exactly as they would live. Wall time is simulated: the recorded seconds of the steps
consumed plus the sampler's real time.

Every trial also records the noise-free quality of its configuration (`true_accuracy`): the
table's mean validation accuracy over replicates at the suite's last report, at the trial's
learning rate, and the best such mean over every configuration the search space can reach
(`true_optimum`), so reports and the gate score what a strategy chose, not the replicate it
happened to draw.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from bench.core.errors import BenchError
from bench.core.spaces import FloatParam, IntParam, ParamValue, SearchSpace
from bench.objectives.interpolation import DEFAULT_INTERPOLATION, bracket, lerp, nearest
from bench.objectives.outcome import Outcome
from bench.objectives.table import Curves, load_curves, shipped_table_path
from bench.spec.objective import ObjectiveSpec
from bench.spec.suite import ObjectiveConfig, check_interpolation


def check_coverage(curves: Curves, spec: ObjectiveSpec, space: SearchSpace, where: str) -> None:
    """Raise BenchError unless the table covers the suite's objective and search space."""
    grid = curves.meta["grid"]
    for key in ("dataset", "validation"):
        if getattr(spec, key) != grid[key]:
            raise BenchError(f"table {where} was built with {key} {grid[key]!r}, the suite asks "
                             f"for {getattr(spec, key)!r}; use a matching table or suite")
    if spec.report_every is not None:
        raise BenchError("the replay objective reports per epoch fraction: set "
                         "reports_per_epoch instead of report_every")
    if curves.reports_per_epoch % spec.reports_per_epoch:
        raise BenchError(f"table {where} has {curves.reports_per_epoch} reports per epoch; "
                         f"reports_per_epoch must divide it, got {spec.reports_per_epoch}")
    if spec.epochs > curves.epochs:
        raise BenchError(f"table {where} holds {curves.epochs} epochs, the suite asks for "
                         f"{spec.epochs}; lower epochs or tabulate more")
    if spec.batch_size != curves.meta.get("batch_size", 64):
        raise BenchError(f"table {where} was trained at batch size "
                         f"{curves.meta.get('batch_size', 64)}, not {spec.batch_size}")
    names = {p.name: p for p in space.params}
    if set(names) != {"learning_rate", "hidden_size"}:
        raise BenchError(f"the replay objective covers learning_rate and hidden_size only; "
                         f"space {space.name!r} has {sorted(names)}")
    lr, hidden = names["learning_rate"], names["hidden_size"]
    lrs = curves.learning_rates
    if not isinstance(lr, FloatParam) or lr.low < lrs[0] * (1 - 1e-9) or \
            lr.high > lrs[-1] * (1 + 1e-9):
        raise BenchError(f"table {where} covers learning rates [{lrs[0]:g}, {lrs[-1]:g}]; "
                         "the suite's learning_rate range lies outside it")
    if not isinstance(hidden, IntParam) or not set(hidden.values()) <= set(
            int(h) for h in curves.hidden_sizes):
        raise BenchError(f"table {where} covers hidden sizes "
                         f"{[int(h) for h in curves.hidden_sizes]}; the suite's hidden_size "
                         "values are not all among them")


class ReplayObjective:
    """Looks trials up in a tabulated objective instead of training.

    Args:
        curves: the table.
        spec: the suite's objective settings (epochs, reports_per_epoch, ...).
        space: the search space (learning_rate and hidden_size).
        study_seed: seeds the cell's replicate stream (trial k takes its k-th draw).
        path: where the table came from, for provenance.
        interpolation: "log-linear" (a curve at the suggested rate) or "nearest" (snap).
    """

    time_simulated = True

    def __init__(self, curves: Curves, spec: ObjectiveSpec, space: SearchSpace,
                 study_seed: int, path: Path,
                 interpolation: str = DEFAULT_INTERPOLATION) -> None:
        check_coverage(curves, spec, space, str(path))
        check_interpolation(interpolation)
        self.interpolation = interpolation
        self.curves = curves
        self.spec = spec
        self.space = space
        self.study_seed = study_seed
        self.path = path
        self._log_lrs = np.log(curves.learning_rates).tolist()
        self._hidden_index = {int(h): j for j, h in enumerate(curves.hidden_sizes)}
        stride = curves.reports_per_epoch // spec.reports_per_epoch
        n_reports = spec.epochs * spec.reports_per_epoch
        self._report_idx = [stride * (k + 1) - 1 for k in range(n_reports)]
        self._epochs = tuple((k + 1) / spec.reports_per_epoch for k in range(n_reports))
        self._steps_per_epoch = int(curves.meta.get("steps_per_epoch", 0))
        self._val, self._test = curves.blenders
        self._train_cum = curves.train_cum
        self._eval_cum = curves.eval_cum(tuple(self._report_idx))
        self._lrs = curves.learning_rates.tolist()
        self._device = str(curves.meta["device"])
        self._optimum = self._reachable_optimum()
        self._rng = np.random.default_rng(study_seed)
        self._replicates = np.zeros(0, dtype=np.int64)

    @classmethod
    def from_config(cls, config: ObjectiveConfig, study_seed: int) -> ReplayObjective:
        """Build from a suite's objective section (default table: the shipped one)."""
        path = Path(config.table) if config.table else shipped_table_path()
        return cls(load_curves(path), config.spec, config.space(), study_seed, path,
                   config.interpolation)

    def provenance(self) -> dict[str, Any]:
        """Table checksum, the device it was recorded on, and the dataset checksum."""
        meta = self.curves.meta
        return {
            "dataset_checksum": meta["dataset_checksum"],
            "table": {"path": str(self.path), "checksum": self.curves.checksum,
                      "device": meta["device"], "device_model": meta["device_model"],
                      "interpolation": self.interpolation},
        }

    def _at(self, learning_rate: float) -> tuple[int, float]:
        """The trial's place in the table: (rate index, weight of the next rate)."""
        if self.interpolation == "nearest":
            return self.snap(learning_rate), 0.0
        return bracket(self._log_lrs, learning_rate)

    def true_accuracy(self, learning_rate: float, hidden_size: int) -> float:
        """The noise-free quality of a configuration: the mean over replicates at the
        suite's last report, at this learning rate."""
        i, w = self._at(learning_rate)
        return self._val.mean_at(i, w, self._hidden_index[hidden_size], self._report_idx[-1])

    def _reachable_optimum(self) -> float:
        """The best noise-free quality the space can suggest. Log-linear: the mean is
        piecewise linear in log rate, so its maximum over the range lies at a tabulated
        rate inside it or at an end. Nearest: every rate some rate in the range snaps to."""
        names = {p.name: p for p in self.space.params}
        lr = names["learning_rate"]
        assert isinstance(lr, FloatParam)
        hidden = names["hidden_size"]
        assert isinstance(hidden, IntParam)
        if self.interpolation == "nearest":
            rates = self._lrs[self.snap(lr.low): self.snap(lr.high) + 1]
        else:
            rates = [lr.low, lr.high, *(x for x in self._lrs if lr.low < x < lr.high)]
        return max(self.true_accuracy(x, int(h)) for x in rates for h in hidden.values())

    def replicate(self, trial_number: int) -> int:
        """The replicate trial `trial_number` replays, drawn from the cell's seeded stream."""
        while trial_number >= len(self._replicates):
            more = self._rng.integers(self.curves.val.shape[2], size=len(self._replicates) or 256)
            self._replicates = np.concatenate([self._replicates, more])
        return int(self._replicates[trial_number])

    def snap(self, learning_rate: float) -> int:
        """Index of the tabulated learning rate nearest in log space."""
        return nearest(self._log_lrs, learning_rate)

    def plan(self, trial_number: int, params: dict[str, ParamValue]) -> ReplayedTrial:
        """The curve trial `trial_number` replays at `params`, for a trial loop to report
        step by step (`evaluate` one after another, `bench.execution.simulated` on a clock)."""
        lr = float(params["learning_rate"])
        i, w = self._at(lr)
        j = self._hidden_index[int(params["hidden_size"])]
        r = self.replicate(trial_number)
        return ReplayedTrial(self, i, w, j, r, self._val.curve(i, w, j, r, self._report_idx))

    def evaluate(self, trial: optuna.Trial, params: dict[str, ParamValue]) -> Outcome:
        """Report the trial's curve step by step, pruning as a live trial would."""
        replayed = self.plan(trial.number, params)
        prune_s = 0.0
        made = 0
        for made, value in enumerate(replayed.values, start=1):
            t0 = time.perf_counter()
            trial.report(value, made)
            stop = trial.should_prune()
            prune_s += time.perf_counter() - t0
            if stop:
                return replayed.outcome(made, True, prune_s)
        return replayed.outcome(made, False, prune_s)


class ReplayedTrial:
    """One trial's replayed curve: its validation value at each report, the recorded seconds
    up to each report, and the outcome once it stopped.

    Attributes:
        values: the validation accuracy at each of the suite's reports.
    """

    __slots__ = ("_i", "_j", "_objective", "_r", "_w", "values")

    def __init__(self, objective: ReplayObjective, i: int, w: float, j: int, r: int,
                 values: list[float]) -> None:
        self._objective = objective
        self._i, self._w, self._j, self._r = i, w, j, r
        self.values = values

    def seconds(self, made: int) -> float:
        """Recorded training and evaluation seconds up to and including report `made`
        (1-based)."""
        return sum(self._train_eval(made))

    def _train_eval(self, made: int) -> tuple[float, float]:
        """Recorded (training, evaluation) seconds up to and including report `made`."""
        o, i, w, j, r = self._objective, self._i, self._w, self._j, self._r
        return (lerp(o._train_cum, i, w, j, r, o._report_idx[made - 1]),
                lerp(o._eval_cum, i, w, j, r, made - 1))

    def outcome(self, made: int, pruned: bool, prune_s: float) -> Outcome:
        """The outcome of the trial stopped after report `made` (1-based), pruned or not,
        having spent `prune_s` seconds in the pruner."""
        o, i, w, j, r = self._objective, self._i, self._w, self._j, self._r
        train_s, eval_total = self._train_eval(made)
        epoch = o._epochs[made - 1]
        snapped = {"learning_rate_snapped": o._lrs[i]} if o.interpolation == "nearest" else {}
        attrs = {
            **snapped,
            "replicate": r,
            "train_s": train_s,
            "eval_s": eval_total,
            "epochs_completed": epoch,
            "steps_completed": round(epoch * o._steps_per_epoch),
            "device": o._device,
            "test_accuracy": None if pruned else o._test.curve(
                i, w, j, r, (o.spec.epochs - 1,))[0],
            "true_accuracy": o._val.mean_at(i, w, j, o._report_idx[-1]),
            "true_optimum": o._optimum,
        }
        return Outcome(self.values[made - 1], pruned, o._epochs[:made], attrs,
                       train_s + eval_total, prune_s)
