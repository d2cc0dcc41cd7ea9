"""The report's words: its tables, statistics text and warnings, as blocks (`reports.render`)
that the writer renders to Markdown and HTML; the Reading itself is `reports.reading`.
Warnings also go to the "samplerbench.report" logger."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from reports import stats
from reports.fmt import num, pct, points, secs, speedup
from reports.ranking import Ranking
from reports.reading import METRICS, describe
from reports.render import Block
from reports.styles import pair_label
from reports.summaries import SMALL_SAMPLE, ReportSummaries

LOG = logging.getLogger("samplerbench.report")
# The replay's measured agreement with live runs (benchmarks/fidelity/agreement.py; re-measure
# and update it when the table or the replay model changes).
REPLAY_AGREEMENT = (
    "Replay fidelity, measured on the shipped table (2026-12-02): the default suite's 9 "
    "pairs at 20 seeds x 20 trials of 1 epoch, live on MNIST and replayed, differ by -0.02 "
    "to +0.07 pp in mean true accuracy of the chosen configuration, no pair's 95% interval "
    "excluding 0 (Kendall's tau of their rankings 0.74; between two halves of the live seeds "
    "0.28); off the grid, interpolation's error is within the live runs' own noise. "
    "Details: docs/fidelity.md in samplerbench's source.")
SMALL_MARK = "†"
UNDERCOVER = (f"{SMALL_MARK} Interval from fewer than {SMALL_SAMPLE} seeds: percentile "
              "bootstrap intervals undercover at such sample sizes (measured coverage 73% at 3 "
              "seeds and 84% at 5, nominal 95%), so read it as narrower than the truth.")


def captions(loss: str) -> dict[str, str]:
    """Each figure's caption by file stem, in report order; `loss` is "regret" or "error"."""
    what = ("regret of the chosen configuration (the table's best reachable true accuracy "
            "minus the true accuracy of the configuration the study would hand you)"
            if loss == "regret" else
            "test error of the chosen configuration (1 - test accuracy of the configuration "
            "the study would hand you; a live run knows no optimum)")
    per = ("one panel per pruner, colour = sampler; line: median over seeds; band: IQR; "
           "log y axis" + (", where a regret of exactly 0 (the optimum itself) is drawn at "
                           "the tick labelled 0" if loss == "regret" else ""))
    return {
        "critical_difference": "Mean rank of each sampler/pruner pair on the true accuracy of "
                               "the configuration it chose (1 = best; per-seed ranks over the "
                               "seeds every pair ran); a bar joins pairs that cannot be told "
                               "apart (Friedman, then paired Wilcoxon with Holm).",
        "best_vs_trial": f"{what[:1].upper() + what[1:]} by trial number ({per}).",
        "best_vs_time": f"The same by wall-clock time: each seed's curve carried forward onto a "
                        f"common time grid ({per}).",
        "best_vs_epochs": f"The same by epochs consumed, carried forward ({per}).",
        "final_best": "Final best validation accuracy per seed (optimistic: a maximum over "
                      "noisy draws; box: quartiles; points: seeds).",
        "average_rank": "Average rank of each pair by best-so-far validation accuracy after "
                        "each trial (1 = best; seeds compared with the same seed number).",
        "trial_time": "Wall time per trial by pair and device (box: quartiles; whiskers: "
                      "shortest to longest trial).",
        "pruning": "Where pruning stopped trials: share of the pair's trials pruned after each "
                   "number of epochs.",
    }


def _ci(mean: float, low: float, high: float, n: int) -> str:
    mark = SMALL_MARK if n < SMALL_SAMPLE and pd.notna(low) else ""
    return f"{pct(mean, 2)} ({pct(low, 2)}-{pct(high, 2)}){mark}"


