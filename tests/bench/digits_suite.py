"""Small suites on scikit-learn's digits (no download) for the end-to-end harness tests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from bench.cli.main import main

# Digits networks are tiny: one thread trains them fastest, and on a busy CPU two thrash.
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TIME_COLUMNS = ("datetime_start", "datetime_complete", "duration_s", "objective_s", "sampler_s")


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Train on one torch thread inside the block (tests train in-process)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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


def suite_text(objective: Mapping[str, Any] | None = None, **top: Any) -> str:
    """A digits suite: 4 trials of 1 epoch, random search, one seed, unless overridden."""
    settings: dict[str, Any] = {"name": "digits-test", "trials": 4, "seeds": 1,
                                "strategies": ["random"], "pruners": ["none"]}
    settings.update(top)
    obj: dict[str, Any] = {"kind": "mnist", "dataset": "digits", "space": "seed", "epochs": 1,
                           "reports_per_epoch": 1}
    obj.update(objective or {})
    lines = [f"{k} = {toml_value(v)}" for k, v in settings.items()]
    lines += ["", "[objective]"] + [f"{k} = {toml_value(v)}" for k, v in obj.items()]
    return "\n".join(lines) + "\n"


def write_suite(path: Path, objective: Mapping[str, Any] | None = None, **top: Any) -> Path:
    """Write `suite_text(...)` to `path` and return it."""
    path.write_text(suite_text(objective, **top), encoding="utf-8")
    return path


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
