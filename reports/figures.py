"""Figures: `plot_*(summary, ax=None) -> Axes` only draw what a summary says.

No function here writes files, calls `sns.set_theme`, or changes rcParams; colours and line
styles come from `reports.styles`. `make_figures` builds the report's figures as
`matplotlib.figure.Figure` objects (no pyplot state): the critical-difference diagram
(`reports.cd_diagram`), the regret curves as small multiples per pruner
(`reports.loss_figure`), then the per-seed, rank, time and pruning figures, one panel per
device where curves are compared; a figure that would be empty is skipped
(`skipped_figures` says why). Saving them is left to `reports.writer`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from reports.cd_diagram import critical_difference_figure
from reports.loss_figure import AXIS_LABELS, SIMULATED, loss_figure, seed_text
from reports.styles import device_colour, pair_label, pruner_linestyle, sampler_colour
from reports.summaries import ReportSummaries

ACCURACY = "validation accuracy (%)"
JITTER_SEED = 0  # horizontal jitter of the per-seed points in the final-best figure


@contextmanager
def _quiet_seaborn() -> Iterator[None]:
    # seaborn 0.13 passes `vert=` to Axes.bxp, deprecated since matplotlib 3.11; the filter
    # is scoped to this call and restored on exit.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="vert: bool", category=DeprecationWarning)
        yield


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else Figure(layout="constrained").add_subplot()


def _pairs(df: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
    for (strategy, pruner), sub in df.groupby(["strategy", "pruner"], sort=True,
                                              observed=True):
        yield str(strategy), str(pruner), sub


def _legend_outside(ax: Axes) -> None:
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _labelled(df: pd.DataFrame, n: pd.Series) -> pd.DataFrame:
    """Tick labels "sampler /, pruner [device], (n=seeds)" on three lines, so that nine or
    more pairs fit side by side."""
    multi = df["device"].nunique() > 1
    labels = [f"{pair_label(s, p).replace(' / ', ' /' + chr(10))}"
              f"{f' [{d}]' if multi else ''}\n(n={n[(s, p, d)]})"
              for s, p, d in zip(df["strategy"], df["pruner"], df["device"], strict=True)]
    return df.assign(label=labels)


def plot_final_best(cells: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Distribution of final best validation accuracy over seeds: box plus one point per seed.

    Args:
        cells: `summarize_cells` output.
        ax: Axes to draw on (a new Figure's when None).

    Returns:
        The axes; one box per pair, tick labels carry the seed counts.
    """
    ax = _axes(ax)
    keys = ["strategy", "pruner", "device"]
    data = cells.dropna(subset=["final_best"]).sort_values([*keys, "seed"])
    data = _labelled(data, data.groupby(keys, observed=True)["seed"].nunique())
    palette = {s: sampler_colour(s) for s in data["strategy"].unique()}
    with _quiet_seaborn():
        sns.boxplot(data=data, x="label", y="final_best", hue="strategy", palette=palette,
                    saturation=1, dodge=False, showfliers=False, legend=False, ax=ax,
                    boxprops={"alpha": 0.6})
    # seaborn's stripplot jitters with numpy's global RNG; a seeded one keeps figures repeatable
    position = {label: i for i, label in enumerate(data["label"].unique())}
    jitter = np.random.default_rng(JITTER_SEED).uniform(-0.15, 0.15, len(data))
    ax.scatter(data["label"].map(position).to_numpy() + jitter, data["final_best"], s=9,
               color="black", zorder=3)
    ax.set_xlabel("Sampler / pruner")
    ax.set_ylabel(f"Final best {ACCURACY}")
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.tick_params(axis="x", labelsize="small")
    counts = data.groupby(keys, observed=True)["seed"].nunique()
    ax.set_title(f"Final best (optimistic: the best of noisy draws) over {seed_text(counts)}"
                 "\n(box: quartiles; points: seeds)")
    return ax


