"""Each use of Optuna's private API (bench.core.optuna_internals) against the installed Optuna:
it does what samplerbench relies on, and, when the internal is missing or changed (simulated
with monkeypatch), it raises the one BenchError line naming the Optuna version, never an
AttributeError. CI runs this file under the lowest admitted Optuna too (scripts/test)."""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import re
import sys
import tomllib
import types
from collections.abc import Iterator, Sequence
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.storages import InMemoryStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.study import StudyDirection
from optuna.trial import TrialState
from packaging.version import Version

from bench.core import optuna_internals as oi
from bench.core.errors import BenchError
from bench.storage import journal_index
from bench.storage.heartbeats import heartbeat_ages


def _is_the_line(err: BenchError, internal: str) -> None:
    message = str(err)
    assert "\n" not in message
    assert message.startswith(f"Optuna {optuna.__version__} lacks {internal}, "), message
    assert f"pip install '{oi.CHECKED_PIN}'" in message


@pytest.fixture(name="journal_ops_uncached")
def _journal_ops_uncached() -> Iterator[None]:
    """The op codes read afresh from Optuna (they are cached per process)."""
    oi._journal_operation.cache_clear()
    journal_index._ops.cache_clear()
    yield
    oi._journal_operation.cache_clear()
    journal_index._ops.cache_clear()


def test_the_error_line_names_the_version_the_internal_and_what_to_install() -> None:
    _is_the_line(oi.changed("Study._storage"), "Study._storage")
    assert oi.major_version() == int(optuna.__version__.split(".")[0]) in (4, 5)


# Studies and trials.

def test_storage_and_ids_of_a_study_and_its_trials() -> None:
    study = optuna.create_study(study_name="s")
    trial = study.ask()
    study.tell(trial, 1.0)
    storage = oi.study_storage(study)
    assert isinstance(storage, InMemoryStorage)
    frozen = study.trials[0]
    assert storage.get_trial(oi.trial_id(trial)).number == 0
    assert oi.trial_id(frozen) == oi.trial_id(trial)
    (summary,) = storage.get_all_studies()
    assert oi.study_id(summary) == oi.study_id(study) == storage.get_study_id_from_name("s")


@pytest.mark.parametrize(("target", "name", "internal"), [
    ("study", "_storage", "Study._storage"),
    ("study", "_study_id", "Study._study_id"),
    ("summary", "_study_id", "FrozenStudy._study_id"),
    ("trial", "_trial_id", "Trial._trial_id"),
    ("frozen", "_trial_id", "FrozenTrial._trial_id"),
])
def test_a_missing_study_or_trial_internal_is_the_one_line(
        monkeypatch: pytest.MonkeyPatch, target: str, name: str, internal: str) -> None:
    study = optuna.create_study()
    trial = study.ask()
    objects = {"study": study, "summary": oi.study_storage(study).get_all_studies()[0],
               "trial": trial, "frozen": study.trials[0]}
    monkeypatch.delattr(objects[target], name)
    read = {"_storage": oi.study_storage, "_study_id": oi.study_id, "_trial_id": oi.trial_id}
    with pytest.raises(BenchError) as err:
        read[name](objects[target])
    _is_the_line(err.value, internal)


def test_tell_finishes_a_trial_as_study_tell_does() -> None:
    """The same states, values and sampler call as the public `Study.tell`, on a study told
    both ways."""
    class Recording(optuna.samplers.RandomSampler):
        seen: list[tuple[int, TrialState]]

        def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                        state: TrialState, values: Sequence[float] | None) -> None:
            self.seen = [*getattr(self, "seen", []), (trial.number, state)]

    ours = optuna.create_study(sampler=Recording(seed=0))
    theirs = optuna.create_study(sampler=Recording(seed=0))
    for how in ((1.0, None), (None, TrialState.PRUNED), (None, TrialState.FAIL)):
        oi.tell(ours, ours.ask(), *how)
        theirs.tell(theirs.ask(), how[0], state=how[1])
    assert [(t.state, t.value) for t in ours.trials] == [
        (t.state, t.value) for t in theirs.trials] == [
        (TrialState.COMPLETE, 1.0), (TrialState.PRUNED, None), (TrialState.FAIL, None)]
    assert ours.sampler.seen == theirs.sampler.seen == [  # type: ignore[attr-defined]
        (0, TrialState.COMPLETE), (1, TrialState.PRUNED), (2, TrialState.FAIL)]
    with pytest.raises(ValueError):  # Optuna's own checks stay: a value for a pruned trial
        oi.tell(ours, ours.ask(), 1.0, TrialState.PRUNED)


