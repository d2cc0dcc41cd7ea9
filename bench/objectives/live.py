"""The live MNIST objective: suggest the seed's hyperparameters, train, report, prune.

`LiveObjective.evaluate(trial, params)` is what the harness calls (it times suggestion
separately); `LiveObjective(trial)` is the plain Optuna objective for `study.optimize`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import optuna

from bench.core.spaces import ParamValue, SearchSpace, get_space
from bench.datasets.load import Splits, load_dataset
from bench.objectives.outcome import Outcome
from bench.spec.objective import ObjectiveSpec
from bench.training.devices import resolve_device
from bench.training.loop import NetworkConfig, ReportPoint, TrainResult, train, trial_seed, warm_up


def network_config(params: dict[str, ParamValue]) -> NetworkConfig:
    """Map a space's parameters (seed or conditional) to the network to train."""
    if "hidden_size" in params:
        hidden: tuple[int, ...] = (int(params["hidden_size"]),)
    else:
        n_layers = int(params["n_layers"])
        hidden = tuple(int(params[f"hidden_size_{i}"]) for i in range(1, n_layers + 1))
    return NetworkConfig(
        hidden_sizes=hidden,
        learning_rate=float(params["learning_rate"]),
        optimizer=str(params.get("optimizer", "adam")),
        momentum=float(params.get("momentum", 0.0)),
    )


class LiveObjective:
    """Trains the seed's network on real data for each trial.

    Args:
        spec: dataset, space, epochs, validation protocol and report interval.
        device: a device name (`cpu`, `cuda`, `mps`, `auto`).
        study_seed: with the trial number, seeds every random draw of a trial.
        data_root: where the dataset files live (default: the user cache).
    """

    def __init__(
        self,
        spec: ObjectiveSpec,
        device: str = "cpu",
        study_seed: int = 0,
        data_root: Path | None = None,
    ) -> None:
        spec.validate()
        self.spec = spec
        self.time_simulated = False
        self.space: SearchSpace = get_space(spec.space)
        self.device = resolve_device(device)
        self.study_seed = study_seed
        self.data_root = data_root
        self._data: Splits | None = None

    def provenance(self) -> dict[str, Any]:
        """Dataset checksum and the device, stored with each study."""
        return {"dataset_checksum": self.data.checksum, "device": str(self.device)}

    @property
    def data(self) -> Splits:
        """The dataset's splits on the device, loaded on first use."""
        if self._data is None:
            self._data = load_dataset(self.spec.dataset, device=self.device,
                                      validation=self.spec.validation, data_root=self.data_root)
            warm_up(self._data)  # before any trial starts its clock
        return self._data

    def evaluate(self, trial: optuna.Trial, params: dict[str, ParamValue]) -> Outcome:
        """Train with `params`, reporting each validation score to `trial` and pruning."""
        data = self.data
        prune_s = 0.0

        def on_report(point: ReportPoint) -> bool:
            nonlocal prune_s
            trial.report(point.accuracy, point.step)
            t0 = time.perf_counter()
            stop = trial.should_prune()
            prune_s += time.perf_counter() - t0
            return stop

        t0 = time.perf_counter()
        result = train(network_config(params), data, self.spec.settings(),
                       trial_seed(self.study_seed, trial.number), on_report)
        objective_s = time.perf_counter() - t0 - prune_s
        return self._outcome(result, objective_s, prune_s)

    def _outcome(self, result: TrainResult, objective_s: float, prune_s: float,
                 **extra: Any) -> Outcome:
        """The trial's outcome and the measurements recorded on it."""
        last = result.reports[-1]
        attrs = {
            "train_s": result.train_s,
            "eval_s": result.eval_s,
            "epochs_completed": last.epoch,
            "steps_completed": last.optimizer_steps,
            "device": str(self.device),
            "test_accuracy": result.test_accuracy,
            **extra,
        }
        return Outcome(result.accuracy, result.stopped_early,
                       tuple(r.epoch for r in result.reports), attrs, objective_s, prune_s)

    def evaluate_batch(self, asked: list[tuple[optuna.Trial, dict[str, ParamValue]]]
                       ) -> list[Outcome]:
        """Train every asked trial's network in one batch (`bench.training.batched.train_batch`),
        reporting to and pruning through each trial; a pruned network leaves the batch.

        Each network trains exactly as `evaluate` would train it alone (same seed, same
        accuracies to float tolerance); its seconds are the batch's shared evenly among the
        networks alive at each report.
        """
        from bench.training.batched import check_batchable, train_batch

        data = self.data
        trials = [trial for trial, _ in asked]
        configs = [network_config(params) for _, params in asked]
        for config in configs:
            check_batchable(config)
        prune_s = [0.0] * len(asked)

        def on_report(k: int, point: ReportPoint) -> bool:
            trials[k].report(point.accuracy, point.step)
            t0 = time.perf_counter()
            stop = trials[k].should_prune()
            prune_s[k] += time.perf_counter() - t0
            return stop

        results = train_batch(configs, data, self.spec.settings(),
                              [trial_seed(self.study_seed, t.number) for t in trials], on_report)
        return [self._outcome(result, result.train_s + result.eval_s, prune_s[k],
                              batched_with=len(asked)) for k, result in enumerate(results)]

    def __call__(self, trial: optuna.Trial) -> float:
        """A plain Optuna objective: suggest, train, raise TrialPruned when pruned."""
        outcome = self.evaluate(trial, self.space.suggest(trial))
        trial.set_user_attr("samplerbench", outcome.attrs)
        if outcome.pruned:
            raise optuna.TrialPruned()
        return outcome.value
