"""Figures: `plot_*(summary, ax=None) -> Axes` only draw what a summary says.

No function here writes files, calls `sns.set_theme`, or changes rcParams; colours and line
styles come from `reports.styles`. `make_figures` builds the report's figures as
`matplotlib.figure.Figure` objects (no pyplot state), one panel per device where curves are
compared, and leaves saving them to `reports.writer`.
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

from reports.styles import device_colour, pair_label, pruner_linestyle, sampler_colour
from reports.summaries import ReportSummaries

ACCURACY = "validation accuracy (%)"
JITTER_SEED = 0  # horizontal jitter of the per-seed points in the final-best figure
AXIS_LABELS: dict[str, str] = {
    "k": "Trial number",
    "elapsed_s": "Wall-clock time (s, cumulative trial durations)",
    "epochs_used": "Epochs consumed (cumulative)",
}


@contextmanager
def _quiet_seaborn() -> Iterator[None]:
    # seaborn 0.13 passes `vert=` to Axes.bxp, deprecated since matplotlib 3.11; the filter
    # is scoped to this call and restored on exit.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="vert: bool", category=DeprecationWarning)
        yield


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else Figure(layout="constrained").add_subplot()


def seed_text(counts: pd.Series) -> str:
    """'5 seeds' when every pair has the same count, else '3-5 seeds per pair'.

    Args:
        counts: Seed counts, one per pair.

    Returns:
        The phrase.
    """
    lo, hi = int(counts.min()), int(counts.max())
    return f"{hi} seed{'s' * (hi != 1)}" if lo == hi else f"{lo}-{hi} seeds per pair"


def _pairs(df: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
    for (strategy, pruner), sub in df.groupby(["strategy", "pruner"], sort=True,
                                              observed=True):
        yield str(strategy), str(pruner), sub


def plot_best_so_far(summary: pd.DataFrame, ax: Axes | None = None, *, axis: str = "k",
                     target: float | None = None) -> Axes:
    """Median best-so-far (line) and interquartile range (band) over seeds, per pair.

    Args:
        summary: `summarize_curves` output for one device.
        ax: Axes to draw on (a new Figure's when None).
        axis: The x axis the summary was made on: "k", "elapsed_s" or "epochs_used".
        target: Draw a dotted horizontal line at this accuracy.

    Returns:
        The axes; one line labelled "strategy / pruner (n=seeds)" per pair.
    """
    ax = _axes(ax)
    _draw_curves(ax, summary, axis, target, labelled=True)
    ax.set_xlabel(AXIS_LABELS[axis])
    ax.set_ylabel(f"Best-so-far {ACCURACY}")
    counts = summary.groupby(["strategy", "pruner"], observed=True)["n_seeds"].first()
    device = ", ".join(summary["device"].unique().astype(str))
    ax.set_title(f"{device}: median and IQR over {seed_text(counts)}")
    _legend_outside(ax)
    _zoom_inset(ax, summary, axis, target)
    return ax


def _draw_curves(ax: Axes, summary: pd.DataFrame, axis: str, target: float | None,
                 labelled: bool) -> None:
    """Each pair's median line and IQR band, the target line, and the axes' tick formats;
    legend labels only when `labelled`."""
    for strategy, pruner, sub in _pairs(summary):
        colour = sampler_colour(strategy)
        n = int(sub["n_seeds"].iloc[0])
        ax.plot(sub["x"], sub["median"], color=colour, linestyle=pruner_linestyle(pruner),
                drawstyle="steps-post",
                label=f"{pair_label(strategy, pruner)} (n={n})" if labelled else None)
        ax.fill_between(sub["x"], sub["q25"], sub["q75"], color=colour, alpha=0.15,
                        step="post", linewidth=0)
    if target is not None:
        ax.axhline(target, color="0.4", linestyle=":", linewidth=1,
                   label=f"target {target:.1%}" if labelled else None)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    if axis == "k":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


ZOOM_FROM = 0.2  # the inset shows the x range after this share of it
ZOOM_MAX_SPAN = 0.5  # drawn only when its y range is at most this share of the main one


INSET_BOX = (0.42, 0.07, 0.55, 0.5)  # left, bottom, width, height in axes fractions


def _covers_data(ax: Axes, summary: pd.DataFrame, box: tuple[float, ...]) -> bool:
    """True when a band (a step that lasts until the next x) lies under the box's top edge
    anywhere in its horizontal span, so that the box would hide it."""
    (xl, xr), (yb, yt) = ax.get_xlim(), ax.get_ylim()
    left = xl + box[0] * (xr - xl)
    top = yb + (box[1] + box[3]) * (yt - yb)
    for _, _, sub in _pairs(summary):
        sub = sub.sort_values("x")
        before = sub[sub["x"] < left].tail(1)  # its step reaches into the box
        shown = pd.concat([before, sub[sub["x"] >= left]])
        if len(shown) and float(shown["q25"].min()) < top:
            return True
    return False


def _zoom_inset(ax: Axes, summary: pd.DataFrame, axis: str,
                target: float | None) -> None:
    """Redraw the curves after the first `ZOOM_FROM` of the x range in an inset (lower right)
    with the y axis fitted to their bands there, where the first trials' steep rise would
    otherwise squeeze the end-game differences into a few pixels; nothing when not worth it."""
    if summary.empty:
        return
    lo, hi = float(summary["x"].min()), float(summary["x"].max())
    x0 = lo + ZOOM_FROM * (hi - lo)
    tail = summary[summary["x"] >= x0]
    if tail.empty or hi <= lo:
        return
    y0, y1 = float(tail["q25"].min()), float(tail["q75"].max())
    main_lo, main_hi = ax.get_ylim()
    if not y1 > y0 or (y1 - y0) > ZOOM_MAX_SPAN * (main_hi - main_lo):
        return
    if _covers_data(ax, summary, INSET_BOX):
        return
    inset = ax.inset_axes(INSET_BOX)
    _draw_curves(inset, summary, axis, target, labelled=False)
    pad = 0.05 * (y1 - y0)
    inset.set_xlim(x0, hi)
    inset.set_ylim(y0 - pad, y1 + pad)
    inset.tick_params(labelsize="x-small")
    inset.set_title("zoom", fontsize="x-small", loc="left")


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
    ax.set_title(f"Final best over {seed_text(counts)} (box: quartiles; points: seeds)")
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


SIMULATED = "Simulated "  # prefixed to time axes when wall times were replayed from a table


def make_figures(s: ReportSummaries, simulated: bool = False) -> dict[str, Figure]:
    """Build every report figure.

    Args:
        s: The report's summaries.
        simulated: Wall times were replayed from a table, not measured: time axes say so.

    Returns:
        Figures by file stem, in report order.
    """
    figs: dict[str, Figure] = {}
    for name, axis in (("best_vs_trial", "k"), ("best_vs_time", "elapsed_s"),
                       ("best_vs_epochs", "epochs_used")):
        fig, panels = _per_device(s.curves[axis])
        for _, sub, ax in panels:
            plot_best_so_far(sub, ax, axis=axis, target=s.target)
            if simulated and axis == "elapsed_s":
                ax.set_xlabel(SIMULATED + ax.get_xlabel().lower())
        figs[name] = fig
    n_pairs = s.cells.groupby(["strategy", "pruner", "device"], observed=True).ngroups
    fig = Figure(figsize=(max(6.4, 1.3 * n_pairs), 4.6), layout="constrained")
    plot_final_best(s.cells, fig.add_subplot())
    figs["final_best"] = fig
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
