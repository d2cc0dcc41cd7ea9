"""The regression gate in one place: per-seed metrics and the statistical comparison
(`compare`), the baseline file (`baseline`) and the verdict with its text and Markdown
(`verdict`)."""

from reports.gate.baseline import Baseline, IncomparableError, make_baseline, read_baseline
from reports.gate.compare import GateSettings, compare, regressed, seed_metrics
from reports.gate.verdict import gate

__all__ = ["Baseline", "GateSettings", "IncomparableError", "compare", "gate", "make_baseline",
           "read_baseline", "regressed", "seed_metrics"]