def test_a_missing_tell_internal_is_the_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(importlib.import_module("optuna.study._tell"), "_tell_with_warning")
    study = optuna.create_study()
    with pytest.raises(BenchError) as err:
        oi.tell(study, study.ask(), 1.0)
    _is_the_line(err.value, "optuna.study._tell._tell_with_warning")


# GridSampler.

GRID = {"x": [0.0, 0.5, 1.0], "n": [8, 16]}


def _suggest(trial: optuna.Trial) -> tuple[float | int, ...]:
    return (trial.suggest_int("n", 8, 16), trial.suggest_float("x", 0.0, 1.0))


def test_optunas_grid_sampler_uses_the_points_and_attributes_samplerbench_reads() -> None:
    sampler = optuna.samplers.GridSampler(GRID, seed=3)
    study = optuna.create_study(sampler=sampler)
    assert sorted(oi.grid_points(sampler)) == sorted((n, x) for n in GRID["n"] for x in GRID["x"])
    trial = study.ask()  # Optuna's own before_trial gives it a point
    attrs = oi.study_storage(study).get_trial(oi.trial_id(trial)).system_attrs
    assert {oi.GRID_ID_ATTR, oi.GRID_SPACE_ATTR} <= set(attrs)
    assert _suggest(trial) == oi.grid_points(sampler)[attrs[oi.GRID_ID_ATTR]]


def test_an_assigned_grid_point_is_the_one_the_trial_suggests() -> None:
    class PointFour(optuna.samplers.GridSampler):
        def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            oi.assign_grid_point(study, trial, self, 4)

    sampler = PointFour(GRID, seed=0)
    study = optuna.create_study(sampler=sampler)
    trials = [study.ask() for _ in range(2)]
    assert [_suggest(t) for t in trials] == [oi.grid_points(sampler)[4]] * 2


@pytest.mark.parametrize(("name", "use"), [
    ("_all_grids", lambda study, sampler: oi.grid_points(sampler)),
    ("_search_space", lambda study, sampler: oi.assign_grid_point(
        study, study.trials[0], sampler, 0)),
])
def test_a_missing_grid_internal_is_the_one_line(monkeypatch: pytest.MonkeyPatch, name: str,
                                                 use: types.FunctionType) -> None:
    sampler = optuna.samplers.GridSampler(GRID)
    study = optuna.create_study(sampler=sampler)
    study.ask()
    monkeypatch.delattr(sampler, name)
    with pytest.raises(BenchError) as err:
        use(study, sampler)
    _is_the_line(err.value, f"GridSampler.{name}")


def test_the_harness_grid_sampler_reports_a_missing_grid_as_the_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from strategies.grid import AskTellGridSampler

    sampler = AskTellGridSampler(GRID, seed=0)
    assert sampler.size == 6
    monkeypatch.delattr(sampler, "_all_grids")
    with pytest.raises(BenchError) as err:
        _ = sampler.size
    _is_the_line(err.value, "GridSampler._all_grids")


# TPESampler.

def _tpe_xs(reseed: int | None) -> list[float]:
    sampler = optuna.samplers.TPESampler(seed=1, n_startup_trials=3)
    if reseed is not None:
        oi.reseed_tpe_model(sampler, reseed)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=6)
    return [t.params["x"] for t in study.trials]


def test_reseeding_tpes_model_keeps_its_start_up_trials_and_changes_the_rest() -> None:
    plain, reseeded = _tpe_xs(None), _tpe_xs(99)
    assert plain[:3] == reseeded[:3]
    assert all(a != b for a, b in zip(plain[3:], reseeded[3:], strict=True))
    assert _tpe_xs(99) == reseeded


