"""Sampler overhead: seconds per trial of every registered sampler at 10, 100 and 1,000
finished trials (pytest-benchmark; not collected by the unit tests, whose testpaths is tests/).

Each round starts from a fresh in-memory study pre-filled, untimed, with that many finished
trials on the seed space (synthetic FrozenTrials from a seeded generator: a smooth accuracy
surface over log learning rate and hidden size, plus noise), then times what the harness
pays per trial: ask, suggest both parameters, tell. Run and save, then gate later runs on it:

    .venv/bin/pytest benchmarks/test_sampler_overhead.py --benchmark-autosave
    .venv/bin/pytest benchmarks/test_sampler_overhead.py \
        --benchmark-compare --benchmark-compare-fail=median:50%

One untimed warm-up round per case absorbs import-time costs (QMC's scipy.stats.qmc, GP's
first torch call). GP fits a Gaussian process per ask (about 18 s at 1,000 trials on a busy
2-core CPU), so ROUNDS caps its rounds at 3; every other case runs DEFAULT_ROUNDS.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

from bench.core.spaces import SEED_SPACE, FloatParam, IntParam, SearchSpace
from strategies.registry import SAMPLERS, build_sampler

FINISHED = (10, 100, 1000)
DEFAULT_ROUNDS = 5
ROUNDS: dict[tuple[str, int], int] = {("gp", 1000): 3, ("gp", 100): 3}  # slow: capped


def distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    """Optuna distributions of a space without conditions."""
    out: dict[str, BaseDistribution] = {}
    for p in space.params:
        if isinstance(p, FloatParam):
            out[p.name] = FloatDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, IntParam):
            out[p.name] = IntDistribution(p.low, p.high, step=p.step, log=p.log)
        else:
            raise TypeError(f"{p.name}: only float and int parameters are synthesised")
    return out


def synthetic_trials(n: int, seed: int = 0) -> list[optuna.trial.FrozenTrial]:
    """`n` finished trials on the seed space with a smooth, noisy accuracy surface."""
    rng = np.random.default_rng(seed)
    dists = distributions(SEED_SPACE)
    lr_d, h_d = dists["learning_rate"], dists["hidden_size"]
    assert isinstance(lr_d, FloatDistribution) and isinstance(h_d, IntDistribution)
    trials = []
    for _ in range(n):
        lr = float(math.exp(rng.uniform(math.log(lr_d.low), math.log(lr_d.high))))
        hidden = int(rng.choice(np.arange(h_d.low, h_d.high + 1, h_d.step)))
        value = 0.98 - 0.02 * (math.log10(lr) + 3.0) ** 2 + 1e-5 * hidden + rng.normal(0, 0.003)
        trials.append(optuna.trial.create_trial(
            params={"learning_rate": lr, "hidden_size": hidden}, distributions=dists,
            value=value))
    return trials


def prefilled_study(name: str, n: int) -> optuna.Study:
    """A fresh study with `n` finished trials and sampler `name` (seed 0)."""
    study = optuna.create_study(direction="maximize",
                                sampler=build_sampler(name, 0, SEED_SPACE))
    study.add_trials(synthetic_trials(n))
    return study


def one_trial(study: optuna.Study) -> dict[str, Any]:
    """What the harness does per trial, less the objective: ask, suggest, tell."""
    trial = study.ask()
    params = SEED_SPACE.suggest(trial)
    study.tell(trial, 0.5)
    return params


@pytest.fixture(autouse=True)
def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("finished", FINISHED)
@pytest.mark.parametrize("name", list(SAMPLERS))
def test_sampler_overhead(benchmark: Any, name: str, finished: int) -> None:
    """Seconds per ask + suggest + tell after `finished` trials."""
    benchmark.group = f"{finished} finished trials"
    benchmark.extra_info["finished_trials"] = finished
    out: list[dict[str, Any]] = []

    def setup() -> tuple[tuple[optuna.Study], dict[str, Any]]:
        return (prefilled_study(name, finished),), {}

    def run(study: optuna.Study) -> None:
        out.append(one_trial(study))

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS.get((name, finished), DEFAULT_ROUNDS),
                       iterations=1, warmup_rounds=1)
    for params in out:
        assert 1e-5 <= params["learning_rate"] <= 1e-1
        assert params["hidden_size"] in range(64, 257, 32)
