"""Replay the sim-to-real suite in every variant the fidelity report compares, then score
them all against the live run (`agreement.py`).

    python benchmarks/fidelity/replays.py LIVE OUT [--markdown docs/fidelity/agreement.md]
        [--figures docs/fidelity]

LIVE: the live run's results folder, or the committed
`benchmarks/fidelity/data/pairs-live.parquet`. Variants, each replayed into OUT/<label>
(a rerun resumes, so only missing variants run):
    - log-linear: the default replay (pairs-replay.toml);
    - nearest: snapping to the nearest tabulated rate (the former replay);
    - log-linear, 3 / 2 / 1 replicates: the shipped table cut to its first R replicates
      (the noise model's question: how many recorded replicates does agreement need?). With
      one replicate the replay has no noise at all: every trial at a configuration sees the
      same curve.
Every variant is scored by the same whole shipped table.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import pyarrow.parquet as pq

from bench.cli.main import main as samplerbench
from bench.objectives.table import read_meta, shipped_table_path, write_table

HERE = Path(__file__).parent
SUITE = HERE / "pairs-replay.toml"


def _toml(data: dict) -> str:
    lines = []
    for key, value in data.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines += [f"{k} = {_value(v)}" for k, v in value.items()]
    return "\n".join(lines) + "\n"


def _value(v: object) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


def replicate_table(replicates: int, out: Path) -> Path:
    """The shipped table cut to its first `replicates` replicates."""
    if out.exists():
        return out
    df = pq.read_table(shipped_table_path()).to_pandas()
    meta = read_meta(shipped_table_path())
    meta["grid"] = {**meta["grid"], "replicates": replicates}
    meta["derived_from"] = f"the shipped table's replicates 0..{replicates - 1}"
    write_table(df[df["replicate"] < replicates].reset_index(drop=True), meta, out)
    return out


def variants(out: Path) -> dict[str, Path]:
    """Write each variant's suite under OUT; label -> suite file."""
    base = tomllib.loads(SUITE.read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    made = {"log-linear": {}, "nearest": {"interpolation": "nearest"}}
    recorded = int(read_meta(shipped_table_path())["grid"]["replicates"])
    for r in (r for r in (3, 2, 1) if r < recorded):
        table = replicate_table(r, out / f"table-{r}-replicates.parquet")
        made[f"log-linear, {r} replicate{'s' if r > 1 else ''}"] = {"table": str(table)}
    suites = {}
    for label, objective in made.items():
        slug = label.replace(", ", "-").replace(" ", "-")
        data = {**base, "name": f"fidelity-pairs-{slug}",
                "objective": {**base["objective"], **objective}}
        path = out / f"{slug}.toml"
        path.write_text(_toml(data), encoding="utf-8")
        suites[label] = path
    return suites


def main() -> None:
    """Run every variant, then the agreement report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("live", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--figures", type=Path, default=None)
    args = parser.parse_args()
    runs = []
    for label, suite in variants(args.out).items():
        folder = args.out / suite.stem
        code = samplerbench(["run", str(suite), "-o", str(folder), "--no-report"])
        if code != 0:
            sys.exit(code)
        runs.append(f"{label}={folder}")
    import agreement  # this folder's sibling script, imported where it is used

    sys.argv = ["agreement.py", str(args.live), *runs,
                *(["--markdown", str(args.markdown)] if args.markdown else []),
                *(["--figures", str(args.figures)] if args.figures else [])]
    agreement.main()


if __name__ == "__main__":
    main()
