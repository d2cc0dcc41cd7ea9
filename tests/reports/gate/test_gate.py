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
from reports.gate.compare import (
    METRICS,
    GateSettings,
    compare,
    missing_pairs,
    missing_seeds,
    regressed,
    seed_metrics,
)
from reports.paired import sign_flip_greater
from tests.helpers.paths import DIGITS_TABLE
from tests.helpers.suites import cli, digits_suite_data, write_suite

REPLAY = {"kind": "mnist-table", "dataset": "digits", "table": str(DIGITS_TABLE),
          "epochs": 2, "reports_per_epoch": 2}
PLANTED = {"name": "benchmarks.planted:clipped_tpe", "label": "tpe"}


Groups = dict[tuple[str, str], tuple[list[float], list[float]]]


def per_seed(groups: Groups, *, baseline: bool = False, failed: int = 0,
             lost: tuple[int, ...] = ()) -> pd.DataFrame:
    """Per-seed metrics from {(strategy, pruner): (true finals, true areas)}: a run's (with
    `n_complete`) or, with `baseline`, a baseline's (with `has_complete`). Seeds in `lost`
    have no COMPLETE trial; every seed has `failed` FAIL trials."""
    rows = []
    for (strategy, pruner), (final, area) in groups.items():
        for seed, (f, a) in enumerate(zip(final, area, strict=True)):
            row = {"strategy": strategy, "pruner": pruner, "device": "cpu", "seed": seed,
                   "true_final": f, "true_area": a, "final_best": f,
                   "time_to_target_s": np.nan, "trials_to_target": np.nan,
                   "n_failed": failed}
            row["first_params"] = f"p{seed}"
            if baseline:
                row["has_complete"] = seed not in lost
                row["mean_true_final"], row["mean_true_area"] = f, a
            else:
                row["n_complete"] = 0 if seed in lost else 10
            rows.append(row)
    return pd.DataFrame(rows)


def noisy(mean: float, n: int = 20, sd: float = 0.003, seed: int = 0) -> list[float]:
    """n draws of N(mean, sd) from a seeded generator."""
    return list(np.random.default_rng(seed).normal(mean, sd, n))


def shifted(values: list[float], by: float) -> list[float]:
    return [v + by for v in values]


