"""The critical-difference style figure of a Friedman ranking (Demšar 2006's layout).

`cd_layout` computes what to draw (pure); `plot_critical_difference` draws it: the mean rank
of each sampler/pruner pair on a rank axis (1 = best, left), its label joined to its position
by an elbow line (the better half on the left, the rest on the right), and one thick bar
under the axis per group of pairs that cannot be told apart (`reports.ranking`).
"""

from __future__ import annotations

from typing import NamedTuple

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports.fmt import pvalue
from reports.ranking import Ranking
from reports.styles import pair_label, sampler_colour

ROW = 1.0  # vertical step between labels, data units
BAR_GAP = 0.28  # vertical step between group bars


class Label(NamedTuple):
    """One pair's label: its mean rank, the height of its elbow, and which side it sits on."""

    text: str
    strategy: str
    rank: float
    y: float
    left: bool


class Bar(NamedTuple):
    """A group bar from the lowest to the highest mean rank of its members, at height y."""

    low: float
    high: float
    y: float


class Layout(NamedTuple):
    """What the figure draws for one ranking."""

    n_pairs: int
    labels: list[Label]
    bars: list[Bar]
    bottom: float


def cd_layout(r: Ranking) -> Layout:
    """Positions of the labels and group bars of a ranking.

    Args:
        r: A ranking with two or more pairs.

    Returns:
        The layout: labels in rank order, bars in group order, the lowest y used.
    """
    k = len(r.table)
    rank = dict(zip(zip(r.table["strategy"], r.table["pruner"], strict=True),
                    r.table["mean_rank"], strict=True))
    bars = [Bar(min(rank[q] for q in g), max(rank[q] for q in g), -BAR_GAP * (i + 1))
            for i, g in enumerate(r.groups)]
    below = -BAR_GAP * (len(bars) + 1)
    half = (k + 1) // 2
    labels = []
    for i, (q, m) in enumerate(rank.items()):
        step = i if i < half else k - 1 - i
        labels.append(Label(f"{pair_label(*q)} ({m:.2f})", q[0], float(m),
                            below - ROW * step, i < half))
    return Layout(k, labels, bars, min(lab.y for lab in labels) - ROW / 2)


def plot_critical_difference(r: Ranking, ax: Axes | None = None) -> Axes:
    """Draw a ranking as a critical-difference diagram.

    Args:
        r: A ranking with two or more pairs.
        ax: Axes to draw on (a new Figure's when None).

    Returns:
        The axes; the group bars are the lines with gid "group".
    """
    ax = ax if ax is not None else Figure(layout="constrained").add_subplot()
    lay = cd_layout(r)
    lo, hi = 1.0, float(lay.n_pairs)
    left_x, right_x = lo - 0.25, hi + 0.25
    for lab in lay.labels:
        end = left_x if lab.left else right_x
        colour = sampler_colour(lab.strategy)
        ax.plot([lab.rank, lab.rank, end], [0.0, lab.y, lab.y], color=colour, linewidth=1.2)
        ax.plot([lab.rank], [0.0], marker="o", color=colour, markersize=5, zorder=3)
        ax.text(end, lab.y, f" {lab.text} " if lab.left else f" {lab.text}", va="center",
                ha="right" if lab.left else "left", fontsize="small")
    for bar in lay.bars:
        ax.plot([bar.low - 0.03, bar.high + 0.03], [bar.y, bar.y], color="black",
                linewidth=4, solid_capstyle="round", gid="group", zorder=4)
    ax.set_xlim(left_x, right_x)
    ax.set_ylim(lay.bottom, 0.35)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xticks(range(1, lay.n_pairs + 1))
    ax.set_xlabel("Mean rank over seeds (1 = best)")
    ax.set_yticks([])
    for side in ("left", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.spines["top"].set_bounds(lo, hi)
    verdict = ("bars join pairs that cannot be told apart" if r.rejected else
               "the Friedman test cannot tell the pairs apart: one bar joins them all")
    ax.set_title(f"{r.device}: {r.n_seeds} seeds, Friedman {pvalue(r.p)}; {verdict}",
                 fontsize="medium", pad=10)
    return ax


def critical_difference_figure(rankings: list[Ranking]) -> Figure:
    """One critical-difference diagram per device with two or more pairs, stacked.

    Args:
        rankings: The report's rankings.

    Returns:
        The figure.
    """
    shown = [r for r in rankings if len(r.table) > 1 and r.n_seeds > 1]
    heights = [1.6 + 0.32 * ((len(r.table) + 1) // 2 + len(r.groups)) for r in shown]
    fig = Figure(figsize=(9.0, max(sum(heights), 1.0)), layout="constrained")
    axes = fig.subplots(max(len(shown), 1), 1, squeeze=False,
                        gridspec_kw={"height_ratios": heights or [1.0]})[:, 0]
    for r, ax in zip(shown, axes, strict=False):
        plot_critical_difference(r, ax)
    return fig
