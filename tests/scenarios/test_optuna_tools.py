"""Studies the harness writes are ordinary Optuna studies: Optuna's CLI and optuna-dashboard
open them (journal file and RDB URL) with the right trials."""

from __future__ import annotations

import json
import subprocess
import sys
import wsgiref.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna_dashboard
import pandas as pd
import pytest

from bench.cli.main import main
from bench.results.schema import TRIALS_FILE
from bench.storage.journal import JOURNAL_FILE
from tests.helpers.suites import digits_suite_data, one_torch_thread, write_suite

TRIALS = 3
OPTUNA = Path(sys.executable).with_name("optuna")


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, pd.DataFrame]]:
    """One small suite run into a journal file and into SQLite: storage argument -> table."""
    root = tmp_path_factory.mktemp("tools")
    suite = write_suite(root / "suite.toml",
                        digits_suite_data(trials=TRIALS, strategies=["random", "tpe"]))
    sqlite = f"sqlite:///{root / 'studies.db'}"
    out: dict[str, tuple[str, pd.DataFrame]] = {}
    with one_torch_thread():
        for kind, storage in (("journal", None), ("rdb", sqlite)):
            folder = root / kind
            extra = ["--storage", storage] if storage else []
            assert main(["run", str(suite), "-o", str(folder), "--no-report", *extra]) == 0
            out[kind] = (storage or str(folder / JOURNAL_FILE),
                         pd.read_parquet(folder / TRIALS_FILE))
    return out


def _optuna_cli(*args: str) -> Any:
    done = subprocess.run([str(OPTUNA), *args, "-f", "json"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow  # two fresh `optuna` processes per storage
@pytest.mark.parametrize("kind", ["journal", "rdb"])
def test_optuna_cli_lists_the_studies_and_trials(
        results: dict[str, tuple[str, pd.DataFrame]], kind: str) -> None:
    storage, trials = results[kind]
    studies = _optuna_cli("studies", "--storage", storage)
    cells = sorted(trials["cell"].unique())
    assert sorted(s["name"] for s in studies) == cells
    assert all(s["n_trials"] == TRIALS and s["direction"] == ["MAXIMIZE"] for s in studies)
    cell = cells[0]
    listed = _optuna_cli("trials", "--study-name", cell, "--storage", storage)
    table = trials[trials["cell"] == cell].sort_values("trial")
    assert [t["number"] for t in listed] == table["trial"].tolist()
    assert [t["state"] for t in listed] == table["state"].tolist()
    assert [t["value"] for t in listed] == pytest.approx(table["value"].tolist())
    assert [t["params"]["hidden_size"] for t in listed] == table["param_hidden_size"].tolist()


def _get(app: Any, path: str) -> Any:
    environ: dict[str, Any] = {}
    wsgiref.util.setup_testing_defaults(environ)
    environ.update(PATH_INFO=path, REQUEST_METHOD="GET")
    status: list[str] = []

    def start_response(code: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        status.append(code)

    body = b"".join(app(environ, start_response))
    assert status == ["200 OK"], body[:300]
    return json.loads(body)


@pytest.mark.parametrize("kind", ["journal", "rdb"])
def test_optuna_dashboard_loads_the_studies(
        results: dict[str, tuple[str, pd.DataFrame]], kind: str) -> None:
    storage, trials = results[kind]
    app = optuna_dashboard.wsgi(storage)  # the dashboard's own storage loader, no server
    studies = _get(app, "/api/studies")["study_summaries"]
    assert sorted(s["study_name"] for s in studies) == sorted(trials["cell"].unique())
    for study in studies:
        assert study["directions"] == ["maximize"]
        detail = _get(app, f"/api/studies/{study['study_id']}")
        table = trials[trials["cell"] == study["study_name"]].sort_values("trial")
        assert [t["number"] for t in detail["trials"]] == table["trial"].tolist()
        assert [t["state"].upper() for t in detail["trials"]] == table["state"].tolist()
        assert {p["name"] for p in detail["intersection_search_space"]} == {
            "learning_rate", "hidden_size"}
