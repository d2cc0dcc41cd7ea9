"""Bad suites and settings: one clear line, a non-zero exit and nothing written; dry runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.core.spaces import SPACES
from bench.spec.cells import suite_cells
from bench.spec.objective import DATASET_HELP
from bench.spec.suite import load_suite, parse_suite, shipped_suites
from strategies.registry import PRUNERS, SAMPLERS
from tests.helpers.suites import (
    cli,
    digits_suite_data,
    files_in,
    one_torch_thread,
    suite_toml,
    write_suite,
)

ERROR = "samplerbench run: error: "


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


def _refused(code: int, out: str, err: str, *fragments: str) -> str:
    """Check a one-line refusal on stderr and return its message."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(ERROR)
    assert "Traceback" not in err + out
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


BAD_SUITES: dict[str, tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]] = {
    "unknown strategy": ({"strategies": ["random", "bayesopt"]}, {},
                         ("unknown strategy 'bayesopt'", *SAMPLERS)),
    "unknown pruner": ({"pruners": ["asha"]}, {}, ("unknown pruner 'asha'", *PRUNERS)),
    "unknown device": ({"devices": ["tpu"]}, {}, ("unknown device 'tpu'", "cpu", "cuda", "auto")),
    "unknown dataset": ({}, {"dataset": "cifar10"},
                        ("unknown dataset 'cifar10'", *DATASET_HELP)),
    "unknown space": ({}, {"space": "huge"}, ("unknown search space 'huge'", *SPACES)),
    "empty strategies": ({"strategies": []}, {}, ("`strategies` must be a non-empty list",)),
    "zero seeds": ({"seeds": 0}, {}, ("`seeds` must be a positive count, got 0",)),
    "negative seeds": ({"seeds": -3}, {}, ("`seeds` must be a positive count, got -3",)),
    "negative seed in list": ({"seeds": [0, -1]}, {}, ("non-negative integers",)),
    "seed beyond 32 bits": ({"seeds": [2**70]}, {}, ("non-negative integers up to 4294967295",)),
    "fractional epochs": ({}, {"epochs": 1.5}, ("epochs must be a whole number, got 1.5",)),
    "fractional batch size": ({}, {"batch_size": 64.5}, ("batch_size must be a whole number",)),
    "grid over the limit": ({"strategies": [{"name": "grid", "options": {"points": 500}}]}, {},
                            ("grid of 3500 points", "over the limit of 1000", "points")),
    "unknown option": ({"strategies": [{"name": "qmc", "options": {"sobol": True}}]}, {},
                       ("unknown option 'sobol'", "valid options: qmc_type, scramble")),
    "unknown key": ({"trails": 5}, {}, ("unknown keys ['trails']", "trials")),
    "zero trials": ({"trials": 0}, {}, ("`trials` must be a positive integer",)),
    "name that climbs out of results/": ({"name": "../../x"}, {}, ("suite name '../../x'",)),
    "absolute name": ({"name": "/tmp/x"}, {}, ("suite name '/tmp/x'",)),
    "name '..'": ({"name": ".."}, {}, ("suite name '..'",)),
    "name '.'": ({"name": "."}, {}, ("suite name '.'",)),
    "empty name": ({"name": ""}, {}, ("suite name ''", "names the results folder")),
    "name with a newline": ({"name": "a\nb"}, {}, ("suite name 'a\\nb'",)),
    "name over 64 characters": ({"name": "x" * 65}, {}, ("must be 1-64 letters",)),
}


@pytest.mark.parametrize("case", BAD_SUITES, ids=str)
def test_bad_suite_is_one_line_and_writes_nothing(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  case: str) -> None:
    top, objective, fragments = BAD_SUITES[case]
    suite = write_suite(tmp_path / "suite.toml", digits_suite_data(objective, **top))
    out = tmp_path / "out"
    _refused(*cli(capsys, "run", suite, "-o", out, "--no-report"), *fragments)
    assert files_in(out) == []
    _refused(*cli(capsys, "run", suite, "-o", out, "--dry-run"), *fragments)


def test_results_of_another_suite_are_never_replaced(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    first = write_suite(tmp_path / "a.toml", digits_suite_data(name="first", trials=2))
    assert cli(capsys, "run", first, "-o", out, "--no-report")[0] == 0
    before = {f: f.read_bytes() for f in files_in(out)}
    other = write_suite(tmp_path / "b.toml", digits_suite_data(name="second", trials=2))
    message = _refused(*cli(capsys, "run", other, "-o", out, "--no-report"),
                       "holds the results of suite 'first', not 'second'")
    assert "choose another --output" in message
    assert {f: f.read_bytes() for f in files_in(out)} == before


SIDE_EFFECTS = """
from pathlib import Path
import optuna
MARKER = Path(__file__).with_name("ran.txt")
with MARKER.open("a") as f:
    f.write("imported\\n")


def make(*, seed, space):
    with MARKER.open("a") as f:
        f.write("called\\n")
    return optuna.samplers.RandomSampler(seed=seed)
"""


def test_a_dry_run_never_executes_a_strategy_named_by_import_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sidefx_factory.py").write_text(SIDE_EFFECTS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    suite = write_suite(tmp_path / "suite.toml",
                        digits_suite_data(strategies=["sidefx_factory:make"], trials=2))
    code, _, err = cli(capsys, "run", suite, "-o", tmp_path / "out", "--dry-run")
    assert code == 0, err
    assert not (tmp_path / "ran.txt").exists()  # not imported, not called
    assert cli(capsys, "run", suite, "-o", tmp_path / "out", "--no-report")[0] == 0
    assert (tmp_path / "ran.txt").read_text().splitlines()[:2] == ["imported", "called"]


