"""Run one suite in two environments, chunk by chunk, alternating sides.

The plan's cells (seed-major, so a chunk spans every strategy) are cut into `chunks`
contiguous slices; chunk k runs in A then B when k is even, B then A when odd (ABBA), each
as `samplerbench run SUITE -o DIR/<side> --cells START:STOP --no-report` in that side's
environment (`python -P -c ENTRY`). Both sides run the same cells with the same seeds, close
together in time, so drift of the machine's speed hits both alike (and a linear drift cancels over
each ABBA pair). `run` skips finished cells, so a rerun continues where a killed one
stopped; the last chunk exports each side's tables. `compare.json` in DIR records which
environments and suite the folder compares, and a rerun with others is refused.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bench.ab.environments import Environment
from bench.core.errors import BenchError
from bench.core.files import write_json

MANIFEST = "compare.json"
SIDES = ("a", "b")
INTERRUPTED = (130, 143)
STOP_WAIT_S = 60.0  # for an interrupted side to stop cleanly before it is killed
# The console script's entry point (pyproject.toml), called as the `samplerbench` script does.
ENTRY = "import sys; from bench.cli.main import entry_point; sys.argv[0] = 'samplerbench'; " \
        "entry_point()"


@dataclass(frozen=True)
class Side:
    """One side of the comparison: its label ("a" or "b"), environment and results folder."""

    label: str
    env: Environment
    results: Path


def chunk_slices(n_cells: int, chunks: int) -> list[slice]:
    """`chunks` contiguous slices covering cells 0..n_cells-1 as evenly as possible (fewer
    when there are fewer cells)."""
    chunks = max(1, min(chunks, n_cells))
    edges = [round(k * n_cells / chunks) for k in range(chunks + 1)]
    return [slice(lo, hi) for lo, hi in itertools.pairwise(edges) if hi > lo]


def order(k: int, sides: tuple[Side, Side]) -> tuple[Side, Side]:
    """The sides of chunk k: A then B when k is even, B then A when odd (ABBA)."""
    return sides if k % 2 == 0 else (sides[1], sides[0])


def check_folder(out: Path) -> None:
    """Refuse a file, or a folder that holds something other than a comparison."""
    if out.exists() and not out.is_dir():
        raise BenchError(f"{out} is a file; compare writes a folder (choose another -o)")
    if out.is_dir() and not (out / MANIFEST).is_file() and any(out.iterdir()):
        raise BenchError(f"{out} is not empty and holds no {MANIFEST}; compare writes a "
                         "fresh folder or continues its own (choose another -o)")


def check_manifest(out: Path, doc: dict[str, Any]) -> None:
    """Refuse a folder that holds a comparison of other environments or another suite."""
    check_folder(out)
    path = out / MANIFEST
    if not path.is_file():
        return
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BenchError(f"{path} is not a samplerbench comparison; choose another -o") from None
    for key in ("a", "b", "suite"):
        if stored.get(key) != doc[key]:
            raise BenchError(f"{out} holds a comparison of other {key_name(key)} "
                             f"({stored.get(key)} vs {doc[key]}); choose another -o, or "
                             "rerun with the same environments and suite to continue")


def key_name(key: str) -> str:
    """How an error line names a manifest key."""
    return {"a": "environments (A)", "b": "environments (B)", "suite": "suites"}[key]


def write_manifest(out: Path, doc: dict[str, Any]) -> None:
    """Create the folder and record what it compares."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / MANIFEST, doc)


def _tail(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["no output"])[-1]


def run_chunk(side: Side, suite: Path, cells: slice) -> tuple[int, float]:
    """Run one chunk of cells on one side; (exit status 0 or 1, seconds).

    Raises:
        BenchError: the side's `run` refused the suite or died (its last error line).
        KeyboardInterrupt: it was interrupted (rerun compare to continue).
    """
    command = side.env.command("-c", ENTRY, "run", str(suite), "-o",
                               str(side.results), "--cells", f"{cells.start}:{cells.stop}",
                               "--no-report")
    start = time.perf_counter()
    with subprocess.Popen(command, env=side.env.env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as child:
        try:
            stdout, stderr = child.communicate()
        except KeyboardInterrupt:  # let the side's `run` stop cleanly, as on SIGTERM
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                child.kill()
            raise
    seconds = time.perf_counter() - start
    if child.returncode in INTERRUPTED:
        raise KeyboardInterrupt
    crashed = child.returncode == 1 and "FAILED " in stderr  # `run`: cells failed
    if child.returncode != 0 and not crashed:
        raise BenchError(f"environment {side.env.spec!r} failed on cells "
                         f"{cells.start}:{cells.stop} (exit {child.returncode}): "
                         f"{_tail(stderr + stdout)}")
    return child.returncode, seconds


def run_interleaved(sides: tuple[Side, Side], suite: Path, n_cells: int, chunks: int,
                    stream: TextIO | None = None) -> dict[str, float | int]:
    """Run every chunk on both sides, alternating (see the module docstring).

    Returns:
        Per side, `<label>_failed` (chunks in which cells failed) and `<label>_s` (seconds).
    """
    out = stream or sys.stderr
    slices = chunk_slices(n_cells, chunks)
    stats: dict[str, float | int] = {f"{s}_{k}": 0 for s in SIDES for k in ("failed", "s")}
    for k, cells in enumerate(slices):
        for side in order(k, sides):
            status, seconds = run_chunk(side, suite, cells)
            stats[f"{side.label}_failed"] += status
            stats[f"{side.label}_s"] += seconds
            print(f"compare: chunk {k + 1}/{len(slices)} {side.label.upper()} (cells "
                  f"{cells.start}:{cells.stop}) {seconds:.1f} s"
                  f"{', some cells FAILED' if status else ''}", file=out)
    return stats
