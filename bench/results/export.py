"""Studies in a storage -> the tidy `trials` and `steps` tables (parquet, CSV on request)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.storages import BaseStorage

from bench.core.attrs import FAIL_REASON, STUDY_SPEC, STUDY_SUITE, STUDY_TIME_SIMULATED
from bench.core.files import atomic_write
from bench.core.optuna_internals import naive_local, study_id
from bench.results.schema import (
    PARAM_PREFIX,
    SCHEMA_VERSION,
    STEPS_COLUMNS,
    STEPS_FILE,
    TRIALS_COLUMNS,
    TRIALS_FILE,
)
from strategies.registry import sampler_class_name


def _cell_labels(study: optuna.study.FrozenStudy) -> dict[str, Any] | None:
    spec = study.user_attrs.get(STUDY_SPEC)
    if spec is None:
        return None
    objective = spec["objective"]
    return {
        "suite": study.user_attrs.get(STUDY_SUITE, ""),
        "cell": study.study_name,
        "objective": objective["kind"],
        "dataset": objective["dataset"],
        "space": objective["space"],
        "strategy": spec["strategy"]["label"],
        "pruner": spec["pruner"]["label"],
        "seed": spec["seed"],
        "device": spec["device"],
        "time_simulated": bool(study.user_attrs.get(STUDY_TIME_SIMULATED, False)),
    }


def _finite_or_nan(x: Any) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else math.nan


def study_rows(storage: BaseStorage, study: optuna.study.FrozenStudy, sampler: str
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The trial rows and step rows of one samplerbench study."""
    labels = _cell_labels(study)
    if labels is None:
        return [], []
    trials, steps = [], []
    for t in storage.get_all_trials(study_id(study), deepcopy=False):
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
        for name, v in t.params.items():
            row[PARAM_PREFIX + name] = v
        for name in ("learning_rate_snapped", "replicate"):
            if name in a:
                row[PARAM_PREFIX + name] = a[name]
        trials.append(row)
        epochs = a.get("report_epochs", [])
        for step, v in sorted(t.intermediate_values.items()):
            steps.append({
                "schema_version": SCHEMA_VERSION, "suite": labels["suite"],
                "cell": labels["cell"], "strategy": labels["strategy"],
                "pruner": labels["pruner"], "seed": labels["seed"],
                "device": labels["device"], "trial": t.number, "step": step,
                "epoch": epochs[step - 1] if 0 < step <= len(epochs) else math.nan,
                "value": _finite_or_nan(v),
            })
    return trials, steps


def _sampler_names(studies: Iterable[optuna.study.FrozenStudy]) -> dict[str, str]:
    names = {}
    for s in studies:
        spec = s.user_attrs.get(STUDY_SPEC)
        if spec is not None:
            names[s.study_name] = sampler_class_name(spec["strategy"]["name"])
    return names


def build_tables(storage: BaseStorage, cells: Iterable[str] | None = None,
                 suite: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `trials` and `steps` tables of the samplerbench studies in `storage`.

    Args:
        storage: an open Optuna storage.
        cells: restrict to these study names (default: every samplerbench study).
        suite: restrict to the studies of this suite name.
    """
    studies = storage.get_all_studies()
    if cells is not None:
        wanted = set(cells)
        studies = [s for s in studies if s.study_name in wanted]
    if suite is not None:
        studies = [s for s in studies if s.user_attrs.get(STUDY_SUITE) == suite]
    samplers = _sampler_names(studies)
    trial_rows: list[dict[str, Any]] = []
    step_rows: list[dict[str, Any]] = []
    for s in sorted(studies, key=lambda s: s.study_name):
        t, st = study_rows(storage, s, samplers.get(s.study_name, ""))
        trial_rows += t
        step_rows += st
    return _frame(trial_rows, TRIALS_COLUMNS), _frame(step_rows, STEPS_COLUMNS)


def _frame(rows: list[dict[str, Any]], columns: dict[str, str]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col, dtype in columns.items():
        if col not in df:
            df[col] = pd.Series(dtype=dtype)
        elif dtype.startswith("datetime"):
            df[col] = pd.to_datetime(df[col], utc=False).astype("datetime64[ns]")
        else:
            df[col] = df[col].astype(dtype)
    extra = sorted(c for c in df.columns if c not in columns)
    df = df[list(columns) + extra]
    keys = [k for k in ("cell", "trial", "step") if k in df]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def write_tables(trials: pd.DataFrame, steps: pd.DataFrame, out: Path, csv: bool = False
                 ) -> list[Path]:
    """Write both tables as parquet (and CSV) atomically; return the paths written."""
    written = []
    for df, name in ((trials, TRIALS_FILE), (steps, STEPS_FILE)):
        path = out / name
        atomic_write(path, lambda p, df=df: df.to_parquet(p, index=False))
        written.append(path)
        if csv:
            cpath = path.with_suffix(".csv")
            atomic_write(cpath, lambda p, df=df: df.to_csv(p, index=False))
            written.append(cpath)
    return written
