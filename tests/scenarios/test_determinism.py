"""The same suite run twice into empty folders gives the same tables, timings aside."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from bench.results.schema import STEPS_FILE, TRIALS_FILE
from tests.helpers.suites import cli, comparable, digits_suite_data, one_torch_thread, write_suite


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.mark.slow
def test_two_runs_give_identical_tables(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(
        tmp_path / "suite.toml", digits_suite_data(
            {"epochs": 2, "reports_per_epoch": 2}, trials=6, seeds=[0, 7],
            strategies=["random", {"name": "tpe", "options": {"n_startup_trials": 2}}],
            pruners=[{"name": "median", "options": {"n_startup_trials": 2}}],
        ),
    )
    tables = []
    for folder in ("first", "second"):
        code, _, err = cli(capsys, "run", suite, "-o", tmp_path / folder, "--no-report")
        assert code == 0, err
        tables.append((pd.read_parquet(tmp_path / folder / TRIALS_FILE),
                       pd.read_parquet(tmp_path / folder / STEPS_FILE)))
    (trials_a, steps_a), (trials_b, steps_b) = tables
    assert len(trials_a) == 2 * 2 * 6
    assert trials_a["value"].nunique() > 6  # the runs really trained different networks
    assert set(trials_a["state"]) == {"COMPLETE", "PRUNED"}
    pd.testing.assert_frame_equal(comparable(trials_a), comparable(trials_b))
    pd.testing.assert_frame_equal(steps_a, steps_b)
    assert (trials_a["datetime_start"] != trials_b["datetime_start"]).all()