def pair_table(pairs: pd.DataFrame, rankings: list[Ranking] | None = None) -> pd.DataFrame:
    """The per-pair summary as display strings (percentages, "n/a" for NaN, "∞")."""
    rank = {(r.device, s, p): m for r in rankings or [] for s, p, m in
            zip(r.table["strategy"], r.table["pruner"], r.table["mean_rank"], strict=True)}
    out = pd.DataFrame({
        "Device": pairs["device"], "Sampler": pairs["strategy"], "Pruner": pairs["pruner"],
        "Seeds": pairs["n_seeds"],
        "Mean rank": [num(rank.get((d, s, p), float("nan")), ".2f") for d, s, p in
                      zip(pairs["device"], pairs["strategy"], pairs["pruner"], strict=True)],
        "True acc. of chosen, mean (95% CI)": [
            _ci(m, a, b, n) for m, a, b, n in
            zip(pairs["true_final_mean"], pairs["true_final_ci_low"],
                pairs["true_final_ci_high"], pairs["n_seeds"], strict=True)],
        "Regret, median": pairs["regret_final_median"].map(points),
        "Test acc. of chosen": pairs["test_accuracy_median"].map(pct),
        "Final best (optimistic), median [IQR]": [
            f"{pct(m)} [{pct(a)}-{pct(b)}]" for m, a, b in
            zip(pairs["final_best_median"], pairs["final_best_q25"], pairs["final_best_q75"],
                strict=True)],
        "Reached target": [f"{r}/{r + m}" for r, m in
                           zip(pairs["n_reached"], pairs["n_missed"], strict=True)],
        "ERT trials": pairs["ert_trials"].map(num),
        "ERT s": pairs["ert_s"].map(secs),
        "ERT epochs": pairs["ert_epochs"].map(num),
        "Speed-up vs random (ERT)": pairs["speedup_vs_random"].map(speedup),
        "Pruned": pairs["share_pruned"].map(pct),
        "Epochs per seed": pairs["epochs_median"].map(num),
        "Wall s, all seeds (objective + sampler)": [
            f"{secs(w)} ({secs(o)} + {secs(x)})" for w, o, x in
            zip(pairs["wall_s_total"], pairs["objective_s_total"], pairs["sampler_s_total"],
                strict=True)],
    })
    if pairs["regret_final_median"].isna().all():  # live: no optimum; true = test accuracy
        out = out.drop(columns=["Regret, median", "Test acc. of chosen"]).rename(columns={
            "True acc. of chosen, mean (95% CI)": "Test acc. of chosen, mean (95% CI)"})
    return out


def tests_table(tests: pd.DataFrame, alpha: float) -> tuple[pd.DataFrame, str]:
    """The significant tests as display strings, and a sentence about all of them."""
    sig = tests[tests["significant"]].sort_values(["p_holm", "device"], kind="stable")
    table = pd.DataFrame({
        "Device": sig["device"],
        "A": [pair_label(s, p) for s, p in zip(sig["a_strategy"], sig["a_pruner"], strict=True)],
        "better than B": [pair_label(s, p) for s, p in
                          zip(sig["b_strategy"], sig["b_pruner"], strict=True)],
        "on": sig["metric"].map(METRICS), "p (Holm)": sig["p_holm"].map(num),
        "A better on": sig["a_better"].map(lambda x: pct(x, 0)),
        "Seeds": sig["n_seeds"]})
    m = int(tests["p"].notna().sum())
    return table.reset_index(drop=True), (
        f"{m} two-sided paired Wilcoxon signed-rank tests (every two sampler/pruner pairs on "
        "the same device, on the per-seed differences over the seeds every pair ran, for the "
        "true accuracy of the chosen configuration, final best and curve area); "
        f"{len(sig)} significant after Holm correction per device and metric at alpha = "
        f"{alpha:g}. All tests with raw and adjusted p, W+ and the share of seeds on which A "
        "was better: tables/statistics.csv.")


def ranking_blocks(rankings: list[Ranking], alpha: float) -> list[Block]:
    """The Friedman ranking of each device as a sentence and a table."""
    out: list[Block] = []
    for r in rankings:
        if len(r.table) < 2:
            continue
        group_of = {q: ", ".join(str(i + 1) for i, g in enumerate(r.groups) if q in g)
                    for q in zip(r.table["strategy"], r.table["pruner"], strict=True)}
        out.append(("p", f"{r.device}: Friedman test over {r.n_seeds} seeds and "
                         f"{len(r.table)} pairs, chi-square = {num(r.statistic)}, p = "
                         f"{num(r.p)} ({'rejects' if r.rejected else 'does not reject'} "
                         f"equal ranks at alpha = {alpha:g})."))
        out.append(("table", pd.DataFrame({
            "Pair": [pair_label(s, p) for s, p in
                     zip(r.table["strategy"], r.table["pruner"], strict=True)],
            "Mean rank": r.table["mean_rank"].map(lambda x: num(x, ".2f")),
            "Median score": r.table["score_median"].map(lambda x: pct(x, 2)),
            "Group (cannot be told apart)": [group_of[q] or "-" for q in zip(
                r.table["strategy"], r.table["pruner"], strict=True)]})))
    return out


