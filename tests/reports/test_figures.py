"""The figures drawn from the golden results: checked on the figure objects themselves."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench.results.schema import TRIALS_FILE, read_table
from reports import cd_diagram, figures, loss_figure, styles
from reports.summaries import ReportSummaries, summarize_report

PAIRS = {(s, p) for s in ("random", "tpe", "cmaes") for p in ("none", "median")}


@pytest.fixture(name="summaries", scope="module")
def _summaries() -> ReportSummaries:
    golden = Path(__file__).parent / "golden"
    return summarize_report(read_table(golden, TRIALS_FILE), target=0.97, alpha=0.05)


@pytest.fixture(name="figs", scope="module")
def _figs(summaries: ReportSummaries) -> dict[str, Figure]:
    return figures.make_figures(summaries)


def pair_lines(ax: Axes) -> dict[tuple[str, str], Line2D]:
    """The lines labelled "strategy / pruner ..." by (strategy, pruner)."""
    out = {}
    for line in ax.get_lines():
        label = str(line.get_label())
        if " / " in label:
            strategy, rest = label.split(" / ", 1)
            out[(strategy, rest.split(" ")[0])] = line
    return out


def legend_texts(ax: Axes) -> list[str]:
    """The texts of the axes' legend."""
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def check_styles(lines: dict[tuple[str, str], Line2D]) -> None:
    for (strategy, pruner), line in lines.items():
        assert to_hex(line.get_color()) == styles.sampler_colour(strategy)
        assert line.get_linestyle() == styles.pruner_linestyle(pruner)


def strategy_lines(ax: Axes) -> dict[str, Line2D]:
    """The lines labelled "strategy (n=...)" by strategy."""
    return {str(line.get_label()).split(" ")[0]: line for line in ax.get_lines()
            if "(n=" in str(line.get_label())}


@pytest.mark.parametrize(("name", "xlabel"), [("best_vs_trial", "Trial number"),
                                              ("best_vs_time", "Wall-clock time (s"),
                                              ("best_vs_epochs", "Epochs consumed")])
def test_loss_figures_are_small_multiples_per_pruner(figs: dict[str, Figure], name: str,
                                                     xlabel: str) -> None:
    axes = figs[name].axes
    assert [ax.get_title() for ax in axes] == ["pruner: none", "pruner: median"]
    for ax in axes:
        lines = strategy_lines(ax)
        assert set(lines) == {"random", "tpe", "cmaes"}  # strategies as colours
        for strategy, line in lines.items():
            assert to_hex(line.get_color()) == styles.sampler_colour(strategy)
            assert "(n=5)" in str(line.get_label())
            y = pd.Series(line.get_ydata(), dtype="float64").dropna()  # NaN: no choice yet
            assert len(y) and (y > 0).all()  # log axis: 0 is drawn at the floor
        assert ax.get_yscale() == "log"
        assert len(ax.collections) == 3  # one IQR band each
        assert not ax.child_axes  # the zoom inset is gone
    assert figs[name].get_supxlabel().startswith(xlabel)  # once, under the panels
    assert "Regret of the chosen configuration" in axes[0].get_ylabel()
    assert axes[1].get_ylabel() == ""
    assert "log scale" in axes[0].get_ylabel()
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[1])
    legend = figs[name].legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["cmaes", "random", "tpe"]
    assert "5 seeds" in figs[name].get_suptitle()


def test_the_zoom_inset_is_retired() -> None:
    for module in (figures, loss_figure):
        assert not hasattr(module, "_zoom_inset") and not hasattr(module, "plot_best_so_far")


def test_loss_floor_sits_a_decade_step_below_the_smallest_regret() -> None:
    assert loss_figure.loss_floor([0.0, 0.0025, 0.03, np.nan]) == pytest.approx(1e-3)
    assert loss_figure.loss_floor([0.001]) == pytest.approx(1e-4)  # at least a factor 2 below
    assert loss_figure.loss_floor([0.0, np.nan]) == pytest.approx(1e-4)


def test_regret_panel_draws_the_summary_medians_with_zero_at_the_floor(
        figs: dict[str, Figure], summaries: ReportSummaries) -> None:
    assert summaries.loss == "regret"
    ax = figs["best_vs_trial"].axes[0]  # pruner none
    curve = summaries.curves["k"]
    tpe = curve[(curve["strategy"] == "tpe") & (curve["pruner"] == "none")]
    line = strategy_lines(ax)["tpe"]
    floor = loss_figure.loss_floor(curve[["median", "q25", "q75"]].to_numpy())
    np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float),
                               tpe["median"].clip(lower=floor).to_numpy())
    assert np.asarray(line.get_xdata()).tolist() == list(range(1, 13))
    labels = {round(v, 9): loss_figure._loss_formatter(floor)(v) for v in (floor, 0.01)}
    assert labels == {round(floor, 9): "0", 0.01: "1"}  # the floor tick reads 0, then points


