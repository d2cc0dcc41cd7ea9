"""Column layout and version of the tidy result tables and of `run.json`.

A results folder holds `run.json` (suite settings, machine, versions, storage), and after
`samplerbench export` (which `run` does at its end) `trials.parquet` and `steps.parquet`.
Readers meeting another `schema_version` say which command rewrites the files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.core.errors import BenchError

SCHEMA_VERSION = 2
RUN_FILE = "run.json"
TRIALS_FILE = "trials.parquet"
STEPS_FILE = "steps.parquet"
PARAM_PREFIX = "param_"

# One row per trial. Parameters follow as `param_<name>` columns.
TRIALS_COLUMNS: dict[str, str] = {
    "schema_version": "int64",
    "suite": "string",
    "cell": "string",  # the cell's hash, also its Optuna study name
    "objective": "string",  # "mnist" (live) or "mnist-table" (replay)
    "dataset": "string",
    "space": "string",
    "strategy": "string",  # registry name, e.g. "tpe"
    "sampler": "string",  # Optuna class name, e.g. "TPESampler"
    "pruner": "string",  # registry name, e.g. "median" or "none"
    "seed": "int64",
    "device": "string",
    "trial": "int64",  # Optuna trial number within the cell
    "state": "string",  # COMPLETE, PRUNED or FAIL
    "fail_reason": "string",  # why a FAIL trial failed (stale, non-finite, error: ...), else ""
    "value": "float64",  # validation accuracy (last reported one when pruned)
    "datetime_start": "datetime64[ns]",
    "datetime_complete": "datetime64[ns]",
    "duration_s": "float64",  # wall seconds of the trial (simulated for replay)
    "objective_s": "float64",  # training + evaluation seconds (recorded ones for replay)
    "sampler_s": "float64",  # ask + suggest + pruner seconds, measured
    "epochs_completed": "float64",
    "steps_completed": "int64",
    "test_accuracy": "float64",  # NaN for pruned or failed trials
    # Noise-free quality of the trial's configuration: replay, the table's mean over
    # replicates at the suite's last report; live, its test accuracy (NaN when pruned/failed).
    "true_accuracy": "float64",
    "true_optimum": "float64",  # replay: the best reachable true_accuracy; live: NaN
    "time_simulated": "bool",
}

# One row per reported intermediate value.
STEPS_COLUMNS: dict[str, str] = {
    "schema_version": "int64",
    "suite": "string",
    "cell": "string",
    "strategy": "string",
    "pruner": "string",
    "seed": "int64",
    "device": "string",
    "trial": "int64",
    "step": "int64",  # 1-based report index, the step given to trial.report
    "epoch": "float64",  # epochs consumed at this report
    "value": "float64",  # validation accuracy
}


def check_schema_version(found: Any, what: str) -> None:
    """Raise BenchError when a file was written with another schema version."""
    if found != SCHEMA_VERSION:
        raise BenchError(
            f"{what} has schema_version {found!r}, this samplerbench reads {SCHEMA_VERSION}; "
            "rewrite it with `samplerbench export RESULTS` (or re-run the suite) "
            "using this version"
        )


def read_run_info(results: Path) -> dict[str, Any]:
    """Read and version-check a results folder's `run.json`."""
    path = results / RUN_FILE
    if not path.is_file():
        raise BenchError(
            f"{results} holds no {RUN_FILE}: not a samplerbench results folder; "
            "pass the folder that `samplerbench run` wrote"
        )
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BenchError(f"{path} is not valid JSON ({err}); re-run the suite") from None
    if not isinstance(info, dict) or not isinstance(info.get("suite"), dict):
        raise BenchError(f"{path} is not a samplerbench run.json (a JSON object with a "
                         "`suite`); pass the folder that `samplerbench run` wrote")
    check_schema_version(info.get("schema_version"), str(path))
    _check_suite_fields(info["suite"], path)
    return info


