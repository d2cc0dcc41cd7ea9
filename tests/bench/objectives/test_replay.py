"""The replay objective (`mnist-table`) and `samplerbench tabulate`, on a digits table.

`tests/fixtures/digits-table.parquet` was built by `samplerbench tabulate --dataset digits
--replicates 2 --epochs 2 --reports-per-epoch 2` (25 learning rates x all 7 hidden sizes), so
it covers the `seed` space like the shipped MNIST table does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.core.errors import BenchError
from bench.core.spaces import SEED_SPACE
from bench.objectives.replay import ReplayObjective
from bench.objectives.table import META_KEY, load_curves, read_meta
from bench.objectives.tabulate import TabulationGrid, tabulate
from bench.spec.objective import ObjectiveSpec
from bench.storage.journal_records import EndMarker, write_marker
from tests.helpers.paths import DIGITS_TABLE
from tests.helpers.suites import (
    cli,
    comparable,
    digits_suite_data,
    files_in,
    one_torch_thread,
    write_suite,
)

REPLAY = {"kind": "mnist-table", "dataset": "digits", "table": str(DIGITS_TABLE),
          "epochs": 2, "reports_per_epoch": 2}


def replay_suite(path: Path, **top: object) -> Path:
    """A replay suite on the digits table: 3 strategies x 2 pruners x 3 seeds x 15 trials."""
    settings = {"trials": 15, "seeds": 3, "strategies": ["random", "tpe", "grid"],
                "pruners": ["none", "median"]}
    settings.update(top)
    return write_suite(path, digits_suite_data(REPLAY, **settings))


def test_replay_runs_are_identical_except_for_real_timings(tmp_path, capsys) -> None:
    """Also across storages and writers: a journal file (one append per cell), SQLite
    (Optuna's RDB storage, trials added through the API), and a journal file that two worker
    processes append to at once."""
    suite = replay_suite(tmp_path / "s.toml")
    tables, steps = [], []
    for name, extra in (("a", []), ("b", ["--storage", f"sqlite:///{tmp_path / 'b.db'}"]),
                        ("c", ["--executor", "processes", "--workers", "2"])):
        code, _, err = cli(capsys, "run", suite, "-o", tmp_path / name, "--no-report", *extra)
        assert code == 0, err
        tables.append(pd.read_parquet(tmp_path / name / "trials.parquet"))
        steps.append(pd.read_parquet(tmp_path / name / "steps.parquet"))
    assert len(tables[0]) == 3 * 2 * 3 * 15
    left = comparable(tables[0]).drop(columns=["cell"])
    for other in (1, 2):
        right = comparable(tables[other]).drop(columns=["cell"])
        pd.testing.assert_frame_equal(left, right)
        pd.testing.assert_frame_equal(steps[0], steps[other])
    assert steps[0]["epoch"].notna().all() and tables[0]["objective_s"].gt(0).all()
    assert tables[0]["time_simulated"].all()
    assert (tables[0]["state"] == "PRUNED").any()


def _expected_at(values: np.ndarray, lr: float, log_lrs: np.ndarray, j: int, r: int,
                 interpolation: str) -> np.ndarray:
    """An independent numpy statement of the replay model: one replicate's curve at `lr`."""
    x = math.log(lr)
    if interpolation == "nearest":
        return values[int(np.argmin(np.abs(log_lrs - x))), j, r]
    i = min(int(np.searchsorted(log_lrs, x, side="right")) - 1, len(log_lrs) - 2)
    w = (x - log_lrs[i]) / (log_lrs[i + 1] - log_lrs[i])
    mean = values[:, j].mean(axis=1)  # [L, S]
    resid = values[:, j, r] - mean
    c = 1 / math.sqrt((1 - w) ** 2 + w**2)
    return ((1 - w) * mean[i] + w * mean[i + 1]
            + c * ((1 - w) * resid[i] + w * resid[i + 1]))


@pytest.mark.parametrize("interpolation", ["log-linear", "nearest"])
def test_replayed_trial_reports_the_tables_curve_and_simulates_its_time(
        tmp_path, capsys, interpolation) -> None:
    suite = write_suite(tmp_path / "s.toml", digits_suite_data(
        dict(REPLAY, interpolation=interpolation), trials=15, seeds=2, strategies=["random"],
        pruners=["none", "median"]))
    assert cli(capsys, "run", suite, "-o", tmp_path / "r", "--no-report")[0] == 0
    trials = pd.read_parquet(tmp_path / "r" / "trials.parquet")
    steps = pd.read_parquet(tmp_path / "r" / "steps.parquet")
    curves = load_curves(DIGITS_TABLE)
    log_lrs = np.log(curves.learning_rates)
    train_cum = np.cumsum(curves.train_s, axis=-1)
    assert (trials["state"] == "PRUNED").any()
    for row in trials.itertuples():
        lr = row.param_learning_rate
        if interpolation == "nearest":
            i = int(np.argmin(np.abs(log_lrs - math.log(lr))))
            assert row.param_learning_rate_snapped == pytest.approx(curves.learning_rates[i])
        else:
            assert not hasattr(row, "param_learning_rate_snapped")
        j = list(curves.hidden_sizes).index(row.param_hidden_size)
        r = row.param_replicate
        mine = steps[(steps["cell"] == row.cell) & (steps["trial"] == row.trial)]
        expected = _expected_at(curves.val, lr, log_lrs, j, r, interpolation)[: len(mine)]
        assert mine["value"].tolist() == pytest.approx(expected.tolist(), abs=1e-12)
        assert row.value == pytest.approx(expected[-1], abs=1e-12)
        consumed = len(mine) - 1
        x = math.log(lr)  # seconds: linear in log rate (nearest: the snapped rate's)
        if interpolation == "nearest":
            i, w = int(np.argmin(np.abs(log_lrs - x))), 0.0
        else:
            i = min(int(np.searchsorted(log_lrs, x, side="right")) - 1, len(log_lrs) - 2)
            w = (x - log_lrs[i]) / (log_lrs[i + 1] - log_lrs[i])
        both = train_cum[:, j, r, consumed] + curves.eval_s[:, j, r, : consumed + 1].sum(-1)
        simulated = (1 - w) * both[i] + w * both[min(i + 1, len(both) - 1)]
        assert row.objective_s == pytest.approx(simulated)
        assert row.duration_s == pytest.approx(simulated + row.sampler_s)
        true = _expected_at(curves.val.mean(axis=2, keepdims=True), lr, log_lrs, j, 0,
                            interpolation)[-1]
        assert row.true_accuracy == pytest.approx(true, abs=1e-12)
        if row.state == "COMPLETE":
            test = _expected_at(curves.test, lr, log_lrs, j, r, interpolation)[1]
            assert row.test_accuracy == pytest.approx(test, abs=1e-12)
        else:
            assert math.isnan(row.test_accuracy)


def test_snap_goes_to_the_nearest_learning_rate_in_log_space() -> None:
    curves = load_curves(DIGITS_TABLE)
    spec = ObjectiveSpec(dataset="digits", epochs=2, reports_per_epoch=2)
    objective = ReplayObjective(curves, spec, SEED_SPACE, 0, DIGITS_TABLE)
    lrs = curves.learning_rates
    midpoint = math.sqrt(lrs[3] * lrs[4])  # the geometric midpoint of two grid points
    assert objective.snap(midpoint * 0.999) == 3
    assert objective.snap(midpoint * 1.001) == 4
    assert objective.snap(lrs[0]) == 0 and objective.snap(lrs[-1]) == len(lrs) - 1


def test_replicates_follow_the_cells_seed() -> None:
    curves = load_curves(DIGITS_TABLE)
    spec = ObjectiveSpec(dataset="digits", epochs=2, reports_per_epoch=2)
    a = ReplayObjective(curves, spec, SEED_SPACE, 7, DIGITS_TABLE)
    b = ReplayObjective(curves, spec, SEED_SPACE, 7, DIGITS_TABLE)
    c = ReplayObjective(curves, spec, SEED_SPACE, 8, DIGITS_TABLE)
    first = [a.replicate(n) for n in range(300)]
    assert first == [b.replicate(n) for n in range(300)]
    assert first != [c.replicate(n) for n in range(300)]
    assert set(first) == {0, 1}


def test_pruned_replay_trial_stops_at_the_pruners_step() -> None:
    curves = load_curves(DIGITS_TABLE)
    spec = ObjectiveSpec(dataset="digits", epochs=2, reports_per_epoch=2)
    objective = ReplayObjective(curves, spec, SEED_SPACE, 0, DIGITS_TABLE)
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    trial = study.ask()
    outcome = objective.evaluate(trial, {"learning_rate": 1e-3, "hidden_size": 128})
    assert outcome.pruned and outcome.report_epochs == (0.5,)
    assert outcome.attrs["test_accuracy"] is None
    assert outcome.attrs["epochs_completed"] == 0.5


def _rewrite_meta(src: Path, dst: Path, **changes: object) -> Path:
    table = pq.read_table(src)
    meta = json.loads(table.schema.metadata[META_KEY])
    meta.update(changes)
    pq.write_table(table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()}), dst)
    return dst