def test_live_runs_plot_test_error_on_a_log_axis(make_results: Callable[..., Path],
                                                 tmp_path: Path) -> None:
    path = make_results(tmp_path, pairs=[("random", "none"), ("tpe", "median")], live=True)
    s = summarize_report(read_table(path, TRIALS_FILE), target=0.97, alpha=0.05)
    assert s.loss == "error"
    figs = figures.make_figures(s)
    ax = figs["best_vs_trial"].axes[0]
    assert ax.get_ylabel().startswith("Test error of the chosen configuration")
    assert "1 - test accuracy" in ax.get_ylabel() and ax.get_yscale() == "log"
    curve = s.curves["k"]
    rnd = curve[curve["strategy"] == "random"]
    np.testing.assert_allclose(np.asarray(strategy_lines(ax)["random"].get_ydata(), float),
                               rnd["median"].to_numpy())  # errors are positive: no clipping
    ticks = [ax.yaxis.get_major_formatter()(v) for v in (0.01, 0.05)]
    assert ticks == ["1", "5"]  # no tick pretends to be 0 when no error is 0


def test_critical_difference_diagram(figs: dict[str, Figure],
                                     summaries: ReportSummaries) -> None:
    (ax,) = figs["critical_difference"].axes
    (r,) = summaries.rankings
    bars = [ln for ln in ax.get_lines() if ln.get_gid() == "group"]
    assert len(bars) == len(r.groups) == 1  # 5 seeds: no paired test can split them
    lo, hi = np.asarray(bars[0].get_xdata(), dtype=float)
    assert lo < r.table["mean_rank"].min() and hi > r.table["mean_rank"].max()
    texts = [t.get_text().strip() for t in ax.texts]
    assert texts[0] == f"tpe / median ({r.table['mean_rank'].iloc[0]:.2f})"
    assert len(texts) == len(PAIRS)
    markers = sorted(float(np.asarray(ln.get_xdata(), dtype=float)[0]) for ln in ax.get_lines()
                     if ln.get_marker() == "o")
    np.testing.assert_allclose(markers, sorted(r.table["mean_rank"]))
    assert ax.get_xlabel() == "Mean rank over seeds (1 = best)"
    assert "5 seeds" in ax.get_title() and "Friedman p" in ax.get_title()


def test_critical_difference_bars_follow_the_groups(
        summaries: ReportSummaries) -> None:
    (r,) = summaries.rankings
    order = list(zip(r.table["strategy"], r.table["pruner"], strict=True))
    split = dataclasses.replace(r, groups=[order[:2], order[1:4]])
    layout = cd_diagram.cd_layout(split)
    ranks = r.table["mean_rank"].to_numpy()
    assert [(b.low, b.high) for b in layout.bars] == [(ranks[0], ranks[1]),
                                                     (ranks[1], ranks[3])]
    assert len({b.y for b in layout.bars}) == 2  # stacked, not on top of each other
    assert [lab.left for lab in layout.labels] == [True] * 3 + [False] * 3
    ax = cd_diagram.plot_critical_difference(split)
    assert len([ln for ln in ax.get_lines() if ln.get_gid() == "group"]) == 2


def test_final_best_boxes_and_points(figs: dict[str, Figure]) -> None:
    (ax,) = figs["final_best"].axes
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert len(ticks) == len(PAIRS) and all("(n=5)" in t for t in ticks)
    points = sum(np.asarray(c.get_offsets()).shape[0] for c in ax.collections)
    assert points == len(PAIRS) * 5  # one point per seed
    assert len(ax.patches) == len(PAIRS)  # one box per pair
    assert ax.get_ylabel() == "Final best validation accuracy (%)"
    assert ax.get_xlabel() == "Sampler / pruner" and "5 seeds" in ax.get_title()


def test_final_best_points_are_the_same_in_every_drawing(summaries: ReportSummaries) -> None:
    def points() -> np.ndarray:
        ax = figures.plot_final_best(summaries.cells)
        return np.concatenate([np.asarray(c.get_offsets()) for c in ax.collections])

    np.random.random(7)  # numpy's global RNG moves between the drawings
    first = points()
    np.random.random(3)
    assert np.array_equal(first, points())
    spread = first[:, 0] - np.rint(first[:, 0])
    assert 0 < np.abs(spread).max() <= 0.15  # jittered around each box


