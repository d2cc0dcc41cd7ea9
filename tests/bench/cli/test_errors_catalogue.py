"""One test per row of docs/errors.md: feed the bad input, check the one-line message.

CLI rows run `bench.cli.main` in-process (exit status 2 and one line on stderr) unless the
input needs a separate process (a file size limit).
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from bench.cli.main import main
from bench.core.attrs import FAIL_REASON, NON_FINITE, counts_toward_budget
from bench.core.errors import BenchError
from bench.core.spaces import SEED_SPACE, ParamValue
from bench.execution.trials import run_trial
from bench.objectives.outcome import Outcome
from bench.results.schema import RUN_FILE, SCHEMA_VERSION, TRIALS_FILE, read_table
from bench.storage.backends import open_storage
from bench.storage.journal import JOURNAL_FILE
from bench.storage.urls import resolve_storage_url
from tests.helpers.suites import tiny_suite_data, write_suite

CLI = [sys.executable, "-c", "import sys; from bench.cli.main import main; sys.exit(main())"]
SPACE = {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
         "hidden_size": {"type": "int", "low": 64, "high": 256, "step": 32}}
Cli = Callable[..., str]


@pytest.fixture
def cli_error(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run the CLI in-process; assert exit status 2 and return its last stderr line."""
    def run(*argv: str | Path, one_line: bool = True) -> str:
        code = main([str(a) for a in argv])
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code == 2, err
        if one_line:
            assert len(err) == 1, err
        return err[-1]

    return run


def _objective(**changes: Any) -> dict[str, Any]:
    return {"kind": "mnist", "dataset": "digits", "epochs": 1, "batch_size": 512, **changes}


def _space(param: str, **changes: Any) -> dict[str, Any]:
    space = {name: dict(spec) for name, spec in SPACE.items()}
    space[param].update(changes)
    return _objective(space=space)


# ----------------------------------------------------------------------------- suite files


def test_space_low_above_high(tmp_path: Path, cli_error: Cli) -> None:
    suite = write_suite(tmp_path / "suite.toml",
                        tiny_suite_data(objective=_space("learning_rate", low=0.1, high=0.001)))
    assert cli_error("run", suite, "--dry-run") == (
        "samplerbench run: error: search space: learning_rate has low 0.1 > high 0.001; "
        "swap them")


def test_space_log_with_low_not_positive(tmp_path: Path, cli_error: Cli) -> None:
    suite = write_suite(tmp_path / "suite.toml",
                        tiny_suite_data(objective=_space("learning_rate", low=0.0)))
    assert cli_error("run", suite, "--dry-run") == (
        "samplerbench run: error: search space: learning_rate is log-scaled with low 0.0 <= 0; "
        "use low > 0")


def test_space_step_not_positive(tmp_path: Path, cli_error: Cli) -> None:
    suite = write_suite(tmp_path / "suite.toml",
                        tiny_suite_data(objective=_space("hidden_size", step=0)))
    assert cli_error("run", suite, "--dry-run") == (
        "samplerbench run: error: search space: hidden_size has step 0; use a step > 0")


def test_grid_over_the_limit(tmp_path: Path, cli_error: Cli) -> None:
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data(
        strategies=[{"name": "grid", "options": {"points": 200}}]))
    assert cli_error("run", suite, "--dry-run") == (
        "samplerbench run: error: grid of 1400 points (learning_rate:200 x hidden_size:7) is "
        "over the limit of 1000; lower the strategy option `points` or raise `max_points` "
        "(each trial then costs more)")


@pytest.mark.parametrize(("overrides", "message"), [
    ({"strategies": ["nope"]}, "unknown strategy 'nope'; choose one of: grid, random, tpe"),
    ({"pruners": ["nope"]}, "unknown pruner 'nope'; choose one of: none, median"),
    ({"objective": _objective(dataset="cifar")}, "unknown dataset 'cifar'; choose one of: "),
    ({"objective": _objective(space="huge")}, "unknown search space 'huge'; choose one of: "),
    ({"objective": _objective(kind="cifar")}, "unknown objective kind 'cifar'; choose one of: "),
    ({"devices": ["tpu"]}, "unknown device 'tpu'; choose from: "),
    ({"executor": "ray"}, "unknown executor 'ray'; choose one of: serial, processes, dask"),
    ({"trails": 3}, "suite has unknown keys ['trails']; valid keys: "),
    ({"objective": _objective(kind="mnist-table", interpolation="cubic")},
     "unknown interpolation 'cubic'; choose one of: log-linear, nearest"),
    ({"objective": _objective(interpolation="nearest")},
     "`interpolation` applies to the replay objective only"),
], ids=["strategy", "pruner", "dataset", "space", "objective-kind", "device", "executor",
        "suite-key", "interpolation", "interpolation-live"])
