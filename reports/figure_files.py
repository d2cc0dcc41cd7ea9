"""Figures -> their PNG and SVG bytes, rendered on up to two forked processes.

Rendering is most of a report's time (a default report's 8 figures take about 4.7 s in two
formats on one core) and the report is written while the other cores idle. A forked child
inherits the figures as they are in memory, so nothing is pickled on the way in, and the
bytes are the ones rendering in this process would give (`tests/reports/test_figure_files.py`
compares them). Where forking is unavailable (macOS and Windows default to spawn) or only one
core is free, the figures render here, one after another.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import matplotlib
from matplotlib.figure import Figure

FORMATS = ("png", "svg")
RENDER_PROCESSES = 2  # more buys little: 3 of a default report's 8 figures take half its time

_FIGURES: dict[str, Figure] = {}  # what forked children render, set before they are forked


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """A figure's PNG or SVG bytes, the same bytes for the same figure."""
    buf = io.BytesIO()
    meta: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
    # SVG element ids are random unless salted: a fixed salt makes the same results give the
    # same file (the context restores the global setting).
    with matplotlib.rc_context({"svg.hashsalt": "samplerbench"}):
        fig.savefig(buf, format=fmt, dpi=110, metadata=meta)
    return buf.getvalue()


def _render(name: str) -> tuple[bytes, ...]:
    """One figure in every format, in FORMATS order and in one process: a figure's layout
    starts from where its previous draw left it, so its SVG after its PNG differs in the last
    digits from an SVG drawn first."""
    fig = _FIGURES[name]
    return tuple(figure_bytes(fig, fmt) for fmt in FORMATS)


def _processes(jobs: int) -> int:
    """Render processes worth forking: none off Linux (fork is unsafe on macOS, absent on
    Windows), else one per free core up to RENDER_PROCESSES."""
    if not sys.platform.startswith("linux"):
        return 1
    return max(1, min(RENDER_PROCESSES, len(os.sched_getaffinity(0)), jobs))


def render_figures(figures: dict[str, Figure], processes: int | None = None
                   ) -> dict[str, bytes]:
    """Every figure in every format, as `{"figures/NAME.FMT": bytes}` in figure order.

    Args:
        figures: Figures by file stem.
        processes: How many processes render (default: up to RENDER_PROCESSES, one per free
            core, forked; 1 renders here).
    """
    names = list(figures)
    n = _processes(len(names)) if processes is None else processes
    _FIGURES.update(figures)
    try:
        if n <= 1:
            rendered = [_render(name) for name in names]
        else:
            with ProcessPoolExecutor(n, mp_context=mp.get_context("fork")) as pool:
                rendered = list(pool.map(_render, names))
    finally:
        _FIGURES.clear()
    return {f"figures/{name}.{fmt}": data for name, formats in zip(names, rendered, strict=True)
            for fmt, data in zip(FORMATS, formats, strict=True)}