def test_average_rank(figs: dict[str, Figure]) -> None:
    (ax,) = figs["average_rank"].axes
    lines = pair_lines(ax)
    assert set(lines) == PAIRS
    check_styles(lines)
    assert ax.yaxis_inverted() and ax.get_ylabel() == "Average rank (1 = best)"
    assert "5 seeds" in ax.get_title()
    for line in lines.values():
        assert pd.Series(line.get_ydata()).between(1, len(PAIRS)).all()


def test_trial_time_and_pruning(figs: dict[str, Figure]) -> None:
    (ax,) = figs["trial_time"].axes
    assert ax.get_ylabel() == "Wall time per trial (s)"
    assert legend_texts(ax) == ["cpu"]
    assert "360 trials" in ax.get_title()
    (ax,) = figs["pruning"].axes
    lines = pair_lines(ax)
    assert set(lines) == {(s, "median") for s in ("random", "tpe", "cmaes")}
    check_styles(lines)
    assert ax.get_xlabel() == "Epochs completed when pruned" and "%" in ax.get_ylabel()
    assert "5 seeds" in ax.get_title()


def test_cpu_and_gpu_get_a_panel_and_a_box_each(make_results: Callable[..., Path],
                                                tmp_path: Path) -> None:
    path = make_results(tmp_path, devices=("cpu", "cuda"), seeds=3)
    s = summarize_report(read_table(path, TRIALS_FILE), target=0.97, alpha=0.05)
    figs = figures.make_figures(s)
    assert [ax.get_title() for ax in figs["best_vs_time"].axes] == [
        "pruner: none (cpu)", "pruner: none (cuda)"]
    assert [ax.get_title().split(":")[0] for ax in figs["critical_difference"].axes] == [
        "cpu", "cuda"]
    (ax,) = figs["trial_time"].axes
    assert legend_texts(ax) == ["cpu", "cuda"]
    colours = {to_hex(p.get_facecolor()) for p in ax.patches}
    assert {styles.device_colour("cpu"), styles.device_colour("cuda")} <= colours


def test_no_pruning_says_so() -> None:
    empty = pd.DataFrame(columns=["strategy", "pruner", "device", "epochs_at_stop",
                                  "n_pruned", "n_seeds", "share"])
    ax = figures.plot_pruning(empty)
    assert [t.get_text() for t in ax.texts] == ["No trial was pruned"]
    assert ax.get_xlabel() == "Epochs completed when pruned"


def test_plotting_leaves_no_global_state(summaries: ReportSummaries, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = dict(matplotlib.rcParams)
    figs = figures.make_figures(summaries)
    ax = loss_figure.plot_loss(summaries.curves["k"])  # ax=None: a fresh Figure's axes
    assert isinstance(ax, Axes) and ax.figure not in figs.values()
    assert dict(matplotlib.rcParams) == before
    assert plt.get_fignums() == []  # nothing went through pyplot
    assert os.listdir(tmp_path) == []  # nothing written


def test_styles_are_stable_for_unknown_names() -> None:
    assert styles.sampler_colour("tpe") == styles.SAMPLER_COLOURS["tpe"]
    assert styles.sampler_colour("my-sampler") == styles.sampler_colour("my-sampler")
    assert styles.sampler_colour("my-sampler") in styles._FALLBACK_COLOURS
    assert styles.pruner_linestyle("my-pruner") in styles._FALLBACK_LINESTYLES
    assert len(set(map(str, styles.PRUNER_LINESTYLES.values()))) == len(
        styles.PRUNER_LINESTYLES)
    assert styles.device_colour("cuda:1") == styles.DEVICE_COLOURS["cuda"]
    assert styles.describe_pair("tpe", "median") == "TPE with the median pruner"
    assert styles.describe_pair("random", "none") == "random search without pruning"


def test_time_axes_say_simulated_when_wall_times_were_replayed(
        summaries: ReportSummaries, figs: dict[str, Figure]) -> None:
    simulated = figures.make_figures(summaries, simulated=True)
    assert simulated["best_vs_time"].get_supxlabel().startswith("Simulated wall-clock time")
    assert simulated["trial_time"].axes[0].get_ylabel() == "Simulated wall time per trial (s)"
    assert simulated["best_vs_trial"].get_supxlabel() == "Trial number"  # not a time axis
    assert not figs["best_vs_time"].get_supxlabel().startswith("Simulated")