# The suite fields of run.json that readers use: name and storage always, the rest when
# present (each with the check its readers rely on).
_SUITE_FIELDS: dict[str, tuple[str, Any]] = {
    "name": ("text", lambda v: isinstance(v, str)),
    "storage": ("text", lambda v: isinstance(v, str)),
    "trials": ("a whole number of at least 1",
               lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
    "seeds": ("a list of whole numbers from 0 to 2**63 - 1", lambda v: isinstance(v, list) and all(
        isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**63 for x in v)),
    "objective": ("a table", lambda v: isinstance(v, dict)),
    "strategies": ("a list", lambda v: isinstance(v, list)),
    "pruners": ("a list", lambda v: isinstance(v, list)),
    "devices": ("a list of text", lambda v: isinstance(v, list)
                and all(isinstance(x, str) for x in v)),
}
_REQUIRED_SUITE_FIELDS = ("name", "storage")


def _check_suite_fields(suite: dict[str, Any], path: Path) -> None:
    for key, (kind, ok) in _SUITE_FIELDS.items():
        if key not in suite and key in _REQUIRED_SUITE_FIELDS:
            raise BenchError(f"{path} lacks suite.{key}; re-run the suite to rewrite it")
        if key in suite and not ok(suite[key]):
            raise BenchError(f"{path}: suite.{key} is {suite[key]!r:.60}, not {kind}; re-run "
                             "the suite to rewrite it")


def read_table(results: Path, name: str) -> pd.DataFrame:
    """Read `trials.parquet` or `steps.parquet` and check its schema version."""
    path = results / name
    if not path.is_file():
        raise BenchError(
            f"{path} does not exist; run `samplerbench export {results}` first"
        )
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise BenchError(f"{path} is not a readable parquet table ({err}); re-export it") from None
    if "schema_version" in df and (not pd.api.types.is_integer_dtype(df["schema_version"])
                                   or df["schema_version"].isna().any()):
        raise BenchError(f"{path}: column schema_version holds {df['schema_version'].dtype} "
                         f"values, not integers; re-export it with `samplerbench export "
                         f"{results}`")
    versions = set(df["schema_version"].unique()) if "schema_version" in df else {None}
    for v in versions:
        check_schema_version(None if v is None else int(v), str(path))
    _check_kinds(df, TRIALS_COLUMNS if name == TRIALS_FILE else STEPS_COLUMNS, path)
    return df


# Columns whose values are bounded: accuracies lie in [0, 1], counts and seconds are >= 0.
_UNIT_COLUMNS = ("value", "test_accuracy", "true_accuracy", "true_optimum")
_NON_NEGATIVE = ("duration_s", "objective_s", "sampler_s", "epochs_completed",
                 "steps_completed", "trial", "step", "epoch")


def _check_kinds(df: pd.DataFrame, columns: dict[str, str], path: Path) -> None:
    """Refuse a table that every reader below would trip on deep inside pandas (an edited or
    damaged file, say): a missing column, a column of the wrong kind, an integer column with
    gaps, a non-finite number, or a value out of its range."""
    fix = f"re-export it with `samplerbench export {path.parent}`"
    for col, dtype in columns.items():
        if col not in df:
            raise BenchError(f"{path} lacks its column {col}; {fix}")
        values = df[col]
        if dtype == "int64" and not pd.api.types.is_integer_dtype(values):
            raise BenchError(f"{path}: column {col} holds {values.dtype} values, not "
                             f"integers; {fix}")
        if dtype == "float64":
            if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                raise BenchError(f"{path}: column {col} holds {values.dtype} values, not "
                                 f"numbers; {fix}")
            if np.isinf(values.to_numpy(dtype=float)).any():
                raise BenchError(f"{path}: column {col} holds an infinite value; {fix}")
        if dtype in ("string", "int64") and values.isna().any():
            raise BenchError(f"{path}: column {col} has a missing value; {fix}")
        if dtype == "string" and pd.api.types.infer_dtype(values, skipna=False) not in (
                "string", "empty"):
            raise BenchError(f"{path}: column {col} holds values that are not text; {fix}")
        if dtype == "bool" and not pd.api.types.is_bool_dtype(values):
            raise BenchError(f"{path}: column {col} holds {values.dtype} values, not "
                             f"true/false; {fix}")
        if col in _UNIT_COLUMNS and ((values < 0) | (values > 1)).any():
            raise BenchError(f"{path}: column {col} holds a value outside [0, 1]; {fix}")
        if col in _NON_NEGATIVE and (values < 0).any():
            raise BenchError(f"{path}: column {col} holds a negative value; {fix}")
