"""What to run, validated before anything runs, without torch: suite files, the objective
spec and training settings, and the cells (one Optuna study each) a suite expands to."""

from bench.spec.cells import Cell, suite_cells
from bench.spec.objective import ObjectiveSpec, TrainSettings
from bench.spec.suite import Strategy, Suite, load_suite, parse_suite

__all__ = ["Cell", "ObjectiveSpec", "Strategy", "Suite", "TrainSettings", "load_suite",
           "parse_suite", "suite_cells"]
