"""Every use of Optuna's private API, in one place.

samplerbench needs a few things Optuna has no public API for: the storage and ids behind a
study or trial, the journal file's record format (a finished replay study is appended in one
write), the points of a `GridSampler`, the heartbeat table of an RDB storage, and (for a
benchmark's planted change) the random stream of TPE's model. No other
module touches an underscore name of Optuna's, nor writes a journal record by hand.

Each function names the Optuna versions it was checked on (`CHECKED`, the range pyproject.toml
admits, `optuna>=4.5,<6`, as released: CI runs the storage, resume, export and gate tests under
the lowest, scripts/optuna-overlay). When an internal is missing or has changed it raises one
BenchError line naming the installed Optuna and what to do, not an AttributeError deep
inside a run (tests/bench/core/test_optuna_internals.py simulates each).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import BaseDistribution, distribution_to_json
from optuna.storages import BaseStorage, JournalStorage, RDBStorage

from bench.core.errors import BenchError

if TYPE_CHECKING:  # a stored study's class, which Optuna exports from no public module
    from optuna.study._frozen import FrozenStudy

CHECKED = "4.5.0, 4.6.0, 4.7.0, 4.8.0, 4.9.0 and 5.0.0"
CHECKED_PIN = "optuna>=4.5,<5.1"  # what the error lines tell a user to install

# GridSampler's trial system attributes: the trial's point and the grid it indexes; a trial
# that carries "fixed_params" (enqueued, or retried by Optuna's callbacks) keeps its own.
GRID_ID_ATTR = "grid_id"
GRID_SPACE_ATTR = "search_space"
FIXED_PARAMS_ATTR = "fixed_params"


def changed(internal: str) -> BenchError:
    """The one error line for an Optuna internal that is missing or no longer as expected."""
    return BenchError(f"Optuna {optuna.__version__} lacks {internal}, which samplerbench uses "
                      f"(checked on Optuna {CHECKED}); install a checked release: "
                      f"pip install '{CHECKED_PIN}'")


def _attr(obj: Any, name: str, internal: str) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError:
        raise changed(internal) from None


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise changed(f"the module {name}") from None


def major_version() -> int:
    """The installed Optuna's major version."""
    return int(optuna.__version__.split(".", 1)[0])


# Studies and trials.

def study_storage(study: optuna.Study) -> BaseStorage:
    """The storage a study reads and writes (`Study._storage`: for an RDB storage, Optuna's
    caching wrapper around it). Checked on Optuna 4.5.0 to 4.9.0 and 5.0.0."""
    return _attr(study, "_storage", "Study._storage")


def tell(study: optuna.Study, trial: optuna.Trial, value: float | None = None,
         state: optuna.trial.TrialState | None = None) -> None:
    """`study.tell(trial, value, state=state)` without the deep copy of the finished trial
    that `Study.tell` returns (`optuna.study._tell._tell_with_warning`, which `Study.tell`
    calls: the same checks, the same sampler `after_trial`, the same warnings). The copy was
    a tenth of a replay cell's time. Checked on Optuna 4.5.0 to 4.9.0 and 5.0.0."""
    tell_with_warning = _attr(_module("optuna.study._tell"), "_tell_with_warning",
                              "optuna.study._tell._tell_with_warning")
    tell_with_warning(study=study, trial=trial, value_or_values=value, state=state)


def study_id(study: optuna.Study | FrozenStudy) -> int:
    """The storage's id of a study or stored study (`Study._study_id`,
    `FrozenStudy._study_id`). Checked on Optuna 4.5.0 to 4.9.0 and 5.0.0."""
    return int(_attr(study, "_study_id", f"{type(study).__name__}._study_id"))


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """The storage's id of a trial (`Trial._trial_id`, `FrozenTrial._trial_id`), which the
    storage's trial methods take. Checked on Optuna 4.5.0 to 4.9.0 and 5.0.0."""
    return int(_attr(trial, "_trial_id", f"{type(trial).__name__}._trial_id"))


# GridSampler.

def grid_points(sampler: optuna.samplers.GridSampler) -> Sequence[tuple[Any, ...]]:
    """Every point of a grid sampler in its shuffled order, indexed by the trials' GRID_ID_ATTR
    (`GridSampler._all_grids`, not copied). Checked on Optuna 4.5.0 to 4.9.0 and 5.0.0."""
    points: Sequence[tuple[Any, ...]] = _attr(sampler, "_all_grids", "GridSampler._all_grids")
    return points


