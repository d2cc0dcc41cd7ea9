"""A script `compare` runs inside each environment (`python -P -c SOURCE SUITE`, through
`bench.ab.probe`): print one JSON line describing it. Importing it runs nothing.

Only the standard library is imported at the top, so that an environment without Optuna or
samplerbench still answers, naming what failed ({"error": ..., "what": ...}); the fields on
success are listed in `bench.ab.probe.Probe`. samplerbench is imported through APIs older
than `compare`, so an older checkout answers too (`has_cells` says whether its `run` takes
`--cells`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
from pathlib import Path
from typing import Any


def _fail(what: str, err: BaseException) -> None:
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    print(json.dumps({"error": f"{type(err).__name__}: {message}" if what != "suite"
                      else message, "what": what}))
    sys.exit(3)


def _has_cells_option() -> bool:
    # The environment's own `run` (maybe another samplerbench version), looked up by name.
    run_command = importlib.import_module("bench.cli.commands.run")
    parser = argparse.ArgumentParser()
    run_command.add_arguments(parser)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            parser.parse_args(["--cells", "0:1"])
    except SystemExit:
        return False
    return True


def describe(suite_ref: str) -> dict[str, Any]:
    """What the parent compares: versions, where they import from, the suite's fingerprint."""
    try:
        import optuna
    except BaseException as err:  # a broken Optuna can raise anything while importing
        _fail("optuna", err)
    try:
        import bench
        from bench.spec.cells import suite_cells
        from bench.spec.suite import load_suite
    except BaseException as err:
        _fail("samplerbench", err)
    try:
        suite = load_suite(suite_ref)
        if "auto" in suite.devices:  # what `auto` means here (imports torch)
            from bench.execution.plan import machine_cells

            cells = machine_cells(suite)
        else:
            cells = suite_cells(suite)
        checksum = None
        if suite.objective.kind == "mnist-table":
            from bench.objectives.table import load_curves, shipped_table_path

            table = Path(suite.objective.table) if suite.objective.table else shipped_table_path()
            checksum = load_curves(table).checksum
    except Exception as err:
        _fail("suite", err)
    return {"python": sys.executable, "python_version": sys.version.split()[0],
            "optuna": optuna.__version__, "optuna_file": optuna.__file__,
            "samplerbench_file": bench.__file__, "has_cells": _has_cells_option(),
            "suite": {"name": suite.name, "trials": suite.trials, "hash": suite.hash(),
                      "cells": [c.name for c in cells]},
            "table": checksum}


if __name__ == "__main__":
    print(json.dumps(describe(sys.argv[1])))
