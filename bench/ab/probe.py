"""Check an environment before it runs anything: samplerbench and Optuna import there, its
`run` takes `--cells`, and it plans the same suite on the same table as the other side.

The check runs a probe script (the CLI's `bench/cli/env_probe.py`, handed over as a path) in
the environment (`python -P -c SOURCE SUITE`), which prints one JSON line;
`check_same_suite` compares the fingerprints of both sides (the suite's hash, trial budget
and planned cell names, in order, and the replayed table's checksum).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.ab.environments import Environment
from bench.core.errors import BenchError

TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Probe:
    """What an environment said about itself (the probe script's JSON, `bench.cli.env_probe`).

    Attributes:
        env: The environment.
        info: python, python_version, optuna, optuna_file, samplerbench_file, has_cells,
            suite (name, trials, hash, cells) and table (checksum or None).
    """

    env: Environment
    info: dict[str, Any]

    @property
    def cells(self) -> list[str]:
        """The planned cells' names, in plan order."""
        return list(self.info["suite"]["cells"])

    def describe(self) -> str:
        """One line: Optuna's version and where it imports from."""
        return (f"{self.env.spec}: Python {self.info['python_version']}, Optuna "
                f"{self.info['optuna']} from {Path(self.info['optuna_file']).parent}")


WHAT = {"optuna": "its Optuna does not import", "samplerbench": "samplerbench does not "
        "import there", "suite": "it refuses the suite"}


def probe(env: Environment, suite: Path, script: Path) -> Probe:
    """Run the probe `script` in `env`; BenchError (one line) when it cannot."""
    try:
        done = subprocess.run(env.command("-c", script.read_text(encoding="utf-8"), str(suite)),
                              env=env.env(), capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
    except OSError as err:
        raise BenchError(f"environment {env.spec!r}: cannot start {env.python} "
                         f"({err.strerror or err})") from None
    except subprocess.TimeoutExpired:
        raise BenchError(f"environment {env.spec!r}: {env.python} did not answer within "
                         f"{TIMEOUT_S:.0f} s") from None
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    try:
        info = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"environment {env.spec!r}: {env.python} is not a working Python "
                         f"3.11+ ({tail})") from None
    if "error" in info:
        raise BenchError(f"environment {env.spec!r}: {WHAT.get(info['what'], info['what'])} "
                         f"({info['error']})")
    if not info.get("has_cells"):
        raise BenchError(f"environment {env.spec!r}: its samplerbench "
                         f"({info['samplerbench_file']}) has no `run --cells`, which compare "
                         "interleaves with; use a samplerbench as new as this one")
    return Probe(env, info)


def check_same_suite(a: Probe, b: Probe) -> None:
    """BenchError unless both sides replay the same table and plan the same cells."""
    if a.info["table"] != b.info["table"]:
        raise BenchError(f"the environments replay different tables ({a.env.spec}: "
                         f"{a.info['table']}, {b.env.spec}: {b.info['table']}); compare needs "
                         "the same table on both sides")
    sa, sb = a.info["suite"], b.info["suite"]
    for key, what in (("name", "suite names"), ("trials", "trial budgets"),
                      ("hash", "suite hashes"), ("cells", "planned cells")):
        if sa[key] != sb[key]:
            shown = "" if key == "cells" else f": {sa[key]} vs {sb[key]}"
            raise BenchError(f"the environments read the suite differently ({what} "
                             f"differ{shown}); compare needs the same suite and cells on both "
                             "sides (the two samplerbench versions disagree)")


def fingerprint(p: Probe) -> dict[str, Any]:
    """What a results folder of this comparison must keep: suite and table."""
    s = p.info["suite"]
    return {"suite": s["name"], "hash": s["hash"], "trials": s["trials"],
            "cells": len(s["cells"]), "table": p.info["table"]}
