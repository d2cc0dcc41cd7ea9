"""The replay's curve at any learning rate (`bench.objectives.interpolation`), on the digits
table and on synthetic tables whose answers are known."""

from __future__ import annotations

import itertools
import math

import numpy as np
import optuna
import pytest

from bench.core.spaces import SEED_SPACE
from bench.objectives.interpolation import CurveBlender, bracket, lerp, noise_scale
from bench.objectives.outcome import Outcome
from bench.objectives.replay import ReplayObjective
from bench.objectives.table import load_curves
from bench.spec.objective import ObjectiveSpec
from tests.helpers.paths import DIGITS_TABLE

SPEC = ObjectiveSpec(dataset="digits", epochs=2, reports_per_epoch=2)


def _objective(seed: int = 0, interpolation: str = "log-linear") -> ReplayObjective:
    return ReplayObjective(load_curves(DIGITS_TABLE), SPEC, SEED_SPACE, seed, DIGITS_TABLE,
                           interpolation)


def _run(objective: ReplayObjective, lr: float, hidden: int) -> tuple[Outcome, list[float]]:
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    outcome = objective.evaluate(trial, {"learning_rate": lr, "hidden_size": hidden})
    reported = study.trials[0].intermediate_values
    return outcome, [reported[k] for k in range(1, len(outcome.report_epochs) + 1)]


def test_bracket_places_a_rate_between_its_tabulated_neighbours() -> None:
    log_lrs = np.log([1e-4, 1e-3, 1e-2]).tolist()
    assert bracket(log_lrs, 1e-4) == (0, 0.0)
    assert bracket(log_lrs, 1e-3) == (1, 0.0)
    assert bracket(log_lrs, 1e-2) == (2, 0.0)
    i, w = bracket(log_lrs, math.sqrt(1e-4 * 1e-3))
    assert i == 0 and w == pytest.approx(0.5)
    i, w = bracket(log_lrs, 10 ** -2.25)
    assert i == 1 and w == pytest.approx(0.75)
    assert bracket(log_lrs, 1e-3 * (1 + 1e-13)) == (1, 0.0)  # float noise is a grid point
    assert bracket(log_lrs, 1e-6) == (0, 0.0) and bracket(log_lrs, 1.0) == (2, 0.0)


@pytest.mark.parametrize("interpolation", ["log-linear", "nearest"])
def test_interpolation_is_exact_at_tabulated_points(interpolation) -> None:
    objective = _objective(interpolation=interpolation)
    curves = objective.curves
    train_cum = np.cumsum(curves.train_s, axis=-1)
    for i in (0, 7, 13, 24):
        for j, hidden in enumerate(curves.hidden_sizes.tolist()):
            outcome, reported = _run(objective, float(curves.learning_rates[i]), hidden)
            r = outcome.attrs["replicate"]
            assert reported == curves.val[i, j, r].tolist()  # bit for bit
            assert outcome.attrs["test_accuracy"] == curves.test[i, j, r, -1]
            assert outcome.attrs["train_s"] == train_cum[i, j, r, -1]
            assert outcome.attrs["true_accuracy"] == pytest.approx(
                curves.val[i, j, :, -1].mean(), abs=1e-15)


def test_simulated_seconds_never_decrease_per_replicate() -> None:
    """On a table whose seconds differ per rate and replicate (the shipped tables' are
    constant per hidden size), at 400 random rates: cumulative seconds never decrease."""
    rng = np.random.default_rng(3)
    per_step = rng.exponential(0.2, size=(25, 7, 3, 16))
    cumulative = np.cumsum(per_step, axis=-1).tolist()
    log_lrs = np.log(np.geomspace(1e-5, 1e-1, 25)).tolist()
    for lr in np.exp(rng.uniform(log_lrs[0], log_lrs[-1], size=400)):
        i, w = bracket(log_lrs, float(lr))
        for j in range(7):
            for r in range(3):
                cum = [lerp(cumulative, i, w, j, r, k) for k in range(16)]
                assert all(b >= a for a, b in itertools.pairwise(cum))
                assert cum[0] > 0


def test_off_grid_noise_keeps_the_recorded_variance() -> None:
    """Residuals of independent replicates at two neighbouring rates, blended and rescaled:
    their spread over replicates at any weight is the tabulated one (a plain blend would
    shrink it to sqrt(0.5) at the midpoint)."""
    rng = np.random.default_rng(11)
    values = 0.9 + 0.01 * rng.standard_normal((2, 1, 4000, 1))
    blender = CurveBlender(values)
    for w in (0.1, 0.5, 0.8):
        blended = np.array([blender.curve(0, w, 0, r, (0,))[0] for r in range(4000)])
        assert blended.std() == pytest.approx(0.01, rel=0.05)
        plain = (1 - w) * values[0, 0, :, 0] + w * values[1, 0, :, 0]
        assert plain.std() == pytest.approx(0.01 / noise_scale(w), rel=0.05)
        assert blended.mean() == pytest.approx(values[:, 0, :, 0].mean(), abs=1e-3)


def test_the_curve_is_continuous_in_the_learning_rate() -> None:
    objective = _objective(seed=5)
    lrs = objective.curves.learning_rates
    just_below = float(lrs[10] * (1 - 1e-7))
    just_above = float(lrs[10] * (1 + 1e-7))
    a, va = _run(objective, just_below, 128)
    b, vb = _run(_objective(seed=5), just_above, 128)
    assert va == pytest.approx(vb, abs=1e-5)
    assert a.attrs["true_accuracy"] == pytest.approx(b.attrs["true_accuracy"], abs=1e-6)


def test_reachable_optimum_is_the_best_noise_free_value_in_range() -> None:
    objective = _objective()
    curves = objective.curves
    true = curves.val[:, :, :, -1].mean(axis=2)
    assert objective._optimum == pytest.approx(true.max())  # the space spans the table
    rng = np.random.default_rng(0)
    for lr in np.exp(rng.uniform(math.log(1e-5), math.log(1e-1), size=200)):
        for hidden in (64, 160, 256):
            assert objective.true_accuracy(float(lr), hidden) <= objective._optimum + 1e-12