def test_unknown_names(tmp_path: Path, cli_error: Cli,
                       overrides: dict[str, Any], message: str) -> None:
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data(**overrides))
    line = cli_error("run", suite, "--dry-run")
    assert line.startswith(f"samplerbench run: error: {message}")


def test_unknown_suite_name(cli_error: Cli) -> None:
    assert cli_error("run", "no-such-suite", "--dry-run").startswith(
        "samplerbench run: error: no suite file 'no-such-suite' and no shipped suite of that "
        "name; shipped suites: ")


# ---------------------------------------------------------------------------------- running


class ConstantObjective:
    """Returns one value for every trial: the live objectives never give a non-finite one."""

    space = SEED_SPACE
    time_simulated = False

    def __init__(self, value: float) -> None:
        self.value = value

    def evaluate(self, trial: optuna.Trial, params: dict[str, ParamValue]) -> Outcome:
        """The constant."""
        return Outcome(self.value, pruned=False, report_epochs=())

    def provenance(self) -> dict[str, Any]:
        """Nothing to record."""
        return {}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_value_fails_the_trial_and_counts(value: float) -> None:
    study = optuna.create_study(direction="maximize")
    run_trial(study, ConstantObjective(value))
    run_trial(study, ConstantObjective(0.5))
    bad, good = study.get_trials()
    assert bad.state == TrialState.FAIL and bad.user_attrs[FAIL_REASON] == NON_FINITE
    assert good.state == TrialState.COMPLETE and good.value == 0.5
    assert counts_toward_budget(bad) and counts_toward_budget(good)


def test_study_of_another_spec_under_the_same_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    one = write_suite(tmp_path / "one.toml", tiny_suite_data(trials=1))
    assert main(["run", str(one), "-o", str(out), "--no-report"]) == 0
    storage = open_storage(resolve_storage_url("journal", out))
    (name,) = [s.study_name for s in storage.get_all_studies()]
    study = optuna.load_study(study_name=name, storage=storage)
    check = study.user_attrs["samplerbench_check"]
    study.set_user_attr("samplerbench_check", {**check, "dataset_checksum": "0" * 32})
    capsys.readouterr()
    two = write_suite(tmp_path / "two.toml", tiny_suite_data(trials=2))
    assert main(["run", str(two), "-o", str(out), "--no-report"]) == 1
    failed = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("FAILED")]
    assert failed == [
        f"FAILED {name}: study {name!r} was created with a different dataset_checksum "
        f"(stored {'0' * 32!r}, now {check['dataset_checksum']!r}); use a new output folder "
        "or restore the original settings"]


def test_sqlite_with_several_writers(tmp_path: Path, cli_error: Cli) -> None:
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data())
    line = cli_error("run", suite, "-o", tmp_path / "out", "--storage",
                     f"sqlite:///{tmp_path / 'db.sqlite'}", "--executor", "processes",
                     "--workers", "2")
    assert line == ("samplerbench run: error: SQLite storage with 2 writers would fail with "
                    "'database is locked'; use the default journal file (one machine) or "
                    "PostgreSQL (several machines)")


def test_scheduler_without_the_dask_executor(tmp_path: Path, cli_error: Cli) -> None:
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data())
    line = cli_error("run", suite, "-o", tmp_path / "out", "--scheduler",
                     "tcp://127.0.0.1:8786", one_line=False)
    assert line == ("samplerbench run: error: --scheduler tcp://127.0.0.1:8786 needs the dask "
                    "executor, not 'serial'; add --executor dask")


# ------------------------------------------------------------------------- files, storage


