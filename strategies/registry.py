"""Name -> builder registries for samplers and pruners.

Listing, validation and tests all walk these dicts, so a new strategy is one entry. A user's
own sampler or pruner is named by import path, `package.module:factory`; the factory is called
like the built-ins (samplers: `factory(seed=..., space=..., **options)`, pruners:
`factory(**options)`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler

from bench.core.errors import BenchError
from bench.core.spaces import SearchSpace
from strategies.grid import DEFAULT_FLOAT_POINTS, MAX_GRID_POINTS, AskTellGridSampler, derive_grid


@dataclass(frozen=True)
class SamplerEntry:
    """How to build one sampler from a cell's seed, the search space and options.

    Attributes:
        help: one line for `samplerbench list`.
        build: `build(seed=..., space=..., **options)`.
        optuna_class: the Optuna sampler class it builds (the trials table's `sampler`).
        replay_trial_s: seconds per replayed trial on a 2-core CPU, for `run --dry-run`.
        keep_seed_on_resume: the seed fixes a sequence that the study walks by trial or
            sample number (grid's shuffle, QMC's scrambling): a resumed cell rebuilds it with
            the seed of its first session, or it would repeat points and skip others.
        constant_liar: takes `constant_liar`, which the harness turns on for parallel trials.
    """

    help: str
    build: Callable[..., BaseSampler]
    optuna_class: str
    replay_trial_s: float
    keep_seed_on_resume: bool = False
    constant_liar: bool = False


@dataclass(frozen=True)
class PrunerEntry:
    """How to build one pruner from options."""

    help: str
    build: Callable[..., BasePruner]


def _grid(
    *, seed: int, space: SearchSpace, points: int = DEFAULT_FLOAT_POINTS,
    max_points: int = MAX_GRID_POINTS,
) -> BaseSampler:
    return AskTellGridSampler(derive_grid(space, points, max_points), seed=seed)


def _random(*, seed: int, space: SearchSpace) -> BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def _tpe(*, seed: int, space: SearchSpace, **options: Any) -> BaseSampler:
    return optuna.samplers.TPESampler(seed=seed, **options)


def _tpe_multivariate(*, seed: int, space: SearchSpace, **options: Any) -> BaseSampler:
    options.setdefault("multivariate", True)
    options.setdefault("group", any(p.condition for p in space.params))
    return optuna.samplers.TPESampler(seed=seed, **options)


def _qmc(*, seed: int, space: SearchSpace, qmc_type: str = "sobol",
         scramble: bool = True) -> BaseSampler:
    return optuna.samplers.QMCSampler(qmc_type=qmc_type, scramble=scramble, seed=seed,
                                      warn_independent_sampling=False)


def _cmaes(*, seed: int, space: SearchSpace, **options: Any) -> BaseSampler:
    options.setdefault("warn_independent_sampling", False)
    return optuna.samplers.CmaEsSampler(seed=seed, **options)


def _gp(*, seed: int, space: SearchSpace, **options: Any) -> BaseSampler:
    options.setdefault("warn_independent_sampling", False)
    return optuna.samplers.GPSampler(seed=seed, **options)


SAMPLERS: dict[str, SamplerEntry] = {
    "grid": SamplerEntry("grid derived from the space, shuffled by the cell's seed "
                         "(options: points, max_points)", _grid, "GridSampler", 0.002,
                         keep_seed_on_resume=True),
    "random": SamplerEntry("uniform random search", _random, "RandomSampler", 0.0005),
    "tpe": SamplerEntry("Optuna's default TPE (options: TPESampler's, e.g. n_startup_trials)",
                        _tpe, "TPESampler", 0.01, constant_liar=True),
    "tpe-multivariate": SamplerEntry("TPE with multivariate (and group for conditional "
                                     "spaces) on", _tpe_multivariate, "TPESampler", 0.015,
                                     constant_liar=True),
    "qmc": SamplerEntry("scrambled Sobol quasi-Monte Carlo (options: qmc_type, scramble)", _qmc,
                        "QMCSampler", 0.002, keep_seed_on_resume=True),
    "cmaes": SamplerEntry("CMA-ES (categoricals fall back to random)", _cmaes, "CmaEsSampler",
                          0.005),
    "gp": SamplerEntry("Gaussian-process Bayesian optimisation (options: n_startup_trials)",
                       _gp, "GPSampler", 0.3),
}

# What an imported sampler (`package.module:factory`) is assumed to cost per replayed trial.
IMPORTED_REPLAY_TRIAL_S = 0.01

PRUNERS: dict[str, PrunerEntry] = {
    "none": PrunerEntry("no pruning", lambda: optuna.pruners.NopPruner()),
    "median": PrunerEntry("median stopping rule (options: n_startup_trials, n_warmup_steps)",
                          lambda **o: optuna.pruners.MedianPruner(**o)),
    "percentile": PrunerEntry("prune below the 25th percentile (options: percentile, ...)",
                              lambda percentile=25.0, **o: optuna.pruners.PercentilePruner(
                                  percentile, **o)),
    "successive-halving": PrunerEntry(
        "asynchronous successive halving (options: min_resource, reduction_factor)",
        lambda **o: optuna.pruners.SuccessiveHalvingPruner(**o)),
    "hyperband": PrunerEntry("Hyperband (options: min_resource, max_resource, "
                             "reduction_factor)", lambda **o: optuna.pruners.HyperbandPruner(**o)),
}


def _import_factory(path: str) -> Callable[..., Any]:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise BenchError(f"cannot import {module_name!r} for {path!r}: {err}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise BenchError(f"{path!r}: {module_name} has no callable {attr!r}")
    return factory  # type: ignore[no-any-return]


def is_import_path(name: str) -> bool:
    """True for `package.module:factory` names."""
    return ":" in name


@functools.cache
def _parameters(build: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    return inspect.signature(build).parameters


def _check_options(name: str, build: Callable[..., Any], options: Mapping[str, Any],
                   fixed: tuple[str, ...]) -> None:
    params = _parameters(build)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = [p for p in params if p not in fixed]
    for key in options:
        if key not in allowed:
            valid = ", ".join(allowed) or "none"
            raise BenchError(f"{name}: unknown option {key!r}; valid options: {valid}")


def keeps_seed_on_resume(name: str) -> bool:
    """True when a resumed cell must rebuild sampler `name` with its first session's seed."""
    return name in SAMPLERS and SAMPLERS[name].keep_seed_on_resume


def takes_constant_liar(name: str) -> bool:
    """True when sampler `name` takes the `constant_liar` option."""
    return name in SAMPLERS and SAMPLERS[name].constant_liar


def sampler_class_name(name: str) -> str:
    """The class a sampler name builds: Optuna's for registered ones, else the factory's name."""
    return SAMPLERS[name].optuna_class if name in SAMPLERS else name.rsplit(":", 1)[-1]


def replay_trial_seconds(name: str) -> float:
    """Rough seconds per replayed trial of sampler `name` (for time estimates)."""
    return SAMPLERS[name].replay_trial_s if name in SAMPLERS else IMPORTED_REPLAY_TRIAL_S


def check_sampler(name: str) -> None:
    """Raise BenchError unless `name` is registered or an import path."""
    if name not in SAMPLERS and not is_import_path(name):
        raise BenchError(f"unknown strategy {name!r}; choose one of: {', '.join(SAMPLERS)} "
                         "or give package.module:factory")


def check_pruner(name: str) -> None:
    """Raise BenchError unless `name` is registered or an import path."""
    if name not in PRUNERS and not is_import_path(name):
        raise BenchError(f"unknown pruner {name!r}; choose one of: {', '.join(PRUNERS)} "
                         "or give package.module:factory")


def build_sampler(name: str, seed: int, space: SearchSpace,
                  options: Mapping[str, Any] | None = None) -> BaseSampler:
    """Build a registered or imported sampler for one cell.

    Args:
        name: a key of `SAMPLERS` or `package.module:factory`.
        seed: the cell's sampler seed.
        space: the search space (the grid sampler derives its grid from it).
        options: keyword options for the builder.
    """
    check_sampler(name)
    options = dict(options or {})
    build = SAMPLERS[name].build if name in SAMPLERS else _import_factory(name)
    _check_options(name, build, options, ("seed", "space"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = build(seed=seed, space=space, **options)
    except (TypeError, ValueError) as err:
        raise BenchError(f"strategy {name!r} rejected its options {options}: {err}") from None
    if not isinstance(sampler, BaseSampler):
        raise BenchError(f"{name!r} returned {type(sampler).__name__}, not an Optuna sampler")
    return sampler


def build_pruner(name: str, options: Mapping[str, Any] | None = None) -> BasePruner:
    """Build a registered or imported pruner.

    Args:
        name: a key of `PRUNERS` or `package.module:factory`.
        options: keyword options for the builder.
    """
    check_pruner(name)
    options = dict(options or {})
    build = PRUNERS[name].build if name in PRUNERS else _import_factory(name)
    _check_options(name, build, options, ())
    try:
        pruner = build(**options)
    except (TypeError, ValueError) as err:
        raise BenchError(f"pruner {name!r} rejected its options {options}: {err}") from None
    if not isinstance(pruner, BasePruner):
        raise BenchError(f"{name!r} returned {type(pruner).__name__}, not an Optuna pruner")
    return pruner
