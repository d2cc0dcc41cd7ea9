"""The regression gate: its statistics on planted effects, and `baseline` / `check` end to end.

The statistics (`reports.gate`) are tested on synthetic per-seed metrics with known answers;
the commands run small replay suites on the digits table, with a planted bug
(`benchmarks.planted:clipped_tpe`, labelled "tpe") standing in for a regression.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from bench.core.spaces import SEED_SPACE
from benchmarks.planted import ClippedLearningRateTPE
from reports import stats
from reports.gate.compare import GateSettings, compare, missing_pairs, regressed, seed_metrics
from tests.helpers.paths import DIGITS_TABLE
from tests.helpers.suites import cli, digits_suite_data, write_suite

REPLAY = {"kind": "mnist-table", "dataset": "digits", "table": str(DIGITS_TABLE),
          "epochs": 2, "reports_per_epoch": 2}
PLANTED = {"name": "benchmarks.planted:clipped_tpe", "label": "tpe"}


def per_seed(groups: dict[tuple[str, str], tuple[list[float], list[float]]]) -> pd.DataFrame:
    """Per-seed metrics from {(strategy, pruner): (final bests, areas)}."""
    rows = []
    for (strategy, pruner), (best, area) in groups.items():
        for seed, (b, a) in enumerate(zip(best, area, strict=True)):
            rows.append({"strategy": strategy, "pruner": pruner, "device": "cpu", "seed": seed,
                         "final_best": b, "area": a, "time_to_target_s": np.nan,
                         "trials_to_target": np.nan})
    return pd.DataFrame(rows)


def noisy(mean: float, n: int = 20, sd: float = 0.003, seed: int = 0) -> list[float]:
    """n draws of N(mean, sd) from a seeded generator."""
    return list(np.random.default_rng(seed).normal(mean, sd, n))


# --- statistics: known answers -------------------------------------------------------------

def test_planted_regression_is_flagged_and_only_there() -> None:
    base = per_seed({("tpe", "none"): (noisy(0.95), noisy(0.93, seed=1)),
                     ("random", "none"): (noisy(0.94, seed=2), noisy(0.92, seed=3))})
    cur = per_seed({("tpe", "none"): (noisy(0.94, seed=4), noisy(0.93, seed=5)),
                    ("random", "none"): (noisy(0.94, seed=6), noisy(0.92, seed=7))})
    table = compare(base, cur)
    assert len(table) == 4 and regressed(table)
    flagged = table[table["regressed"]]
    assert flagged[["strategy", "metric"]].values.tolist() == [["tpe", "final_best"]]
    row = flagged.iloc[0]
    assert row["verdict"] == "REGRESSED" and row["shortfall"] == pytest.approx(0.01, abs=0.003)
    assert row["a12"] > 0.9 and row["p_holm"] < 1e-4


def test_no_difference_is_not_flagged() -> None:
    same = per_seed({("tpe", "none"): (noisy(0.95), noisy(0.93, seed=1))})
    table = compare(same, same.copy())
    assert not regressed(table)
    assert (table["verdict"] == "ok").all() and (table["shortfall"] == 0).all()
    assert (table["a12"] == 0.5).all()


def test_better_is_not_flagged() -> None:
    base = per_seed({("tpe", "none"): (noisy(0.94), noisy(0.92, seed=1))})
    cur = per_seed({("tpe", "none"): (noisy(0.96, seed=2), noisy(0.94, seed=3))})
    table = compare(base, cur)
    assert not regressed(table) and (table["p_holm"] > 0.5).all()


def test_tolerance_is_respected() -> None:
    # Significantly worse, but by 0.0003 on average: within the default 0.0005 tolerance.
    base = per_seed({("tpe", "none"): (noisy(0.9500, sd=0.0001), noisy(0.93, seed=1))})
    cur = per_seed({("tpe", "none"): (noisy(0.9497, sd=0.0001, seed=2), noisy(0.93, seed=1))})
    table = compare(base, cur).set_index("metric")
    assert table.loc["final_best", "p_holm"] < 1e-4
    assert table.loc["final_best", "shortfall"] == pytest.approx(0.0003, abs=0.0001)
    assert table.loc["final_best", "verdict"] == "worse, within tolerance"
    assert not regressed(table)
    strict = compare(base, cur, GateSettings(tolerances={"final_best": 0.0002, "area": 0.0005}))
    assert regressed(strict)
    # Worse by far more than the tolerance, but on three seeds a side: not significant.
    few = per_seed({("tpe", "none"): ([0.95, 0.96, 0.94], [0.9] * 3)})
    worse = per_seed({("tpe", "none"): ([0.94, 0.95, 0.93], [0.9] * 3)})
    table = compare(few, worse).set_index("metric")
    assert table.loc["final_best", "verdict"] == "worse, not significant"
    assert not table.loc["final_best", "reachable"]  # 1/C(6,3) = 0.05 > 0.05 / 2


def test_holm_corrects_across_every_test() -> None:
    # One pair slightly worse (raw one-sided p about 0.02), nine pairs unchanged: Holm over
    # 20 tests keeps it from being flagged, while alone (2 tests) it is.
    base_best = [0.95 + 0.001 * i for i in range(10)]
    cur_best = [b - 0.0045 for b in base_best]
    groups = {(f"s{i}", "none"): (base_best, base_best) for i in range(10)}
    base = per_seed(groups)
    cur = per_seed({**groups, ("s0", "none"): (cur_best, base_best)})
    raw = stats.mann_whitney_greater(base_best, cur_best).p
    assert 0.0025 < raw < 0.025
    assert not regressed(compare(base, cur))
    alone = compare(base[base["strategy"] == "s0"], cur[cur["strategy"] == "s0"])
    assert regressed(alone) and alone["p_holm"].min() == pytest.approx(2 * raw)


def test_seed_without_a_complete_trial_scores_zero() -> None:
    trials = pd.DataFrame({
        "strategy": "tpe", "pruner": "median", "device": "cpu", "seed": [0, 0, 1, 1],
        "trial": [0, 1, 0, 1], "state": ["COMPLETE", "COMPLETE", "PRUNED", "FAIL"],
        "value": [0.5, 0.7, 0.9, np.nan], "duration_s": 1.0, "objective_s": 1.0,
        "sampler_s": 0.0, "epochs_completed": 1.0, "test_accuracy": np.nan})
    seeds = seed_metrics(trials, target=0.6).set_index("seed")
    assert seeds.loc[0, "final_best"] == 0.7 and seeds.loc[0, "area"] == pytest.approx(0.6)
    assert seeds.loc[0, "trials_to_target"] == 2 and seeds.loc[0, "time_to_target_s"] == 2.0
    assert seeds.loc[1, "final_best"] == 0.0 and seeds.loc[1, "area"] == 0.0


def test_missing_pairs_names_what_the_current_run_lacks() -> None:
    base = per_seed({("tpe", "none"): ([0.9], [0.9]), ("random", "none"): ([0.9], [0.9])})
    cur = per_seed({("random", "none"): ([0.9], [0.9]), ("qmc", "none"): ([0.9], [0.9])})
    assert missing_pairs(base, cur) == [("tpe", "none", "cpu")]


def test_planted_tpe_clips_every_learning_rate_it_suggests() -> None:
    study = optuna.create_study(direction="maximize",
                                sampler=ClippedLearningRateTPE(seed=0, n_startup_trials=5))
    for _ in range(15):  # start-up (random) trials and model-based ones
        trial = study.ask()
        params = SEED_SPACE.suggest(trial)
        study.tell(trial, float(params["learning_rate"]))
    lrs = [t.params["learning_rate"] for t in study.trials]
    assert all(1e-5 <= lr <= 1e-4 for lr in lrs)
    assert len({t.params["hidden_size"] for t in study.trials}) > 1  # other params untouched


# --- commands, end to end on the digits table ---------------------------------------------

def replay_suite(path: Path, **top: object) -> Path:
    """Random and TPE x no pruner, 8 seeds x 12 trials on the digits table."""
    settings: dict[str, object] = {"name": "gate-test", "trials": 12, "seeds": 8,
                                   "strategies": ["random", "tpe"], "pruners": ["none"]}
    settings.update(top)
    return write_suite(path, digits_suite_data(REPLAY, **settings))


@pytest.fixture(name="runs", scope="module")
def _runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Results folders: the suite, the same suite again, the planted bug, random only; and
    the baseline of the first."""
    from bench.cli.main import main

    root = tmp_path_factory.mktemp("gate")
    suites = {
        "base": replay_suite(root / "base.toml"),
        "planted": replay_suite(root / "planted.toml", strategies=["random", PLANTED]),
        "random_only": replay_suite(root / "random.toml", strategies=["random"]),
        "fewer_trials": replay_suite(root / "fewer.toml", trials=10),
    }
    out = {}
    for name, suite in suites.items():
        out[name] = root / name
        assert main(["run", str(suite), "-o", str(out[name]), "--no-report"]) == 0
    out["baseline"] = root / "baseline.json"
    assert main(["baseline", str(out["base"]), "-o", str(out["baseline"]),
                 "--target", "0.95"]) == 0
    return out


