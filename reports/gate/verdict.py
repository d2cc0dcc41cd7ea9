"""The gate's verdict: compare a results folder with a baseline, then say it as plain text,
one line, and GitHub-flavoured Markdown (a CI job summary).

Exit statuses: 0 when nothing regressed, 1 when something did; runs that cannot be compared
raise `IncomparableError` or BenchError (exit 2).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import pandas as pd

from bench.core.errors import BenchError
from bench.core.files import atomic_write
from bench.results.schema import TRIALS_FILE, read_run_info, read_table
from reports.gate.baseline import Baseline, check_comparable, identity
from reports.gate.compare import (
    HARD_CHECKS,
    GateSettings,
    compare,
    missing_pairs,
    missing_seeds,
    regressed,
    seed_metrics,
)


def _fmt(x: float, spec: str = ".4f") -> str:
    return "-" if pd.isna(x) else format(x, spec)


def _rows(table: pd.DataFrame) -> list[list[str]]:
    rows = []
    for r in table.itertuples():
        counted = r.metric in HARD_CHECKS
        spec = ".0f" if counted else ".5f"
        rows.append([r.strategy, r.pruner, r.device, r.metric, r.design,
                     f"{r.n_changed}/{r.n_seeds}", _fmt(r.baseline_mean, spec),
                     _fmt(r.current_mean, spec),
                     _fmt(r.shortfall, "+.0f" if counted else "+.5f"),
                     "-" if counted else _fmt(r.tolerance, ".5f"), _fmt(r.p_holm, ".2g"),
                     r.verdict])
    return rows


HEADER = ["strategy", "pruner", "device", "metric", "design", "changed/seeds", "baseline",
          "current",
          "shortfall", "tolerance", "p (Holm)", "verdict"]
DESIGN = ("a row regresses when the current run is worse than the baseline seed by seed "
          "(one-sided paired permutation test of the mean, Holm-adjusted p <= alpha) and its mean "
          "shortfall exceeds the tolerance; design paired: against the baseline's first run, "
          "whose sampler streams the run shares; averaged: the streams differ from the first "
          "trial on, so against the mean of the baseline's runs; a hard check (no_complete: "
          "a seed lost every COMPLETE trial; fail_trials: more FAIL trials than the baseline) "
          "regresses on its own")


def format_text(table: pd.DataFrame) -> str:
    """The verdict table as aligned plain text."""
    rows = [HEADER, *_rows(table)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def verdict_line(table: pd.DataFrame, settings: GateSettings) -> str:
    """One line: PASSED or REGRESSED, what was tested and how."""
    tests = int(table["p"].notna().sum())
    how = (f"{tests} paired one-sided sign-flip tests, Holm at alpha {settings.alpha:g}, "
           f"tolerances true_final {settings.tolerance('true_final'):g}, true_area "
           f"{settings.tolerance('true_area'):g}; {len(table) - tests} hard checks")
    if not regressed(table):
        return f"PASSED: no regression ({how})"
    bad = table[table["regressed"]]
    names = ", ".join(f"{r.strategy}/{r.pruner} {r.metric}" for r in bad.itertuples())
    return f"REGRESSED: {names} ({how})"


def format_markdown(table: pd.DataFrame, settings: GateSettings, notes: Sequence[str]) -> str:
    """The verdict as GitHub-flavoured Markdown (a CI job summary)."""
    status = "REGRESSED" if regressed(table) else "passed"
    lines = [f"## samplerbench regression gate: {status}", "",
             verdict_line(table, settings), "",
             DESIGN[0].upper() + DESIGN[1:] + ".", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in _rows(table):
        if row[-1] == "REGRESSED":
            row[-1] = "**REGRESSED**"
        lines.append("| " + " | ".join(row) + " |")
    lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines).rstrip() + "\n"


def append_summary(path: Path, text: str) -> None:
    """Append to `path` (GitHub's step summary appends), writing a whole new file atomically."""
    if not path.parent.is_dir():
        raise BenchError(f"cannot write summary {path}: folder {path.parent} does not exist")
    before = path.read_text(encoding="utf-8") if path.is_file() else ""
    sep = "\n" if before and not before.endswith("\n\n") else ""
    atomic_write(path, lambda p: p.write_text(before + sep + text, encoding="utf-8"))


def gate(baseline: Baseline, results: Path, settings: GateSettings,
         summary: Path | None = None, stream: TextIO | None = None) -> int:
    """Compare a results folder with a baseline, print the verdict, return the exit status.

    Raises:
        BenchError: (exit 2) the runs cannot be compared or the results lack a pair.
    """
    out = stream or sys.stdout
    info = read_run_info(results)
    check_comparable(baseline.identity(), identity(info["suite"], info.get("table")))
    trials = read_table(results, TRIALS_FILE)
    current = seed_metrics(trials, target=baseline.target)
    missing = missing_pairs(baseline.seeds, current)
    if missing:
        names = ", ".join(f"{s}/{p} on {d}" for s, p, d in missing)
        raise BenchError(f"results {results} lack {names}, which the baseline has: an "
                         "untested strategy is not a pass; run the baseline's suite "
                         "(strategies and pruners) or regenerate the baseline")
    lacking = missing_seeds(baseline.seeds, current)
    if lacking:
        shown = ", ".join(map(str, lacking[:8])) + (", ..." if len(lacking) > 8 else "")
        raise BenchError(f"results {results} lack seeds {shown} of the baseline: the gate "
                         "pairs runs seed by seed, so run the baseline's seeds (its suite)")
    table = compare(baseline.seeds, current, settings)
    notes = _notes(baseline, info, current, table)
    if "trials" not in info["suite"]:
        raise BenchError(f"{results}/run.json lacks suite.trials, the trial budget the gate "
                         "checks; re-run the suite to rewrite it")
    short = _short_cells(trials, int(info["suite"]["trials"]))
    if short:
        notes.append(f"{short} cells ran fewer trials than the budget (unfinished, or a grid "
                     "ran out): their metrics are over fewer trials")
    print(f"baseline {baseline.path} (suite {baseline.doc['suite'].get('name')!r}, optuna "
          f"{baseline.doc.get('versions', {}).get('optuna', '?')}) vs results {results} "
          f"(optuna {info.get('machine', {}).get('versions', {}).get('optuna', '?')})",
          file=out)
    print(format_text(table), file=out)
    for note in notes:
        print(f"note: {note}", file=out)
    print(verdict_line(table, settings), file=out)
    if summary is not None:
        append_summary(summary, format_markdown(table, settings, notes))
    return 1 if regressed(table) else 0


def _short_cells(trials: pd.DataFrame, budget: int) -> int:
    sizes = trials.groupby(["strategy", "pruner", "device", "seed"], observed=True).size()
    return int((sizes < budget).sum())


def _notes(baseline: Baseline, info: dict[str, object], current: pd.DataFrame,
           table: pd.DataFrame) -> list[str]:
    notes = []
    extra = sorted(set(current[["strategy", "pruner", "device"]].itertuples(
        index=False, name=None)) - set(baseline.seeds[["strategy", "pruner", "device"]]
                                       .itertuples(index=False, name=None)))
    if extra:
        notes.append("not in the baseline, not checked: " +
                     ", ".join(f"{s}/{p} on {d}" for s, p, d in extra))
    unreachable = table[~table["reachable"]]
    if len(unreachable):
        notes.append(f"{len(unreachable)} rows have too few seeds to reach the Holm "
                     "threshold at all; only a hard check can flag them (add seeds)")
    runs = baseline.doc.get("runs", [])
    suite = info.get("suite")
    salt = suite.get("sampler_salt", 0) if isinstance(suite, dict) else "?"
    salts = [r.get("sampler_salt") for r in runs]
    notes.append(f"baseline: one run, sampler salt {salts[0]}" if len(salts) == 1 else
                 f"baseline: {len(salts)} runs, sampler salts {salts} (paired: the first; "
                 "averaged: their per-seed mean)")
    notes[-1] += f"; results: sampler salt {salt}"
    if isinstance(suite, dict):
        for key in ("strategies", "pruners"):
            if suite.get(key) != baseline.doc["suite"].get(key):
                notes.append(f"the results' {key} differ from the baseline's (names or "
                             "options changed): pairs are matched by label")
    return notes
