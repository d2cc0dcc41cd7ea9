"""Search spaces by name: the seed's two-parameter space and its conditional variant.

A space is data (a tuple of parameter definitions), so grids, validation and the suite file
all read the same description; `SearchSpace.suggest` turns it into Optuna suggestions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna

from bench.core.errors import BenchError

ParamValue = float | int | str


@dataclass(frozen=True)
class Condition:
    """A parameter is active only when `parent` took one of `values`."""

    parent: str
    values: tuple[ParamValue, ...]


@dataclass(frozen=True)
class FloatParam:
    """A float in [low, high], log-uniform when `log`."""

    name: str
    low: float
    high: float
    log: bool = False
    condition: Condition | None = None

    def validate(self) -> None:
        """Raise BenchError when the bounds cannot define a distribution."""
        _check_bounds(self.name, self.low, self.high, self.log)

    def suggest(self, trial: optuna.Trial) -> float:
        """Ask the trial for this parameter."""
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class IntParam:
    """An integer in [low, high] at `step`."""

    name: str
    low: int
    high: int
    step: int = 1
    log: bool = False
    condition: Condition | None = None

    def validate(self) -> None:
        """Raise BenchError when the bounds or step cannot define a distribution."""
        _check_bounds(self.name, self.low, self.high, self.log)
        if self.step <= 0:
            raise BenchError(f"search space: {self.name} has step {self.step}; use a step > 0")
        if self.log and self.step != 1:
            raise BenchError(f"search space: {self.name} is log-scaled, so its step must be 1")

    def suggest(self, trial: optuna.Trial) -> int:
        """Ask the trial for this parameter."""
        return trial.suggest_int(self.name, self.low, self.high, step=self.step, log=self.log)

    def values(self) -> list[int]:
        """Every admissible value, in order."""
        return list(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True)
class CategoricalParam:
    """One of `choices`."""

    name: str
    choices: tuple[ParamValue, ...]
    condition: Condition | None = None

    def validate(self) -> None:
        """Raise BenchError on an empty or repeated choice list."""
        if not self.choices:
            raise BenchError(f"search space: {self.name} has no choices; list at least one")
        if len(set(self.choices)) != len(self.choices):
            raise BenchError(f"search space: {self.name} repeats a choice; list each once")

    def suggest(self, trial: optuna.Trial) -> ParamValue:
        """Ask the trial for this parameter."""
        return trial.suggest_categorical(self.name, self.choices)


Param = FloatParam | IntParam | CategoricalParam


def _check_bounds(name: str, low: float, high: float, log: bool) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise BenchError(f"search space: {name} has a non-finite bound; use finite low and high")
    if low > high:
        raise BenchError(f"search space: {name} has low {low} > high {high}; swap them")
    if log and low <= 0:
        raise BenchError(f"search space: {name} is log-scaled with low {low} <= 0; use low > 0")


@dataclass(frozen=True)
class SearchSpace:
    """An ordered tuple of parameters; conditional ones name the parameter they depend on."""

    name: str
    params: tuple[Param, ...]

    def validate(self) -> None:
        """Raise BenchError on any invalid parameter or dangling condition."""
        seen: set[str] = set()
        for param in self.params:
            param.validate()
            if param.name in seen:
                raise BenchError(f"search space: {param.name} is defined twice; keep one")
            if param.condition is not None and param.condition.parent not in seen:
                raise BenchError(
                    f"search space: {param.name} depends on {param.condition.parent}, "
                    "which must be defined before it"
                )
            seen.add(param.name)

    def suggest(self, trial: optuna.Trial) -> dict[str, ParamValue]:
        """Suggest every active parameter in order and return them by name."""
        chosen: dict[str, ParamValue] = {}
        for param in self.params:
            cond = param.condition
            if cond is not None and chosen.get(cond.parent) not in cond.values:
                continue
            chosen[param.name] = param.suggest(trial)
        return chosen

    def describe(self) -> list[dict[str, Any]]:
        """A JSON-ready description, stored with every cell and table."""
        out = []
        for p in self.params:
            row: dict[str, Any] = {"name": p.name, "type": type(p).__name__}
            for key in ("low", "high", "step", "log", "choices"):
                if hasattr(p, key):
                    value = getattr(p, key)
                    row[key] = list(value) if isinstance(value, tuple) else value
            if p.condition is not None:
                row["condition"] = {"parent": p.condition.parent,
                                    "values": list(p.condition.values)}
            out.append(row)
        return out


SEED_SPACE = SearchSpace(
    "seed",
    (
        FloatParam("learning_rate", 1e-5, 1e-1, log=True),
        IntParam("hidden_size", 64, 256, step=32),
    ),
)

_LAYERS = (1, 2, 3)
CONDITIONAL_SPACE = SearchSpace(
    "conditional",
    (
        IntParam("n_layers", 1, 3),
        IntParam("hidden_size_1", 64, 256, step=32),
        IntParam("hidden_size_2", 64, 256, step=32, condition=Condition("n_layers", (2, 3))),
        IntParam("hidden_size_3", 64, 256, step=32, condition=Condition("n_layers", (3,))),
        FloatParam("learning_rate", 1e-5, 1e-1, log=True),
        CategoricalParam("optimizer", ("adam", "sgd")),
        FloatParam("momentum", 0.0, 0.99, condition=Condition("optimizer", ("sgd",))),
    ),
)

SPACES: dict[str, SearchSpace] = {s.name: s for s in (SEED_SPACE, CONDITIONAL_SPACE)}
SPACE_HELP: dict[str, str] = {
    "seed": "the seed example: learning_rate log-uniform [1e-5, 1e-1], hidden_size 64..256 step 32",
    "conditional": "1-3 hidden layers with a size each, adam or sgd, momentum only for sgd",
}


def get_space(name: str) -> SearchSpace:
    """Return the named space, or raise BenchError listing the valid names."""
    try:
        return SPACES[name]
    except KeyError:
        raise BenchError(
            f"unknown search space {name!r}; choose one of: {', '.join(SPACES)}"
        ) from None


def space_from_mapping(name: str, table: Mapping[str, Mapping[str, Any]]) -> SearchSpace:
    """Build and validate a space from a suite file's `[objective.space.<param>]` tables."""
    params: list[Param] = []
    for pname, spec in table.items():
        kind = spec.get("type")
        cond = None
        if "condition" in spec:
            c = spec["condition"]
            cond = Condition(str(c["parent"]), tuple(c["values"]))
        try:
            if kind == "float":
                params.append(FloatParam(pname, float(spec["low"]), float(spec["high"]),
                                         bool(spec.get("log", False)), cond))
            elif kind == "int":
                params.append(IntParam(pname, int(spec["low"]), int(spec["high"]),
                                       int(spec.get("step", 1)), bool(spec.get("log", False)),
                                       cond))
            elif kind == "categorical":
                params.append(CategoricalParam(pname, tuple(spec["choices"]), cond))
            else:
                raise BenchError(
                    f"search space: {pname} has type {kind!r}; use float, int or categorical"
                )
        except KeyError as missing:
            raise BenchError(f"search space: {pname} lacks {missing}; add it") from None
    space = SearchSpace(name, tuple(params))
    space.validate()
    return space
