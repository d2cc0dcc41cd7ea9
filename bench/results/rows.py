"""One samplerbench study's trials -> rows of the tidy `trials` and `steps` tables.

The export builds them from a storage's studies (`bench.results.export`); a replay cell builds
them in its worker from the trials it has just written, in the form they were written, so a
fresh run's tables need no second read of the storage (`bench.execution.run_suite`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna

from bench.core.attrs import FAIL_REASON, STUDY_SPEC, STUDY_SUITE, STUDY_TIME_SIMULATED
from bench.core.optuna_internals import naive_local
from bench.results.schema import PARAM_PREFIX, SCHEMA_VERSION
from strategies.registry import sampler_class_name

Row = dict[str, Any]


@dataclass
class TableRows:
    """Rows of the `trials` and `steps` tables."""

    trials: list[Row] = field(default_factory=list)
    steps: list[Row] = field(default_factory=list)

    def extend(self, other: TableRows) -> None:
        """Append another study's rows."""
        self.trials += other.trials
        self.steps += other.steps


def cell_labels(name: str, user_attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The cell's label columns, from its study's name and user attributes; None for a study
    that samplerbench did not write."""
    spec = user_attrs.get(STUDY_SPEC)
    if spec is None:
        return None
    objective = spec["objective"]
    return {
        "suite": user_attrs.get(STUDY_SUITE, ""),
        "cell": name,
        "objective": objective["kind"],
        "dataset": objective["dataset"],
        "space": objective["space"],
        "strategy": spec["strategy"]["label"],
        "pruner": spec["pruner"]["label"],
        "seed": spec["seed"],
        "device": spec["device"],
        "time_simulated": bool(user_attrs.get(STUDY_TIME_SIMULATED, False)),
    }


def sampler_name(user_attrs: Mapping[str, Any]) -> str:
    """The Optuna class name of the study's sampler ("" for a study samplerbench did not
    write)."""
    spec = user_attrs.get(STUDY_SPEC)
    return "" if spec is None else sampler_class_name(spec["strategy"]["name"])


def _finite_or_nan(x: Any) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else math.nan


def study_table_rows(name: str, user_attrs: Mapping[str, Any],
                     trials: Iterable[optuna.trial.FrozenTrial]) -> TableRows:
    """The trial rows and step rows of one samplerbench study (none for another study)."""
    labels = cell_labels(name, user_attrs)
    out = TableRows()
    if labels is None:
        return out
    sampler = sampler_name(user_attrs)
    for t in trials:
        a = t.user_attrs.get("samplerbench", t.user_attrs)
        start, end = naive_local(t.datetime_start), naive_local(t.datetime_complete)
        if "duration_s" in a:
            duration = float(a["duration_s"])
        elif start is not None and end is not None:
            duration = (end - start).total_seconds()
        else:
            duration = math.nan
        value = t.value
        if value is None and t.intermediate_values:
            value = t.intermediate_values[max(t.intermediate_values)]
        row = {
            "schema_version": SCHEMA_VERSION, **labels, "sampler": sampler,
            "trial": t.number, "state": t.state.name,
            "fail_reason": str(t.user_attrs.get(FAIL_REASON, "")),
            "value": _finite_or_nan(value),
            "datetime_start": start, "datetime_complete": end, "duration_s": duration,
            "objective_s": _finite_or_nan(a.get("objective_s")),
            "sampler_s": _finite_or_nan(a.get("sampler_s")),
            "epochs_completed": _finite_or_nan(a.get("epochs_completed", 0.0)),
            "steps_completed": int(a.get("steps_completed", 0)),
            "test_accuracy": _finite_or_nan(a.get("test_accuracy")),
            "true_accuracy": _finite_or_nan(a.get("true_accuracy", a.get("test_accuracy"))),
            "true_optimum": _finite_or_nan(a.get("true_optimum")),
        }
        for param, v in t.params.items():
            row[PARAM_PREFIX + param] = v
        for param in ("learning_rate_snapped", "replicate"):
            if param in a:
                row[PARAM_PREFIX + param] = a[param]
        out.trials.append(row)
        epochs = a.get("report_epochs", [])
        for step, v in sorted(t.intermediate_values.items()):
            out.steps.append({
                "schema_version": SCHEMA_VERSION, "suite": labels["suite"],
                "cell": labels["cell"], "strategy": labels["strategy"],
                "pruner": labels["pruner"], "seed": labels["seed"],
                "device": labels["device"], "trial": t.number, "step": step,
                "epoch": epochs[step - 1] if 0 < step <= len(epochs) else math.nan,
                "value": _finite_or_nan(v),
            })
    return out
