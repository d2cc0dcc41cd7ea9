"""Synthetic results folders with planted effects.

`make_results(root, ...)` writes `run.json`, `trials.parquet` and `steps.parquet` with the
exact columns and dtypes of `bench.results.schema`. Validation accuracy of trial k (1-based)
of a cell is `base + effect[pair] + learn * k / trials + noise * N(0, 1)`, clipped to [0, 1],
so a positive effect plants a pair that is better on every metric. A trial's noise-free
quality (`true_accuracy`) is that level without the noise term (and without a pruned trial's
shortfall); `true_optimum` is its best value over every pair (`live=True`: true accuracy is the
test accuracy and the optimum is unknown, NaN, as in a live run). tests/reports/conftest.py
serves it as fixtures; `tests/reports/make_golden.py` and `benchmarks/bench_report.py` import it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.results.schema import (
    RUN_FILE,
    SCHEMA_VERSION,
    STEPS_COLUMNS,
    STEPS_FILE,
    TRIALS_COLUMNS,
    TRIALS_FILE,
)

EPOCHS = 3
STARTUP_TRIALS = 3
EPOCH_S = {"cpu": 2.0, "cuda": 0.5}
SAMPLER_S = {"random": 0.002, "tpe": 0.04, "cmaes": 0.01}
SAMPLER_CLASS = {"random": "RandomSampler", "tpe": "TPESampler", "cmaes": "CmaEsSampler"}
START = pd.Timestamp("2026-11-27 22:00:00")
Pair = tuple[str, str]


def run_info(pairs: Sequence[Pair], seeds: int, trials: int, devices: Sequence[str],
             **overrides: Any) -> dict[str, Any]:
    """A `run.json` document for a synthetic suite; `overrides` replace top-level keys."""
    info: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "suite": {
            "name": "synthetic", "hash": "0123456789abcdef",
            "objective": {"kind": "mnist", "dataset": "mnist", "space": "seed",
                          "epochs": EPOCHS, "validation": "holdout", "report_every": None,
                          "reports_per_epoch": 1, "batch_size": 64},
            "trials": trials, "seeds": list(range(seeds)),
            "strategies": [{"name": s, "options": {}} for s in dict.fromkeys(p[0] for p in pairs)],
            "pruners": [{"name": p, "options": {}} for p in dict.fromkeys(p[1] for p in pairs)],
            "devices": list(devices), "storage": "journal", "executor": "serial"},
        "storage": "journal:////tmp/synthetic/journal.log",
        "machine": {"hostname": "synthetic-host", "platform": "Linux-6.1-x86_64",
                    "python": "3.11.7", "cpu_model": "Synthetic CPU @ 3.0GHz", "cpu_count": 2,
                    "torch_threads": 2, "gpu_name": None, "cuda_version": None,
                    "versions": {"samplerbench": "0.1.0", "optuna": "5.0.0",
                                 "torch": "2.14.1"}},
        "time_simulated": False, "table": None,
        "created": "2026-11-27T22:00:00+00:00", "updated": "2026-11-27T23:00:00+00:00",
    }
    info.update(overrides)
    return info


def complete_trials(rows: pd.DataFrame, schema_version: int = SCHEMA_VERSION) -> pd.DataFrame:
    """Fill the trials columns `rows` lacks with defaults and cast to the schema's dtypes.

    `rows` needs strategy, pruner, seed, trial, state and value; the rest is derived.
    """
    df = rows.copy()
    n = len(df)
    defaults: dict[str, Any] = {
        "suite": "synthetic", "fail_reason": "", "objective": "mnist", "dataset": "mnist",
        "space": "seed",
        "device": "cpu", "duration_s": 1.0, "sampler_s": 0.01,
        "epochs_completed": float(EPOCHS), "time_simulated": False,
        "param_learning_rate": 1e-3, "param_hidden_size": 128}
    for col, val in defaults.items():
        if col not in df:
            df[col] = [val] * n
    if "objective_s" not in df:
        df["objective_s"] = df["duration_s"] - df["sampler_s"]
    if "test_accuracy" not in df:
        df["test_accuracy"] = df["value"].where(df["state"] == "COMPLETE") - 0.002
    if "true_accuracy" not in df:  # hand-written rows: the value is the noise-free quality
        df["true_accuracy"] = df["value"].where(df["state"] != "FAIL")
    if "true_optimum" not in df:
        df["true_optimum"] = np.nan
    df["schema_version"] = schema_version
    keys = df[["strategy", "pruner", "device", "seed"]].astype(str).agg("/".join, axis=1)
    df["cell"] = [hashlib.sha256(k.encode()).hexdigest()[:16] for k in keys]
    df["sampler"] = [SAMPLER_CLASS.get(s, f"{s.title()}Sampler") for s in df["strategy"]]
    df["steps_completed"] = np.floor(df["epochs_completed"]).astype("int64")
    ends = df.groupby("cell", sort=False)["duration_s"].cumsum()
    df["datetime_complete"] = START + pd.to_timedelta(ends, unit="s")
    df["datetime_start"] = df["datetime_complete"] - pd.to_timedelta(df["duration_s"], unit="s")
    params = [c for c in df.columns if c.startswith("param_")]
    return df[[*TRIALS_COLUMNS, *params]].astype(TRIALS_COLUMNS)


def steps_for(trials: pd.DataFrame) -> pd.DataFrame:
    """One step row per completed epoch of each trial, rising to the trial's value."""
    reps = trials["steps_completed"].to_numpy()
    df = trials.loc[trials.index.repeat(reps)].reset_index(drop=True)
    df["step"] = df.groupby(["cell", "trial"]).cumcount() + 1
    df["epoch"] = df["step"].astype("float64")
    df["value"] = df["value"] - 0.01 * (np.repeat(reps, reps) - df["step"])
    return df[list(STEPS_COLUMNS)].astype(STEPS_COLUMNS)


