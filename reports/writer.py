"""Write a results folder's report: the only module of `reports` that does I/O.

`write_report(results, out)` reads `run.json` and `trials.parquet` through `bench.schema`,
computes `reports.summaries.summarize_report`, draws `reports.figures.make_figures` and writes:

    out/report.md            GitHub-flavoured Markdown (fits $GITHUB_STEP_SUMMARY; figures
                             are linked as figures/*.png)
    out/report.html          self-contained: CSS inline, PNGs embedded as base64
    out/figures/NAME.png|svg one per figure that has something to show
    out/tables/NAME.csv|parquet  summary (per pair), per_seed (per cell), statistics (paired
                             tests), ranking (Friedman ranks and groups)

Everything is rendered in memory first, then `reports.publish` stages it in a hidden folder
inside `out` and swaps it into place: a failure (read-only folder, full disk, an immutable
file) is one BenchError line and leaves the old report, if any, as it was. The text
(settings, machine, readings) is built once as a list of blocks (`reports.text`,
`reports.reading`) and rendered to both Markdown and HTML (`reports.render`). Warnings in
the report (a target no seed reached, seed counts that cannot reach alpha) also go to the
"samplerbench.report" logger, which prints them on stderr when nothing else is configured.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from bench.core.errors import BenchError
from bench.results.schema import TRIALS_FILE, read_run_info, read_table
from reports.defaults import DEFAULT_TARGET
from reports.figure_files import render_figures
from reports.figures import make_figures, skipped_figures
from reports.parallel import (
    parallel_blocks,
    regret_vs_time_figure,
    speedup_figure,
    speedup_table,
    sweep_labels,
)
from reports.publish import publish
from reports.ranking import ranking_table
from reports.render import html_page, markdown
from reports.summaries import summarize_report
from reports.text import report_blocks

REQUIRED = ("strategy", "pruner", "device", "seed", "trial", "state", "value", "duration_s",
            "objective_s", "sampler_s", "epochs_completed", "test_accuracy")
REPORT_ENTRIES = ("figures", "tables", "report.md", "report.html")  # what a new report replaces


def _table_files(name: str, frame: pd.DataFrame) -> dict[str, bytes]:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return {f"tables/{name}.csv": frame.to_csv(index=False).encode("utf-8"),
            f"tables/{name}.parquet": buf.getvalue()}


def _check_inputs(results: Path, target: float, alpha: float) -> None:
    if not 0.0 < target <= 1.0:
        raise BenchError(f"--target is a validation accuracy in (0, 1], e.g. 0.97; got {target}")
    if not 0.0 < alpha < 1.0:
        raise BenchError(f"--alpha is a significance level in (0, 1), e.g. 0.05; got {alpha}")
    if not results.is_dir():
        raise BenchError(f"{results} is not a folder; pass the results folder that "
                         "`samplerbench run` wrote")


def _check_trials(trials: pd.DataFrame, results: Path) -> None:
    missing = [c for c in REQUIRED if c not in trials.columns]
    if missing:
        raise BenchError(f"{results / TRIALS_FILE} lacks columns {', '.join(missing)}; "
                         f"re-export it with `samplerbench export {results}`")
    if trials.empty:
        raise BenchError(f"{results / TRIALS_FILE} holds no trials; run the suite with "
                         "`samplerbench run` before reporting")


def write_report(results: Path, out: Path, *, target: float = DEFAULT_TARGET,
                 alpha: float = 0.05) -> Path:
    """Write the comparison report of a results folder.

    Args:
        results: Results folder with `run.json` and `trials.parquet`.
        out: Output folder (created; the report's files and folders in it are replaced
            together, other files are left alone).
        target: Validation accuracy that counts as reaching the target, in (0, 1].
        alpha: Significance level of the pairwise tests, in (0, 1).

    Returns:
        The path of `report.md` (`report.html` lies beside it).

    Raises:
        BenchError: The folder holds no results, a file has another schema version, an
            argument is out of range, or the report cannot be written (nothing is then
            half-written).
    """
    _check_inputs(results, target, alpha)
    info = read_run_info(results)
    trials = read_table(results, TRIALS_FILE)
    _check_trials(trials, results)
    s = summarize_report(trials, target=target, alpha=alpha)
    if out.exists() and not out.is_dir():
        raise BenchError(f"{out} exists and is not a folder; pass another -o")
    simulated = bool(info.get("time_simulated")) or (
        "time_simulated" in trials and bool(trials["time_simulated"].any()))
    figures = make_figures(s, simulated)
    tables = [("summary", s.pairs), ("per_seed", s.cells), ("statistics", s.tests),
              ("ranking", ranking_table(s.rankings))]
    blocks = report_blocks(s, info, results, simulated, skipped_figures(s))
    labels = sweep_labels(s.pairs["strategy"].unique()) if s.any_complete else None
    if labels is not None:  # a K sweep: its section goes before the Figures heading
        speedups = speedup_table(s.pairs, labels)
        tables.append(("parallel", speedups))
        figures["parallel_regret_vs_time"] = regret_vs_time_figure(
            s.curves["elapsed_s"], labels, s.loss, simulated)
        figures["parallel_speedup"] = speedup_figure(speedups)
        at = next(i for i, b in enumerate(blocks) if b[0] == "h" and b[1][0] == 2
                  and b[1][1] == "Figures")
        blocks[at:at] = parallel_blocks(speedups, s.target)
    files = render_figures(figures)
    pngs = {name: files[f"figures/{name}.png"] for name in figures}
    for name, frame in tables:
        files.update(_table_files(name, frame))
    title = str(blocks[0][1][1])
    files["report.md"] = markdown(blocks).encode("utf-8")
    files["report.html"] = html_page(blocks, pngs, title).encode("utf-8")
    publish(out, files, REPORT_ENTRIES)
    return out / "report.md"