def test_a_missing_tpe_internal_is_the_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    sampler = optuna.samplers.TPESampler(seed=0)
    monkeypatch.delattr(sampler, "_rng")
    with pytest.raises(BenchError) as err:
        oi.reseed_tpe_model(sampler, 1)
    _is_the_line(err.value, "TPESampler._rng")
    monkeypatch.delattr("optuna.samplers._lazy_random_state.LazyRandomState")
    with pytest.raises(BenchError) as err:
        oi.reseed_tpe_model(optuna.samplers.TPESampler(seed=0), 1)
    _is_the_line(err.value, "optuna.samplers._lazy_random_state.LazyRandomState")


# Storages.

def test_the_backend_of_a_journal_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = JournalFileBackend(str(tmp_path / "journal.log"))
    storage = JournalStorage(backend)
    assert oi.journal_backend(storage) is backend
    assert oi.journal_backend(InMemoryStorage()) is None
    monkeypatch.delattr(storage, "_backend")
    with pytest.raises(BenchError) as err:
        oi.journal_backend(storage)
    _is_the_line(err.value, "JournalStorage._backend")


@pytest.fixture(name="rdb")
def _rdb(tmp_path: Path) -> RDBStorage:
    with pytest.warns(optuna.exceptions.ExperimentalWarning):  # heartbeat_interval
        return RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}", heartbeat_interval=60)


def test_the_rdb_storage_behind_a_study(rdb: RDBStorage) -> None:
    study = optuna.create_study(storage=rdb)
    wrapped = oi.study_storage(study)
    assert wrapped is not rdb  # Optuna's cache around it
    assert oi.rdb_storage_of(wrapped) is rdb
    assert oi.rdb_storage_of(rdb) is rdb
    assert oi.rdb_storage_of(InMemoryStorage()) is None


