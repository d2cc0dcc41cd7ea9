"""The journal study index against Optuna's own replay: the same ids, names and labels, and
studies appended through it read back by Optuna trial for trial, also from two processes."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages import JournalStorage

from bench.core.errors import BenchError
from bench.core.optuna_internals import journal_backend, journal_create_study, study_id
from bench.storage.journal import JournalFile
from bench.storage.journal_index import JournalIndex
from bench.storage.studies import copy_finished_study, delete_stored_study, stored_study_attrs


def _finished_study(name: str, n: int, seed: int) -> optuna.Study:
    """An in-memory study of `n` finished trials (one pruned), labelled."""
    study = optuna.create_study(study_name=name, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    study.set_user_attr("label", {"name": name, "n": n})

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 1e-5, 1e-1, log=True)
        h = trial.suggest_int("h", 64, 256, step=32)
        for step in (1, 2):
            trial.report(x * step + h, step)
        if trial.number == 1:
            raise optuna.TrialPruned()
        return x + h

    study.optimize(objective, n_trials=n)
    return study


def _optuna_view(path: Path) -> dict[str, tuple[int, dict[str, Any]]]:
    """Optuna's own replay of the file: name -> (id, user attributes)."""
    storage = JournalStorage(JournalFile(path))
    return {s.study_name: (study_id(s), s.user_attrs) for s in storage.get_all_studies()}


def _index_view(path: Path) -> dict[str, tuple[int, dict[str, Any]]]:
    index = JournalIndex(path)
    index.catch_up()
    return {name: (i, index.attrs[i]) for name, i in index.ids.items()}


def _same_trials(stored: optuna.Study, source: optuna.Study, extra: dict[int, Any],
                 times: bool = True) -> None:
    """The same trials; with `times`, the same datetimes too (naive local, as in the source)."""
    got, want = stored.trials, source.trials
    assert len(got) == len(want) > 0
    for g, w in zip(got, want, strict=True):
        assert (g.number, g.state, g.value, g.params) == (w.number, w.state, w.value, w.params)
        assert g.intermediate_values == w.intermediate_values
        if times:
            assert (g.datetime_start, g.datetime_complete) == (w.datetime_start,
                                                               w.datetime_complete)
        assert g.user_attrs == {**w.user_attrs, **extra.get(w.number, {})}


def test_the_index_agrees_with_optunas_replay_through_creates_deletes_and_appends(
        tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    optuna_side = JournalStorage(JournalFile(path))  # Optuna's API: records of every kind
    a = optuna.create_study(study_name="a", storage=optuna_side)
    a.set_user_attr("k", 1)
    a.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    ours = JournalStorage(JournalFile(path))  # a second writer, as another process would be
    first = _finished_study("copied-1", 4, seed=1)
    copy_finished_study(first, ours, {"done": True}, {0: {"extra": "x"}})
    optuna_side.delete_study(study_id(a))
    optuna.create_study(study_name="b", storage=optuna_side).set_user_attr("k", 2)
    optuna.create_study(study_name="a", storage=optuna_side)  # a name freed by the delete
    # Another worker's create of a live name: Optuna's replay ignores it, so must the index.
    journal_backend(optuna_side).append_logs([journal_create_study(
        "elsewhere", "b", [optuna.study.StudyDirection.MINIMIZE])])
    second = _finished_study("copied-2", 5, seed=2)
    copy_finished_study(second, ours, {"done": True})
    delete_stored_study(ours, "copied-1")
    copy_finished_study(first, ours, {"done": "again"})

    view = _optuna_view(path)
    assert _index_view(path) == view
    assert journal_backend(ours).index.ids == {n: i for n, (i, _) in view.items()}
    assert sorted(view) == ["a", "b", "copied-1", "copied-2"]
    assert view["copied-1"][1] == {"label": {"name": "copied-1", "n": 4}, "done": "again"}
    reader = JournalStorage(JournalFile(path))
    _same_trials(optuna.load_study(study_name="copied-2", storage=reader), second, {})
    _same_trials(optuna.load_study(study_name="copied-1", storage=reader), first, {})
    assert stored_study_attrs(ours, "copied-2") == {"label": {"name": "copied-2", "n": 5},
                                                    "done": True}
    assert stored_study_attrs(ours, "nope") is None


def test_extra_trial_attributes_are_attached_in_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    study = _finished_study("s", 4, seed=3)
    extra = {0: {"m": {"objective_s": 1.5}}, 2: {"m": {"objective_s": 2.5}}}
    copy_finished_study(study, JournalStorage(JournalFile(path)), {"done": True}, extra)
    stored = optuna.load_study(study_name="s", storage=JournalStorage(JournalFile(path)))
    _same_trials(stored, study, extra)


def test_a_second_copy_of_a_stored_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    storage = JournalStorage(JournalFile(path))
    study = _finished_study("s", 2, seed=0)
    copy_finished_study(study, storage)
    size = path.stat().st_size
    with pytest.raises(BenchError, match="was stored by another process"):
        copy_finished_study(study, JournalStorage(JournalFile(path)))
    assert path.stat().st_size == size  # nothing written


def _copy_many(path: str, prefix: str, count: int) -> None:
    storage = JournalStorage(JournalFile(Path(path)))
    for k in range(count):
        copy_finished_study(_finished_study(f"{prefix}-{k}", 3, seed=k), storage, {"k": k})


def test_two_processes_appending_at_once_get_the_ids_optuna_gives(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_copy_many, args=(str(path), p, 25)) for p in "pq"]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    view = _optuna_view(path)
    assert len(view) == 50 and _index_view(path) == view
    reader = JournalStorage(JournalFile(path))
    for name, (_, attrs) in view.items():
        k = attrs["k"]
        _same_trials(optuna.load_study(study_name=name, storage=reader),
                     _finished_study(name, 3, seed=k), {}, times=False)  # a rerun: other times


def test_a_partial_last_line_waits_and_a_corrupt_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    copy_finished_study(_finished_study("s", 2, seed=0), JournalStorage(JournalFile(path)))
    index = JournalIndex(path)
    index.catch_up()
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b'{"op_code":0,"worker_id":"w","study_name":"t","direc')  # a writer mid-append
    index.catch_up()
    assert index.offset == size and "t" not in index.ids
    with open(path, "ab") as f:
        f.write(b'tions":[1]}\n')
    index.catch_up()
    assert index.ids["t"] == 1
    with open(path, "ab") as f:
        f.write(b'{"op_code":2,"worker_id":"w","study_id":1,"user_attr":{"k":\n')
    at = path.stat().st_size - 60
    with pytest.raises(BenchError, match=f"damaged at byte {at:,}: a record is not valid JSON"):
        index.catch_up()


def test_a_replaced_file_is_read_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    copy_finished_study(_finished_study("old", 2, seed=0), JournalStorage(JournalFile(path)))
    index = JournalIndex(path)
    index.catch_up()
    os.replace(_write_other(tmp_path), path)
    index.catch_up()
    assert list(index.ids) == ["new"]


def _write_other(tmp_path: Path) -> Path:
    other = tmp_path / "other.log"
    copy_finished_study(_finished_study("new", 2, seed=1), JournalStorage(JournalFile(other)))
    return other
