"""The figures drawn from the golden results: checked on the figure objects themselves."""

from __future__ import annotations

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
from reports import figures, styles
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


@pytest.mark.parametrize(("name", "xlabel"), [("best_vs_trial", "Trial number"),
                                              ("best_vs_time", "Wall-clock time (s"),
                                              ("best_vs_epochs", "Epochs consumed")])
def test_best_so_far_figures(figs: dict[str, Figure], name: str, xlabel: str) -> None:
    (ax,) = figs[name].axes
    lines = pair_lines(ax)
    assert set(lines) == PAIRS  # one line per strategy/pruner pair
    check_styles(lines)
    assert all("(n=5)" in str(line.get_label()) for line in lines.values())
    assert ax.get_xlabel().startswith(xlabel)
    assert "Best-so-far validation accuracy (%)" in ax.get_ylabel()
    assert "5 seeds" in ax.get_title() and "IQR" in ax.get_title()
    assert len(ax.collections) == len(PAIRS)  # one IQR band each
    assert any("target 97.0%" in str(line.get_label()) for line in ax.get_lines())
    for line in lines.values():
        y = pd.Series(line.get_ydata(), dtype="float64").dropna()
        assert y.is_monotonic_increasing and y.between(0, 1).all()


def _steep_then_flat(strategy: str, rise: float) -> pd.DataFrame:
    """A curve summary that jumps from 85% to about 97% at trial 2, then creeps up."""
    x = np.arange(1, 51, dtype=float)
    median = np.where(x < 2, 0.85, 0.969 + rise * x / 50)
    return pd.DataFrame({"strategy": strategy, "pruner": "none", "device": "cpu", "x": x,
                         "median": median, "q25": median - 0.001, "q75": median + 0.001,
                         "n_seeds": 5})


def test_an_inset_zooms_on_the_curves_after_their_first_rise(
        figs: dict[str, Figure]) -> None:
    summary = pd.concat([_steep_then_flat("random", 0.001), _steep_then_flat("tpe", 0.003)])
    ax = figures.plot_best_so_far(summary, target=0.97)
    (inset,) = ax.child_axes
    lo, hi = inset.get_ylim()
    assert 0.967 < lo < 0.969 and 0.972 < hi < 0.974  # the bands after trial 10.8, padded
    assert inset.get_xlim() == pytest.approx((1 + 0.2 * 49, 50))
    assert len([ln for ln in inset.get_lines() if ln.get_drawstyle() == "steps-post"]) == 2
    main_lo, main_hi = ax.get_ylim()
    assert main_lo < 0.85 < 0.97 < main_hi  # the main axes still show every value
    # Curves that spread over the whole range (the golden fixture) need no inset.
    assert not figs["best_vs_trial"].axes[0].child_axes
    # Nor is one drawn where it would hide a curve: here the late curve sits low on the axes
    # (an early seed's wide band stretched them upwards).
    low = _steep_then_flat("random", 0.001).assign(median=lambda d: d["median"] - 0.1)
    low.loc[0, "q75"] = 0.99
    low = low.assign(q25=lambda d: d["median"] - 0.001)
    assert not figures.plot_best_so_far(low).child_axes


def test_best_vs_trial_draws_the_summary_medians(figs: dict[str, Figure],
                                                 summaries: ReportSummaries) -> None:
    (ax,) = figs["best_vs_trial"].axes
    curve = summaries.curves["k"]
    tpe = curve[(curve["strategy"] == "tpe") & (curve["pruner"] == "none")]
    line = pair_lines(ax)[("tpe", "none")]
    pd.testing.assert_series_equal(pd.Series(line.get_ydata(), dtype="float64"),
                                   tpe["median"].reset_index(drop=True), check_names=False)
    assert np.asarray(line.get_xdata()).tolist() == list(range(1, 13))


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
    assert [ax.get_title().split(":")[0] for ax in figs["best_vs_time"].axes] == ["cpu", "cuda"]
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
    ax = figures.plot_best_so_far(summaries.curves["k"])  # ax=None: a fresh Figure's axes
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
    assert simulated["best_vs_time"].axes[0].get_xlabel().startswith("Simulated wall-clock time")
    assert simulated["trial_time"].axes[0].get_ylabel() == "Simulated wall time per trial (s)"
    assert simulated["best_vs_trial"].axes[0].get_xlabel() == "Trial number"  # not a time axis
    assert not figs["best_vs_time"].axes[0].get_xlabel().startswith("Simulated")
