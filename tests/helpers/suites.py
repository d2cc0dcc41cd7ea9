"""Small suites on scikit-learn's digits (no download) for the end-to-end harness tests.

A suite is built as a dict by one of two data builders, `tiny_suite_data` (3 trials of one
3-step epoch) or `digits_suite_data` (4 trials of one epoch on the seed space, objective keys
merged into its defaults), and written by the one writer, `write_suite(path, data)`, through
the one serialiser, `suite_toml`. The rest runs the CLI in-process and compares its results.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bench.cli.main import main

# Digits networks are tiny: one thread trains them fastest, and on a busy CPU two thrash.
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TIME_COLUMNS = ("datetime_start", "datetime_complete", "duration_s", "objective_s", "sampler_s")

# A trial of this objective trains one epoch of 3 steps on digits: a fraction of a second.
TINY_OBJECTIVE = {"kind": "mnist", "dataset": "digits", "epochs": 1, "batch_size": 512}
DIGITS_OBJECTIVE = {"kind": "mnist", "dataset": "digits", "space": "seed", "epochs": 1,
                    "reports_per_epoch": 1}


def toml_value(value: Any) -> str:
    """A Python value as TOML (strings, numbers, booleans, lists and inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


def suite_toml(data: Mapping[str, Any]) -> str:
    """TOML text of a suite dict: its top-level keys first, then each table (a dict value,
    such as `objective`) under its own `[name]` header."""
    lines = [f"{k} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    for name, table in data.items():
        if isinstance(table, Mapping):
            lines += ["", f"[{name}]", *(f"{k} = {toml_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


def tiny_suite_data(**overrides: Any) -> dict[str, Any]:
    """A suite on digits, 3 trials of one 3-step epoch, random search, one seed; `overrides`
    replace top-level keys (`objective=` replaces the whole objective table)."""
    data: dict[str, Any] = {"name": "tiny", "trials": 3, "seeds": 1, "strategies": ["random"],
                            "pruners": ["none"], "objective": dict(TINY_OBJECTIVE)}
    data.update(overrides)
    return data


def digits_suite_data(objective: Mapping[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A digits suite: 4 trials of 1 epoch on the seed space, random search, one seed, unless
    overridden; `objective` keys are merged into the objective's defaults, `top` replaces
    top-level keys."""
    data: dict[str, Any] = {"name": "digits-test", "trials": 4, "seeds": 1,
                            "strategies": ["random"], "pruners": ["none"]}
    data.update(top)
    data["objective"] = {**DIGITS_OBJECTIVE, **(objective or {})}
    return data


def write_suite(path: Path, data: Mapping[str, Any]) -> Path:
    """Write the suite `data` (see `suite_toml`) to `path` and return it."""
    path.write_text(suite_toml(data), encoding="utf-8")
    return path


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Train on one torch thread inside the block (tests train in-process)."""
    import torch  # here: suites themselves need no torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cli(capsys: pytest.CaptureFixture[str], *args: str | os.PathLike[str]
        ) -> tuple[int, str, str]:
    """Run `samplerbench ARGS` in-process; return (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def files_in(folder: Path) -> list[Path]:
    """Every file under `folder` (none when it does not exist)."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def comparable(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials table without the columns that measure time."""
    return trials.drop(columns=list(TIME_COLUMNS)).reset_index(drop=True)
