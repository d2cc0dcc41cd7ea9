"""A damaged journal is named, by byte offset, and nothing is retrained or rewritten because of
it; `samplerbench recover` keeps the whole records before the damage and the next run redoes
the rest. The three cases of the hardening issue: a trial-finishing record deleted from a live
journal, a record deleted from a replay journal, and a journal truncated to half its size."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.core.optuna_internals import journal_op
from bench.results.schema import TRIALS_FILE
from bench.storage.journal import JOURNAL_FILE
from tests.helpers.suites import cli, digits_suite_data, one_torch_thread, write_suite

REPLAY = {"name": "replay-damage", "trials": 5, "seeds": 3, "strategies": ["random"],
          "pruners": ["none"], "objective": {"kind": "mnist-table", "dataset": "mnist",
                                            "space": "seed", "epochs": 2,
                                            "reports_per_epoch": 4, "validation": "holdout"}}


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _offset(lines: list[bytes], index: int) -> int:
    return sum(map(len, lines[:index]))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A finished live suite on digits (2 seeds x 4 trials): (suite file, results folder)."""
    root = tmp_path_factory.mktemp("live")
    suite = write_suite(root / "suite.toml", digits_suite_data(seeds=2))
    with one_torch_thread():
        from bench.cli.main import main
        assert main(["run", str(suite), "-o", str(root / "r"), "--no-report"]) == 0
    return suite, root / "r"


def _copy(folder: Path, to: Path) -> Path:
    to.mkdir()
    for name, data in _snapshot(folder).items():
        (to / name).write_bytes(data)
    return to


def test_a_deleted_trial_finishing_record_is_named_and_nothing_is_retrained(
        live: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite, original = live
    results = _copy(original, tmp_path / "r")
    journal = results / JOURNAL_FILE
    lines = _lines(journal)
    finishing = [i for i, line in enumerate(lines)
                 if json.loads(line)["op_code"] == journal_op("SET_TRIAL_STATE_VALUES")
                 and json.loads(line)["state"] == 1]
    victim = finishing[len(finishing) // 2]  # mid-file
    journal.write_bytes(b"".join(lines[:victim] + lines[victim + 1:]))
    before = _snapshot(results)
    for command in (["export", results], ["run", suite, "-o", results, "--no-report"]):
        code, _, err = cli(capsys, *command)
        assert code == 2
        assert err.strip().splitlines() == [
            f"samplerbench {command[0]}: error: journal file {journal} is damaged at byte "
            f"{_offset(lines, victim):,}: record {victim} is missing before it; nothing was "
            f"changed or retrained. `samplerbench recover {journal}` keeps the whole records "
            "before it (the file is kept as journal.log.damaged), then `samplerbench run` "
            "redoes what was lost"]
        assert _snapshot(results) == before  # no table rewritten, no trial failed as stale

    code, out, _ = cli(capsys, "recover", results)
    assert code == 0
    rest = lines[victim + 1:]
    assert out.splitlines()[:2] == [
        f"{journal}: kept the {victim:,} whole records before byte {_offset(lines, victim):,}; "
        f"dropped {sum(map(len, rest)):,} bytes ({len(rest):,} records) because record "
        f"{victim} is missing before it",
        f"the file as it was is {results / 'journal.log.damaged'}"]
    assert journal.read_bytes() == b"".join(lines[:victim])
    assert (results / "journal.log.damaged").read_bytes() == before[JOURNAL_FILE]
    with one_torch_thread():
        code, _, _ = cli(capsys, "run", suite, "-o", results, "--no-report")
    assert code == 0
    after = pd.read_parquet(results / TRIALS_FILE)
    assert (after["state"] == "COMPLETE").sum() == 8  # the lost trials were run again


def test_a_record_deleted_from_a_replay_journal_is_named_not_left_at_4_of_5(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path / "suite.toml", REPLAY)
    results = tmp_path / "r"
    assert cli(capsys, "run", suite, "-o", results, "--no-report")[0] == 0
    journal = results / JOURNAL_FILE
    lines = _lines(journal)
    trials = [i for i, line in enumerate(lines)
              if json.loads(line)["op_code"] == journal_op("CREATE_TRIAL")]
    victim = trials[len(trials) // 2]
    journal.write_bytes(b"".join(lines[:victim] + lines[victim + 1:]))
    code, out, err = cli(capsys, "run", suite, "-o", results, "--no-report")
    assert code == 2 and "to run" not in out
    assert err.strip().endswith("redoes what was lost")
    assert f"damaged at byte {_offset(lines, victim):,}: record {victim} is missing" in err

    assert cli(capsys, "recover", journal)[0] == 0
    code, out, _ = cli(capsys, "run", suite, "-o", results, "--no-report")
    assert code == 0
    trials_table = pd.read_parquet(results / TRIALS_FILE)
    assert trials_table.groupby("cell").size().tolist() == [5, 5, 5]


def test_a_journal_truncated_to_half_is_damage_not_a_stopped_writer(
        live: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, original = live
    results = _copy(original, tmp_path / "r")
    journal = results / JOURNAL_FILE
    whole = journal.read_bytes()
    journal.write_bytes(whole[:len(whole) // 2])
    before = _snapshot(results)
    code, _, err = cli(capsys, "export", results)
    assert code == 2 and "partial record" not in err
    assert err.strip() == (
        f"samplerbench export: error: journal file {journal} is {len(whole) // 2:,} bytes but "
        f"{len(whole):,} were committed (journal.log.end): it was truncated or replaced by an "
        f"older copy, so records after byte {len(whole) // 2:,} are lost; nothing was changed "
        f"or retrained. `samplerbench recover {journal}` keeps the whole records before it "
        "(the file is kept as journal.log.damaged), then `samplerbench run` redoes what was "
        "lost")
    assert _snapshot(results) == before

    code, out, _ = cli(capsys, "recover", results)
    assert code == 0 and "because the file is" in out
    kept = journal.read_bytes()
    assert whole.startswith(kept) and kept.endswith(b"\n")
    code, _, err = cli(capsys, "export", results)
    assert code == 2 and "pass --force to write the smaller table" in err  # never silently
    code, out, _ = cli(capsys, "export", results, "--force")
    assert code == 0
    assert len(pd.read_parquet(results / TRIALS_FILE)) < 8


def test_recover_on_a_whole_journal_changes_nothing(
        live: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, original = live
    results = _copy(original, tmp_path / "r")
    before = _snapshot(results)
    code, out, _ = cli(capsys, "recover", results)
    assert code == 0 and "the journal is whole" in out and "nothing to recover" in out
    assert _snapshot(results) == before
