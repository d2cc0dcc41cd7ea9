"""`samplerbench compare SUITE --a ENV --b ENV`: a paired A/B of optimisation quality.

Runs one suite in two environments (`bench.ab.environments`: current, python:PATH, pip:REQ,
path:DIR, git:REF), interleaved chunk by chunk (`bench.ab.interleave`), then says per
strategy x pruner whether B is worse, better, equivalent within a margin or inconclusive
(`reports.ab.verdicts`), with the sampler's time per trial B / A, and writes a report.

Exit status, as `check`'s: 0 when no pair is worse, 1 when one is (or cells crashed), 2 when
the input is bad or the sides cannot be compared (nothing is then written).
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from bench.ab.environments import Environment, parse_environment
from bench.ab.interleave import (
    Side,
    check_folder,
    check_manifest,
    run_interleaved,
    write_manifest,
)
from bench.ab.probe import Probe, check_same_suite, fingerprint, probe
from bench.cli import env_probe
from bench.cli.gate_options import add_gate_options, gate_settings
from bench.cli.options import add_output
from bench.core.errors import BenchError
from bench.results.schema import TRIALS_FILE, read_table
from bench.spec.suite import load_suite, shipped_suites
from reports.ab.render import ABResult, format_text, verdict_line, write_ab_report
from reports.ab.verdicts import (
    ABSettings,
    any_worse,
    hard_checks,
    metric_verdicts,
    pair_verdicts,
    paired_seeds,
    time_ratios,
)
from reports.curves import PAIR_KEYS
from reports.gate.compare import seed_metrics
from reports.gate.verdict import append_summary

HELP = ("run a suite in two environments, interleaved, and compare them seed by seed: exit 0 "
        "B no worse, 1 B worse, 2 bad input")
DEFAULT_CHUNKS = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `compare`."""
    parser.add_argument("suite", help="suite file (TOML) or shipped suite name, e.g. ci")
    for side in ("a", "b"):
        parser.add_argument(f"--{side}", required=True, metavar="ENV",
                            help=f"environment {side.upper()}: current, python:PATH (an "
                                 "interpreter or venv), pip:REQ (e.g. pip:optuna==4.9.0, into "
                                 "a cached overlay), path:DIR (first on PYTHONPATH), git:REF "
                                 "or git:REPO@REF")
    add_output(parser, "comparison folder: a/ and b/ results, report/ (default: "
                       "results/compare-<suite name>); rerun with it to continue")
    parser.add_argument("--margin", type=float, default=None, metavar="POINTS",
                        help="equivalence margin in accuracy points, for both metrics "
                             "(default: each metric's tolerance)")
    parser.add_argument("--chunks", type=int, default=DEFAULT_CHUNKS, metavar="N",
                        help="alternate the sides over N chunks of cells (default: "
                             f"{DEFAULT_CHUNKS})")
    add_gate_options(parser)


def suite_file(ref: str) -> tuple[Path, str]:
    """The suite's file, absolute (a shipped name is resolved here, so both sides read the
    same file), and its name; BenchError when it is neither."""
    name = load_suite(ref).name  # one error line for a bad or unknown suite
    path = Path(ref)
    return (path if path.is_file() else shipped_suites()[ref]).resolve(), name


def _probes(a: Environment, b: Environment, suite: Path) -> tuple[Probe, Probe]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        script = Path(env_probe.__file__)
        fa, fb = pool.submit(probe, a, suite, script), pool.submit(probe, b, suite, script)
        return fa.result(), fb.result()


def _manifest(a: Probe, b: Probe) -> dict[str, object]:
    def side(p: Probe) -> dict[str, object]:
        return {"spec": p.env.spec, "python": str(p.env.python),
                "pythonpath": [str(x) for x in p.env.pythonpath]}
    return {"a": side(a), "b": side(b), "suite": fingerprint(a),
            "optuna": {"a": a.info["optuna"], "b": b.info["optuna"]}}


def _side_metrics(results: Path, cells: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    trials = read_table(results, TRIALS_FILE)
    ran = trials.groupby([*PAIR_KEYS, "seed"], observed=True).ngroups
    if ran != cells:
        raise BenchError(f"{results} holds {ran} of the suite's {cells} cells after the run; "
                         "rerun the same compare command to finish it")
    return trials, seed_metrics(trials)


def _shared_streams(both: pd.DataFrame) -> str:
    share = (both["first_params_a"] == both["first_params_b"]).mean()
    return (f"{100 * share:.0f}% of cells started from the same first suggestion on both "
            "sides (the sampler streams are shared there, so start-up luck cancels)")


def run(args: argparse.Namespace) -> int:
    """Check both environments, run them interleaved, compare, report."""
    if args.margin is not None and args.margin < 0:
        raise BenchError(f"--margin must be >= 0, got {args.margin}")
    settings = ABSettings(gate_settings(args), args.margin)
    if args.chunks < 1:
        raise BenchError(f"--chunks must be at least 1, got {args.chunks}")
    suite, name = suite_file(args.suite)
    out = (args.output or Path("results") / f"compare-{name}").expanduser().resolve()
    check_folder(out)
    env_a, env_b = parse_environment(args.a), parse_environment(args.b)
    pa, pb = _probes(env_a, env_b, suite)
    check_same_suite(pa, pb)
    doc = _manifest(pa, pb)
    check_manifest(out, doc)
    write_manifest(out, doc)
    print(f"compare: A = {pa.describe()}\ncompare: B = {pb.describe()}", file=sys.stderr)
    sides = (Side("a", env_a, out / "a"), Side("b", env_b, out / "b"))
    ran = run_interleaved(sides, suite, len(pa.cells), args.chunks)
    failed = [s.upper() for s in ("a", "b") if ran[f"{s}_failed"]]
    try:
        trials_a, seeds_a = _side_metrics(out / "a", len(pa.cells))
        trials_b, seeds_b = _side_metrics(out / "b", len(pa.cells))
    except BenchError as err:
        if not failed:
            raise
        print(f"samplerbench compare: cells crashed in {' and '.join(failed)}, so {err}: "
              "that fails the comparison", file=sys.stderr)
        return 1
    metrics = metric_verdicts(seeds_a, seeds_b, settings)
    pairs = pair_verdicts(metrics, hard_checks(seeds_a, seeds_b))
    both = paired_seeds(seeds_a, seeds_b)
    notes = [_shared_streams(both),
             f"run time in this call: A {ran['a_s']:.1f} s, B {ran['b_s']:.1f} s over "
             f"{args.chunks} chunks, alternating ABBA (machine drift hits both alike)"]
    if failed:
        notes.append(f"cells crashed in {' and '.join(failed)}: that fails the comparison "
                     f"(see {out}/<side>/run.json and rerun `samplerbench run` there)")
    result = ABResult(metrics, pairs, time_ratios(trials_a, trials_b, settings.alpha), both,
                      {"A": pa.describe(), "B": pb.describe()}, settings, notes)
    path = write_ab_report(result, out / "report")
    print(format_text(result))
    for note in notes:
        print(f"note: {note}")
    print(verdict_line(result))
    print(f"report: {path}")
    if args.summary is not None:
        append_summary(args.summary, path.read_text(encoding="utf-8"))
    return 1 if any_worse(pairs) or failed else 0

