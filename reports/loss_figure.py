"""The regret (or error) curves: `plot_loss` draws one panel, `loss_figure` the small
multiples, a row per device and a column per pruner with the samplers as colours.

Replay runs plot regret, the table's best reachable true accuracy minus the true accuracy of
the configuration the study would hand a user; live runs know no optimum and plot that
configuration's test error, 1 - test accuracy. Both on a log y axis whose floor (a power of ten
at least a factor of two below the smallest positive value) stands for 0 and is labelled so
when some value is 0.
Nothing here writes files or changes global style.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from reports.styles import sampler_colour

AXIS_LABELS: dict[str, str] = {
    "k": "Trial number",
    "elapsed_s": "Wall-clock time (s, cumulative trial durations)",
    "epochs_used": "Epochs consumed (cumulative)",
}
SIMULATED = "Simulated "  # prefixed to time axes when wall times were replayed from a table


def seed_text(counts: pd.Series) -> str:
    """'5 seeds' when every pair has the same count, else '3-5 seeds per pair'.

    Args:
        counts: Seed counts, one per pair.

    Returns:
        The phrase.
    """
    lo, hi = int(counts.min()), int(counts.max())
    return f"{hi} seed{'s' * (hi != 1)}" if lo == hi else f"{lo}-{hi} seeds per pair"


LOSS_LABELS: dict[str, str] = {
    "regret": "Regret of the chosen configuration\n(accuracy points below the optimum, log scale)",
    "error": "Test error of the chosen configuration\n(1 - test accuracy, %, log scale)",
}


def loss_floor(values: npt.ArrayLike) -> float:
    """The bottom of a log axis of regret or error: a power of ten at least a factor of two
    below the smallest positive value, where values of exactly 0 are drawn.

    Args:
        values: The values the axis shows (NaN and values <= 0 ignored).

    Returns:
        The floor; 1e-4 when no value is positive.
    """
    v = np.asarray(values, dtype=np.float64)
    pos = v[np.isfinite(v) & (v > 0)]
    return 1e-4 if pos.size == 0 else float(10.0 ** np.floor(np.log10(pos.min() / 2.0)))


def has_zero(values: npt.ArrayLike) -> bool:
    """Whether any value is exactly 0 (or below), i.e. must be drawn at the floor."""
    v = np.asarray(values, dtype=np.float64)
    return bool((v[np.isfinite(v)] <= 0).any())


def _loss_formatter(floor: float | None) -> FuncFormatter:
    """Ticks in percent (points), the floor (where zeros are drawn) labelled 0."""
    def fmt(v: float, _pos: int | None = None) -> str:
        if floor is not None and math.isclose(v, floor, rel_tol=1e-6):
            return "0"
        return f"{100 * v:g}"
    return FuncFormatter(fmt)


def plot_loss(summary: pd.DataFrame, ax: Axes | None = None, *, axis: str = "k",
              loss: str = "regret", floor: float | None = None,
              zero: bool | None = None) -> Axes:
    """Median (line) and IQR (band) of regret or error over seeds, one line per strategy, on
    a log y axis; meant for one device and one pruner (a panel of a small-multiples figure).

    Args:
        summary: `summarize_curves` output (y = `loss`) for one device and one pruner.
        ax: Axes to draw on (a new Figure's when None).
        axis: The x axis the summary was made on: "k", "elapsed_s" or "epochs_used".
        loss: "regret" (replay) or "error" (live); sets the y label.
        floor: Bottom of the log axis, where values of 0 are drawn (default `loss_floor`).
        zero: Whether some value is 0 (default: whether one in `summary` is); only then is
            the axis cut at the floor and the floor labelled 0.

    Returns:
        The axes; one line labelled "strategy (n=seeds)" per strategy.
    """
    ax = ax if ax is not None else Figure(layout="constrained").add_subplot()
    values = summary[["median", "q25", "q75"]].to_numpy()
    low = loss_floor(values) if floor is None else floor
    zero = has_zero(values) if zero is None else zero
    for (strategy, _), sub in summary.groupby(["strategy", "pruner"], sort=True,
                                              observed=True):
        colour = sampler_colour(str(strategy))
        n = int(sub["n_seeds"].iloc[0])
        ax.plot(sub["x"], sub["median"].clip(lower=low), color=colour,
                drawstyle="steps-post", label=f"{strategy} (n={n})")
        ax.fill_between(sub["x"], sub["q25"].clip(lower=low), sub["q75"].clip(lower=low),
                        color=colour, alpha=0.15, step="post", linewidth=0)
    ax.set_yscale("log")
    if zero:
        ax.set_ylim(bottom=low / 1.5)
    ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(_loss_formatter(low if zero else None))
    ax.set_xlabel(AXIS_LABELS[axis])
    ax.set_ylabel(LOSS_LABELS[loss])
    if axis == "k":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return ax


def loss_figure(summary: pd.DataFrame, axis: str, loss: str,
                simulated: bool = False) -> Figure:
    """Small multiples of `plot_loss`: a row per device, a column per pruner, one shared log
    y axis, and one legend of the strategies' colours.

    Args:
        summary: `summarize_curves` output (y = `loss`), every device and pruner.
        axis: The x axis: "k", "elapsed_s" or "epochs_used".
        loss: "regret" or "error".
        simulated: Wall times were replayed: the time axis says so.

    Returns:
        The figure.
    """
    devices = sorted(summary["device"].unique().astype(str))
    pruners = sorted(summary["pruner"].unique().astype(str), key=lambda p: (p != "none", p))
    fig = Figure(figsize=(1.0 + 3.6 * len(pruners), 0.6 + 3.2 * len(devices)),
                 layout="constrained")
    grid = fig.subplots(len(devices), len(pruners), squeeze=False, sharex=True, sharey=True)
    values = summary[["median", "q25", "q75"]].to_numpy()
    floor, zero = loss_floor(values), has_zero(values)
    for row, device in enumerate(devices):
        for col, pruner in enumerate(pruners):
            ax = grid[row][col]
            sub = summary[(summary["device"] == device) & (summary["pruner"] == pruner)]
            plot_loss(sub, ax, axis=axis, loss=loss, floor=floor, zero=zero)
            ax.set_title(f"pruner: {pruner}" + (f" ({device})" if len(devices) > 1 else ""),
                         fontsize="medium")
            ax.set_xlabel("")  # one label for the row of panels, below them
            if col:
                ax.set_ylabel("")
    label = AXIS_LABELS[axis]
    fig.supxlabel(SIMULATED + label.lower() if simulated and axis == "elapsed_s" else label,
                  fontsize="medium")
    counts = summary.groupby(["strategy", "pruner", "device"], observed=True)["n_seeds"].first()
    fig.suptitle(f"Median and IQR over {seed_text(counts)}", fontsize="medium")
    strategies = sorted(summary["strategy"].unique().astype(str))
    fig.legend(handles=[Line2D([], [], color=sampler_colour(x), label=x) for x in strategies],
               loc="outside right upper", frameon=False, fontsize="small", title="sampler")
    return fig