def _results(folder: Path, **info: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    run = {"schema_version": SCHEMA_VERSION, "suite": {"name": "tiny", "storage": "journal"}}
    (folder / RUN_FILE).write_text(json.dumps({**run, **info}), encoding="utf-8")
    return folder


def test_run_file_of_another_schema_version(tmp_path: Path, cli_error: Cli) -> None:
    results = _results(tmp_path / "r", schema_version=99)
    assert cli_error("export", results) == (
        f"samplerbench export: error: {results / RUN_FILE} has schema_version 99, this "
        f"samplerbench reads {SCHEMA_VERSION}; rewrite it with `samplerbench export RESULTS` "
        "(or re-run the suite) using this version")


def test_table_of_another_schema_version(tmp_path: Path) -> None:
    results = _results(tmp_path / "r")
    pd.DataFrame({"schema_version": [0], "trial": [0]}).to_parquet(results / TRIALS_FILE)
    with pytest.raises(BenchError) as caught:
        read_table(results, TRIALS_FILE)
    assert str(caught.value).startswith(f"{results / TRIALS_FILE} has schema_version 0, this "
                                        f"samplerbench reads {SCHEMA_VERSION}; rewrite it")


def test_not_a_results_folder(tmp_path: Path, cli_error: Cli) -> None:
    assert cli_error("export", tmp_path) == (
        f"samplerbench export: error: {tmp_path} holds no run.json: not a samplerbench "
        "results folder; pass the folder that `samplerbench run` wrote")


def _journal_with_trials(folder: Path) -> Path:
    """A journal with one study of two trials, written without open_storage's cache."""
    path = folder / JOURNAL_FILE
    storage = JournalStorage(JournalFileBackend(str(path)))
    study = optuna.create_study(study_name="s", storage=storage)
    for x in (0.25, 0.5):
        study.add_trial(optuna.trial.create_trial(value=x))
    return path


def test_corrupt_journal(tmp_path: Path, cli_error: Cli) -> None:
    results = _results(tmp_path / "r")
    path = _journal_with_trials(results)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:2], b"not json\n", *lines[2:]]))
    line = cli_error("export", results)
    at = len(lines[0]) + len(lines[1])
    assert line == (
        f"samplerbench export: error: journal file {path} is damaged at byte {at:,}: a record "
        "is not valid JSON (it is corrupt); nothing was changed or retrained. `samplerbench "
        f"recover {path}` keeps the whole records before it (the file is kept as "
        "journal.log.damaged), then `samplerbench run` redoes what was lost")


def test_truncated_journal_drops_the_partial_record_and_resumes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _journal_with_trials(tmp_path)
    whole = path.read_bytes()
    partial = b'{"op_code":4,"worker_id":"x","study_id":0,"sta'
    path.write_bytes(whole + partial)  # a writer killed in the middle of an append
    capsys.readouterr()
    storage = open_storage(f"journal:{path}")
    assert capsys.readouterr().err.strip() == (
        f"samplerbench: journal file {path} ended in a partial record (a writer was stopped "
        f"mid-write); dropped its {len(partial)} bytes")
    assert path.read_bytes() == whole
    study = optuna.load_study(study_name="s", storage=storage)
    study.add_trial(optuna.trial.create_trial(value=0.75))
    with open(path, "ab") as f:  # another writer dies mid-append while this one is open
        f.write(partial)
    study.add_trial(optuna.trial.create_trial(value=1.0))
    assert "dropped its" in capsys.readouterr().err
    fresh = JournalStorage(JournalFileBackend(str(path)))
    assert [t.value for t in optuna.load_study(study_name="s", storage=fresh).trials] == [
        0.25, 0.5, 0.75, 1.0]


def test_unreachable_storage_hides_the_password(tmp_path: Path, cli_error: Cli) -> None:
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data())
    line = cli_error("run", suite, "-o", tmp_path / "out", "--storage",
                     "postgresql://bench:s3cret@127.0.0.1:1/bench")
    assert line.startswith("samplerbench run: error: cannot open storage "
                           "postgresql://bench:***@127.0.0.1:1/bench: (psycopg2.Operational")
    assert "Connection refused" in line
    assert line.endswith("; check the URL, that the server runs and that the database exists")
    assert "s3cret" not in line
    assert not (tmp_path / "out").exists()  # a refused run leaves nothing behind


