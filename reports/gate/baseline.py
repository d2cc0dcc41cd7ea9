"""The regression gate's baseline file (JSON): build, write, read, validate, compare identity.

A baseline holds, per strategy x pruner x device, the per-seed final best, curve area and
time-to-target of one run, with what makes two runs comparable (the suite's settings, the
search space, the replayed table's checksum) and the provenance of the run (suite hash,
versions, machine). Two runs are comparable when their suite name, objective settings
(without the table's path), trial budget, devices and trials in parallel, their search space
and their table checksum agree; strategies' options and seeds may differ, since that is what
a gate compares (pairs are matched by label).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.core.diffs import first_difference, value_at
from bench.core.errors import BenchError
from bench.core.files import write_json
from bench.core.spaces import get_space

BASELINE_SCHEMA_VERSION = 1
BASELINE_KIND = "samplerbench-baseline"
SEED_FIELDS = ("final_best", "area", "time_to_target_s", "trials_to_target")
_SUITE_IDENTITY = ("name", "objective", "trials", "devices", "trials_in_parallel")


class IncomparableError(BenchError):
    """The results and the baseline measure different things (exit status 2)."""


def space_of(suite: dict[str, Any]) -> list[dict[str, Any]]:
    """The search space's description from a suite's JSON form (run.json's `suite`)."""
    objective = suite["objective"]
    if "space_definition" in objective:
        return list(objective["space_definition"])
    return get_space(str(objective["space"])).describe()


def identity(suite: dict[str, Any], table: dict[str, Any] | None,
             space: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What must agree for two runs to be compared.

    Args:
        suite: The suite's JSON form (`Suite.to_dict()`, run.json's `suite`).
        table: The replayed table's provenance (`path`, `checksum`, ...), None for live runs.
        space: The search space's description as recorded (default: described from `suite`
            by the current code).
    """
    objective = {k: v for k, v in suite["objective"].items() if k != "table"}
    return {
        "suite": {"name": suite["name"], "objective": objective, "trials": suite["trials"],
                  "devices": list(suite.get("devices", ["cpu"])),
                  "trials_in_parallel": suite.get("trials_in_parallel", 1)},
        "space": space_of(suite) if space is None else space,
        "table": None if table is None else table.get("checksum"),
    }


def _json_number(x: Any) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def make_baseline(info: dict[str, Any], seeds: pd.DataFrame, *, target: float,
                  source: str, created: str) -> dict[str, Any]:
    """The baseline document of a run.

    Args:
        info: The run's run.json.
        seeds: Its per-seed metrics (`reports.gate.seed_metrics`).
        target: The accuracy target used for time-to-target.
        source: Where the run's results were (for the record).
        created: ISO timestamp.
    """
    suite = info["suite"]
    pairs = []
    for (strategy, pruner, device), g in seeds.groupby(["strategy", "pruner", "device"],
                                                       sort=True):
        g = g.sort_values("seed")
        pair: dict[str, Any] = {"strategy": strategy, "pruner": pruner, "device": device,
                                "seeds": [int(s) for s in g["seed"]]}
        for name in SEED_FIELDS:
            pair[name] = [_json_number(v) for v in g[name].tolist()]
        pairs.append(pair)
    table = info.get("table")
    machine = dict(info.get("machine", {}))
    return {
        "schema_version": BASELINE_SCHEMA_VERSION,
        "kind": BASELINE_KIND,
        "created": created,
        "source": source,
        "suite": {k: suite.get(k) for k in ("name", "hash", "objective", "trials", "seeds",
                                              "strategies", "pruners", "devices",
                                              "trials_in_parallel") if k in suite},
        "space": space_of(suite),
        "table": table,
        "versions": machine.pop("versions", {}),
        "machine": machine,
        "target": target,
        "pairs": pairs,
    }


@dataclass(frozen=True)
class Baseline:
    """A validated baseline file.

    Attributes:
        path: Where it was read from.
        doc: The JSON document.
        seeds: Per-seed metrics, the columns of `reports.gate.seed_metrics`.
    """

    path: Path
    doc: dict[str, Any]
    seeds: pd.DataFrame

    @property
    def target(self) -> float:
        """The accuracy target its time-to-target used."""
        return float(self.doc["target"])

    def identity(self) -> dict[str, Any]:
        """What must agree with the results it is compared to."""
        return identity(self.doc["suite"], self.doc.get("table"), self.doc["space"])


def write_baseline(path: Path, doc: dict[str, Any]) -> None:
    """Write a baseline document atomically, refusing a missing folder with one line."""
    if not path.parent.is_dir():
        raise BenchError(f"cannot write {path}: folder {path.parent} does not exist")
    write_json(path, doc)


def _seed_frame(pairs: list[dict[str, Any]], where: str) -> pd.DataFrame:
    rows = []
    for pair in pairs:
        try:
            n = len(pair["seeds"])
            cols = {name: pair[name] for name in SEED_FIELDS}
            if any(len(v) != n for v in cols.values()):
                raise BenchError(f"{where}: pair {pair['strategy']}/{pair['pruner']} has lists "
                                 "of different lengths; regenerate the baseline")
            for i, seed in enumerate(pair["seeds"]):
                rows.append({"strategy": str(pair["strategy"]), "pruner": str(pair["pruner"]),
                             "device": str(pair["device"]), "seed": int(seed),
                             **{k: math.nan if v[i] is None else float(v[i])
                                for k, v in cols.items()}})
        except (KeyError, TypeError, ValueError) as err:
            raise BenchError(f"{where}: malformed pair entry ({err!r}); regenerate it with "
                             "`samplerbench baseline RESULTS -o FILE`") from None
    frame = pd.DataFrame(rows, columns=["strategy", "pruner", "device", "seed", *SEED_FIELDS])
    _check_ranges(frame, where)
    return frame


# What each per-seed value may be: (lowest, highest, may be missing). A missing time or trial
# count to target means the seed never reached it; accuracies are always there.
_SEED_RANGES = {"final_best": (0.0, 1.0, False), "area": (0.0, 1.0, False),
                "time_to_target_s": (0.0, math.inf, True),
                "trials_to_target": (1.0, math.inf, True)}


def _check_ranges(frame: pd.DataFrame, where: str) -> None:
    """Refuse values a run cannot produce (NaN or infinite accuracies, negative times): a
    baseline holding them would switch the gate off or make it meaningless."""
    for name, (low, high, may_miss) in _SEED_RANGES.items():
        values = frame[name]
        ok = np.isfinite(values) & values.between(low, high)
        bad = ~(ok | (values.isna() & may_miss))
        if bad.any():
            row = frame[bad].iloc[0]
            raise BenchError(
                f"{where}: {name} of {row['strategy']}/{row['pruner']} seed {row['seed']} is "
                f"{float(row[name])!r}, outside [{low:g}, {high:g}]" +
                ("" if may_miss else " (it may not be missing)") +
                "; regenerate the baseline with `samplerbench baseline RESULTS -o FILE`")


def read_baseline(path: Path) -> Baseline:
    """Read and validate a baseline file; every problem is one BenchError line (exit 2)."""
    if not path.is_file():
        raise BenchError(f"baseline {path} does not exist; create it with "
                         f"`samplerbench baseline RESULTS -o {path}`")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BenchError(f"baseline {path} is not readable JSON ({err}); regenerate it with "
                         f"`samplerbench baseline RESULTS -o {path}`") from None
    if not isinstance(doc, dict) or doc.get("kind") != BASELINE_KIND:
        raise BenchError(f"{path} is not a samplerbench baseline (no kind "
                         f"{BASELINE_KIND!r}); pass the file `samplerbench baseline` wrote")
    if doc.get("schema_version") != BASELINE_SCHEMA_VERSION:
        raise BenchError(
            f"baseline {path} has schema_version {doc.get('schema_version')!r}, this "
            f"samplerbench reads {BASELINE_SCHEMA_VERSION}; regenerate it with "
            f"`samplerbench baseline RESULTS -o {path}` from a run of its suite")
    missing = [k for k in ("suite", "space", "table", "target", "pairs") if k not in doc]
    if missing or not isinstance(doc["pairs"], list) or not doc["pairs"]:
        raise BenchError(f"baseline {path} lacks {missing or ['pairs']}; regenerate it with "
                         f"`samplerbench baseline RESULTS -o {path}`")
    target = doc["target"]
    if not isinstance(target, int | float) or not 0 < target <= 1:
        raise BenchError(f"baseline {path} has target {target!r}, not an accuracy in (0, 1]; "
                         f"regenerate it with `samplerbench baseline RESULTS -o {path}`")
    return Baseline(path, doc, _seed_frame(doc["pairs"], f"baseline {path}"))



def check_comparable(baseline: dict[str, Any], current: dict[str, Any]) -> None:
    """Raise IncomparableError naming every part of `identity` that differs.

    Args:
        baseline: `identity(...)` of the baseline.
        current: `identity(...)` of the results under test.
    """
    problems = []
    diff = first_difference(baseline["suite"], current["suite"])
    if diff:
        problems.append(f"different suite ({diff}: baseline "
                        f"{value_at(baseline['suite'], diff)!r}, "
                        f"results {value_at(current['suite'], diff)!r})")
    diff = first_difference(baseline["space"], current["space"])
    if diff:
        problems.append(f"different search space ({diff}: baseline "
                        f"{value_at(baseline['space'], diff)!r}, results "
                        f"{value_at(current['space'], diff)!r})")
    if baseline["table"] != current["table"]:
        problems.append(f"different table (checksum: baseline {baseline['table']!r}, "
                        f"results {current['table']!r})")
    if problems:
        raise IncomparableError("cannot compare: " + "; ".join(problems) +
                                "; run the baseline's suite on its table, or regenerate the "
                                "baseline with `samplerbench baseline`")
