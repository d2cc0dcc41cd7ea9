"""Figures rendered on forked processes give the bytes of rendering in one process."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.results.schema import TRIALS_FILE, read_table
from reports import figure_files, figures
from reports.summaries import summarize_report


def _golden_figures() -> dict:
    golden = Path(__file__).parent / "golden"
    s = summarize_report(read_table(golden, TRIALS_FILE), target=0.97, alpha=0.05)
    return figures.make_figures(s)


def test_forked_rendering_gives_the_bytes_of_serial_rendering() -> None:
    serial = figure_files.render_figures(_golden_figures(), processes=1)
    forked = figure_files.render_figures(_golden_figures(), processes=2)
    assert list(forked) == list(serial)  # figure order, PNG then SVG
    assert len(serial) == 2 * len(_golden_figures())
    different = [name for name in serial if forked[name] != serial[name]]
    assert different == []
    assert figure_files._FIGURES == {}  # nothing kept for a later fork


def test_a_figures_svg_follows_its_png_in_the_same_process() -> None:
    """An SVG drawn on a fresh figure differs from one drawn after the PNG (the layout starts
    from the last draw), so each figure renders both formats, in order, in one process."""
    fresh_svg = figure_files.figure_bytes(_golden_figures()["best_vs_trial"], "svg")
    fig = _golden_figures()["best_vs_trial"]
    png = figure_files.figure_bytes(fig, "png")
    svg_after_png = figure_files.figure_bytes(fig, "svg")
    assert svg_after_png != fresh_svg
    rendered = figure_files.render_figures({"f": _golden_figures()["best_vs_trial"]},
                                           processes=2)
    assert rendered == {"figures/f.png": png, "figures/f.svg": svg_after_png}


@pytest.mark.parametrize(("platform", "cores", "expected"),
                         [("darwin", 8, 1), ("win32", 8, 1), ("linux", 1, 1), ("linux", 2, 2),
                          ("linux", 16, 2)])
def test_forks_only_on_linux_and_only_onto_free_cores(
        monkeypatch: pytest.MonkeyPatch, platform: str, cores: int, expected: int) -> None:
    monkeypatch.setattr(figure_files.sys, "platform", platform)
    monkeypatch.setattr(figure_files.os, "sched_getaffinity", lambda _pid: set(range(cores)),
                        raising=False)
    assert figure_files._processes(8) == expected
    assert figure_files._processes(1) == 1