# Damaged recorded values: (column, row, value); the table's provenance is kept.
DAMAGE = {"nan_accuracy": ("val_accuracy", 5, math.nan),
          "accuracy_above_one": ("val_accuracy", 7, 97.0),
          "negative_seconds": ("train_s", 3, -0.5),
          "text_seconds": ("eval_s", 0, "fast")}


def _damage(src: Path, dst: Path, column: str, row: int, value: object) -> None:
    table = pq.read_table(src)
    frame = table.to_pandas()
    if isinstance(value, str):  # a column of text, as a hand-edited table may hold
        frame[column] = frame[column].astype(str)
    frame.loc[row, column] = value
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(
        table.schema.metadata), dst)


@pytest.mark.parametrize(("case", "expected"), [
    ("schema", "schema_version 99"),
    ("corrupt", "not a readable parquet table"),
    ("space", "hidden sizes"),
    ("lr", "learning rates"),
    ("epochs", "holds 2 epochs"),
    ("dataset", "dataset 'digits'"),
    ("nan_accuracy", "val_accuracy is nan at learning rate"),
    ("accuracy_above_one", "val_accuracy is 97.0 at learning rate"),
    ("negative_seconds", "train_s is -0.5 at learning rate"),
    ("text_seconds", "column eval_s is not numeric"),
])
def test_bad_tables_are_refused_before_anything_runs(tmp_path, capsys, case, expected) -> None:
    table = tmp_path / "t.parquet"
    objective = dict(REPLAY, table=str(table))
    table.write_bytes(DIGITS_TABLE.read_bytes())
    if case == "schema":
        _rewrite_meta(DIGITS_TABLE, table, schema_version=99)
    elif case == "corrupt":
        table.write_bytes(DIGITS_TABLE.read_bytes()[:2000])
    elif case == "space":
        objective["space"] = {"learning_rate": {"type": "float", "low": 1e-5, "high": 0.1,
                                                "log": True},
                              "hidden_size": {"type": "int", "low": 64, "high": 512,
                                              "step": 64}}
    elif case == "lr":
        objective["space"] = {"learning_rate": {"type": "float", "low": 1e-7, "high": 0.1,
                                                "log": True},
                              "hidden_size": {"type": "int", "low": 64, "high": 256,
                                              "step": 32}}
    elif case == "epochs":
        objective["epochs"] = 3
    elif case == "dataset":
        objective["dataset"] = "mnist"
    elif case in DAMAGE:
        _damage(DIGITS_TABLE, table, *DAMAGE[case])
    suite = write_suite(tmp_path / "s.toml", digits_suite_data(objective, trials=3))
    out = tmp_path / "out"
    code, _stdout, err = cli(capsys, "run", suite, "-o", out)
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert not (out / "trials.parquet").exists() and not (out / "journal.log").exists()