def plot_average_rank(ranks: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Average rank of each pair after each trial (1 = best), for one device.

    Args:
        ranks: `summarize_ranks` output for one device.
        ax: Axes to draw on (a new Figure's when None).

    Returns:
        The axes; one line per pair, rank 1 at the top.
    """
    ax = _axes(ax)
    for strategy, pruner, sub in _pairs(ranks):
        ax.plot(sub["k"], sub["mean_rank"], color=sampler_colour(strategy),
                linestyle=pruner_linestyle(pruner), drawstyle="steps-post",
                label=pair_label(strategy, pruner))
    ax.set_xlabel(AXIS_LABELS["k"])
    ax.set_ylabel("Average rank (1 = best)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if not ax.yaxis_inverted():
        ax.invert_yaxis()
    n_seeds = int(ranks["n_seeds"].max()) if len(ranks) else 0
    device = ", ".join(ranks["device"].unique().astype(str))
    ax.set_title(f"{device}: average rank over {n_seeds} seed{'s' * (n_seeds != 1)} "
                 "(same seed numbers compared)")
    _legend_outside(ax)
    return ax


def plot_trial_times(times: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Per-trial wall time by pair, one box per device (CPU vs GPU when both are present).

    Args:
        times: `summarize_trial_times` output.
        ax: Axes to draw on (a new Figure's when None).

    Returns:
        The axes; boxes coloured by device, whiskers from the minimum to the maximum.
    """
    ax = _axes(ax)
    data = times.sort_values(["strategy", "pruner", "device"]).assign(
        label=lambda d: [pair_label(s, p) for s, p in zip(d["strategy"], d["pruner"],
                                                           strict=True)])
    palette = {d: device_colour(d) for d in data["device"].unique()}
    with _quiet_seaborn():
        sns.boxplot(data=data, x="label", y="duration_s", hue="device", palette=palette,
                    saturation=1, whis=(0, 100), ax=ax)
    ax.set_xlabel("Sampler / pruner")
    ax.set_ylabel("Wall time per trial (s)")
    ax.tick_params(axis="x", labelsize="small")
    n_seeds = int(data.groupby(["strategy", "pruner", "device"], observed=True)["seed"]
                  .nunique().max()) if len(data) else 0
    ax.set_title(f"Per-trial wall time by device ({len(data)} trials, up to {n_seeds} seeds "
                 "per pair)")
    return ax


def plot_pruning(pruning: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Where pruners stopped trials: share of each pair's trials pruned after each epoch.

    Args:
        pruning: `summarize_pruning` output.
        ax: Axes to draw on (a new Figure's when None).

    Returns:
        The axes; one line with markers per pair (and device) that pruned anything.
    """
    ax = _axes(ax)
    multi = pruning["device"].nunique() > 1
    for strategy, pruner, sub in _pairs(pruning):
        for device, rows in sub.groupby("device", sort=True, observed=True):
            label = f"{pair_label(strategy, pruner)}{f' [{device}]' if multi else ''}"
            ax.plot(rows["epochs_at_stop"], rows["share"], marker="o",
                    color=sampler_colour(strategy), linestyle=pruner_linestyle(pruner),
                    label=f"{label} (n={int(rows['n_seeds'].iloc[0])})")
    if pruning.empty:
        ax.text(0.5, 0.5, "No trial was pruned", ha="center", va="center",
                transform=ax.transAxes)
    else:
        _legend_outside(ax)
        if (pruning["epochs_at_stop"] % 1 == 0).all():
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("Epochs completed when pruned")
    ax.set_ylabel("Trials pruned there (% of the pair's trials)")
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    n = int(pruning["n_seeds"].max()) if len(pruning) else 0
    ax.set_title(f"Where pruning stopped trials ({n} seeds per pair)" if n
                 else "Where pruning stopped trials")
    return ax


def _per_device(frame: pd.DataFrame, width: float = 6.4,
                height: float = 4.6) -> tuple[Figure, list[tuple[str, pd.DataFrame, Axes]]]:
    devices = sorted(frame["device"].unique().astype(str))
    fig = Figure(figsize=(width * max(len(devices), 1) + 2.0, height), layout="constrained")
    axes = fig.subplots(1, max(len(devices), 1), squeeze=False)[0]
    return fig, [(d, frame[frame["device"] == d], a) for d, a in zip(devices, axes, strict=False)]


CURVE_FIGURES: dict[str, str] = {"best_vs_trial": "k", "best_vs_time": "elapsed_s",
                                  "best_vs_epochs": "epochs_used"}


def skipped_figures(s: ReportSummaries) -> dict[str, str]:
    """The figures that would be empty, by file stem, with the reason.

    Args:
        s: The report's summaries.

    Returns:
        Reasons by figure name (empty when every figure has something to show).
    """
    out: dict[str, str] = {}
    if not s.any_complete:
        none = "no trial completed, so no configuration was chosen and nothing can be ranked."
        return {name: none for name in ("critical_difference", *CURVE_FIGURES, "final_best",
                                        "average_rank")}
    if not any(len(r.table) > 1 and r.n_seeds > 1 for r in s.rankings):
        out["critical_difference"] = ("fewer than two pairs, or fewer than two seeds shared "
                                      "by every pair: nothing to rank.")
    for name, axis in CURVE_FIGURES.items():
        if not s.curves[axis]["median"].notna().any():
            out[name] = ("no seed's chosen configuration has a known quality (true_accuracy "
                         "is missing).")
    return out


def make_figures(s: ReportSummaries, simulated: bool = False) -> dict[str, Figure]:
    """Build every report figure that has something to show (see `skipped_figures`).

    Args:
        s: The report's summaries.
        simulated: Wall times were replayed from a table, not measured: time axes say so.

    Returns:
        Figures by file stem, in report order.
    """
    skipped = skipped_figures(s)
    figs: dict[str, Figure] = {}
    if "critical_difference" not in skipped:
        figs["critical_difference"] = critical_difference_figure(s.rankings)
    for name, axis in CURVE_FIGURES.items():
        if name not in skipped:
            figs[name] = loss_figure(s.curves[axis], axis, s.loss, simulated)
    n_pairs = s.cells.groupby(["strategy", "pruner", "device"], observed=True).ngroups
    if "final_best" not in skipped:
        fig = Figure(figsize=(max(6.4, 1.3 * n_pairs), 4.6), layout="constrained")
        plot_final_best(s.cells, fig.add_subplot())
        figs["final_best"] = fig
    if "average_rank" not in skipped:
        fig, panels = _per_device(s.ranks)
        for _, sub, ax in panels:
            plot_average_rank(sub, ax)
        figs["average_rank"] = fig
    fig = Figure(figsize=(max(7.2, 1.3 * n_pairs), 4.6), layout="constrained")
    ax = plot_trial_times(s.times, fig.add_subplot())
    if simulated:
        ax.set_ylabel(SIMULATED + ax.get_ylabel().lower())
    figs["trial_time"] = fig
    fig = Figure(figsize=(8.4, 4.6), layout="constrained")
    plot_pruning(s.pruning, fig.add_subplot())
    figs["pruning"] = fig
    return figs
