"""The Reading: the report's findings in plain words, headline first, and its warnings.

The headline (one to three sentences per device) names the strategy and pruner to use by the
noise-free quality of the configuration each chose (`true_final`; live runs: its test
accuracy), from the Friedman ranking over seeds and its paired post-hoc tests
(`reports.ranking`), and says how sure that is. Details follow: the groups that cannot be
told apart, expected running times to the target, the strongest paired differences.
"""

from __future__ import annotations

import math

import pandas as pd

from reports import stats
from reports.fmt import join, num, pct, points, pvalue, secs, sentence
from reports.ranking import Ranking
from reports.styles import describe_pair
from reports.summaries import ReportSummaries

METRICS = {"true_final": "true accuracy of the chosen configuration",
           "final_best": "final best (optimistic)", "area": "curve area"}


def quality_phrase(live: bool) -> str:
    """What the ranking scores, in words."""
    if live:
        return "the test accuracy of the configuration it chose"
    return "the true accuracy (mean over replicates) of the configuration it chose"


def headline(r: Ranking, alpha: float) -> str:
    """One to three sentences: which pair to use on this device and how sure that is.

    Args:
        r: The device's ranking.
        alpha: The significance level of the Friedman and post-hoc tests.

    Returns:
        The sentences (without a device prefix).
    """
    best = r.best
    if best is None:
        return "Nothing was run."
    name = describe_pair(*best)
    top = r.table.iloc[0]
    k = len(r.table)
    if k == 1:
        return (f"Only {name} was run, so there is nothing to compare it with; over "
                f"{r.n_seeds} seeds {quality_phrase(r.live)} had a median of "
                f"{pct(top['score_median'])}.")
    if r.n_seeds < 2:
        return (f"No pair can be recommended: only {r.n_seeds} seed was run by every "
                "sampler/pruner pair, too few to rank them. Run more seeds.")
    how = (f"mean rank {top['mean_rank']:.1f} of {k} over {r.n_seeds} seeds; Friedman "
           f"{pvalue(r.p)}")
    if not r.rejected:
        return (f"No sampler/pruner pair can be recommended over the others here: {name} "
                f"ranked first on {quality_phrase(r.live)} ({how}), but the Friedman test "
                f"cannot tell the pairs apart at alpha {alpha:g}.")
    text = f"Use {name}: it ranked first on {quality_phrase(r.live)} ({how})"
    if r.tied_with_best:
        others = (f"any of the other {k - 1} pairs" if len(r.tied_with_best) == k - 1 > 1
                  else join([describe_pair(*q) for q in r.tied_with_best]))
        reach, m = stats.min_attainable_p_paired(r.n_seeds), k * (k - 1) // 2
        why = (f"; with {r.n_seeds} seeds no paired test can reach p <= {alpha:g}"
               if reach > alpha else
               f"; with {r.n_seeds} seeds no paired test can pass Holm's first step over "
               f"{m} comparisons, p <= {alpha / m:.2g}" if reach > alpha / m else "")
        return (f"{text}, but it cannot be told apart from {others} (paired Wilcoxon, Holm, "
                f"alpha {alpha:g}{why}).")
    return (f"{text}, and paired Wilcoxon tests (Holm, alpha {alpha:g}) tell it apart from "
            "every other pair.")


def ranking_details(r: Ranking, pairs: pd.DataFrame) -> list[str]:
    """The groups that cannot be told apart and what the best pair chose."""
    out: list[str] = []
    if r.best is None or len(r.table) < 2 or r.n_seeds < 2:
        return out
    if r.rejected and r.groups and len(r.groups[0]) < len(r.table):
        groups = "; ".join("{" + ", ".join(describe_pair(*q) for q in g) + "}"
                           for g in r.groups)
        out.append(f"Groups that cannot be told apart (best first): {groups}.")
    row = pairs[(pairs["strategy"] == r.best[0]) & (pairs["pruner"] == r.best[1])]
    if len(row):
        p = row.iloc[0]
        what = "test accuracy" if r.live else "true accuracy"
        text = (f"{describe_pair(*r.best)} chose configurations with a median {what} of "
                f"{pct(p['true_final_median'], 2)}")
        if not r.live and pd.notna(p["regret_final_median"]):
            text += f" (median regret {points(p['regret_final_median'])} below the optimum)"
        out.append(sentence(text + "."))
    return out


def _speed_clause(r: pd.Series, device_pairs: pd.DataFrame) -> str:
    sp = r["speedup_vs_random"]
    if r["strategy"] == "random":
        return ""
    if pd.isna(sp):
        ran = ((device_pairs["strategy"] == "random")
               & (device_pairs["pruner"] == r["pruner"])).any()
        why = "never reached it either" if ran else "was not run"
        return f"; speed-up vs random n/a (random search with the same pruner {why})"
    if math.isinf(sp):
        return ", while random search with the same pruner never reached it"
    if round(sp, 1) == 1.0 or round(1 / sp, 1) == 1.0:
        return f", about as fast as random search with the same pruner ({sp:.2f}x, ERT ratio)"
    rel = f"{sp:.1f}x faster than" if sp > 1 else f"{1 / sp:.1f}x slower than"
    return f", {rel} random search with the same pruner (ratio of ERTs in seconds)"


def reached_sentence(r: pd.Series, target: float, device_pairs: pd.DataFrame) -> str:
    """Expected running time to the target of one pair that reached it in some seed."""
    n = r["n_reached"] + r["n_missed"]
    missed = ("the seed that never did counts its whole budget" if r["n_missed"] == 1 else
              f"the {r['n_missed']} that never did count their whole budgets")
    who = (f"all {n} seeds reached it" if r["n_missed"] == 0 else
           f"{r['n_reached']} of {n} seeds reached it; {missed}")
    return (f"{describe_pair(r['strategy'], r['pruner'])} reached {pct(target)} in an expected "
            f"{num(r['ert_trials'])} trials, {secs(r['ert_s'])} s and "
            f"{num(r['ert_epochs'])} epochs (ERT; {who}){_speed_clause(r, device_pairs)}.")


