"""Cells: one Optuna study per (strategy, pruner, seed, device), named from a hash of its spec."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from bench.suite import ObjectiveConfig, Strategy, Suite


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
    batch_trials: bool = False  # its parallel trials train as one batch (bench.batched)

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


def suite_cells(suite: Suite) -> list[Cell]:
    """Every cell of a suite, in a stable order (seed-major, so early results span strategies)."""
    return [
        Cell(suite.name, suite.objective, strategy, pruner, seed, device, suite.trials,
             suite.trials_in_parallel, suite.batches_trials(device))
        for seed in suite.seeds
        for device in suite.devices
        for strategy in suite.strategies
        for pruner in suite.pruners
    ]


def first_difference(stored: Any, current: Any, path: str = "") -> str | None:
    """The dotted path of the first field where two JSON-like values differ, or None."""
    if isinstance(stored, dict) and isinstance(current, dict):
        for key in sorted(set(stored) | set(current)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in stored or key not in current:
                return sub
            found = first_difference(stored[key], current[key], sub)
            if found:
                return found
        return None
    if isinstance(stored, list | tuple) and isinstance(current, list | tuple):
        if len(stored) != len(current):
            return path
        for i, (a, b) in enumerate(zip(stored, current, strict=True)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if stored == current else path or "(root)"


def value_at(obj: Any, path: str) -> Any:
    """The value at a dotted path as `first_difference` writes it (`a.b[2].c`), or None."""
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        try:
            obj = obj[int(part[1:-1])] if part.startswith("[") else obj[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return obj
