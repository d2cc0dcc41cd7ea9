"""`run --cells START:STOP`: part of a suite's plan (what `compare` interleaves with)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest

from bench.cli.commands.run import cell_slice
from tests.helpers.suites import cli, write_suite

REPLAY = {"kind": "mnist-table", "dataset": "mnist", "space": "seed", "epochs": 2,
          "reports_per_epoch": 4, "validation": "holdout"}


def test_cells_runs_that_slice_and_a_rerun_of_the_rest_completes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path / "s.toml", {"name": "slice", "trials": 5, "seeds": 3,
                                              "strategies": ["random"], "pruners": ["none"],
                                              "objective": REPLAY})
    out = tmp_path / "r"
    code, _, err = cli(capsys, "run", suite, "-o", out, "--cells", "1:2", "--no-report")
    assert code == 0, err
    assert "3 cells (cells 1:2), 1 to run" in err
    assert pd.read_parquet(out / "trials.parquet")["seed"].unique().tolist() == [1]
    code, _, err = cli(capsys, "run", suite, "-o", out, "--cells", ":", "--no-report")
    assert code == 0 and "2 to run" in err
    assert sorted(pd.read_parquet(out / "trials.parquet")["seed"].unique()) == [0, 1, 2]


@pytest.mark.parametrize("text", ["3", "a:b", "-1:2", "1:2:3"])
def test_a_bad_cell_slice_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected START:STOP"):
        cell_slice(text)


def test_cells_with_dry_run_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "run", "ci", "--dry-run", "--cells", "0:1")
    assert code == 2 and "give one or the other" in err
