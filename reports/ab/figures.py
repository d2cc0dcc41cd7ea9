"""Figures of an A/B comparison: `Figure` objects only (no pyplot state, no files).

`metric_scatter`: per pair, each seed's true_final (or true_area) in A (x) against B (y),
with the diagonal (below it: B worse at that seed). `time_ratio_bars`: per pair, the
sampler's time per trial in B over A, with its interval, against a line at 1.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports.curves import PAIR_KEYS
from reports.styles import pair_label, sampler_colour

VERDICT_COLOURS = {"worse": "#c0392b", "better": "#1e8449", "equivalent": "#5d6d7e",
                   "inconclusive": "#b9770e"}


METRIC_LABELS = {"true_final": "true final", "true_area": "true area"}


def metric_scatter(both: pd.DataFrame, pairs: pd.DataFrame, metric: str = "true_final",
                   a_name: str = "A", b_name: str = "B") -> Figure:
    """Per pair, per seed: `metric` of A (x) against B (y) in percent, diagonal drawn;
    each panel's title carries the pair's verdict.

    Args:
        both: `reports.ab.verdicts.paired_seeds` of the two sides.
        pairs: `pair_verdicts` (titles).
        metric: "true_final" or "true_area".
        a_name: How the x axis names side A.
        b_name: How the y axis names side B.
    """
    keys = [tuple(k) for k in both[PAIR_KEYS].drop_duplicates().sort_values(PAIR_KEYS)
            .itertuples(index=False, name=None)]
    cols = min(len(keys), 3) or 1
    rows = max(1, math.ceil(len(keys) / cols))
    fig = Figure(figsize=(3.6 * cols, 3.4 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    verdict = {tuple(r[:3]): r[3] for r in pairs.itertuples(index=False, name=None)}
    for ax, key in zip(axes, keys, strict=False):
        sub = both[(both[PAIR_KEYS] == pd.Series(key, index=PAIR_KEYS)).all(axis=1)]
        x = 100 * sub[f"{metric}_a"].to_numpy(dtype=np.float64)
        y = 100 * sub[f"{metric}_b"].to_numpy(dtype=np.float64)
        ax.scatter(x, y, s=14, alpha=0.7, color=sampler_colour(str(key[0])), linewidths=0)
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        pad = max(hi - lo, 0.01) * 0.05
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="#888888", lw=0.8, ls="--")
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        v = verdict.get(key, "")
        ax.set_title(f"{pair_label(str(key[0]), str(key[1]))}: {v}", fontsize="medium",
                     color=VERDICT_COLOURS.get(v, "black"))
        label = METRIC_LABELS.get(metric, metric)
        ax.set_xlabel(f"{a_name} {label} (%)", fontsize="small")
        ax.set_ylabel(f"{b_name} {label} (%)", fontsize="small")
        ax.tick_params(labelsize="x-small")
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    return fig


def time_ratio_bars(times: pd.DataFrame, level: float = 0.95) -> Figure:
    """Per pair, the sampler's time per trial B / A with its `level` interval (a line at 1)."""
    fig = Figure(figsize=(6.4, 0.5 * max(len(times), 2) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    labels = [pair_label(s, p) + (f" [{d}]" if times["device"].nunique() > 1 else "")
              for s, p, d in zip(times["strategy"], times["pruner"], times["device"],
                                 strict=True)]
    ratio = times["ratio"].to_numpy(dtype=np.float64)
    low = np.nan_to_num(ratio - times["ratio_low"].to_numpy(dtype=np.float64))
    high = np.nan_to_num(times["ratio_high"].to_numpy(dtype=np.float64) - ratio)
    ypos = np.arange(len(times))
    ax.barh(ypos, ratio, color=[sampler_colour(s) for s in times["strategy"]], alpha=0.8,
            xerr=np.vstack([low, high]), capsize=3)
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_yticks(ypos, labels, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(f"sampler time per trial, B / A ({100 * level:g}% bootstrap interval)")
    return fig
