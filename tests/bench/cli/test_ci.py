"""`samplerbench ci`: run a replay suite in a fresh folder and gate it on a baseline.

The shipped CI suite replays the shipped MNIST table; these tests run small suites of the
same shape on the digits table, with baselines made by `run` + `baseline` as the README says.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli.commands.ci import default_baseline
from bench.execution import cell_runner
from bench.objectives.base import Objective
from bench.objectives.table import load_curves, shipped_table_path
from bench.spec.cells import Cell
from bench.spec.suite import load_suite
from reports.gate.baseline import check_comparable, identity, read_baseline
from tests.helpers.paths import DIGITS_TABLE
from tests.helpers.suites import cli, digits_suite_data, write_suite

REPLAY = {"kind": "mnist-table", "dataset": "digits", "table": str(DIGITS_TABLE),
          "epochs": 2, "reports_per_epoch": 2}


def ci_suite(path: Path, objective: dict[str, object] | None = None, **top: object) -> Path:
    """Random and TPE x no pruner, 8 seeds x 12 trials on the digits table (8 is the fewest
    seeds whose paired test can pass Holm over 4 tests: 2**-8 <= 0.05 / 4)."""
    settings: dict[str, object] = {"name": "ci-test", "trials": 12, "seeds": 8,
                                   "strategies": ["random", "tpe"], "pruners": ["none"]}
    settings.update(top)
    return write_suite(path, digits_suite_data({**REPLAY, **(objective or {})}, **settings))


@pytest.fixture(name="baseline", scope="module")
def _baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(suite file, its baseline file)."""
    from bench.cli.main import main

    root = tmp_path_factory.mktemp("ci")
    suite = ci_suite(root / "ci.toml")
    assert main(["run", str(suite), "-o", str(root / "results"), "--no-report"]) == 0
    assert main(["baseline", str(root / "results"), "-o", str(root / "baseline.json")]) == 0
    return suite, root / "baseline.json"