def test_a_replay_cell_cut_off_while_being_written_is_replayed_whole(tmp_path, capsys) -> None:
    suite = replay_suite(tmp_path / "s.toml", strategies=["random"], pruners=["none"], seeds=1)
    out = tmp_path / "r"
    assert cli(capsys, "run", suite, "-o", out, "--no-report")[0] == 0
    before = pd.read_parquet(out / "trials.parquet")
    journal = out / "journal.log"
    lines = journal.read_text(encoding="utf-8").splitlines(keepends=True)
    # Drop the completion mark and the last trials, as a kill during the append would: the
    # end marker still says what the journal held before it (nothing).
    journal.write_text("".join(lines[:-6]), encoding="utf-8")
    write_marker(journal, EndMarker(0, 0))
    assert cli(capsys, "run", suite, "-o", out, "--no-report")[0] == 0
    after = pd.read_parquet(out / "trials.parquet")
    assert len(after) == 15
    pd.testing.assert_frame_equal(comparable(before).drop(columns=["cell"]),
                                  comparable(after).drop(columns=["cell"]))


def test_tabulate_resumes_and_records_provenance(tmp_path) -> None:
    grid = TabulationGrid(n_learning_rates=3, hidden_sizes=(64, 96), replicates=2, epochs=1,
                          reports_per_epoch=2, dataset="digits")
    out = tmp_path / "t.parquet"

    def stop_after_four(done: int, total: int) -> None:
        if done == 4:
            raise KeyboardInterrupt

    with one_torch_thread():
        with pytest.raises(KeyboardInterrupt):
            tabulate(grid, out, on_run=stop_after_four)
        assert not out.exists()
        partial = out.with_name(out.name + ".partial.jsonl")
        first = partial.read_text(encoding="utf-8").splitlines()
        assert len(first) == 4
        with partial.open("a", encoding="utf-8") as f:
            f.write('[{"cut off by a kill')  # a half-written line is ignored
        runs: list[int] = []
        tabulate(grid, out, on_run=lambda done, total: runs.append(done))
    assert not partial.exists()
    df = pd.read_parquet(out)
    assert len(df) == 3 * 2 * 2 * 2
    kept = pd.DataFrame([row for line in first for row in json.loads(line)])
    merged = df.merge(kept, on=["learning_rate", "hidden_size", "replicate", "step"])
    assert len(merged) == len(kept)
    assert (merged["val_accuracy_x"] == merged["val_accuracy_y"]).all()
    meta = read_meta(out)
    assert meta["grid"]["dataset"] == "digits" and meta["dataset_checksum"]
    assert meta["device"] == "cpu" and meta["versions"]["optuna"] == optuna.__version__


def test_tabulated_table_is_complete_before_it_is_written(tmp_path) -> None:
    with pytest.raises(BenchError, match="does not exist"):
        tabulate(TabulationGrid(dataset="digits"), tmp_path / "missing" / "t.parquet")
    assert files_in(tmp_path) == []


def test_result_files_are_readable_by_others(tmp_path, capsys) -> None:
    suite = replay_suite(tmp_path / "s.toml", strategies=["random"], pruners=["none"], seeds=1)
    assert cli(capsys, "run", suite, "-o", tmp_path / "r", "--no-report")[0] == 0
    for name in ("run.json", "trials.parquet", "steps.parquet"):
        assert (tmp_path / "r" / name).stat().st_mode & 0o044 == 0o044, name
