"""The regression gate's baseline file (JSON): build, write, read, validate, compare identity.

A baseline holds, per strategy x pruner x device and per seed, from one or more runs (the
same suite at the same seeds, each with its own `sampler_salt`): the first run's noise-free
metrics (`true_final`, `true_area`), final best and time-to-target, and the fingerprint of
its first suggested parameters (the paired design); the mean of the noise-free metrics over
every run (the averaged design); the most FAIL trials any run had and whether every run had a
COMPLETE trial (the hard checks); with what makes two runs comparable (the suite's
settings, the search space, the replayed table's checksum) and the provenance of the runs
(salts, suite hashes, versions, machine). Two runs are comparable when their suite name,
objective settings (without the table's path), trial budget, devices and trials in
parallel, search space and table checksum agree; strategies' options may differ, since that
is what a gate compares (pairs are matched by label), and the gate pairs seeds by number.
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

BASELINE_SCHEMA_VERSION = 2
BASELINE_KIND = "samplerbench-baseline"
# Per seed: the first run's values (the paired design), the mean over every run (the averaged
# design), the hard checks' counts over every run, and the first run's first-trial fingerprint.
PAIRED_FIELDS = ("true_final", "true_area", "final_best", "time_to_target_s",
                 "trials_to_target")
MEAN_FIELDS = ("mean_true_final", "mean_true_area")
SEED_FIELDS = (*PAIRED_FIELDS, *MEAN_FIELDS, "n_failed", "has_complete", "first_params")
REBUILD = ("rebuild it with `python benchmarks/make_ci_baseline.py` (the CI suite) or "
           "`samplerbench baseline RESULTS [RESULTS ...] -o FILE`")


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
    try:  # the suite comes from a file (run.json or the baseline): it may lack anything
        objective = {k: v for k, v in suite["objective"].items() if k != "table"}
        return {
            "suite": {"name": suite["name"], "objective": objective, "trials": suite["trials"],
                      "devices": list(suite.get("devices", ["cpu"])),
                      "trials_in_parallel": suite.get("trials_in_parallel", 1)},
            "space": space_of(suite) if space is None else space,
            "table": None if table is None else table.get("checksum"),
        }
    except (KeyError, TypeError, AttributeError) as err:
        raise BenchError(f"a run.json or baseline's suite is malformed (at {err!r:.60}); re-run "
                         "the suite (or rebuild the baseline) to rewrite it") from None


def _json_number(x: Any) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def _seed_values(runs: list[pd.DataFrame]) -> pd.DataFrame:
    """Per pair and seed: the first run's metrics and first-trial fingerprint, the mean of
    the tested metrics over every run, the most FAIL trials of any run, and whether every
    run had a COMPLETE trial."""
    keys = ["strategy", "pruner", "device", "seed"]
    stacked = pd.concat([r.assign(run=i) for i, r in enumerate(runs)], ignore_index=True)
    stacked["has_complete"] = stacked["n_complete"] > 0
    counts = stacked.groupby(keys, sort=True)["run"].nunique()
    if (counts != len(runs)).any():
        row = counts[counts != len(runs)].index[0]
        raise BenchError(f"the runs of a baseline must hold the same cells: {row[0]}/{row[1]} "
                         f"seed {row[3]} is in {counts[row]} of {len(runs)} runs; run one "
                         "suite once per sampler_salt")
    out = stacked.groupby(keys, sort=True).agg(
        mean_true_final=("true_final", "mean"), mean_true_area=("true_area", "mean"),
        n_failed=("n_failed", "max"), has_complete=("has_complete", "all"))
    first = runs[0].set_index(keys)[[*PAIRED_FIELDS, "first_params"]]
    return out.join(first).reset_index()


def make_baseline(runs: list[tuple[dict[str, Any], pd.DataFrame, str]], *, target: float,
                  created: str) -> dict[str, Any]:
    """The baseline document of one or more runs of a suite at the same cell seeds.

    The first run is the one a change is paired with, seed by seed and stream by stream. The
    mean over every run (each with its own `sampler_salt`: the same algorithm, other sampler
    streams) is what a change that alters the streams from the first trial on is compared
    with, so that the first run's luck does not set the false-alarm rate for such changes
    (`reports.gate.compare`; docs/ci.md measures both).

    Args:
        runs: Per run: its run.json, its per-seed metrics (`reports.gate.seed_metrics`) and
            where its results were (for the record); the first is the paired run.
        target: The accuracy target used for time-to-target.
        created: ISO timestamp.
    """
    info = runs[0][0]
    suite = info["suite"]
    salts = [int(r[0]["suite"].get("sampler_salt", 0)) for r in runs]
    for other, _, source in runs[1:]:
        check_comparable(identity(suite, info.get("table")),
                         identity(other["suite"], other.get("table")))
        if other["suite"].get("seeds") != suite.get("seeds"):
            raise BenchError(f"run {source} has other seeds than {runs[0][2]}; a baseline "
                             "pairs seeds, so its runs must share them")
    if len(set(salts)) != len(salts):
        raise BenchError(f"baseline runs share a sampler_salt ({salts}): they would be the "
                         "same run twice; give each run its own sampler_salt")
    values = _seed_values([r[1] for r in runs])
    pairs = []
    for (strategy, pruner, device), g in values.groupby(["strategy", "pruner", "device"],
                                                        sort=True):
        pair: dict[str, Any] = {"strategy": strategy, "pruner": pruner, "device": device,
                                "seeds": [int(s) for s in g["seed"]]}
        for name in (*PAIRED_FIELDS, *MEAN_FIELDS):
            pair[name] = [_json_number(v) for v in g[name].tolist()]
        pair["n_failed"] = [int(v) for v in g["n_failed"]]
        pair["has_complete"] = [bool(v) for v in g["has_complete"]]
        pair["first_params"] = [str(v) for v in g["first_params"]]
        pairs.append(pair)
    table = info.get("table")
    machine = dict(info.get("machine", {}))
    return {
        "schema_version": BASELINE_SCHEMA_VERSION,
        "kind": BASELINE_KIND,
        "created": created,
        "runs": [{"source": source, "sampler_salt": salt,
                  "suite_hash": r["suite"].get("hash")}
                 for (r, _, source), salt in zip(runs, salts, strict=True)],
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
        seeds: Per-seed metrics: pair keys, seed and `SEED_FIELDS` (means over its runs).
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
                                 f"of different lengths; {REBUILD}")
            for i, seed in enumerate(pair["seeds"]):
                row = {"strategy": str(pair["strategy"]), "pruner": str(pair["pruner"]),
                       "device": str(pair["device"]), "seed": int(seed)}
                row.update({k: math.nan if cols[k][i] is None else float(cols[k][i])
                            for k in (*PAIRED_FIELDS, *MEAN_FIELDS)})
                row["n_failed"] = int(cols["n_failed"][i])
                row["has_complete"] = _strict_bool(cols["has_complete"][i])
                row["first_params"] = str(cols["first_params"][i])
                rows.append(row)
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise BenchError(f"{where}: malformed pair entry ({err!r}); {REBUILD}") from None
    frame = pd.DataFrame(rows, columns=["strategy", "pruner", "device", "seed", *SEED_FIELDS])
    if not frame["seed"].map(lambda s: 0 <= s < 2**63).all():
        raise BenchError(f"{where}: a seed lies outside 0 to 2**63 - 1; {REBUILD}")
    if frame.duplicated(["strategy", "pruner", "device", "seed"]).any():
        raise BenchError(f"{where}: a pair lists a seed twice; {REBUILD}")
    _check_ranges(frame, where)
    return frame


def _strict_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"has_complete holds {value!r}, not true or false")
    return value


# What each per-seed value may be: (lowest, highest, may be missing). A missing time or trial
# count to target means the seed never reached it; accuracies are always there.
_SEED_RANGES = {"true_final": (0.0, 1.0, False), "true_area": (0.0, 1.0, False),
                "mean_true_final": (0.0, 1.0, False), "mean_true_area": (0.0, 1.0, False),
                "final_best": (0.0, 1.0, False),
                "time_to_target_s": (0.0, math.inf, True),
                "trials_to_target": (1.0, math.inf, True),
                "n_failed": (0.0, math.inf, False)}


def _check_ranges(frame: pd.DataFrame, where: str) -> None:
    """Refuse values a run cannot produce (NaN or infinite accuracies, negative times): a
    baseline holding them would switch the gate off or make it meaningless."""
    for name, (low, high, may_miss) in _SEED_RANGES.items():
        values = frame[name].astype("float64")
        ok = np.isfinite(values) & values.between(low, high)
        bad = ~(ok | (values.isna() & may_miss))
        if bad.any():
            row = frame[bad].iloc[0]
            raise BenchError(
                f"{where}: {name} of {row['strategy']}/{row['pruner']} seed {row['seed']} is "
                f"{float(row[name])!r}, outside [{low:g}, {high:g}]" +
                ("" if may_miss else " (it may not be missing)") + f"; {REBUILD}")


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
            f"samplerbench reads {BASELINE_SCHEMA_VERSION} (per-seed pairing over several "
            f"runs, noise-free metrics); {REBUILD}")
    missing = [k for k in ("suite", "space", "table", "target", "pairs") if k not in doc]
    if missing or not isinstance(doc["pairs"], list) or not doc["pairs"]:
        raise BenchError(f"baseline {path} lacks {missing or ['pairs']}; {REBUILD}")
    target = doc["target"]
    if not isinstance(target, int | float) or not 0 < target <= 1:
        raise BenchError(f"baseline {path} has target {target!r}, not an accuracy in (0, 1]; "
                         f"{REBUILD}")
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