def assign_grid_point(study: optuna.Study, trial: optuna.trial.FrozenTrial,
                      sampler: optuna.samplers.GridSampler, point: int) -> None:
    """Give `trial` grid point `point` as `GridSampler.before_trial` does: the system attributes
    GRID_SPACE_ATTR (`GridSampler._search_space`) and GRID_ID_ATTR, which its sampling reads.
    Checked on Optuna 4.5.0 to 4.9.0 and 5.0.0."""
    space = _attr(sampler, "_search_space", "GridSampler._search_space")
    storage, tid = study_storage(study), trial_id(trial)
    storage.set_trial_system_attr(tid, GRID_SPACE_ATTR, space)
    storage.set_trial_system_attr(tid, GRID_ID_ATTR, point)


# TPESampler.

def reseed_tpe_model(sampler: optuna.samplers.TPESampler, seed: int) -> None:
    """Reseed the stream TPE's model draws its candidates from, leaving the stream of its
    random start-up trials as it was (`TPESampler._rng`, an
    `optuna.samplers._lazy_random_state.LazyRandomState`; the start-up trials come from
    `TPESampler._random_sampler`). Checked on Optuna 4.5.0 to 4.9.0 and 5.0.0."""
    lazy = _attr(_module("optuna.samplers._lazy_random_state"), "LazyRandomState",
                 "optuna.samplers._lazy_random_state.LazyRandomState")
    _attr(sampler, "_rng", "TPESampler._rng")
    sampler._rng = lazy(seed)


# Storages.

def journal_backend(storage: BaseStorage) -> Any | None:
    """The backend (log file) of a journal storage (`JournalStorage._backend`); None for other
    storages. Checked on Optuna 4.5.0 to 4.9.0 and 5.0.0."""
    if not isinstance(storage, JournalStorage):
        return None
    return _attr(storage, "_backend", "JournalStorage._backend")


def rdb_storage_of(storage: BaseStorage) -> RDBStorage | None:
    """The RDB storage itself, also when a study wraps it in Optuna's cache
    (`optuna.storages._cached_storage._CachedStorage._backend`); None for other storages.
    Checked on Optuna 4.5.0 to 4.9.0 and 5.0.0."""
    if isinstance(storage, RDBStorage):
        return storage
    cached = _attr(_module("optuna.storages._cached_storage"), "_CachedStorage",
                   "optuna.storages._cached_storage._CachedStorage")
    if not isinstance(storage, cached):
        return None
    backend = _attr(storage, "_backend", "_CachedStorage._backend")
    return backend if isinstance(backend, RDBStorage) else None


def heartbeat_rows(storage: RDBStorage, trial_ids: Sequence[int]
                   ) -> tuple[dt.datetime, list[tuple[int, dt.datetime]]]:
    """The database's clock now and the last heartbeat of each of `trial_ids` that has one, read
    from Optuna's heartbeat table (`optuna.storages._rdb.models.TrialHeartbeatModel`: columns
    trial_id and heartbeat) through `RDBStorage.engine`. Checked on Optuna 4.5.0 to 4.9.0 and
    5.0.0 (on PostgreSQL; both are written by the database's own `CURRENT_TIMESTAMP`)."""
    import sqlalchemy as sa

    models = _module("optuna.storages._rdb.models")
    model = _attr(models, "TrialHeartbeatModel", "optuna.storages._rdb.models.TrialHeartbeatModel")
    table = _attr(model, "__table__", "TrialHeartbeatModel.__table__")
    if not {"trial_id", "heartbeat"} <= set(table.c.keys()):
        raise changed("the columns trial_id and heartbeat of the trial_heartbeats table")
    engine = _attr(storage, "engine", "RDBStorage.engine")
    with engine.connect() as conn:
        now = conn.execute(sa.select(sa.func.now())).scalar()
        rows = conn.execute(sa.select(table.c.trial_id, table.c.heartbeat)
                            .where(table.c.trial_id.in_(list(trial_ids)))).all()
    return now, [(int(t), beat) for t, beat in rows]


# The journal file's records, as JournalStorage writes them (so its replay reads them back).

@functools.cache
def _journal_operation() -> Any:
    return _attr(_module("optuna.storages.journal._storage"), "JournalOperation",
                 "optuna.storages.journal._storage.JournalOperation")