def _target_findings(s: ReportSummaries, device: str, p: pd.DataFrame,
                     pre: str) -> tuple[list[str], list[str]]:
    findings: list[str] = []
    warnings: list[str] = []
    hit = p[p["n_reached"] > 0].sort_values(["ert_s", "strategy", "pruner"])
    findings += [sentence(pre + reached_sentence(r, s.target, p)) for _, r in hit.iterrows()]
    never = p[p["n_reached"] == 0]
    if len(hit) == 0:
        best = s.cells.loc[s.cells["device"] == device, "final_best"].max()
        warnings.append(
            f"{pre}No seed of any sampler/pruner pair reached the target of "
            f"{pct(s.target)} (the best final accuracy of any seed was {pct(best, 2)}); "
            "expected running times are infinite and speed-ups n/a. Pass a lower "
            "--target to compare speeds.")
    elif len(never):
        findings.append(f"{pre}Never reached {pct(s.target)} in any seed (ERT infinite): "
                        + ", ".join(describe_pair(a, b) for a, b in
                                    zip(never["strategy"], never["pruner"], strict=True))
                        + ".")
    return findings, warnings


def _test_findings(tests: pd.DataFrame, alpha: float, live: set[str],
                   multi: bool) -> list[str]:
    out: list[str] = []
    sig = tests[tests["significant"]].sort_values(["p_holm", "p"], kind="stable")
    m = int(tests["p"].notna().sum())
    if len(sig):
        out.append(f"{len(sig)} of {m} paired tests are significant after Holm correction "
                   f"(alpha = {alpha:g})" + ("; the strongest five:" if len(sig) > 5 else ":"))
    for _, t in sig.head(5).iterrows():
        metric = METRICS[t["metric"]]
        if t["metric"] == "true_final" and t["device"] in live:
            metric = "test accuracy of the chosen configuration"
        pre = f"On {t['device']}: " if multi else ""
        out.append(sentence(
            f"{pre}{describe_pair(t['a_strategy'], t['a_pruner'])} beat "
            f"{describe_pair(t['b_strategy'], t['b_pruner'])} on {metric} "
            f"(Holm-adjusted p = {num(t['p_holm'])}; better on {pct(t['a_better'], 0)} of "
            f"{t['n_seeds']} seeds)."))
    if len(tests) and not len(sig):
        out.append(f"No paired difference is significant at alpha = {alpha:g} after Holm "
                   f"correction ({m} tests).")
    return out


def _nothing_completed(s: ReportSummaries) -> str:
    c = s.cells
    return (f"No trial completed: all {int(c['n_trials'].sum())} trials of every sampler/pruner "
            f"pair failed ({int(c['n_failed'].sum())}) or were pruned "
            f"({int(c['n_pruned'].sum())}), so there is no configuration to recommend and "
            "nothing to compare. Check the trials' fail_reason in trials.parquet.")


def describe(s: ReportSummaries) -> tuple[list[str], list[str]]:
    """The Reading's findings (headline first) and the report's warnings.

    Args:
        s: The report's summaries.

    Returns:
        (findings, warnings).
    """
    if not s.any_complete:
        return [_nothing_completed(s)], []
    findings: list[str] = []
    details: list[str] = []
    warnings: list[str] = []
    multi = len(s.rankings) > 1
    for r in s.rankings:
        pre = f"On {r.device}: " if multi else ""
        p = s.pairs[s.pairs["device"] == r.device]
        findings.append(pre + headline(r, s.alpha))
        details += [pre + x for x in ranking_details(r, p)]
        more, warn = _target_findings(s, r.device, p, pre)
        details += more
        warnings += warn
    live = {r.device for r in s.rankings if r.live}
    findings += details + _test_findings(s.tests, s.alpha, live, multi)
    warnings += seed_warnings(s.tests, s.alpha)
    return findings, warnings


def _seeds_needed(alpha: float) -> int:
    return max(1, math.ceil(math.log2(2.0 / alpha)))


def seed_warnings(tests: pd.DataFrame, alpha: float) -> list[str]:
    """Warnings when the seed counts cannot reach alpha at all, or not after Holm."""
    out: list[str] = []
    if tests.empty:  # one strategy x pruner: no pairs to test
        return out
    low = tests[~tests["reachable"]].groupby("n_seeds").agg(
        min_p=("min_p", "first"), n=("p", "size"))
    for n, r in low.iterrows():
        out.append(f"With {n} seeds shared by every pair the smallest attainable two-sided p "
                   f"of a paired Wilcoxon test is {r['min_p']:.3g}, above alpha = {alpha:g}: "
                   f"{int(r['n'])} tests can never be significant. Run at least "
                   f"{_seeds_needed(alpha)} seeds.")
    if len(low):
        return out
    family = tests.groupby(["device", "metric"]).agg(m=("p", "count"), min_p=("min_p", "min"))
    stuck = family[family["min_p"] > alpha / family["m"].clip(lower=1)]
    if len(stuck):
        m = int(stuck["m"].max())
        out.append(f"Holm over {m} comparisons needs p <= {alpha / m:.2g} for a first "
                   f"rejection, below the smallest attainable p "
                   f"({stuck['min_p'].min():.3g}) for these seed counts: no test can be "
                   "significant. Run more seeds or compare fewer pairs.")
    return out
