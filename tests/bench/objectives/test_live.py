"""The live objective on digits: reproducibility, reporting, pruning, records, bad input."""

from __future__ import annotations

import optuna
import pytest
import torch

from bench.core.errors import BenchError
from bench.core.spaces import CONDITIONAL_SPACE
from bench.datasets.load import load_dataset
from bench.objectives.live import LiveObjective, network_config
from bench.spec.objective import ObjectiveSpec, TrainSettings
from bench.training.loop import NetworkConfig, train, trial_seed
from tests.helpers.suites import cli, one_torch_thread

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def _digits() -> object:
    return load_dataset("digits", device=CPU)


def test_same_parameters_and_seeds_give_the_same_accuracy() -> None:
    data = _digits()
    config = NetworkConfig((96,), 3e-3)
    settings = TrainSettings(epochs=2, reports_per_epoch=2)
    a = train(config, data, settings, trial_seed(5, 3))
    b = train(config, data, settings, trial_seed(5, 3))
    c = train(config, data, settings, trial_seed(5, 4))
    assert [r.accuracy for r in a.reports] == [r.accuracy for r in b.reports]
    assert a.test_accuracy == b.test_accuracy
    assert [r.accuracy for r in a.reports] != [r.accuracy for r in c.reports]


def test_trial_seeds_differ_by_study_seed_and_trial_number() -> None:
    seeds = {trial_seed(s, n) for s in range(20) for n in range(20)}
    assert len(seeds) == 400


def test_reports_every_n_steps_and_at_the_end() -> None:
    data = _digits()
    steps_per_epoch = -(-len(data.train_x) // 64)
    result = train(NetworkConfig((64,), 1e-3), data, TrainSettings(epochs=2, report_every=5),
                   0)
    steps = [r.optimizer_steps for r in result.reports]
    assert steps[:-1] == list(range(5, 2 * steps_per_epoch, 5))
    assert steps[-1] == 2 * steps_per_epoch
    assert [r.step for r in result.reports] == list(range(1, len(steps) + 1))


def test_pruned_trial_stops_and_records_what_it_consumed() -> None:
    objective = LiveObjective(ObjectiveSpec(dataset="digits", epochs=3, reports_per_epoch=2))
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [1]
    attrs = trial.user_attrs["samplerbench"]
    assert attrs["epochs_completed"] == 9 / 17  # ceil(17 steps per epoch / 2) of 17
    assert attrs["test_accuracy"] is None and attrs["device"] == "cpu"


def test_completed_trial_records_times_epochs_steps_and_test_accuracy() -> None:
    objective = LiveObjective(ObjectiveSpec(dataset="digits", epochs=2))
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=2)
    for trial in study.trials:
        attrs = trial.user_attrs["samplerbench"]
        assert attrs["train_s"] > 0 and attrs["eval_s"] > 0
        assert attrs["epochs_completed"] == 2.0
        assert attrs["steps_completed"] == 2 * -(-1077 // 64)
        assert 0.0 <= attrs["test_accuracy"] <= 1.0
        assert trial.value == list(trial.intermediate_values.values())[-1]


def test_validation_test_scores_on_the_test_split() -> None:
    holdout = load_dataset("digits", device=CPU)
    seedlike = load_dataset("digits", device=CPU, validation="test")
    assert len(holdout.val_x) == 359 and len(holdout.train_x) == 1437 - 359
    assert torch.equal(seedlike.val_x, seedlike.test_x) and len(seedlike.train_x) == 1437


def test_conditional_space_trains_several_layers_and_sgd() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    params = CONDITIONAL_SPACE.suggest(study.ask())
    config = network_config(params)
    assert len(config.hidden_sizes) == params["n_layers"]
    assert ("momentum" in params) == (params["optimizer"] == "sgd")
    result = train(network_config({"n_layers": 2, "hidden_size_1": 64, "hidden_size_2": 96,
                                   "learning_rate": 0.05, "optimizer": "sgd",
                                   "momentum": 0.9}), _digits(), TrainSettings(epochs=2), 0)
    assert result.accuracy > 0.5


@pytest.mark.parametrize(("args", "message"), [
    (["--dataset", "cifar"], "unknown dataset 'cifar'; choose one of: mnist"),
    (["--device", "tpu"], "unknown device 'tpu'; choose one of: cpu"),
    (["--epochs", "0"], "epochs must be at least 1"),
    (["--report-every", "0"], "report_every must be a positive number of steps"),
    (["--validation", "train"], "unknown validation 'train'"),
    (["--hidden-size", "0"], "--hidden-size must be a positive integer"),
])
def test_train_command_refuses_bad_input_in_one_line(capsys, args, message) -> None:
    code, out, err = cli(capsys, "train", "--dataset", "digits", *args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_cuda_is_refused_exactly_when_there_is_none(capsys) -> None:
    code, _, err = cli(capsys, "train", "--dataset", "digits", "--device", "cuda")
    if torch.cuda.is_available():
        assert code == 0, err
    else:
        assert code == 2 and "sees no CUDA GPU; use --device cpu or auto" in err


def test_unknown_space_is_refused() -> None:
    with pytest.raises(BenchError, match="unknown search space 'huge'; choose one of: seed"):
        LiveObjective(ObjectiveSpec(dataset="digits", space="huge"))


def test_train_command_prints_reports_and_a_summary(capsys) -> None:
    code, out, _ = cli(capsys, "train", "--dataset", "digits", "--epochs", "2")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 3
    assert '"validation_accuracy"' in lines[-1] and '"test_accuracy"' in lines[-1]
