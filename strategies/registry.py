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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler
from optuna.trial import TrialState

from bench.core.attrs import counts_toward_budget
from bench.core.errors import BenchError
from bench.core.spaces import SearchSpace
from strategies.grid import DEFAULT_FLOAT_POINTS, MAX_GRID_POINTS, derive_grid


@dataclass(frozen=True)
class SamplerEntry:
    """How to build one sampler from a cell's seed, the search space and options.

    `keep_seed_on_resume` marks samplers whose seed fixes a sequence that the study walks by
    trial or sample number (grid's shuffle, QMC's scrambling): a resumed cell rebuilds them
    with the seed of its first session, or it would repeat points and skip others.
    """

    help: str
    build: Callable[..., BaseSampler]
    keep_seed_on_resume: bool = False


@dataclass(frozen=True)
class PrunerEntry:
    """How to build one pruner from options."""

    help: str
    build: Callable[..., BasePruner]


class AskTellGridSampler(optuna.samplers.GridSampler):
    """GridSampler that leaves stopping to the caller and retries points whose trial did not
    count.

    Optuna's `after_trial` calls `study.stop()` when the grid runs out, which raises outside
    `study.optimize`; the cell runner asks `held_points` before each ask instead. Optuna gives
    trial k the k-th point of the shuffled grid, so a trial failed as stale (its process was
    killed) would skip its point for good; here each new trial takes the first point that no
    running or counted trial holds, so a resumed cell visits the points a clean run would.
    """

    @property
    def size(self) -> int:
        """How many points the grid has."""
        return len(self._all_grids)

    def held_points(self, study: optuna.Study, running: bool) -> set[int]:
        """Grid ids held by trials that count toward the budget (and running ones if
        `running`)."""
        return {t.system_attrs["grid_id"]
                for t in study._storage.get_all_trials(study._study_id, deepcopy=False)
                if "grid_id" in t.system_attrs and
                (counts_toward_budget(t) or (running and t.state == TrialState.RUNNING))}

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Give the trial the first point not held by a running or counted trial."""
        if "grid_id" in trial.system_attrs or "fixed_params" in trial.system_attrs:
            return
        held = self.held_points(study, running=True)
        free = next((i for i in range(self.size) if i not in held), None)
        if free is None:  # every point taken: Optuna's own rule (re-evaluate one)
            super().before_trial(study, trial)
            return
        study._storage.set_trial_system_attr(trial._trial_id, "search_space", self._search_space)
        study._storage.set_trial_system_attr(trial._trial_id, "grid_id", free)

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                    state: optuna.trial.TrialState, values: Sequence[float] | None) -> None:
        """Do nothing: exhaustion is checked before the next ask."""


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
                         "(options: points, max_points)", _grid, keep_seed_on_resume=True),
    "random": SamplerEntry("uniform random search", _random),
    "tpe": SamplerEntry("Optuna's default TPE (options: TPESampler's, e.g. n_startup_trials)",
                        _tpe),
    "tpe-multivariate": SamplerEntry("TPE with multivariate (and group for conditional "
                                     "spaces) on", _tpe_multivariate),
    "qmc": SamplerEntry("scrambled Sobol quasi-Monte Carlo (options: qmc_type, scramble)", _qmc,
                        keep_seed_on_resume=True),
    "cmaes": SamplerEntry("CMA-ES (categoricals fall back to random)", _cmaes),
    "gp": SamplerEntry("Gaussian-process Bayesian optimisation (options: n_startup_trials)",
                       _gp),
}

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
