"""`samplerbench export` never loses rows in silence: no journal is one line, and a storage
holding fewer trials than the table on disk leaves the table as it was unless --force."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.results.schema import TRIALS_FILE
from tests.helpers.paths import DIGITS_TABLE
from tests.helpers.suites import cli, digits_suite_data, write_suite

REPLAY = {"kind": "mnist-table", "dataset": "digits", "table": str(DIGITS_TABLE), "epochs": 2,
          "reports_per_epoch": 2}


@pytest.fixture(name="results")
def _results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    suite = write_suite(tmp_path / "s.toml", digits_suite_data(REPLAY, trials=3, seeds=2))
    out = tmp_path / "out"
    assert cli(capsys, "run", suite, "-o", out, "--no-report")[0] == 0
    return out


def test_export_rewrites_the_same_table(results: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    before = pd.read_parquet(results / TRIALS_FILE)
    code, out, err = cli(capsys, "export", results)
    assert code == 0, err
    assert "6 trials" in out
    pd.testing.assert_frame_equal(pd.read_parquet(results / TRIALS_FILE), before)


def test_a_storage_with_fewer_trials_than_the_table_rewrites_nothing(
        results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trials = pd.read_parquet(results / TRIALS_FILE)
    pd.concat([trials, trials]).to_parquet(results / TRIALS_FILE)  # 12 rows on disk, 6 stored
    kept = (results / TRIALS_FILE).read_bytes()
    code, _, err = cli(capsys, "export", results)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "holds 6 trials" in err and "has 12; nothing was rewritten" in err
    assert (results / TRIALS_FILE).read_bytes() == kept
    assert cli(capsys, "export", results, "--force")[0] == 0
    assert len(pd.read_parquet(results / TRIALS_FILE)) == 6


def test_a_missing_journal_is_one_line_and_rewrites_nothing(
        results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (results / "journal.log").rename(results / "journal.moved")
    kept = (results / TRIALS_FILE).read_bytes()
    code, _, err = cli(capsys, "export", results)
    assert code == 2 and "journal.log does not exist" in err, err
    assert (results / TRIALS_FILE).read_bytes() == kept
    assert not (results / "journal.log").exists()
