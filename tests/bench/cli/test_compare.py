"""`samplerbench compare`: one suite in two environments, interleaved, compared seed by seed.

The sides run as real subprocesses (`python -P -c ...` in each environment); every verdict
below follows from the cells' seeds, never from timing. The suites replay the shipped MNIST
table with random search and TPE, no pruner, 40 trials (the CI suite's shape, fewer seeds).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest

from bench.ab import interleave
from bench.ab.environments import OVERLAYS_ENV
from tests.helpers.suites import cli, write_suite

REPLAY = {"kind": "mnist-table", "dataset": "mnist", "space": "seed", "epochs": 2,
          "reports_per_epoch": 4, "validation": "holdout"}
BENCH = Path(__file__).resolve().parents[3] / "bench"


def ab_suite(path: Path, seeds: int) -> Path:
    """Random and TPE x no pruner, `seeds` seeds x 40 trials on the shipped table."""
    return write_suite(path, {"name": "ab-test", "trials": 40, "seeds": seeds,
                              "strategies": ["random", "tpe"], "pruners": ["none"],
                              "objective": dict(REPLAY)})


@pytest.fixture(autouse=True)
def _overlays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OVERLAYS_ENV, str(tmp_path / "overlays"))


def _error_line(code: int, err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("samplerbench compare: error: "), err
    return lines[0]


def patched_optuna(folder: Path, startup: int = 30) -> Path:
    """A copy of the installed Optuna whose TPE starts with `startup` random trials."""
    target = folder / "optuna"
    shutil.copytree(Path(optuna.__file__).parent, target,
                    ignore=shutil.ignore_patterns("__pycache__"))
    sampler = target / "samplers" / "_tpe" / "sampler.py"
    text = sampler.read_text(encoding="utf-8")
    assert "n_startup_trials: int = 10," in text
    sampler.write_text(text.replace("n_startup_trials: int = 10,",
                                    f"n_startup_trials: int = {startup},"), encoding="utf-8")
    return folder


def _equivalent_everywhere(out: Path) -> None:
    pairs = pd.read_csv(out / "report" / "tables" / "pairs.csv")
    assert set(pairs["verdict"]) == {"equivalent"}
    metrics = pd.read_csv(out / "report" / "tables" / "metrics.csv")
    assert (metrics["shortfall"] == 0).all() and (metrics["n_changed"] == 0).all()


def test_identical_environments_show_no_difference_and_exit_0(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = ab_suite(tmp_path / "s.toml", seeds=4)
    out = tmp_path / "cmp"
    code, text, err = cli(capsys, "compare", suite, "--a", "current", "--b", "current",
                          "-o", out, "--chunks", "1")
    assert code == 0, err
    assert "NO WORSE" in text and "2 equivalent" in text
    _equivalent_everywhere(out)
    assert {"report.md", "report.html", "figures", "tables"} <= {
        p.name for p in (out / "report").iterdir()}
    assert (out / "report" / "figures" / "true_final_a_vs_b.png").is_file()
    assert (out / "report" / "figures" / "time_ratio.svg").is_file()


@pytest.mark.slow
def test_an_interrupted_compare_resumes_where_it_stopped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    suite = ab_suite(tmp_path / "s.toml", seeds=4)
    out = tmp_path / "cmp"
    real = interleave.run_chunk
    calls: list[str] = []

    def stop_after_one(side: interleave.Side, suite: Path, cells: slice) -> tuple[int, float]:
        if calls:
            raise KeyboardInterrupt
        calls.append(side.label)
        return real(side, suite, cells)

    monkeypatch.setattr(interleave, "run_chunk", stop_after_one)
    code, _, err = cli(capsys, "compare", suite, "--a", "current", "--b", "current",
                       "-o", out, "--chunks", "1")
    assert code == 130 and "re-run the same command to resume" in err
    assert (out / "a" / "trials.parquet").is_file() and not (out / "b").exists()
    before = pd.read_parquet(out / "a" / "trials.parquet")
    monkeypatch.setattr(interleave, "run_chunk", real)
    code, _, err = cli(capsys, "compare", suite, "--a", "current", "--b", "current",
                       "-o", out, "--chunks", "1")
    assert code == 0, err
    _equivalent_everywhere(out)
    after = pd.read_parquet(out / "a" / "trials.parquet")
    assert len(after) == len(before) == 2 * 4 * 40  # A's cells ran once, not again
    assert after["datetime_start"].max() == before["datetime_start"].max()


@pytest.mark.slow
def test_tpe_with_30_startup_trials_is_worse_and_random_search_unchanged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = ab_suite(tmp_path / "s.toml", seeds=30)
    overlay = patched_optuna(tmp_path / "tpe30")
    out = tmp_path / "cmp"
    code, text, err = cli(capsys, "compare", suite, "--a", "current", "--b",
                          f"path:{overlay}", "-o", out, "--chunks", "1")
    assert code == 1, err + text
    pairs = pd.read_csv(out / "report" / "tables" / "pairs.csv").set_index("strategy")
    assert pairs.loc["tpe", "verdict"] == "worse"
    assert pairs.loc["random", "verdict"] == "equivalent"
    metrics = pd.read_csv(out / "report" / "tables" / "metrics.csv")
    rnd = metrics[metrics["strategy"] == "random"]
    assert (rnd["shortfall"] == 0).all()
    assert "WORSE (tpe/none): B against A: 1 worse, 1 equivalent" in text
    assert str(overlay) in err  # B's Optuna came from the overlay


@pytest.fixture(name="suite")
def _suite(tmp_path: Path) -> Path:
    return ab_suite(tmp_path / "s.toml", seeds=2)


def _refused(capsys: pytest.CaptureFixture[str], suite: Path, out: Path, b: str) -> str:
    code, _, err = cli(capsys, "compare", suite, "--a", "current", "--b", b, "-o", out)
    line = _error_line(code, err)
    assert not out.exists(), "a refused comparison wrote nothing"
    return line


def test_a_missing_interpreter_is_refused(tmp_path: Path, suite: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(capsys, suite, tmp_path / "cmp", f"python:{tmp_path / 'nope/bin/python'}")
    assert "no Python interpreter at" in line


def test_an_environment_without_samplerbench_is_refused(
        tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # Optuna and torch importable there, samplerbench not (its editable hook is a .pth file
    # of the project's venv, which a path line does not process).
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "project.pth").write_text(str(Path(optuna.__file__).parents[1]) + "\n")
    line = _refused(capsys, suite, tmp_path / "cmp", f"python:{venv}")
    assert "samplerbench does not import there" in line and "bench" in line


def test_an_environment_whose_optuna_does_not_import_is_refused(
        tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken" / "optuna"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('half-installed optuna')\n")
    line = _refused(capsys, suite, tmp_path / "cmp", f"path:{broken.parent}")
    assert "its Optuna does not import (ImportError: half-installed optuna)" in line


def test_a_requirement_pip_cannot_install_is_refused_and_leaves_no_overlay(
        tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = tmp_path / "missing" / "optuna-9.9.9-py3-none-any.whl"  # no network needed
    line = _refused(capsys, suite, tmp_path / "cmp", f"pip:{wheel}")
    assert "pip could not install" in line
    assert list((tmp_path / "overlays").iterdir()) == []


def _bench_copy(folder: Path) -> Path:
    shutil.copytree(BENCH, folder / "bench", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_environments_that_replay_different_tables_are_refused(
        tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = _bench_copy(tmp_path / "other")
    shutil.copyfile(Path(__file__).parents[2] / "fixtures" / "digits-table.parquet",
                    other / "bench" / "data" / "mnist-cpu.parquet")
    line = _refused(capsys, suite, tmp_path / "cmp", f"path:{other}")
    assert "the environments replay different tables" in line


def test_environments_that_plan_different_cells_are_refused(
        tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = _bench_copy(tmp_path / "other")
    cells = other / "bench" / "spec" / "cells.py"
    text = cells.read_text(encoding="utf-8")
    assert "-seed{self.seed}-" in text
    cells.write_text(text.replace("-seed{self.seed}-", "-s{self.seed}-"), encoding="utf-8")
    line = _refused(capsys, suite, tmp_path / "cmp", f"path:{other}")
    assert "read the suite differently (planned cells differ)" in line


def test_a_folder_of_another_comparison_is_refused(
        tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = cli(capsys, "compare", suite, "--a", "current", "--b", "current", "-o", out)
    assert "is not empty and holds no compare.json" in _error_line(code, err)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_samplerbench_without_run_cells_is_refused(
        tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    older = _bench_copy(tmp_path / "older")
    run = older / "bench" / "cli" / "commands" / "run.py"
    text = run.read_text(encoding="utf-8")
    assert '"--cells"' in text
    run.write_text(text.replace('"--cells"', '"--slice-of-cells"'), encoding="utf-8")
    line = _refused(capsys, suite, tmp_path / "cmp", f"path:{older}")
    assert "has no `run --cells`, which compare interleaves with" in line


CRASHY = '''
from typing import Any
from optuna.samplers import TPESampler


class Crashing(TPESampler):
    def sample_independent(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("planted sampler crash")


def factory(*, seed: int, space: Any, **options: Any) -> TPESampler:
    return ({CLS})(seed=seed, **options)
'''


def test_cells_that_crash_in_one_environment_fail_the_comparison(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for side, cls in (("a", "TPESampler"), ("b", "Crashing")):
        (tmp_path / side).mkdir()
        (tmp_path / side / "abcrash.py").write_text(CRASHY.replace("{CLS}", cls))
    suite = write_suite(tmp_path / "s.toml", {
        "name": "ab-crash", "trials": 12, "seeds": 2, "pruners": ["none"],
        "strategies": ["random", {"name": "abcrash:factory", "label": "tpe"}],
        "objective": dict(REPLAY)})
    code, text, err = cli(capsys, "compare", suite, "--a", f"path:{tmp_path / 'a'}", "--b",
                          f"path:{tmp_path / 'b'}", "-o", tmp_path / "cmp", "--chunks", "1")
    assert code == 1, err + text
    assert "cells crashed in B" in err + text


@pytest.mark.parametrize(("option", "message"), [
    (["--chunks", "0"], "--chunks must be at least 1, got 0"),
    (["--margin", "-0.1"], "--margin must be >= 0, got -0.1"),
    (["--alpha", "2"], "--alpha must lie in (0, 1), got 2.0"),
])
def test_bad_settings_are_one_line(tmp_path: Path, suite: Path, option: list[str],
                                   message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "compare", suite, "--a", "current", "--b", "current",
                       "-o", tmp_path / "cmp", *option)
    assert message in _error_line(code, err)
    assert not (tmp_path / "cmp").exists()