def test_a_bad_imported_factory_fails_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path / "suite.toml", digits_suite_data(
        strategies=[{"name": "tests.helpers.factories:make_sampler", "options": {"nope": 1}}]))
    out = tmp_path / "out"
    _refused(*cli(capsys, "run", suite, "-o", out, "--no-report"), "valid options: startup")
    assert files_in(out) == []


def test_malformed_toml_names_line_and_column(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(suite_toml(digits_suite_data()).replace("trials = 4", "trials = = 4"),
                     encoding="utf-8")
    out = tmp_path / "out"
    message = _refused(*cli(capsys, "run", suite, "-o", out), "malformed TOML", str(suite))
    assert "line 2, column" in message
    assert not out.exists()


def test_missing_suite_lists_the_shipped_ones(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _refused(*cli(capsys, "run", tmp_path / "nope.toml", "-o", tmp_path / "out"),
             "no suite file", *sorted(shipped_suites()))


@pytest.fixture
def connect_attempts() -> Iterator[list[dict[str, Any]]]:
    """The keyword arguments of every connection SQLAlchemy asks a database driver for."""
    import sqlalchemy
    from sqlalchemy import event

    attempts: list[dict[str, Any]] = []

    def record(dialect: Any, pool_record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        attempts.append(dict(cparams))

    event.listen(sqlalchemy.engine.Engine, "do_connect", record)
    try:
        yield attempts
    finally:
        event.remove(sqlalchemy.engine.Engine, "do_connect", record)


def test_unreachable_storage_fails_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        connect_attempts: list[dict[str, Any]]) -> None:
    suite = write_suite(tmp_path / "suite.toml", digits_suite_data())
    out = tmp_path / "out"
    message = _refused(*cli(capsys, "run", suite, "-o", out, "--no-report", "--storage",
                            "postgresql://u:secret@127.0.0.1:9/db"),
                       "cannot open storage postgresql://u:***@127.0.0.1:9/db",
                       "Connection refused")
    # Fast whatever the network does: every attempt bounds its wait with the driver's connect
    # timeout, and all the attempts together may wait under 10 s before the run gives up.
    assert connect_attempts, "the run never tried to connect"
    assert all(a["host"] == "127.0.0.1" and a["port"] == 9 for a in connect_attempts)
    timeouts = [float(a.get("connect_timeout", "inf")) for a in connect_attempts]
    assert all(t > 0 for t in timeouts) and sum(timeouts) < 10, connect_attempts
    assert "secret" not in message
    assert files_in(out) == []


def test_a_url_without_a_scheme_is_refused_without_its_password(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path / "suite.toml", digits_suite_data())
    line = _refused(*cli(capsys, "run", suite, "-o", tmp_path / "out", "--storage",
                         "bench:Pw-no-scheme@db.example/samplerbench"), "cannot open storage")
    assert "Pw-no-scheme" not in line and "bench:***@db.example" in line


def test_unopenable_sqlite_file_is_one_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path / "suite.toml", digits_suite_data())
    bad = f"sqlite:///{tmp_path}/missing-folder/db.sqlite3"
    _refused(*cli(capsys, "run", suite, "-o", tmp_path / "out", "--storage", bad),
             "cannot open storage sqlite:///", "unable to open database file")
    assert files_in(tmp_path / "out") == []


def test_output_folder_that_cannot_be_created_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path / "suite.toml", digits_suite_data())
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    out = blocker / "results"  # even root cannot make a folder inside a regular file
    _refused(*cli(capsys, "run", suite, "-o", out, "--no-report"),
             f"output folder {out} is not writable", "--output")
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_dry_run_prints_cells_and_estimate_and_runs_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path / "suite.toml", digits_suite_data(
        {"epochs": 3}, trials=7, seeds=2, strategies=["random", "tpe"],
        pruners=["none", "median"]))
    out = tmp_path / "out"
    code, stdout, err = cli(capsys, "run", suite, "-o", out, "--dry-run")
    assert code == 0, err
    cells = suite_cells(load_suite(str(suite)))
    lines = stdout.strip().splitlines()
    assert len(lines) == len(cells) + 1 == 9
    for cell, line in zip(cells, lines, strict=False):
        assert line.split("\t") == [cell.name, cell.strategy.key, cell.pruner.key,
                                    f"seed {cell.seed}", "cpu", "7 trials"]
    assert lines[-1].startswith("8 cells, 56 trials, about ")
    assert "min with serial x1" in lines[-1]
    assert not out.exists()


def test_list_prints_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "list")
    assert code == 0
    headers = [line for line in out.splitlines() if not line.startswith(" ")]
    assert headers == ["strategies:", "pruners:", "datasets:", "spaces:", "suites:"]
    names = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert names >= {*SAMPLERS, *PRUNERS, *DATASET_HELP, *SPACES, *shipped_suites()}
    code, out, _ = cli(capsys, "list", "pruners")
    assert code == 0
    assert out.splitlines()[0] == "pruners:"
    assert {line.split()[0] for line in out.splitlines()[1:]} == set(PRUNERS)


def test_shipped_suites_parse() -> None:
    for name, path in shipped_suites().items():
        suite = load_suite(str(path))
        assert suite.name == name
        assert suite_cells(suite)


def test_suite_hash_ignores_execution_settings() -> None:
    base = {"strategies": ["random"], "objective": {"dataset": "digits"}}
    a = parse_suite(base)
    b = parse_suite({**base, "executor": "processes", "workers": 2, "storage": "sqlite:///x"})
    c = parse_suite({**base, "seeds": 6})
    assert a.hash() == b.hash() != c.hash()