def test_read_only_postgres_user(postgres_server: Any, tmp_path: Path, cli_error: Cli) -> None:
    import psycopg2

    url = postgres_server.create_database()
    open_storage(url)  # creates Optuna's tables
    conn = psycopg2.connect(host="127.0.0.1", port=postgres_server.port, user="postgres",
                            dbname=url.rsplit("/", 1)[1])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DO $$ BEGIN CREATE ROLE reader LOGIN; "
                    "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        cur.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")
    conn.close()
    reader = url.replace("postgres@", "reader@")
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data())
    line = cli_error("run", suite, "-o", tmp_path / "out", "--storage", reader)
    assert line.startswith(f"samplerbench run: error: storage {reader} is read-only for this "
                           "user (cannot write alembic_version, ")
    assert line.endswith("grant INSERT, UPDATE, DELETE on its tables and USAGE on its "
                         "sequences, or use another storage")


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can write to: a read-only tmpfs as root (root ignores modes)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.fail(f"as root this test mounts a read-only tmpfs, which failed: "
                    f"{mounted.stderr.strip()}", pytrace=False)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_read_only_output_folder(tmp_path: Path, read_only_dir: Path, cli_error: Cli) -> None:
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data())
    line = cli_error("run", suite, "-o", read_only_dir / "out")
    assert line.startswith(f"samplerbench run: error: output folder {read_only_dir / 'out'} "
                           "is not writable (")
    assert line.endswith("); choose another with --output")


def test_read_only_journal_folder(read_only_dir: Path, tmp_path: Path, cli_error: Cli) -> None:
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data())
    line = cli_error("run", suite, "-o", tmp_path / "out", "--storage",
                     f"journal:{read_only_dir / 'journal.log'}")
    assert line == (f"samplerbench run: error: journal folder {read_only_dir} is not writable; "
                    "choose a writable --output (or --storage journal:PATH)")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No network for pip or torchvision: every index and proxy is a closed port."""
    closed = "http://127.0.0.1:9"
    (tmp_path / "no-links").mkdir()
    monkeypatch.setenv("PIP_INDEX_URL", f"{closed}/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-links"))
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, closed)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("corrupt", [False, True], ids=["missing", "corrupt"])
def test_missing_or_corrupt_dataset(tmp_path: Path,
                                    offline: None, cli_error: Cli, corrupt: bool) -> None:
    import urllib.request

    urllib.request.install_opener(None)  # urlopen caches proxies: rebuild with the closed one
    root = tmp_path / "data"
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    if corrupt:
        for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                     "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            (raw / name).write_bytes(b"\x00\x00\x08\x01 not an IDX file")
    suite = write_suite(tmp_path / "suite.toml",
                        tiny_suite_data(objective=_objective(dataset="mnist")))
    line = cli_error("run", suite, "-o", tmp_path / "out", "--data-root", root, one_line=False)
    urllib.request.install_opener(None)
    assert line.startswith(f"samplerbench run: error: MNIST not found: tried files in {raw} (")
    assert ("checksum mismatch train-images-idx3-ubyte" in line) == corrupt
    assert line.endswith(f"put the four IDX files in {raw} or allow access to PyPI")


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_full_disk_while_writing_results_leaves_nothing_half_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    suite = write_suite(tmp_path / "suite.toml", tiny_suite_data(trials=1))
    assert main(["run", str(suite), "-o", str(out), "--no-report"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert len(before[TRIALS_FILE]) > 2048
    # The disk fills up (here: a 2 KiB file size limit) while `export` rewrites the tables.
    proc = subprocess.run([*CLI, "export", str(out)], capture_output=True, text=True,
                          timeout=300, check=False, preexec_fn=_limit_file_size(2048))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"samplerbench export: error: cannot write {out / TRIALS_FILE} (")
    assert "File too large" in lines[0]
    assert lines[0].endswith("); nothing was half-written: free some space or fix the folder's "
                             "permissions and run again")
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before  # no temporary file left, the old tables intact


@pytest.mark.slow
def test_full_disk_during_a_run_cuts_a_journal_record_that_the_resume_drops(tmp_path: Path) -> None:
    out = tmp_path / "out"
    suite = write_suite(tmp_path / "one.toml", tiny_suite_data(trials=1))
    assert main(["run", str(suite), "-o", str(out), "--no-report"]) == 0
    journal = out / JOURNAL_FILE
    limit = journal.stat().st_size + 100  # the next trial's records do not fit
    more = write_suite(tmp_path / "three.toml", tiny_suite_data(trials=3))
    cmd = [*CLI, "run", str(more), "-o", str(out), "--no-report"]
    cut = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                         preexec_fn=_limit_file_size(limit))
    assert cut.returncode in (1, 2), cut.stderr
    assert "File too large" in cut.stderr
    assert journal.stat().st_size <= limit
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert journal.read_bytes().endswith(b"\n")
    for line in journal.read_bytes().splitlines():
        json.loads(line)  # every record whole
    storage = open_storage(resolve_storage_url("journal", out))
    (study,) = storage.get_all_studies()
    assert sum(counts_toward_budget(t)
               for t in storage.get_all_trials(study._study_id)) == 3