def test_baseline_records_per_seed_metrics_and_provenance(runs) -> None:
    doc = json.loads(runs["baseline"].read_text(encoding="utf-8"))
    assert doc["schema_version"] == 1 and doc["kind"] == "samplerbench-baseline"
    run = json.loads((runs["base"] / "run.json").read_text(encoding="utf-8"))
    assert doc["suite"]["hash"] == run["suite"]["hash"]
    assert doc["table"]["checksum"] == run["table"]["checksum"]
    assert doc["space"] == SEED_SPACE.describe()
    assert doc["versions"]["optuna"] == optuna.__version__ and doc["machine"]["cpu_model"]
    assert doc["target"] == 0.95
    pairs = {(p["strategy"], p["pruner"]): p for p in doc["pairs"]}
    assert set(pairs) == {("random", "none"), ("tpe", "none")}
    trials = pd.read_parquet(runs["base"] / "trials.parquet")
    tpe = trials[trials["strategy"] == "tpe"]
    best = tpe[tpe["state"] == "COMPLETE"].groupby("seed")["value"].max()
    assert pairs[("tpe", "none")]["seeds"] == list(range(8))
    assert pairs[("tpe", "none")]["final_best"] == pytest.approx(best.tolist())
    assert len(pairs[("tpe", "none")]["time_to_target_s"]) == 8


