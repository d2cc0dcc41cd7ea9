"""The objective seam: live training (`mnist`) or replay of a recorded table (`mnist-table`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import optuna

from bench.core.spaces import ParamValue, SearchSpace
from bench.objectives.outcome import Outcome
from bench.spec.suite import ObjectiveConfig


class Objective(Protocol):
    """What a cell needs from an objective."""

    space: SearchSpace
    time_simulated: bool

    def evaluate(self, trial: optuna.Trial, params: dict[str, ParamValue]) -> Outcome:
        """Score `params`, reporting to and pruning through `trial`."""
        ...

    def provenance(self) -> dict[str, Any]:
        """Dataset or table checksum and device, stored with each study."""
        ...


def build_objective(config: ObjectiveConfig, device: str, study_seed: int,
                    data_root: Path | None) -> Objective:
    """The objective a cell runs.

    Args:
        config: the suite's objective section.
        device: device name for live training (the device a replay table was recorded on
            is the table's).
        study_seed: the cell's seed.
        data_root: dataset folder for live training.
    """
    if config.kind == "mnist-table":
        from bench.objectives.replay import ReplayObjective

        return ReplayObjective.from_config(config, study_seed)
    from bench.objectives.live import LiveObjective  # torch: imported by live cells only

    objective = LiveObjective(config.spec, device, study_seed, data_root)
    objective.space = config.space()
    return objective
