"""The report's words: the reading of the results, its tables and warnings, as blocks
(`reports.render`) that the writer renders to Markdown and HTML. Warnings also go to the
"samplerbench.report" logger."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from reports import stats
from reports.render import Block
from reports.styles import describe_pair, pair_label
from reports.summaries import ReportSummaries

LOG = logging.getLogger("samplerbench.report")
CAPTIONS: dict[str, str] = {
    "best_vs_trial": "Best-so-far validation accuracy by trial number (colour: sampler; "
                     "line style: pruner; line: median over seeds; band: IQR). In this and "
                     "the next two figures, an inset zooms on the last four fifths of the x "
                     "axis when the first trials' rise would squeeze the curves together.",
    "best_vs_time": "Best-so-far validation accuracy by wall-clock time: each seed's curve "
                    "carried forward onto a common time grid, then median and IQR.",
    "best_vs_epochs": "Best-so-far validation accuracy by epochs consumed (carried forward).",
    "final_best": "Final best validation accuracy per seed (box: quartiles; points: seeds).",
    "average_rank": "Average rank of each pair after each trial (1 = best; seeds compared "
                    "with the same seed number).",
    "trial_time": "Wall time per trial by pair and device (box: quartiles; whiskers: "
                  "shortest to longest trial).",
    "pruning": "Where pruning stopped trials: share of the pair's trials pruned after each "
               "number of epochs.",
}


def _pct(x: float, digits: int = 1) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.{digits}f}%"


def _num(x: float, fmt: str = ".3g") -> str:
    return "n/a" if pd.isna(x) else format(x, fmt)


def _secs(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def pair_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """The per-pair summary as display strings (percentages, "n/a" for NaN)."""
    return pd.DataFrame({
        "Device": pairs["device"], "Sampler": pairs["strategy"], "Pruner": pairs["pruner"],
        "Seeds": pairs["n_seeds"],
        "Final best, median [IQR]": [
            f"{_pct(m)} [{_pct(a)}-{_pct(b)}]" for m, a, b in
            zip(pairs["final_best_median"], pairs["final_best_q25"], pairs["final_best_q75"],
                strict=True)],
        "Final best, mean (95% CI)": [
            f"{_pct(m)} ({_pct(a)}-{_pct(b)})" for m, a, b in
            zip(pairs["final_best_mean"], pairs["final_best_ci_low"],
                pairs["final_best_ci_high"], strict=True)],
        "Test acc. of chosen": pairs["test_accuracy_median"].map(_pct),
        "Area": pairs["area_median"].map(lambda x: _num(x, ".3f")),
        "Reached target": [f"{r}/{r + m}" for r, m in
                           zip(pairs["n_reached"], pairs["n_missed"], strict=True)],
        "Trials to target": pairs["trials_to_target_median"].map(_num),
        "Time to target (s)": pairs["time_to_target_median_s"].map(_secs),
        "Speed-up vs random": pairs["speedup_vs_random"].map(
            lambda x: "n/a" if pd.isna(x) else f"{x:.1f}x"),
        "Pruned": pairs["share_pruned"].map(_pct),
        "Epochs per seed": pairs["epochs_median"].map(_num),
        "Wall s, all seeds (objective + sampler)": [
            f"{_secs(w)} ({_secs(o)} + {_secs(x)})" for w, o, x in
            zip(pairs["wall_s_total"], pairs["objective_s_total"], pairs["sampler_s_total"],
                strict=True)],
    })


METRICS = {"final_best": "final best", "area": "curve area"}


def tests_table(tests: pd.DataFrame, alpha: float) -> tuple[pd.DataFrame, str]:
    """The significant tests as display strings, and a sentence about all of them."""
    sig = tests[tests["significant"]].sort_values(["p_holm", "device"])
    table = pd.DataFrame({
        "Device": sig["device"],
        "A": [pair_label(s, p) for s, p in zip(sig["a_strategy"], sig["a_pruner"], strict=True)],
        "better than B": [pair_label(s, p) for s, p in
                          zip(sig["b_strategy"], sig["b_pruner"], strict=True)],
        "on": sig["metric"].map(METRICS), "p (Holm)": sig["p_holm"].map(_num),
        "A12": sig["a12"].map(lambda x: _num(x, ".2f")),
        "Seeds (A, B)": [f"{a}, {b}" for a, b in zip(sig["n_a"], sig["n_b"], strict=True)]})
    m = int(tests["p"].notna().sum())
    return table.reset_index(drop=True), (
        f"{m} one-sided tests (every ordered pair of sampler/pruner pairs on the same device, "
        f"on final best and on curve area); {len(sig)} significant after Holm correction at "
        f"alpha = {alpha:g}. All tests with raw and adjusted p and "
        "A12 = P(A > B) + 0.5 P(A = B): tables/statistics.csv.")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _reached_sentence(r: pd.Series, target: float, device_pairs: pd.DataFrame) -> str:
    name = describe_pair(r["strategy"], r["pruner"])
    n = r["n_reached"] + r["n_missed"]
    who = (f"median of all {n} seeds" if r["n_missed"] == 0 else
           f"median of the {r['n_reached']} of {n} seeds that reached it; "
           f"{r['n_missed']} never did")
    text = (f"{name} reached {_pct(target)} in {_num(r['trials_to_target_median'])} trials "
            f"and {_secs(r['time_to_target_median_s'])} s ({who})")
    sp = r["speedup_vs_random"]
    if r["strategy"] == "random":
        return text + "."
    if pd.isna(sp):
        ran = ((device_pairs["strategy"] == "random")
               & (device_pairs["pruner"] == r["pruner"])).any()
        why = "never reached it" if ran else "was not run"
        return (f"{text}; speed-up vs random n/a (random search with the same pruner "
                f"{why}).")
    if round(sp, 1) == 1.0 or round(1 / sp, 1) == 1.0:
        return f"{text}, about as fast as random search with the same pruner ({sp:.2f}x)."
    rel = f"{sp:.1f}x faster than" if sp > 1 else f"{1 / sp:.1f}x slower than"
    return f"{text}, {rel} random search with the same pruner."


def describe(s: ReportSummaries) -> tuple[list[str], list[str]]:
    """Plain-language findings and warnings about seed counts and missing targets."""
    findings: list[str] = []
    warnings: list[str] = []
    multi = s.pairs["device"].nunique() > 1
    for device, p in s.pairs.groupby("device", sort=True):
        pre = f"On {device}: " if multi else ""
        top = p.loc[p["final_best_median"].idxmax()] if p["final_best_median"].notna().any() \
            else None
        if top is not None:
            findings.append(_sentence(
                f"{pre}{describe_pair(top['strategy'], top['pruner'])} had the highest median "
                f"final best validation accuracy, {_pct(top['final_best_median'])} (IQR "
                f"{_pct(top['final_best_q25'])}-{_pct(top['final_best_q75'])}, "
                f"{top['n_seeds']} seeds)."))
        hit = p[p["n_reached"] > 0].sort_values("time_to_target_median_s")
        findings += [_sentence(pre + _reached_sentence(r, s.target, p)) for _, r in hit.iterrows()]
        never = p[p["n_reached"] == 0]
        if len(hit) == 0:
            best = s.cells.loc[s.cells["device"] == device, "final_best"].max()
            warnings.append(
                f"{pre}No seed of any sampler/pruner pair reached the target of "
                f"{_pct(s.target)} (the best final accuracy of any seed was {_pct(best, 2)}); "
                "trials-to-target, time-to-target and speed-ups are n/a. Pass a lower "
                "--target to compare speeds.")
        elif len(never):
            findings.append(f"{pre}Never reached {_pct(s.target)} in any seed: " + ", ".join(
                describe_pair(a, b) for a, b in zip(never["strategy"], never["pruner"],
                                                    strict=True)) + ".")
    sig = s.tests[s.tests["significant"]].sort_values("p_holm")
    m = int(s.tests["p"].notna().sum())
    if len(sig):
        findings.append(f"{len(sig)} of {m} one-sided tests are significant after Holm "
                        f"correction (alpha = {s.alpha:g})"
                        + ("; the strongest five:" if len(sig) > 5 else ":"))
    for _, t in sig.head(5).iterrows():
        findings.append(_sentence(
            f"{describe_pair(t['a_strategy'], t['a_pruner'])} beat "
            f"{describe_pair(t['b_strategy'], t['b_pruner'])} on {METRICS[t['metric']]} "
            f"(Holm-adjusted p = {_num(t['p_holm'])}, A12 = {t['a12']:.2f})."))
    if len(s.tests) and not len(sig):
        findings.append(f"No pairwise difference is significant at alpha = {s.alpha:g} after "
                        f"Holm correction over {m} tests.")
    warnings += _seed_warnings(s.tests, s.alpha)
    return findings, warnings


def _seed_warnings(tests: pd.DataFrame, alpha: float) -> list[str]:
    out: list[str] = []
    if tests.empty:  # one strategy x pruner: no pairs to test
        return out
    low = tests[~tests["reachable"]].groupby(["n_a", "n_b"]).agg(
        min_p=("min_p", "first"), n=("p", "size"))
    for (na, nb), r in low.iterrows():
        out.append(f"With {na} vs {nb} seeds the smallest attainable one-sided p is "
                   f"{r['min_p']:.3g}, above alpha = {alpha:g}: {r['n']} tests can never be "
                   "significant. Run more seeds.")
    m = int(tests["p"].notna().sum())
    if m and not len(low) and tests["min_p"].min() > alpha / m:
        out.append(f"Holm over {m} tests needs p <= {alpha / m:.2g} for a first rejection, "
                   f"below the smallest attainable p ({tests['min_p'].min():.3g}) for these "
                   "seed counts: no test can be significant. Run more seeds or compare fewer "
                   "pairs.")
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
              "gpu_name", "cuda_version")]
    vrows = list((machine.get("versions") or {}).items())
    return [(title, [(str(k), "n/a" if v is None else str(v)) for k, v in part])
            for title, part in (("Suite", rows), ("Machine", mrows), ("Versions", vrows))]


def report_blocks(s: ReportSummaries, info: dict[str, Any], results: Path,
                  simulated: bool) -> list[Block]:
    """The report's text as blocks: heading, reading, tables, statistics, figures, settings."""
    suite = info.get("suite") or {}
    blocks: list[Block] = [
        ("h", (1, f"samplerbench report: {suite.get('name', results.name)}")),
        ("p", f"Results: {results}. Target: {s.target:.1%} validation accuracy. Tests: "
              f"one-sided Mann-Whitney U over seeds, Holm-corrected, alpha = {s.alpha:g}. "
              f"Mean CIs: 95% percentile bootstrap, {stats.DEFAULT_RESAMPLES:,} resamples, "
              f"seed {stats.DEFAULT_SEED}."),
    ]
    if simulated:
        table = info.get("table") or {}
        blocks.append(("note", "Wall times are simulated: replayed from the timing table of "
                               f"device {table.get('device', '?')} "
                               f"({table.get('device_model', 'unknown model')}, checksum "
                               f"{table.get('checksum', '?')}), not measured in this run."))
    findings, warnings = describe(s)
    for warning in warnings:
        LOG.warning(warning)
    blocks += [("h", (2, "Reading")), ("list", findings)]
    blocks += [("note", w) for w in warnings]
    blocks += [("h", (2, "Results by sampler and pruner")), ("table", pair_table(s.pairs)),
               ("p", "Final best: median [IQR] and mean (95% CI) over seeds. Trials and time "
                     "to target: medians over the seeds that reached it; seeds that never did "
                     "are counted as missed and left out, never counted as 0. Speed-up: "
                     "random search's median time to target (same pruner and device) divided "
                     "by the pair's; n/a when either never reached it. Per-seed values: "
                     "tables/per_seed.csv.")]
    significant, sentence = tests_table(s.tests, s.alpha)
    blocks += [("h", (2, "Statistics")), ("p", sentence)]
    if len(significant):
        blocks.append(("table", significant))
    blocks.append(("h", (2, "Figures")))
    blocks += [("img", (name, caption)) for name, caption in CAPTIONS.items()]
    for title, rows in settings_rows(info):
        blocks += [("h", (2, title)), ("table", pd.DataFrame(rows, columns=["Setting", "Value"]))]
    return blocks
