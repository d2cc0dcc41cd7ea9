"""The A/B comparison's report: plain text for the terminal, and `report.md` +
`report.html` + figures + tables written together (`reports.publish`: staged, swapped into
place, never half-written).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from reports.ab.figures import metric_scatter, time_ratio_bars
from reports.ab.verdicts import ABSettings, any_worse
from reports.figure_files import render_figures
from reports.publish import publish
from reports.render import Block, html_page, markdown

REPORT_ENTRIES = ("figures", "tables", "report.md", "report.html")
DESIGN = ("Design: paired sign-flip with an equivalence margin. Both environments ran the "
          "same cells with the same seeds, interleaved in chunks (ABBA). Per strategy x "
          "pruner and metric (true_final: the true accuracy of the configuration chosen "
          "last; true_area: its mean over trials), d = A - B per seed. B is worse when the "
          "one-sided sign-flip test of mean(d) > 0, Holm-adjusted across the comparison, "
          "gives p <= alpha and mean(d) exceeds the gate's tolerance; better, mirrored; "
          "equivalent when the (1 - alpha) bootstrap interval of mean(d) lies within "
          "+-margin; otherwise inconclusive, with the smallest shift the seeds detect at 80% "
          "power. A pair is worse when a metric or a hard check (lost seeds, more FAIL "
          "trials) is.")


@dataclass(frozen=True)
class ABResult:
    """Everything the report shows.

    Attributes:
        metrics: `metric_verdicts`.
        pairs: `pair_verdicts`.
        times: `time_ratios`.
        both: `paired_seeds` (the scatter).
        sides: Per side ("A", "B"): a line describing its environment.
        settings: The decision settings.
        notes: Extra lines (timings, failed cells, shared streams).
    """

    metrics: pd.DataFrame
    pairs: pd.DataFrame
    times: pd.DataFrame
    both: pd.DataFrame
    sides: dict[str, str]
    settings: ABSettings
    notes: Sequence[str] = ()


def _f(x: Any, spec: str) -> str:
    return "-" if x is None or pd.isna(x) else format(x, spec)


def metric_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """The per-metric rows, formatted."""
    return pd.DataFrame({
        "pair": [f"{s} / {p}" for s, p in zip(metrics["strategy"], metrics["pruner"],
                                              strict=True)],
        "device": metrics["device"], "metric": metrics["metric"],
        "changed/seeds": [f"{c}/{n}" for c, n in zip(metrics["n_changed"], metrics["n_seeds"],
                                                    strict=True)],
        "A": [_f(v, ".5f") for v in metrics["a_mean"]],
        "B": [_f(v, ".5f") for v in metrics["b_mean"]],
        "A - B": [_f(v, "+.5f") for v in metrics["shortfall"]],
        "interval": [f"[{_f(lo, '+.5f')}, {_f(hi, '+.5f')}]"
                     for lo, hi in zip(metrics["ci_low"], metrics["ci_high"], strict=True)],
        "p worse (Holm)": [_f(v, ".2g") for v in metrics["p_worse_holm"]],
        "p better (Holm)": [_f(v, ".2g") for v in metrics["p_better_holm"]],
        "verdict": metrics["verdict"], "detail": metrics["detail"]})


def time_table(times: pd.DataFrame) -> pd.DataFrame:
    """The sampler time rows, formatted."""
    return pd.DataFrame({
        "pair": [f"{s} / {p}" for s, p in zip(times["strategy"], times["pruner"], strict=True)],
        "device": times["device"],
        "A ms/trial": [_f(v, ".3f") for v in times["a_ms_per_trial"]],
        "B ms/trial": [_f(v, ".3f") for v in times["b_ms_per_trial"]],
        "B / A": [_f(v, ".3f") for v in times["ratio"]],
        "interval": [f"[{_f(lo, '.3f')}, {_f(hi, '.3f')}]"
                     for lo, hi in zip(times["ratio_low"], times["ratio_high"], strict=True)]})


def verdict_line(r: ABResult) -> str:
    """One line: what was found, and how."""
    counts = r.pairs["verdict"].value_counts()
    found = ", ".join(f"{counts[v]} {v}" for v in ("worse", "better", "equivalent",
                                                    "inconclusive") if v in counts)
    how = (f"{len(r.metrics)} paired sign-flip tests per direction, Holm at alpha "
           f"{r.settings.alpha:g}; margin {_margins(r)}")
    head = "WORSE" if any_worse(r.pairs) else "NO WORSE"
    bad = r.pairs[r.pairs["verdict"] == "worse"]
    names = ", ".join(f"{s}/{p}" for s, p in zip(bad["strategy"], bad["pruner"], strict=True))
    return f"{head}{f' ({names})' if names else ''}: B against A: {found} ({how})"


def _margins(r: ABResult) -> str:
    return ", ".join(f"{m} {r.settings.margin_of(m):g}" for m in sorted(set(r.metrics["metric"])))


def format_text(r: ABResult) -> str:
    """The pair verdicts, metric rows and times as aligned plain text."""
    def aligned(frame: pd.DataFrame) -> str:
        rows = [list(frame.columns), *[[str(v) for v in row]
                                       for row in frame.itertuples(index=False)]]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                         .rstrip() for row in rows)
    shown = metric_table(r.metrics).drop(columns=["detail"])
    return "\n\n".join([aligned(r.pairs), aligned(shown), aligned(time_table(r.times))])


def blocks(r: ABResult) -> list[Block]:
    """The report as blocks (`reports.render`)."""
    status = "B worse" if any_worse(r.pairs) else "B no worse"
    out: list[Block] = [
        ("h", (1, f"samplerbench A/B comparison: {status}")),
        ("list", [f"{k}: {v}" for k, v in r.sides.items()]),
        ("p", verdict_line(r)),
        ("h", (2, "Verdict per strategy x pruner")), ("table", r.pairs),
        ("img", ("true_final_a_vs_b", "true final per seed, A (x) against B (y); below "
                 "the diagonal B chose worse at that seed")),
        ("img", ("true_area_a_vs_b", "true area (the anytime metric) per seed, A (x) "
                 "against B (y)")),
        ("h", (2, "Tests per metric")), ("table", metric_table(r.metrics)),
        ("p", DESIGN),
        ("h", (2, "Sampler time per trial")), ("table", time_table(r.times)),
        ("img", ("time_ratio", "sampler time per trial, B / A, with its bootstrap interval "
                 "over seeds")),
    ]
    if r.notes:
        out += [("h", (2, "Notes")), ("list", list(r.notes))]
    return out


def write_ab_report(r: ABResult, out: Path) -> Path:
    """Render and publish the report into `out` (whole or not at all); the path of report.md.

    Raises:
        BenchError: it could not be written (the folder is left as it was).
    """
    figures = {"true_final_a_vs_b": metric_scatter(r.both, r.pairs, "true_final"),
               "true_area_a_vs_b": metric_scatter(r.both, r.pairs, "true_area"),
               "time_ratio": time_ratio_bars(r.times, 1 - r.settings.alpha)}
    files = render_figures(figures)
    pngs = {name: files[f"figures/{name}.png"] for name in figures}
    for name, frame in (("pairs", r.pairs), ("metrics", r.metrics), ("times", r.times),
                        ("per_seed", r.both)):
        files[f"tables/{name}.csv"] = frame.to_csv(index=False).encode("utf-8")
    page = blocks(r)
    files["report.md"] = markdown(page).encode("utf-8")
    files["report.html"] = html_page(page, pngs, str(page[0][1][1])).encode("utf-8")
    publish(out, files, REPORT_ENTRIES)
    return out / "report.md"