def test_check_passes_a_rerun_and_writes_the_summary(runs, tmp_path, capsys) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    code, out, err = cli(capsys, "check", runs["base"], "--baseline", runs["baseline"],
                         "--summary", summary)
    assert code == 0, err
    assert "PASSED: no regression (4 one-sided Mann-Whitney tests" in out
    assert "REGRESSED" not in out
    md = summary.read_text(encoding="utf-8")
    assert md.startswith("# earlier step\n")  # appended, as GitHub's step summary expects
    assert "## samplerbench regression gate: passed" in md
    assert "| tpe | none | cpu | final_best | 8/8 |" in md


def test_check_flags_the_planted_bug(runs, tmp_path, capsys) -> None:
    summary = tmp_path / "summary.md"
    code, out, _ = cli(capsys, "check", runs["planted"], "--baseline", runs["baseline"],
                       "--summary", summary)
    assert code == 1
    assert "REGRESSED: tpe/none final_best, tpe/none area" in out
    rows = [line for line in out.splitlines() if line.startswith("random")]
    assert len(rows) == 2 and all(line.rstrip().endswith("ok") for line in rows)
    assert "suite hash" in out  # the strategy list changed: matched by label, said so
    assert "**REGRESSED**" in summary.read_text(encoding="utf-8")


def test_tolerance_flags_override_the_defaults(runs, capsys) -> None:
    code, out, _ = cli(capsys, "check", runs["planted"], "--baseline", runs["baseline"],
                       "--tolerance-final-best", "0.99", "--tolerance-area", "0.99")
    assert code == 0 and "worse, within tolerance" in out


