"""A suite that sweeps K (`trials_in_parallel = [1, 4, ...]`): how each strategy degrades as
K workers run at once.

Its cells carry strategy labels `<strategy>-k<K>` (`bench.spec.cells.swept`). From the
report's summaries this module draws
    - `parallel_regret_vs_time`: the median (IQR band) over seeds of the regret (replay; live:
      the error) of the configuration each study would hand a user, against wall-clock time,
      simulated for replay; a panel per strategy and pruner, a line per K;
    - `parallel_speedup`: each strategy's speed-up to the target against K: ERT in seconds
      (`reports.summaries`, COCO's expected running time) at the sweep's smallest K divided by
      its ERT at K, beside the ideal K / K_min.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

from reports import fmt
from reports.loss_figure import LOSS_LABELS, SIMULATED, loss_floor
from reports.render import Block
from reports.styles import pruner_linestyle, sampler_colour

SWEPT = re.compile(r"(?P<base>.+)-k(?P<k>[1-9][0-9]*)")


def sweep_labels(strategies: Iterable[str]) -> dict[str, tuple[str, int]] | None:
    """Each strategy label's (strategy, K) when the labels are a K sweep (every one ends in
    `-k<K>`, with at least two K), else None."""
    out: dict[str, tuple[str, int]] = {}
    for label in strategies:
        m = SWEPT.fullmatch(str(label))
        if m is None:
            return None
        out[str(label)] = (m["base"], int(m["k"]))
    return out if len({k for _, k in out.values()}) > 1 else None


def _split(frame: pd.DataFrame, labels: dict[str, tuple[str, int]]) -> pd.DataFrame:
    """`frame` with its strategy label split into `strategy` and `k`."""
    base = frame["strategy"].astype(str).map(lambda s: labels[s][0])
    k = frame["strategy"].astype(str).map(lambda s: labels[s][1]).astype("int64")
    return frame.assign(strategy=base, k=k)


def speedup_table(pairs: pd.DataFrame, labels: dict[str, tuple[str, int]]) -> pd.DataFrame:
    """Speed-up to target per strategy, pruner, device and K.

    Args:
        pairs: `summarize_pairs` output (its `ert_s`, ERT in seconds to the target).
        labels: `sweep_labels` of its strategies.

    Returns:
        Columns strategy, pruner, device, k, ert_s, speedup (ERT at the smallest K over ERT
        at K: NaN when neither reached the target, inf when only the smallest K never did),
        ideal (K / smallest K), and regret_final_median (the median over seeds of the final
        regret: what K workers cost in quality for the same number of trials).
    """
    t = _split(pairs[["strategy", "pruner", "device", "ert_s", "regret_final_median"]],
               labels)
    t = t.sort_values(["strategy", "pruner", "device", "k"]).reset_index(drop=True)
    first = t.groupby(["strategy", "pruner", "device"], sort=False)
    base_ert = first["ert_s"].transform("first").to_numpy(dtype=float)
    ert = t["ert_s"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(np.isinf(base_ert) & np.isinf(ert), np.nan, base_ert / ert)
    t["speedup"] = speed
    t["ideal"] = t["k"] / first["k"].transform("first")
    return t[["strategy", "pruner", "device", "k", "ert_s", "speedup", "ideal",
              "regret_final_median"]]


def _k_colours(ks: list[int]) -> dict[int, tuple[float, float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return {k: cmap(0.85 * i / max(len(ks) - 1, 1)) for i, k in enumerate(ks)}


def regret_vs_time_figure(curves: pd.DataFrame, labels: dict[str, tuple[str, int]],
                          loss: str, simulated: bool) -> Figure:
    """Panels per strategy (rows) and pruner (columns), one line per K.

    Args:
        curves: `summarize_curves` on "elapsed_s" of `loss` (one device is drawn: the first).
        labels: `sweep_labels` of its strategies.
        loss: "regret" or "error".
        simulated: Wall times were replayed from a table.
    """
    c = _split(curves, labels)
    c = c[c["device"] == sorted(c["device"].unique())[0]]
    strategies = sorted(c["strategy"].unique())
    pruners = sorted(c["pruner"].unique(), key=lambda p: (p != "none", p))
    ks = sorted(c["k"].unique())
    colours = _k_colours(ks)
    fig = Figure(figsize=(1.6 + 3.6 * len(pruners), 0.8 + 3.0 * len(strategies)),
                 layout="constrained")
    grid = fig.subplots(len(strategies), len(pruners), squeeze=False, sharex=True, sharey=True)
    floor = loss_floor(c[["median", "q25", "q75"]].to_numpy())
    for row, strategy in enumerate(strategies):
        for col, pruner in enumerate(pruners):
            ax = grid[row][col]
            for k in ks:
                sub = c[(c["strategy"] == strategy) & (c["pruner"] == pruner) & (c["k"] == k)]
                if sub.empty:
                    continue
                ax.plot(sub["x"], sub["median"].clip(lower=floor), color=colours[k],
                        drawstyle="steps-post", label=f"K = {k}")
                ax.fill_between(sub["x"], sub["q25"].clip(lower=floor),
                                sub["q75"].clip(lower=floor), color=colours[k], alpha=0.12,
                                step="post", linewidth=0)
            ax.set_yscale("log")
            ax.set_xscale("log")
            ax.set_title(f"{strategy}, pruner: {pruner}", fontsize="medium")
    clock = "Wall-clock time (s, the cell's clock, log scale)"
    fig.supxlabel(SIMULATED + clock.lower() if simulated else clock, fontsize="medium")
    fig.supylabel(LOSS_LABELS[loss], fontsize="medium")
    fig.suptitle("Median and IQR over seeds, by the number of workers K", fontsize="medium")
    handles, names = grid[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right upper", frameon=False, fontsize="small",
               title="workers")
    return fig


def speedup_figure(table: pd.DataFrame) -> Figure:
    """Speed-up to target against K, a line per strategy (colour) and pruner (style), one
    panel per device, with the ideal K / K_min dotted."""
    devices = sorted(table["device"].unique())
    fig = Figure(figsize=(1.8 + 4.6 * len(devices), 4.2), layout="constrained")
    axes = fig.subplots(1, len(devices), squeeze=False)[0]
    ks = sorted(table["k"].unique())
    for ax, device in zip(axes, devices, strict=True):
        sub = table[table["device"] == device]
        ideal = sub.drop_duplicates("k").sort_values("k")
        ax.plot(ideal["k"], ideal["ideal"], color="black", linestyle=":", label="ideal")
        for (strategy, pruner), g in sub.groupby(["strategy", "pruner"], sort=True):
            ax.plot(g["k"], g["speedup"], marker="o", color=sampler_colour(str(strategy)),
                    linestyle=pruner_linestyle(str(pruner)), label=f"{strategy}, {pruner}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(ks))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel("Workers K")
        ax.set_ylabel(f"Speed-up to target (ERT at K = {ks[0]} / ERT at K)")
        ax.set_title(str(device), fontsize="medium")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right upper", frameon=False, fontsize="small")
    return fig


def parallel_blocks(table: pd.DataFrame, target: float) -> list[Block]:
    """The report's section on the K sweep: what the speed-up table shows, the table, and
    the two figures."""
    ks = sorted(table["k"].unique())
    top = table[table["k"] == ks[-1]].dropna(subset=["speedup"])
    lines = [f"{r.strategy} with pruner {r.pruner}: {fmt.speedup(r.speedup)} at K = {r.k} "
             f"(ideal {fmt.speedup(r.ideal)})" for r in top.itertuples()]
    reading = (f"Speed-up to the target of {target:.1%}: the expected running time in "
               f"seconds at K = {ks[0]} divided by that at K; K workers can at best make it "
               f"K / {ks[0]}. " + ("At the largest K: " + "; ".join(lines) + "." if lines else
                                   f"No strategy reached the target at K = {ks[-1]}.") +
               " Final regret: the median over seeds, after the same number of trials at "
               "every K, so a rise with K is what asking without the running trials' results "
               "costs (replay only; live runs know no optimum).")
    shown = table.assign(ert_s=table["ert_s"].map(fmt.secs),
                         speedup=table["speedup"].map(fmt.speedup),
                         ideal=table["ideal"].map(fmt.speedup),
                         regret_final_median=table["regret_final_median"].map(fmt.points))
    shown.columns = ["Sampler", "Pruner", "Device", "K", "ERT (s)", "Speed-up", "Ideal",
                     "Final regret"]
    return [("h", (2, "Parallel workers")), ("p", reading), ("table", shown),
            ("img", ("parallel_regret_vs_time", "Regret of the chosen configuration against "
                     "wall-clock time, a line per number of workers K.")),
            ("img", ("parallel_speedup", "Speed-up to the target against K; dotted: ideal."))]