@pytest.fixture
def cell_kinds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kind (serial, threads, batched or replay) of each cell run in this process."""
    kinds: list[str] = []
    pick = cell_runner.cell_kind

    def recorded(cell: Cell, objective: Objective) -> str:
        kinds.append(pick(cell, objective))
        return kinds[-1]

    monkeypatch.setattr(cell_runner, "cell_kind", recorded)
    return kinds


def test_ci_passes_unchanged_code_and_writes_the_summary(baseline, tmp_path, capsys,
                                                         cell_kinds) -> None:
    suite, base = baseline
    summary = tmp_path / "summary.md"
    code, out, err = cli(capsys, "ci", "--suite", suite, "--baseline", base,
                         "--summary", summary)
    assert code == 0, err
    # Fast because nothing trains: every one of the 2 x 8 cells replays the table, here.
    assert cell_kinds == ["replay"] * 16
    assert "PASSED: no regression" in out
    # Replay is deterministic, the seeds and streams are the baseline's: an exact
    # reproduction, compared on the same streams.
    assert out.count("+0.00000") == 4 and out.count("  paired  ") == 4
    assert "## samplerbench regression gate: passed" in summary.read_text(encoding="utf-8")
    assert "ran 192 trials" in err


def test_ci_keeps_results_only_where_asked(baseline, tmp_path, capsys) -> None:
    suite, base = baseline
    out_dir = tmp_path / "kept"
    code, _, err = cli(capsys, "ci", "--suite", suite, "--baseline", base, "-o", out_dir)
    assert code == 0, err
    assert (out_dir / "trials.parquet").is_file() and (out_dir / "run.json").is_file()
    code, _, err = cli(capsys, "ci", "--suite", suite, "--baseline", base, "-o", out_dir)
    assert code == 2 and "is not empty; `ci` needs a fresh results folder" in err


def test_ci_catches_a_planted_bug(baseline, tmp_path, capsys) -> None:
    _, base = baseline
    planted = ci_suite(tmp_path / "planted.toml", strategies=[
        "random", {"name": "benchmarks.planted:clipped_tpe", "label": "tpe"}])
    code, out, _ = cli(capsys, "ci", "--suite", planted, "--baseline", base)
    assert code == 1
    assert "REGRESSED: tpe/none true_final, tpe/none true_area" in out


@pytest.mark.parametrize(("case", "expected"), [
    ("no_table", "replays table {tmp}/missing.parquet, which does not exist; build it with "
                 "`samplerbench tabulate -o {tmp}/missing.parquet`"),
    ("no_baseline", "baseline {tmp}/none.json does not exist; create it from a run of the "
                    "suite"),
    ("other_suite", "cannot compare: different suite (trials: baseline 12, results 10)"),
    ("live", "trains live; `ci` runs replay suites"),
])
def test_ci_refuses_bad_inputs_before_running(baseline, tmp_path, capsys, case, expected
                                              ) -> None:
    suite, base = baseline
    if case == "no_table":
        suite = ci_suite(tmp_path / "s.toml", {"table": str(tmp_path / "missing.parquet")})
    elif case == "no_baseline":
        base = tmp_path / "none.json"
    elif case == "other_suite":
        suite = ci_suite(tmp_path / "s.toml", trials=10)
    elif case == "live":
        suite = write_suite(tmp_path / "s.toml",
                            digits_suite_data({"kind": "mnist", "dataset": "digits"}))
    out_dir = tmp_path / "out"
    code, out, err = cli(capsys, "ci", "--suite", suite, "--baseline", base, "-o", out_dir)
    assert code == 2 and out == ""
    assert expected.format(tmp=tmp_path) in err and len(err.strip().splitlines()) == 1, err
    assert not out_dir.exists()  # refused before anything ran


def test_shipped_ci_suite_replays_the_shipped_table_with_power() -> None:
    suite = load_suite("ci")
    assert suite.objective.kind == "mnist-table" and suite.objective.table is None
    assert suite.objective.spec.dataset == "mnist" and suite.objective.spec.space == "seed"
    assert {s.name for s in suite.strategies} == {"random", "tpe"}
    assert 30 <= suite.trials <= 50 and len(suite.seeds) >= 20
    assert default_baseline() == shipped_table_path().parent / "ci-baseline.json"


def test_committed_baseline_matches_the_shipped_suite_and_table() -> None:
    # Fails when the shipped table or suites/ci.toml changes without a new baseline:
    # regenerate it with `python benchmarks/make_ci_baseline.py` and commit it with them.
    suite = load_suite("ci")
    baseline = read_baseline(default_baseline())
    table = {"checksum": load_curves(shipped_table_path()).checksum}
    check_comparable(baseline.identity(), identity(suite.to_dict(), table))
    assert sorted(set(baseline.seeds["seed"])) == list(suite.seeds)
    pairs = set(baseline.seeds[["strategy", "pruner"]].itertuples(index=False, name=None))
    assert pairs == {(s.key, p.key) for s in suite.strategies for p in suite.pruners}


def test_the_gate_works_on_simulated_workers(tmp_path, capsys, cell_kinds) -> None:
    """A baseline of a K = 4 suite: unchanged code reproduces it exactly on 4 simulated
    workers per cell, the planted bug still fails it, and another K cannot be compared."""
    suite = ci_suite(tmp_path / "k4.toml", trials_in_parallel=4)
    code, _, err = cli(capsys, "run", suite, "-o", tmp_path / "results", "--no-report")
    assert code == 0, err
    code, _, err = cli(capsys, "baseline", tmp_path / "results", "-o", tmp_path / "b.json")
    assert code == 0, err
    cell_kinds.clear()
    code, out, err = cli(capsys, "ci", "--suite", suite, "--baseline", tmp_path / "b.json")
    assert code == 0, out + err
    assert cell_kinds == ["replay"] * 16
    assert out.count("+0.00000") == 4 and "PASSED: no regression" in out
    planted = ci_suite(tmp_path / "planted.toml", trials_in_parallel=4, strategies=[
        "random", {"name": "benchmarks.planted:clipped_tpe", "label": "tpe"}])
    code, out, _ = cli(capsys, "ci", "--suite", planted, "--baseline", tmp_path / "b.json")
    assert code == 1 and "REGRESSED: tpe/none" in out
    other = ci_suite(tmp_path / "k2.toml", trials_in_parallel=2)
    code, _, err = cli(capsys, "ci", "--suite", other, "--baseline", tmp_path / "b.json")
    assert code == 2 and "trials_in_parallel: baseline 4, results 2" in err, err