def write_results(root: Path, trials: pd.DataFrame, info: dict[str, Any]) -> Path:
    """Write `run.json`, `trials.parquet` (completed by `complete_trials`) and steps."""
    root.mkdir(parents=True, exist_ok=True)
    (root / RUN_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
    trials.to_parquet(root / TRIALS_FILE, index=False)
    steps_for(trials).to_parquet(root / STEPS_FILE, index=False)
    return root


def make_results(
    root: Path,
    *,
    pairs: Sequence[Pair] = (("random", "none"), ("tpe", "none")),
    seeds: int = 5,
    trials: int = 12,
    effect: Mapping[Pair, float] | None = None,
    devices: Sequence[str] = ("cpu",),
    base: float = 0.90,
    learn: float = 0.03,
    noise: float = 0.02,
    prune_rate: float = 0.4,
    fail_rate: float = 0.0,
    rng_seed: int = 0,
    live: bool = False,
    **info_overrides: Any,
) -> Path:
    """Write a synthetic results folder with planted effects and return its path.

    Args:
        root: Folder to write (created).
        pairs: (strategy, pruner) pairs run on every device and seed.
        seeds: Seeds per pair (numbered 0..seeds-1).
        trials: Trials per cell.
        effect: Accuracy added to every trial of a pair (default 0).
        devices: Device names; "cuda" trials run four times faster.
        base: Accuracy of an average first trial.
        learn: Accuracy gained from the first to the last trial.
        noise: Standard deviation of the per-trial noise.
        prune_rate: Probability that a pruner other than "none" stops a trial early (never
            one of the first `STARTUP_TRIALS`).
        fail_rate: Probability that a trial fails.
        rng_seed: Seed of the generator that draws everything.
        live: Like a live run: `true_accuracy` is the test accuracy, `true_optimum` NaN.
        info_overrides: Top-level `run.json` keys to replace.
    """
    rng = np.random.default_rng(rng_seed)
    effect = effect or {}
    frames = []
    for device in devices:
        for strategy, pruner in pairs:
            shape = (seeds, trials)
            k = np.broadcast_to(np.arange(1, trials + 1), shape)
            level = np.clip(base + effect.get((strategy, pruner), 0.0) + learn * k / trials,
                            0, 1)
            value = level + noise * rng.standard_normal(shape)
            u = rng.random(shape)
            state = np.where(u < fail_rate, "FAIL", "COMPLETE").astype(object)
            if pruner != "none":  # like Optuna's pruners, none during the first trials
                startup = k <= STARTUP_TRIALS
                state[(u >= fail_rate) & (u < fail_rate + prune_rate) & ~startup] = "PRUNED"
            pruned = state == "PRUNED"
            epochs = np.where(pruned, rng.integers(1, EPOCHS, size=shape), EPOCHS).astype(float)
            value = np.clip(np.where(pruned, value - 0.03 * (EPOCHS - epochs), value), 0, 1)
            sampler_s = SAMPLER_S.get(strategy, 0.02) * (1 + 0.1 * rng.random(shape))
            objective_s = epochs * EPOCH_S.get(device, 1.0) * (1 + 0.1 * rng.random(shape))
            frames.append(pd.DataFrame({
                "strategy": strategy, "pruner": pruner, "device": device,
                "seed": np.repeat(np.arange(seeds), trials), "trial": k.ravel() - 1,
                "state": state.ravel(), "value": np.where(state == "FAIL", np.nan, value).ravel(),
                "epochs_completed": np.where(state == "FAIL", 0.0, epochs).ravel(),
                "true_accuracy": np.where(state == "FAIL", np.nan, level).ravel(),
                "objective_s": objective_s.ravel(), "sampler_s": sampler_s.ravel(),
                "duration_s": (objective_s + sampler_s + 0.005).ravel(),
                "param_learning_rate": 10 ** rng.uniform(-4, -1, shape).ravel(),
                "param_hidden_size": rng.integers(16, 257, shape).ravel()}))
    rows = pd.concat(frames, ignore_index=True)
    if live:
        rows["true_accuracy"] = rows["value"].where(rows["state"] == "COMPLETE") - 0.002
    else:
        top = base + max([0.0, *(effect.get(p, 0.0) for p in pairs)]) + learn
        rows["true_optimum"] = min(top, 1.0)
    table = complete_trials(rows)
    info = run_info(pairs, seeds, trials, devices, **info_overrides)
    return write_results(root, table, info)