def _edited(src: Path, dst: Path, **changes: object) -> Path:
    doc = json.loads(src.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = doc
        for p in parents:
            node = node[p]
        node[last] = value
    dst.write_text(json.dumps(doc), encoding="utf-8")
    return dst


@pytest.mark.parametrize(("case", "expected"), [
    ("schema", "has schema_version 99, this samplerbench reads 1; regenerate it with "
               "`samplerbench baseline"),
    ("not_baseline", "is not a samplerbench baseline"),
    ("missing", "does not exist; create it with `samplerbench baseline"),
    ("table", "cannot compare: different table (checksum: baseline 'feedfacefeedface'"),
    ("space", "different search space ([1].high: baseline 512, results 256)"),
    ("suite_name", "different suite (name: baseline 'other', results 'gate-test')"),
])
def test_bad_baselines_exit_2_with_one_line(runs, tmp_path, capsys, case, expected) -> None:
    bad = tmp_path / "bad.json"
    src = runs["baseline"]
    if case == "schema":
        _edited(src, bad, schema_version=99)
    elif case == "not_baseline":
        bad.write_text((runs["base"] / "run.json").read_text(encoding="utf-8"))
    elif case == "table":
        _edited(src, bad, table__checksum="feedfacefeedface")
    elif case == "space":
        space = json.loads(src.read_text(encoding="utf-8"))["space"]
        space[1]["high"] = 512
        _edited(src, bad, space=space)
    elif case == "suite_name":
        _edited(src, bad, suite__name="other")
    code, out, err = cli(capsys, "check", runs["base"], "--baseline", bad)
    assert code == 2 and out == ""
    assert expected in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("final_best", float("nan"), "final_best of tpe/none seed 0 is nan, outside [0, 1] (it "
                                 "may not be missing)"),
    ("final_best", None, "final_best of tpe/none seed 0 is nan"),
    ("final_best", float("inf"), "final_best of tpe/none seed 0 is inf, outside [0, 1]"),
    ("final_best", 1e308, "final_best of tpe/none seed 0 is 1e+308, outside [0, 1]"),
    ("area", -5.0, "area of tpe/none seed 0 is -5.0, outside [0, 1]"),
    ("time_to_target_s", -1.0, "time_to_target_s of tpe/none seed 0 is -1.0, outside [0, inf]"),
    ("trials_to_target", float("inf"), "trials_to_target of tpe/none seed 0 is inf"),
])
def test_a_baseline_value_a_run_cannot_produce_is_exit_2_never_a_pass(
        runs, tmp_path, capsys, field, value, expected) -> None:
    doc = json.loads(runs["baseline"].read_text(encoding="utf-8"))
    (pair,) = [p for p in doc["pairs"] if (p["strategy"], p["pruner"]) == ("tpe", "none")]
    pair[field][0] = value
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")  # NaN and Infinity as Python writes them
    code, out, err = cli(capsys, "check", runs["planted"], "--baseline", bad)
    assert code == 2 and out == "", out  # the planted bug is never waved through as PASSED
    assert expected in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("target", [float("nan"), 0, 97, "0.97"])
def test_a_baseline_target_outside_0_1_is_exit_2(runs, tmp_path, capsys, target) -> None:
    bad = _edited(runs["baseline"], tmp_path / "bad.json", target=target)
    code, _, err = cli(capsys, "check", runs["base"], "--baseline", bad)
    assert code == 2 and "not an accuracy in (0, 1]" in err, err


def test_results_of_another_suite_exit_2(runs, capsys) -> None:
    code, _, err = cli(capsys, "check", runs["fewer_trials"], "--baseline", runs["baseline"])
    assert code == 2
    assert "different suite (trials: baseline 12, results 10)" in err


def test_results_missing_a_strategy_are_an_error_not_a_pass(runs, capsys) -> None:
    code, out, err = cli(capsys, "check", runs["random_only"], "--baseline", runs["baseline"])
    assert code == 2 and out == ""
    assert "lack tpe/none on cpu, which the baseline has" in err


def test_unfinished_cells_are_pointed_out(runs, tmp_path, capsys) -> None:
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "run.json").write_bytes((runs["base"] / "run.json").read_bytes())
    trials = pd.read_parquet(runs["base"] / "trials.parquet")
    last = (trials["strategy"] == "tpe") & (trials["seed"] == 3) & (trials["trial"] == 11)
    trials[~last].to_parquet(cut / "trials.parquet", index=False)
    code, out, _ = cli(capsys, "check", cut, "--baseline", runs["baseline"])
    assert code == 0
    assert "note: 1 cells ran fewer trials than the budget" in out


def test_bad_gate_options_exit_2(runs, capsys) -> None:
    code, _, err = cli(capsys, "check", runs["base"], "--baseline", runs["baseline"],
                       "--alpha", "1.5")
    assert code == 2 and "--alpha must lie in (0, 1)" in err