def journal_op(name: str) -> int:
    """The op code of a journal record (`optuna.storages.journal._storage.JournalOperation`:
    CREATE_STUDY 0, DELETE_STUDY 1, SET_STUDY_USER_ATTR 2, CREATE_TRIAL 4, ...; codes are the
    file format, the same in every checked version). Checked on Optuna 4.5.0 to 4.9.0 and
    5.0.0."""
    try:
        return int(_journal_operation()[name])
    except KeyError:
        raise changed(f"the journal operation JournalOperation.{name}") from None


def journal_worker_id(storage: BaseStorage) -> str:
    """The worker id this process's records carry in the journal storage `storage` (the replay
    tells its own trials by it: `JournalStorage._replay_result.worker_id`). Checked on Optuna 4.5.0
    to 4.9.0 and 5.0.0."""
    replay = _attr(storage, "_replay_result", "JournalStorage._replay_result")
    return str(_attr(replay, "worker_id", "JournalStorageReplayResult.worker_id"))


def journal_create_study(worker_id: str, name: str,
                         directions: Sequence[optuna.study.StudyDirection]) -> dict[str, Any]:
    """The record that creates study `name`. Checked on Optuna 4.5.0 to 4.9.0 and 5.0.0."""
    return {"op_code": journal_op("CREATE_STUDY"), "worker_id": worker_id, "study_name": name,
            "directions": [int(d) for d in directions]}


def journal_delete_study(worker_id: str, sid: int) -> dict[str, Any]:
    """The record that deletes the study of id `sid`. Checked on Optuna 4.5.0 to 4.9.0 and
    5.0.0."""
    return {"op_code": journal_op("DELETE_STUDY"), "worker_id": worker_id, "study_id": sid}


def journal_set_study_user_attr(worker_id: str, sid: int, key: str, value: Any
                                ) -> dict[str, Any]:
    """The record that sets a user attribute of the study of id `sid`. Checked on Optuna 4.5.0
    to 4.9.0 and 5.0.0."""
    return {"op_code": journal_op("SET_STUDY_USER_ATTR"), "worker_id": worker_id,
            "study_id": sid, "user_attr": {key: value}}


def journal_create_trial(worker_id: str, sid: int, t: optuna.trial.FrozenTrial
                         ) -> dict[str, Any]:
    """The record that adds the finished trial `t` to the study of id `sid`, as
    `JournalStorage.create_new_trial` writes one from a template trial (its datetimes in the
    installed Optuna's format, `journal_datetime`). Checked on Optuna 4.5.0 to 4.9.0 and
    5.0.0."""
    log: dict[str, Any] = {
        "op_code": journal_op("CREATE_TRIAL"), "worker_id": worker_id,
        "study_id": sid, "state": t.state, "value": t.value, "values": None,
        "datetime_start": None if t.datetime_start is None else journal_datetime(
            t.datetime_start),
        "distributions": {k: _distribution_json(d) for k, d in t.distributions.items()},
        "params": {k: t.distributions[k].to_internal_repr(v) for k, v in t.params.items()},
        "user_attrs": t.user_attrs, "system_attrs": t.system_attrs,
        "intermediate_values": t.intermediate_values,
    }
    if t.datetime_complete is not None:
        log["datetime_complete"] = journal_datetime(t.datetime_complete)
    return log


@functools.lru_cache(maxsize=256)
def _distribution_json(distribution: BaseDistribution) -> str:
    """Optuna's JSON of a distribution; a study's trials share a handful of them."""
    return distribution_to_json(distribution)


def journal_datetime(d: dt.datetime) -> str:
    """A trial datetime as the installed Optuna's JournalStorage writes it, so that its replay
    gives back the naive local time every storage returns.

    Optuna 5.0.0 writes UTC with its offset and reads any record back as naive local time;
    4.5.0 to 4.9.0 write naive local time and read a record back as it stands, so a record
    with an offset would come back timezone-aware there (and break every comparison with the
    naive datetimes of Optuna's own records). Checked on Optuna 4.5.0 to 4.9.0 and 5.0.0.
    """
    if major_version() >= 5:
        return d.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return naive_local(d).isoformat(timespec="microseconds")  # type: ignore[union-attr]


def naive_local(d: dt.datetime | None) -> dt.datetime | None:
    """`d` as naive local time, the form Optuna's storages give trial datetimes in (a naive
    one is taken as local already). Optuna 4.5.0 to 4.9.0 give a timezone-aware one for a
    journal record that Optuna 5 wrote (with its UTC offset). Checked on Optuna 4.5.0 to 4.9.0
    and 5.0.0."""
    if d is None or d.tzinfo is None:
        return d
    return d.astimezone().replace(tzinfo=None)
