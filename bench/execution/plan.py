"""The cells a suite runs on this machine: the spec's cells with `auto` resolved here."""

from __future__ import annotations

from bench.spec.cells import Cell, suite_cells
from bench.spec.suite import Suite


def machine_cells(suite: Suite) -> list[Cell]:
    """`suite_cells`, with the device `auto` stands for on this machine (torch is imported
    only then)."""
    if "auto" not in suite.devices:
        return suite_cells(suite)
    from bench.training.devices import resolve_device

    auto = resolve_device("auto").type
    return suite_cells(suite, auto)