def test_a_missing_rdb_cache_internal_is_the_one_line(rdb: RDBStorage,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    wrapped = oi.study_storage(optuna.create_study(storage=rdb))
    monkeypatch.delattr(wrapped, "_backend")
    with pytest.raises(BenchError) as err:
        oi.rdb_storage_of(wrapped)
    _is_the_line(err.value, "_CachedStorage._backend")
    monkeypatch.delattr("optuna.storages._cached_storage._CachedStorage")
    with pytest.raises(BenchError) as err:
        oi.rdb_storage_of(InMemoryStorage())
    _is_the_line(err.value, "optuna.storages._cached_storage._CachedStorage")
    monkeypatch.setitem(sys.modules, "optuna.storages._cached_storage", None)  # a moved module
    with pytest.raises(BenchError) as err:
        oi.rdb_storage_of(InMemoryStorage())
    _is_the_line(err.value, "the module optuna.storages._cached_storage")


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")  # ask/tell
def test_heartbeats_are_read_from_optunas_table(rdb: RDBStorage) -> None:
    study = optuna.create_study(storage=rdb)
    beating, silent = study.ask(), study.ask()
    rdb.record_heartbeat(oi.trial_id(beating))
    now, rows = oi.heartbeat_rows(rdb, [oi.trial_id(beating), oi.trial_id(silent)])
    assert [t for t, _ in rows] == [oi.trial_id(beating)]
    assert 0 <= (now - rows[0][1]).total_seconds() < 60
    ages = heartbeat_ages(oi.study_storage(study), [oi.trial_id(beating), oi.trial_id(silent)])
    assert ages[oi.trial_id(silent)] is None
    assert 0 <= ages[oi.trial_id(beating)] < 60  # type: ignore[operator]


def test_a_changed_heartbeat_table_is_the_one_line(rdb: RDBStorage,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import optuna.storages._rdb.models as models

    table = types.SimpleNamespace(__table__=sa.table("trial_heartbeats", sa.column("trial_id"),
                                                     sa.column("beat_at")))
    monkeypatch.setattr(models, "TrialHeartbeatModel", table)
    with pytest.raises(BenchError) as err:
        oi.heartbeat_rows(rdb, [0])
    _is_the_line(err.value, "the columns trial_id and heartbeat of the trial_heartbeats table")
    monkeypatch.delattr(models, "TrialHeartbeatModel")
    with pytest.raises(BenchError) as err:
        oi.heartbeat_rows(rdb, [0])
    _is_the_line(err.value, "optuna.storages._rdb.models.TrialHeartbeatModel")


# The journal file's records.

def test_journal_op_codes_are_the_file_formats(journal_ops_uncached: None) -> None:
    codes = {name: oi.journal_op(name)
             for name in ("CREATE_STUDY", "DELETE_STUDY", "SET_STUDY_USER_ATTR", "CREATE_TRIAL")}
    assert codes == {"CREATE_STUDY": 0, "DELETE_STUDY": 1, "SET_STUDY_USER_ATTR": 2,
                     "CREATE_TRIAL": 4}


def test_a_missing_journal_operation_is_the_one_line(journal_ops_uncached: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BenchError) as err:
        oi.journal_op("CREATE_STUDY_V2")
    _is_the_line(err.value, "the journal operation JournalOperation.CREATE_STUDY_V2")
    monkeypatch.delattr("optuna.storages.journal._storage.JournalOperation")
    oi._journal_operation.cache_clear()
    with pytest.raises(BenchError) as err:
        oi.journal_op("CREATE_STUDY")
    _is_the_line(err.value, "optuna.storages.journal._storage.JournalOperation")


def test_the_worker_id_is_the_one_optuna_writes(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "journal.log"
    storage = JournalStorage(JournalFileBackend(str(path)))
    optuna.create_study(study_name="s", storage=storage)
    record = json.loads(path.read_text().splitlines()[0])
    assert record["worker_id"] == oi.journal_worker_id(storage)
    monkeypatch.delattr(storage, "_replay_result")
    with pytest.raises(BenchError) as err:
        oi.journal_worker_id(storage)
    _is_the_line(err.value, "JournalStorage._replay_result")


def _trial(start: dt.datetime, state: TrialState = TrialState.COMPLETE) -> optuna.trial.FrozenTrial:
    trial = optuna.trial.create_trial(
        state=state, value=0.25 if state == TrialState.COMPLETE else None,
        params={"x": 0.5, "n": 16},
        distributions={"x": FloatDistribution(0.0, 1.0), "n": IntDistribution(8, 64, step=8)},
        intermediate_values={1: 0.5, 2: 0.25}, user_attrs={"u": [1, 2]},
        system_attrs={"s": "v"})
    trial.datetime_start = start
    trial.datetime_complete = start + dt.timedelta(seconds=3, microseconds=7)
    return trial


@pytest.mark.parametrize("zone", [None, dt.UTC, dt.timezone(dt.timedelta(hours=-7))],
                         ids=["naive-local", "utc", "utc-7"])
def test_records_read_back_by_optunas_replay_with_naive_local_datetimes(
        tmp_path: Path, zone: dt.tzinfo | None) -> None:
    backend = JournalFileBackend(str(tmp_path / "journal.log"))
    start = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=zone)
    written = [_trial(start), _trial(start, TrialState.PRUNED)]
    backend.append_logs(
        [oi.journal_create_study("w", "gone", [StudyDirection.MINIMIZE]),
         oi.journal_delete_study("w", 0),
         oi.journal_create_study("w", "s", [StudyDirection.MAXIMIZE]),
         oi.journal_set_study_user_attr("w", 1, "label", {"k": 1})]
        + [oi.journal_create_trial("w", 1, t) for t in written])
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))
    assert [s.study_name for s in storage.get_all_studies()] == ["s"]
    study = optuna.load_study(study_name="s", storage=storage)
    assert study.direction == StudyDirection.MAXIMIZE
    assert study.user_attrs == {"label": {"k": 1}}
    for got, want in zip(study.trials, written, strict=True):
        assert (got.state, got.value, got.params, got.intermediate_values, got.user_attrs,
                got.system_attrs) == (want.state, want.value, want.params,
                                      want.intermediate_values, want.user_attrs,
                                      want.system_attrs)
        assert got.datetime_start is not None and got.datetime_start.tzinfo is None
        assert got.datetime_start == oi.naive_local(want.datetime_start)
        assert got.datetime_complete == oi.naive_local(want.datetime_complete)