def stat_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The statistical rows of a compare table (not the hard checks)."""
    return table[table["metric"].isin(METRICS)]


# --- statistics: known answers -------------------------------------------------------------

def test_a_paired_shift_far_below_the_seed_spread_is_flagged_and_only_there() -> None:
    # Seeds spread by 0.003 but every tpe seed loses 0.001: unpaired tests miss it, the
    # paired test sees 20 of 20 seeds worse (no random sign flip does as well: p is the
    # Monte Carlo floor, 1 / 20,001).
    final, area = noisy(0.97), noisy(0.96, seed=1)
    rand = (noisy(0.969, seed=2), noisy(0.959, seed=3))
    base = per_seed({("tpe", "none"): (final, area), ("random", "none"): rand}, baseline=True)
    cur = per_seed({("tpe", "none"): (shifted(final, -0.001), area), ("random", "none"): rand})
    table = compare(base, cur)
    assert len(table) == 8 and regressed(table)
    flagged = table[table["regressed"]]
    assert flagged[["strategy", "metric"]].values.tolist() == [["tpe", "true_final"]]
    row = flagged.iloc[0]
    assert row["verdict"] == "REGRESSED" and row["shortfall"] == pytest.approx(0.001)
    assert row["n_changed"] == 20 and row["p"] == pytest.approx(1 / 20_001)
    assert row["p_holm"] == pytest.approx(4 / 20_001)  # 4 tests; hard checks are not tests


def test_unchanged_seeds_are_no_evidence_and_pass() -> None:
    same = per_seed({("tpe", "none"): (noisy(0.95), noisy(0.93, seed=1))}, baseline=True)
    table = compare(same, per_seed({("tpe", "none"): (noisy(0.95), noisy(0.93, seed=1))}))
    assert not regressed(table)
    assert (table["verdict"] == "ok").all() and (stat_rows(table)["shortfall"] == 0).all()
    assert (stat_rows(table)["p"] == 1.0).all() and (table["n_changed"] == 0).all()


def test_better_is_not_flagged() -> None:
    final = noisy(0.95)
    base = per_seed({("tpe", "none"): (final, final)}, baseline=True)
    cur = per_seed({("tpe", "none"): (shifted(final, 0.01), shifted(final, 0.01))})
    table = compare(base, cur)
    assert not regressed(table) and (stat_rows(table)["p_holm"] == 1.0).all()


def test_tolerance_is_respected() -> None:
    final = noisy(0.95)
    base = per_seed({("tpe", "none"): (final, final)}, baseline=True)
    cur = per_seed({("tpe", "none"): (shifted(final, -0.00003), final)})
    table = compare(base, cur).set_index("metric")
    assert table.loc["true_final", "p_holm"] < 1e-4
    assert table.loc["true_final", "shortfall"] == pytest.approx(0.00003)
    assert table.loc["true_final", "verdict"] == "worse, within tolerance"
    assert not regressed(compare(base, cur))
    strict = GateSettings(tolerances={"true_final": 0.00002, "true_area": 0.00002})
    assert regressed(compare(base, cur, strict))


def test_too_few_seeds_cannot_reach_the_holm_threshold() -> None:
    base = per_seed({("tpe", "none"): ([0.95, 0.96, 0.94], [0.9] * 3)}, baseline=True)
    cur = per_seed({("tpe", "none"): ([0.94, 0.95, 0.93], [0.9] * 3)})
    table = compare(base, cur).set_index("metric")
    assert table.loc["true_final", "verdict"] == "worse, not significant"
    assert table.loc["true_final", "p"] == 1 / 8
    assert not table.loc["true_final", "reachable"]  # 1/8 > 0.05 / 2


def test_holm_corrects_across_every_test() -> None:
    # One pair worse at 7 of 12 seeds (raw one-sided p about 0.01), nine pairs unchanged:
    # Holm over 20 tests keeps it from being flagged, while alone (2 tests) it is.
    base_final = [0.95 + 0.001 * i for i in range(12)]
    cur_final = [b - 0.001 * (1 if i < 7 else -0.2) for i, b in enumerate(base_final)]
    groups = {(f"s{i}", "none"): (base_final, base_final) for i in range(10)}
    base = per_seed(groups, baseline=True)
    cur = per_seed({**groups, ("s0", "none"): (cur_final, base_final)})
    raw = sign_flip_greater(np.subtract(base_final, cur_final)).p
    assert 0.0025 < raw < 0.025
    assert not regressed(compare(base, cur))
    alone = compare(base[base["strategy"] == "s0"], cur[cur["strategy"] == "s0"])
    assert regressed(alone) and alone["p_holm"].min() == pytest.approx(2 * raw)


def test_a_seed_that_lost_every_complete_trial_fails_the_hard_check() -> None:
    # Two seeds of 20 fail outright: too few for any rank test, flagged by the hard check.
    final = noisy(0.97)
    base = per_seed({("tpe", "none"): (final, final)}, baseline=True)
    cur_final = [0.0 if i in (3, 7) else v for i, v in enumerate(final)]
    cur = per_seed({("tpe", "none"): (cur_final, cur_final)}, lost=(3, 7))
    table = compare(base, cur).set_index("metric")
    assert table.loc["no_complete", "regressed"] and table.loc["no_complete", "current_mean"] == 2
    assert not table.loc["true_final", "regressed"]
    # A seed whose baseline never completed either is no new loss.
    lost_before = per_seed({("tpe", "none"): (final, final)}, baseline=True, lost=(3, 7))
    assert not compare(lost_before, cur).set_index("metric").loc["no_complete", "regressed"]


def test_more_fail_trials_than_the_baseline_fail_the_hard_check() -> None:
    final = noisy(0.97)
    base = per_seed({("tpe", "none"): (final, final)}, baseline=True, failed=1)
    same = compare(base, per_seed({("tpe", "none"): (final, final)}, failed=1))
    assert not regressed(same)
    worse = compare(base, per_seed({("tpe", "none"): (final, final)}, failed=2))
    row = worse.set_index("metric").loc["fail_trials"]
    assert row["regressed"] and row["baseline_mean"] == 20 and row["current_mean"] == 40


def test_seed_metrics_score_the_chosen_configuration_not_its_noisy_draw() -> None:
    trials = pd.DataFrame({
        "strategy": "tpe", "pruner": "median", "device": "cpu", "seed": [0, 0, 0, 1, 1],
        "trial": [0, 1, 2, 0, 1], "state": ["COMPLETE", "COMPLETE", "COMPLETE", "PRUNED",
                                            "FAIL"],
        "value": [0.5, 0.8, 0.7, 0.9, np.nan], "true_accuracy": [0.6, 0.65, 0.75, 0.9, 0.9],
        "true_optimum": 0.8, "duration_s": 1.0, "objective_s": 1.0, "sampler_s": 0.0,
        "epochs_completed": 1.0, "test_accuracy": np.nan})
    seeds = seed_metrics(trials, target=0.6).set_index("seed")
    # Trial 1 has the best observed value (0.8), so it is chosen, though trial 2 is truly better.
    assert seeds.loc[0, "final_best"] == 0.8 and seeds.loc[0, "true_final"] == 0.65
    assert seeds.loc[0, "true_area"] == pytest.approx((0.6 + 0.65 + 0.65) / 3)
    assert seeds.loc[0, "n_complete"] == 3 and seeds.loc[0, "n_failed"] == 0
    assert seeds.loc[0, "trials_to_target"] == 2 and seeds.loc[0, "time_to_target_s"] == 2.0
    assert seeds.loc[1, "true_final"] == 0.0 and seeds.loc[1, "true_area"] == 0.0
    assert seeds.loc[1, "n_complete"] == 0 and seeds.loc[1, "n_failed"] == 1


def test_a_change_of_stream_is_compared_with_the_baselines_mean() -> None:
    # The first run was lucky (0.002 above its runs' mean at every seed). A run on the same
    # streams is compared with it; one whose streams differ from the first trial on is
    # compared with the mean, so the luck does not count against it.
    mean = noisy(0.97)
    base = per_seed({("tpe", "none"): (shifted(mean, 0.002), mean)}, baseline=True)
    base["mean_true_final"] = mean
    run = per_seed({("tpe", "none"): (mean, mean)})
    same = compare(base, run).set_index("metric")
    assert (same.loc[["true_final", "true_area"], "design"] == "paired").all()
    assert same.loc["true_final", "regressed"]
    run["first_params"] = "other"
    moved = compare(base, run).set_index("metric")
    assert (moved.loc[["true_final", "true_area"], "design"] == "averaged").all()
    assert moved.loc["true_final", "shortfall"] == 0 and not regressed(moved)
    assert moved.loc["no_complete", "design"] == "hard check"
    # Shared at half the seeds or more: still paired.
    run["first_params"] = [f"p{s}" if s % 2 else "x" for s in run["seed"]]
    assert (compare(base, run)["design"].iloc[:2] == "paired").all()


def test_missing_pairs_and_seeds_name_what_the_current_run_lacks() -> None:
    base = per_seed({("tpe", "none"): ([0.9, 0.9], [0.9, 0.9]),
                     ("random", "none"): ([0.9], [0.9])}, baseline=True)
    cur = per_seed({("random", "none"): ([0.9], [0.9]), ("qmc", "none"): ([0.9], [0.9]),
                    ("tpe", "none"): ([0.9], [0.9])})
    assert missing_pairs(base, cur) == []
    assert missing_seeds(base, cur) == [1]
    assert missing_pairs(base, cur[cur["strategy"] != "tpe"]) == [("tpe", "none", "cpu")]


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
        "salt1": replay_suite(root / "salt1.toml", sampler_salt=1),
        "fewer_seeds": replay_suite(root / "seeds.toml", seeds=6),
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
    assert doc["schema_version"] == 2 and doc["kind"] == "samplerbench-baseline"
    assert doc["runs"] == [{"source": str(runs["base"]), "sampler_salt": 0,
                            "suite_hash": json.loads((runs["base"] / "run.json").read_text(
                                encoding="utf-8"))["suite"]["hash"]}]
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
    done = tpe[tpe["state"] == "COMPLETE"].sort_values(["seed", "value", "trial"],
                                                        ascending=[True, False, True])
    chosen = done.drop_duplicates("seed").set_index("seed")
    assert pairs[("tpe", "none")]["seeds"] == list(range(8))
    assert pairs[("tpe", "none")]["final_best"] == pytest.approx(chosen["value"].tolist())
    assert pairs[("tpe", "none")]["true_final"] == pytest.approx(
        chosen["true_accuracy"].tolist())
    assert pairs[("tpe", "none")]["has_complete"] == [True] * 8
    assert len(pairs[("tpe", "none")]["time_to_target_s"]) == 8


def test_check_passes_a_rerun_and_writes_the_summary(runs, tmp_path, capsys) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    code, out, err = cli(capsys, "check", runs["base"], "--baseline", runs["baseline"],
                         "--summary", summary)
    assert code == 0, err
    assert "PASSED: no regression (4 paired one-sided sign-flip tests" in out
    assert "REGRESSED" not in out
    md = summary.read_text(encoding="utf-8")
    assert md.startswith("# earlier step\n")  # appended, as GitHub's step summary expects
    assert "## samplerbench regression gate: passed" in md
    assert "| tpe | none | cpu | true_final | paired | 0/8 |" in md


def test_check_flags_the_planted_bug(runs, tmp_path, capsys) -> None:
    summary = tmp_path / "summary.md"
    code, out, _ = cli(capsys, "check", runs["planted"], "--baseline", runs["baseline"],
                       "--summary", summary)
    assert code == 1
    assert "REGRESSED: tpe/none true_final, tpe/none true_area" in out
    rows = [line for line in out.splitlines() if line.startswith("random")]
    assert len(rows) == 4 and all(line.rstrip().endswith("ok") for line in rows)
    assert "the results' strategies differ from the baseline's" in out  # matched by label
    assert "**REGRESSED**" in summary.read_text(encoding="utf-8")


def test_tolerance_flags_override_the_defaults(runs, capsys) -> None:
    code, out, _ = cli(capsys, "check", runs["planted"], "--baseline", runs["baseline"],
                       "--tolerance-true-final", "0.99", "--tolerance-true-area", "0.99")
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
    ("schema", "has schema_version 99, this samplerbench reads 2 (per-seed pairing over "
               "several runs, noise-free metrics); rebuild it with `python "
               "benchmarks/make_ci_baseline.py`"),
    ("schema1", "has schema_version 1, this samplerbench reads 2"),
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
    elif case == "schema1":  # today's committed layout: unpaired, no noise-free metric
        doc = json.loads(src.read_text(encoding="utf-8"))
        for pair in doc["pairs"]:
            for key in ("true_final", "true_area", "n_failed", "has_complete"):
                del pair[key]
            pair["area"] = pair["final_best"]
        del doc["runs"]
        doc["schema_version"] = 1
        bad.write_text(json.dumps(doc), encoding="utf-8")
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
    ("true_final", float("nan"), "true_final of tpe/none seed 0 is nan, outside [0, 1] (it "
                                 "may not be missing)"),
    ("true_final", None, "true_final of tpe/none seed 0 is nan"),
    ("true_final", float("inf"), "true_final of tpe/none seed 0 is inf, outside [0, 1]"),
    ("true_final", 1e308, "true_final of tpe/none seed 0 is 1e+308, outside [0, 1]"),
    ("true_area", -5.0, "true_area of tpe/none seed 0 is -5.0, outside [0, 1]"),
    ("final_best", float("nan"), "final_best of tpe/none seed 0 is nan"),
    ("n_failed", -1, "n_failed of tpe/none seed 0 is -1.0, outside [0, inf]"),
    ("has_complete", 1, "malformed pair entry"),
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


def test_a_baseline_of_salted_runs_is_their_mean_per_seed(runs, tmp_path) -> None:
    from bench.cli.main import main

    out = tmp_path / "two.json"
    assert main(["baseline", str(runs["base"]), str(runs["salt1"]), "-o", str(out),
                 "--target", "0.95"]) == 0
    two = json.loads(out.read_text(encoding="utf-8"))
    one = json.loads(runs["baseline"].read_text(encoding="utf-8"))
    assert [r["sampler_salt"] for r in two["runs"]] == [0, 1]
    salt1 = pd.read_parquet(runs["salt1"] / "trials.parquet")
    assert salt1["param_learning_rate"].tolist() != pd.read_parquet(
        runs["base"] / "trials.parquet")["param_learning_rate"].tolist()  # another stream
    pair = {(p["strategy"], p["pruner"]): p for p in two["pairs"]}[("tpe", "none")]
    first = {(p["strategy"], p["pruner"]): p for p in one["pairs"]}[("tpe", "none")]
    mine = seed_metrics(salt1).query("strategy == 'tpe'").sort_values("seed")
    expected = (np.array(first["true_final"]) + mine["true_final"].to_numpy()) / 2
    assert pair["mean_true_final"] == pytest.approx(expected.tolist())
    assert pair["true_final"] == first["true_final"]  # the paired run is the first one
    assert pair["first_params"] == first["first_params"]


def test_a_salted_rerun_shares_the_cells_replicate_draws(runs) -> None:
    base = pd.read_parquet(runs["base"] / "trials.parquet")
    salt1 = pd.read_parquet(runs["salt1"] / "trials.parquet")
    keys = ["strategy", "seed", "trial"]
    both = base.merge(salt1, on=keys, suffixes=("_0", "_1"))
    assert (both["param_replicate_0"] == both["param_replicate_1"]).all()


@pytest.mark.parametrize(("extra", "expected"), [
    ("base", "baseline runs share a sampler_salt ([0, 0])"),
    ("fewer_seeds", "has other seeds than"),
    ("fewer_trials", "different suite (trials: baseline 12, results 10)"),
])
def test_baseline_runs_that_cannot_be_averaged_exit_2(runs, tmp_path, capsys, extra,
                                                      expected) -> None:
    code, _, err = cli(capsys, "baseline", runs["base"], runs[extra], "-o",
                       tmp_path / "b.json")
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "b.json").exists()


def test_results_missing_baseline_seeds_are_an_error_not_a_pass(runs, capsys) -> None:
    code, out, err = cli(capsys, "check", runs["fewer_seeds"], "--baseline", runs["baseline"])
    assert code == 2 and out == ""
    assert "lack seeds 6, 7 of the baseline: the gate pairs runs seed by seed" in err


def test_bad_gate_options_exit_2(runs, capsys) -> None:
    code, _, err = cli(capsys, "check", runs["base"], "--baseline", runs["baseline"],
                       "--alpha", "1.5")
    assert code == 2 and "--alpha must lie in (0, 1)" in err


def test_a_salted_run_is_compared_with_the_mean_design(runs, capsys) -> None:
    _, out, _ = cli(capsys, "check", runs["salt1"], "--baseline", runs["baseline"])
    rows = [line.split() for line in out.splitlines() if line.startswith(("tpe", "random"))]
    tested = [r for r in rows if r[3] in ("true_final", "true_area")]
    assert tested and all(r[4] == "averaged" for r in tested)  # its streams differ
    _, out, _ = cli(capsys, "check", runs["planted"], "--baseline", runs["baseline"])
    rows = [line.split() for line in out.splitlines() if line.startswith("random")]
    assert all(r[4] in ("paired", "hard") for r in rows)  # random's streams are unchanged
