"""What one evaluated trial hands back to the cell runner, from either objective."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """How a trial ended and what to record on it."""

    value: float
    pruned: bool
    report_epochs: tuple[float, ...]  # the epoch (fraction) of each report made
    attrs: dict[str, Any] = field(default_factory=dict)
    objective_s: float = 0.0  # training and evaluation seconds
    prune_s: float = 0.0  # seconds spent in the pruner's should_prune