def test_naive_local_keeps_naive_times_and_converts_aware_ones() -> None:
    naive = dt.datetime(2024, 1, 2, 3, 4, 5)
    aware = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert oi.naive_local(None) is None
    assert oi.naive_local(naive) is naive
    local = oi.naive_local(aware)
    assert local is not None and local.tzinfo is None
    assert local.astimezone(dt.UTC) == aware  # the same instant, read as local time


# Nothing else reaches into Optuna.

CODE = ("bench", "strategies", "benchmarks", "reports", "scripts")
_PRIVATE_IMPORT = re.compile(r"^[ \t]*(?:from|import)\s+optuna[\w.]*\._", re.MULTILINE)
_ATTRIBUTE = re.compile(r"(\w+)\s*\.\s*(_[a-z]\w*)\b")
_GETATTR = re.compile(r"getattr\([^,()]+,\s*[\"'](_[a-z]\w*)[\"']")


@functools.cache
def _optunas_private_names() -> frozenset[str]:
    """Names of Optuna's private attributes and methods, read from its installed source."""
    names: set[str] = set()
    for source in Path(optuna.__file__).parent.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        names |= set(re.findall(r"self\.(_[a-z]\w*)\s*[:=]", text))
        names |= set(re.findall(r"def (_[a-z]\w*)\(self", text))
    return frozenset(names)


def _reaches_into_optuna(text: str) -> list[int]:
    """The numbers of the lines that import a private Optuna module or use a private name of
    Optuna's on anything but `self` or `cls`."""
    private = _optunas_private_names()
    hits = list(_PRIVATE_IMPORT.finditer(text))
    hits += [m for m in _ATTRIBUTE.finditer(text)
             if m.group(1) not in ("self", "cls") and m.group(2) in private]
    hits += [m for m in _GETATTR.finditer(text) if m.group(1) in private]
    return sorted({text.count("\n", 0, m.start() + 1) + 1 for m in hits})


def test_the_scan_finds_each_kind_of_reach_into_optuna() -> None:
    assert {"_storage", "_trial_id", "_study_id", "_backend", "_replay_result", "_all_grids",
            "_search_space"} <= _optunas_private_names()
    code = ("from optuna.storages.journal._storage import JournalOperation\n"
            "worker = storage._replay_result.worker_id\n"
            "backend = getattr(storage, '_backend', None)\n"
            "n = len(self._all_grids)\n"
            "study.tell(trial._number_of_things)\n")
    assert _reaches_into_optuna(code) == [1, 2, 3]


def test_only_the_internals_module_reaches_into_optuna() -> None:
    here = Path(oi.__file__).resolve()
    root = here.parents[2]
    offenders = {
        str(path.relative_to(root)): hits
        for folder in CODE for path in sorted((root / folder).rglob("*.py"))
        if path.resolve() != here
        and (hits := _reaches_into_optuna(path.read_text(encoding="utf-8")))}
    assert not offenders, f"use bench.core.optuna_internals instead: {offenders}"


def test_ci_runs_under_the_lowest_optuna_that_pyproject_admits() -> None:
    root = Path(oi.__file__).resolve().parents[2]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if re.match(r"optuna\s*[<>=!~]", d)]
    lowest = re.search(r">=\s*([\d.]+)", spec)
    ci = re.search(r"^OPTUNA_LOWEST=([\d.]+)$", (root / "scripts" / "test").read_text(),
                   re.MULTILINE)
    assert lowest and ci, (spec, "OPTUNA_LOWEST in scripts/test")
    assert Version(ci.group(1)) == Version(lowest.group(1))
    assert ci.group(1) in oi.CHECKED