def settings_rows(info: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section title, [(setting, value)]) for the suite, the machine and the versions."""
    suite = info.get("suite") or {}
    seeds = suite.get("seeds") or []

    def named(xs: list[dict[str, Any]] | None) -> str:
        return ", ".join(x["name"] + (f" {x['options']}" if x.get("options") else "")
                         for x in xs or [])

    rows = [("name", suite.get("name")), ("hash", suite.get("hash")),
            ("objective", ", ".join(f"{k}={v}" for k, v in
                                    (suite.get("objective") or {}).items())),
            ("trials per cell", suite.get("trials")),
            ("seeds", f"{len(seeds)} ({min(seeds)}-{max(seeds)})" if seeds else "n/a"),
            ("strategies", named(suite.get("strategies"))),
            ("pruners", named(suite.get("pruners"))),
            ("devices", ", ".join(suite.get("devices") or [])),
            ("storage", info.get("storage")), ("executor", suite.get("executor")),
            ("wall times", "simulated" if info.get("time_simulated") else "measured"),
            ("created", info.get("created")), ("updated", info.get("updated"))]
    machine = info.get("machine") or {}
    mrows = [(k.replace("_", " "), machine.get(k)) for k in
             ("hostname", "platform", "python", "cpu_model", "cpu_count", "torch_threads",
              "gpu_name", "cuda_version") if k in machine]  # replay runs record no torch
    vrows = list((machine.get("versions") or {}).items())
    return [(title, [(str(k), "n/a" if v is None else str(v)) for k, v in part])
            for title, part in (("Suite", rows), ("Machine", mrows), ("Versions", vrows))]


def report_blocks(s: ReportSummaries, info: dict[str, Any], results: Path,
                  simulated: bool, skipped: dict[str, str] | None = None) -> list[Block]:
    """The report's text as blocks: heading, reading, tables, statistics, figures, settings.

    Args:
        s: The summaries.
        info: The results' run.json.
        results: The results folder.
        simulated: Wall times were replayed from a table.
        skipped: Figures not drawn, by file stem, with the reason (a note replaces each).

    Returns:
        The blocks.
    """
    suite = info.get("suite") or {}
    skipped = skipped or {}
    blocks: list[Block] = [
        ("h", (1, f"samplerbench report: {suite.get('name', results.name)}")),
        ("p", f"Results: {results}. Target: {s.target:.1%} validation accuracy. Design: "
              "paired, every sampler/pruner pair ran the same seeds. Headline metric: the true "
              "accuracy of the configuration each study chose (replay: its mean over "
              "replicates; live: its test accuracy). Tests: Friedman on per-seed ranks, then "
              "two-sided paired Wilcoxon signed-rank tests, Holm-corrected, alpha = "
              f"{s.alpha:g}. Mean CIs: 95% percentile bootstrap, "
              f"{stats.DEFAULT_RESAMPLES:,} resamples, seed {stats.DEFAULT_SEED}."),
    ]
    if simulated:
        table = info.get("table") or {}
        blocks.append(("note", "Wall times are simulated: replayed from the timing table of "
                               f"device {table.get('device', '?')} "
                               f"({table.get('device_model', 'unknown model')}, checksum "
                               f"{table.get('checksum', '?')}), not measured in this run."))
        blocks.append(("p", REPLAY_AGREEMENT))
    findings, warnings = describe(s)
    for warning in warnings:
        LOG.warning(warning)
    blocks += [("h", (2, "Reading")), ("list", findings)]
    blocks += [("note", w) for w in warnings]
    blocks += [("h", (2, "Results by sampler and pruner")),
               ("table", pair_table(s.pairs, s.rankings if s.any_complete else None)),
               ("p", "True acc. of chosen: the noise-free accuracy (live runs: the test "
                     "accuracy) of the configuration the study would hand you after its last "
                     "trial, mean (95% CI) over seeds; regret (replay): the table's best "
                     "reachable true accuracy minus it. Final best "
                     "is the best observed validation accuracy: optimistic, a maximum over "
                     "noisy draws. ERT (expected running time, COCO): the trials, seconds or "
                     "epochs all seeds spent until they reached the target, or their whole "
                     "budget if they never did, divided by the number that reached it; ∞ "
                     "when none did. Speed-up: random search's ERT in seconds (same pruner "
                     "and device) divided by the pair's. Per-seed values: "
                     "tables/per_seed.csv.")]
    if (s.pairs["n_seeds"] < SMALL_SAMPLE).any() and s.pairs["true_final_ci_low"].notna().any():
        blocks.append(("note", UNDERCOVER))
    significant, sentence = tests_table(s.tests, s.alpha)
    blocks += [("h", (2, "Statistics")),
               ("p", "The pairs share seeds, so each seed is a block: Friedman's test ranks "
                     "the pairs within every seed, and two-sided Wilcoxon signed-rank tests on "
                     "the per-seed differences, Holm-corrected, tell which pairs differ. "
                     "Wilcoxon-Holm rather than Nemenyi's post-hoc test (Benavoli et al. "
                     "2016): Nemenyi's verdict on two pairs depends on which other pairs are "
                     "compared, and it has less power. Ranking table: tables/ranking.csv.")]
    if s.any_complete:
        blocks += ranking_blocks(s.rankings, s.alpha)
        blocks.append(("p", sentence))
        if len(significant):
            blocks.append(("table", significant))
    else:
        blocks.append(("note", "No trial completed, so there is nothing to rank or test."))
    blocks.append(("h", (2, "Figures")))
    for name, caption in captions(s.loss).items():
        blocks.append(("note", f"Figure {name} skipped: {skipped[name]}") if name in skipped
                      else ("img", (name, caption)))
    for title, rows in settings_rows(info):
        blocks += [("h", (2, title)), ("table", pd.DataFrame(rows, columns=["Setting", "Value"]))]
    return blocks
