"""Column layout and version of the tidy result tables and of `run.json`.

A results folder holds `run.json` (suite settings, machine, versions, storage), and after
`samplerbench export` (which `run` does at its end) `trials.parquet` and `steps.parquet`.
Readers meeting another `schema_version` say which command rewrites the files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    except json.JSONDecodeError as err:
        raise BenchError(f"{path} is not valid JSON ({err}); re-run the suite") from None
    if not isinstance(info, dict) or not isinstance(info.get("suite"), dict):
        raise BenchError(f"{path} is not a samplerbench run.json (a JSON object with a "
                         "`suite`); pass the folder that `samplerbench run` wrote")
    check_schema_version(info.get("schema_version"), str(path))
    return info


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
    versions = set(df["schema_version"].unique()) if "schema_version" in df else {None}
    for v in versions:
        check_schema_version(None if v is None else int(v), str(path))
    _check_kinds(df, TRIALS_COLUMNS if name == TRIALS_FILE else STEPS_COLUMNS, path)
    return df


def _check_kinds(df: pd.DataFrame, columns: dict[str, str], path: Path) -> None:
    """Refuse a numeric column that holds something else (text from an edited file, say):
    every reader below would fail deep inside pandas instead."""
    for col, dtype in columns.items():
        numeric = dtype in ("int64", "float64")
        if numeric and col in df and not pd.api.types.is_numeric_dtype(df[col]):
            raise BenchError(f"{path}: column {col} holds {df[col].dtype} values, not numbers; "
                             f"re-export it with `samplerbench export {path.parent}`")
