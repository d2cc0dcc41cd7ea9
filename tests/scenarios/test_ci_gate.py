"""`samplerbench ci` on the shipped table and the committed baseline: unchanged code passes,
and the realistic regressions the gate was calibrated on fail it (docs/ci.md)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli.commands.ci import default_baseline
from tests.helpers.paths import ROOT
from tests.helpers.suites import cli, write_suite

pytestmark = pytest.mark.slow
CI_SUITE = ROOT / "suites" / "ci.toml"


def ci_suite(path: Path, tpe: object) -> Path:
    """suites/ci.toml with its TPE replaced by `tpe` (a registry entry with options)."""
    data = tomllib.loads(CI_SUITE.read_text(encoding="utf-8"))
    data["strategies"] = ["random", tpe]
    return write_suite(path, data)


@pytest.fixture(name="planted_on_path")
def _planted_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # `benchmarks.planted` by import path


@pytest.fixture(name="unchanged", scope="module")
def _unchanged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bench.cli.main import main

    out = tmp_path_factory.mktemp("ci") / "results"
    assert main(["ci", "-o", str(out)]) == 0  # unchanged code passes
    return out


def test_tpe_with_a_start_up_of_30_fails_the_gate(tmp_path, capsys) -> None:
    suite = ci_suite(tmp_path / "ci.toml", {"name": "tpe", "options": {"n_startup_trials": 30}})
    code, out, err = cli(capsys, "ci", "--suite", suite)
    assert code == 1, out + err
    assert "REGRESSED: tpe/" in out
    assert "random/none" not in out.splitlines()[-1]  # only TPE's rows regress


@pytest.mark.parametrize("share", [0.10, 0.25])
def test_tpe_seeds_whose_trials_all_fail_fail_the_gate(unchanged, tmp_path, capsys,
                                                       share) -> None:
    results = Path(shutil.copytree(unchanged, tmp_path / "results"))
    trials = pd.read_parquet(results / "trials.parquet")
    seeds = np.sort(trials["seed"].unique())
    lost = np.random.default_rng(0).choice(seeds, round(share * len(seeds)), replace=False)
    hit = (trials["strategy"] == "tpe") & trials["seed"].isin(lost)
    trials.loc[hit, "state"] = "FAIL"
    trials.loc[hit, "fail_reason"] = "error: RuntimeError: planted"
    trials.to_parquet(results / "trials.parquet", index=False)
    code, out, _ = cli(capsys, "check", results, "--baseline", default_baseline())
    assert code == 1
    verdict = out.strip().splitlines()[-1]
    assert verdict.startswith("REGRESSED: ")
    for pruner in ("median", "none"):  # the hard checks flag it whatever the tests say
        assert f"tpe/{pruner} no_complete" in verdict and f"tpe/{pruner} fail_trials" in verdict
    assert "random/" not in verdict


def test_a_sampler_that_crashes_a_quarter_of_the_cells_fails_ci(tmp_path, capsys,
                                                                 planted_on_path) -> None:
    suite = ci_suite(tmp_path / "ci.toml", {"name": "benchmarks.planted:crashing_tpe",
                                            "label": "tpe"})
    code, _, err = cli(capsys, "ci", "--suite", suite)
    assert code == 1 and "cells crashed: that fails the gate" in err
