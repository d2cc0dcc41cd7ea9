"""Cells: one Optuna study per (strategy, pruner, seed, device), named from a hash of its spec."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from bench.spec.suite import ObjectiveConfig, Strategy, Suite


@dataclass(frozen=True)
class Cell:
    """One study of a suite. `trials` is the budget; it is not part of the identity, so a
    larger budget continues the same study."""

    suite: str
    objective: ObjectiveConfig
    strategy: Strategy
    pruner: Strategy
    seed: int
    device: str
    trials: int
    trials_in_parallel: int = 1
    batch_trials: bool = False  # its parallel trials train as one batch (bench.training.batched)
    sampler_salt: int = 0  # salts the sampler's seed only (bench.execution.prelude.sampler_seed)

    def spec(self) -> dict[str, Any]:
        """Everything that determines the cell's results (stored on the study)."""
        return {
            "objective": self.objective.to_dict(),
            "strategy": self.strategy.to_dict(),
            "pruner": self.pruner.to_dict(),
            "seed": self.seed,
            "device": self.device,
            "trials_in_parallel": self.trials_in_parallel,
            # only when on: the hashes of every other cell stay as they were
            **({"batch_trials": True} if self.batch_trials else {}),
            **({"sampler_salt": self.sampler_salt} if self.sampler_salt else {}),
        }

    def spec_hash(self) -> str:
        """Short SHA-256 of the canonical JSON of `spec()`."""
        blob = json.dumps(self.spec(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @cached_property
    def name(self) -> str:
        """The study name: readable prefix plus the spec hash (computed once per cell)."""
        return (f"{self.strategy.key}-{self.pruner.key}-seed{self.seed}-{self.device}-"
                f"{self.spec_hash()}")


def suite_cells(suite: Suite, auto_device: str | None = None) -> list[Cell]:
    """Every cell of a suite, in a stable order (seed-major, so early results span strategies).

    Args:
        suite: the validated suite.
        auto_device: the device type that `auto` resolves to on this machine (see
            `Suite.batches_trials`); `bench.execution.plan.machine_cells` passes it.
    """
    return [
        Cell(suite.name, suite.objective, swept(strategy, k) if suite.sweeps_parallel else
             strategy, pruner, seed, device, suite.trials, k,
             suite.batches_trials(device, auto_device, k), suite.sampler_salt)
        for seed in suite.seeds
        for device in suite.devices
        for strategy in suite.strategies
        for k in suite.trials_in_parallel
        for pruner in suite.pruners
    ]


def swept(strategy: Strategy, k: int) -> Strategy:
    """A strategy of a suite that sweeps K, labelled with its K: `tpe` at K = 4 is
    `tpe-k4`, so reports and the gate keep each K apart."""
    return replace(strategy, label=f"{strategy.key}-k{k}")
