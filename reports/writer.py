"""Write a results folder's report: the only module of `reports` that does I/O.

`write_report(results, out)` reads `run.json` and `trials.parquet` through `bench.schema`,
computes `reports.summaries.summarize_report`, draws `reports.figures.make_figures` and writes:

    out/report.md            GitHub-flavoured Markdown (fits $GITHUB_STEP_SUMMARY; figures
                             are linked as figures/*.png)
    out/report.html          self-contained: CSS inline, PNGs embedded as base64
    out/figures/NAME.png|svg one per figure
    out/tables/NAME.csv|parquet  summary (per pair), per_seed (per cell), statistics (tests)

Every file is written to a temporary name in its folder and moved into place with
`os.replace`, so a reader never sees half a file. The text (settings, machine, readings) is
built once as a list of blocks (`reports.text`) and rendered to both Markdown and HTML
(`reports.render`). Warnings in the report (a target no seed reached, seed counts that cannot
reach alpha) also go to the "samplerbench.report" logger, which prints them on stderr when
nothing else is configured.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from bench.core.errors import BenchError
from bench.core.files import atomic_write
from bench.results.schema import TRIALS_FILE, read_run_info, read_table
from reports.figures import make_figures
from reports.render import html_page, markdown
from reports.summaries import DEFAULT_TARGET, summarize_report
from reports.text import report_blocks

REQUIRED = ("strategy", "pruner", "device", "seed", "trial", "state", "value", "duration_s",
            "objective_s", "sampler_s", "epochs_completed", "test_accuracy")


def _write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda p: p.write_bytes(data))


def _write_table(folder: Path, name: str, frame: pd.DataFrame) -> None:
    def csv(path: Path) -> None:
        frame.to_csv(path, index=False)

    def parquet(path: Path) -> None:
        frame.to_parquet(path, index=False)

    atomic_write(folder / f"{name}.csv", csv)
    atomic_write(folder / f"{name}.parquet", parquet)


def _figure_bytes(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    meta: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
    # SVG element ids are random unless salted: a fixed salt makes the same results give the
    # same file (the context restores the global setting).
    with matplotlib.rc_context({"svg.hashsalt": "samplerbench"}):
        fig.savefig(buf, format=fmt, dpi=110, metadata=meta)
    return buf.getvalue()


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
        out: Output folder (created; files in it are replaced).
        target: Validation accuracy that counts as reaching the target, in (0, 1].
        alpha: Significance level of the pairwise tests, in (0, 1).

    Returns:
        The path of `report.md` (`report.html` lies beside it).

    Raises:
        BenchError: The folder holds no results, a file has another schema version, or an
            argument is out of range.
    """
    _check_inputs(results, target, alpha)
    info = read_run_info(results)
    trials = read_table(results, TRIALS_FILE)
    _check_trials(trials, results)
    s = summarize_report(trials, target=target, alpha=alpha)
    if out.exists() and not out.is_dir():
        raise BenchError(f"{out} exists and is not a folder; pass another -o")
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(exist_ok=True)
    simulated = bool(info.get("time_simulated")) or (
        "time_simulated" in trials and bool(trials["time_simulated"].any()))
    pngs: dict[str, bytes] = {}
    for name, fig in make_figures(s, simulated).items():
        pngs[name] = _figure_bytes(fig, "png")
        _write_bytes(out / "figures" / f"{name}.png", pngs[name])
        _write_bytes(out / "figures" / f"{name}.svg", _figure_bytes(fig, "svg"))
    for name, frame in (("summary", s.pairs), ("per_seed", s.cells), ("statistics", s.tests)):
        _write_table(out / "tables", name, frame)
    blocks = report_blocks(s, info, results, simulated)
    title = str(blocks[0][1][1])
    _write_bytes(out / "report.md", markdown(blocks).encode("utf-8"))
    _write_bytes(out / "report.html", html_page(blocks, pngs, title).encode("utf-8"))
    return out / "report.md"
