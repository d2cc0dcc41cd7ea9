"""Optuna storages from URLs: a journal file by default, SQLite, PostgreSQL or any RDB URL."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, distribution_to_json
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from optuna.storages.journal._storage import JournalOperation

from bench.errors import BenchError
from bench.journal_index import JournalIndex

JOURNAL_FILE = "journal.log"
# A writer holds the journal's lock for one append; one killed while holding it leaves the
# lock file behind, which others take over after this many seconds (Optuna's default: 30).
JOURNAL_LOCK_GRACE_S = 5
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # one encoder for every record
HEARTBEAT_INTERVAL_S = 10  # RDB storages: a trial's process beats this often
HEARTBEAT_ENV = "SAMPLERBENCH_HEARTBEAT_S"  # overrides it (integer seconds), e.g. in tests


def resolve_storage_url(setting: str, results_dir: Path) -> str:
    """Turn a suite's `storage` setting into a full URL.

    `journal` means `<results>/journal.log`; `journal:PATH` a journal file elsewhere
    (relative paths are under the results folder); anything else is an SQLAlchemy URL.
    """
    if setting == "journal":
        return f"journal:{(results_dir / JOURNAL_FILE).resolve()}"
    if setting.startswith("journal:"):
        path = Path(setting.removeprefix("journal:"))
        return f"journal:{(path if path.is_absolute() else results_dir / path).resolve()}"
    return setting


def is_sqlite(url: str) -> bool:
    """True for SQLite URLs, which do not take several writers."""
    return url.startswith("sqlite:")


def check_writers(url: str, writers: int) -> None:
    """Refuse SQLite when more than one process writes (it fails with 'database is locked')."""
    if is_sqlite(url) and writers > 1:
        raise BenchError(
            f"SQLite storage with {writers} writers would fail with 'database is locked'; "
            "use the default journal file (one machine) or PostgreSQL (several machines)"
        )


def describe(url: str) -> str:
    """The URL with any password masked, for logs and run.json."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" not in creds:
            return url  # a user name but no password
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def open_storage(url: str, heartbeat: bool = False) -> BaseStorage:
    """Open the storage behind `url`, once per process; bad ones raise BenchError.

    Journal storages are cached: each instance replays the whole log when it opens, and
    later reads are incremental, so reopening per cell would cost O(log size) every time.

    Args:
        url: `journal:PATH` or an SQLAlchemy URL.
        heartbeat: turn on RDB heartbeats so trials of dead workers are failed.
    """
    if url.startswith("journal:"):
        cached = _JOURNALS.get(url)
        if cached is not None and cached[0] == os.getpid():
            return cached[1]
        storage = _open_storage(url, heartbeat)
        _JOURNALS[url] = (os.getpid(), storage)
        return storage
    return _open_storage(url, heartbeat)


_JOURNALS: dict[str, tuple[int, BaseStorage]] = {}


def _open_storage(url: str, heartbeat: bool) -> BaseStorage:
    if url.startswith("journal:"):
        path = Path(url.removeprefix("journal:"))
        if not path.parent.is_dir():
            raise BenchError(f"journal folder {path.parent} does not exist; create it first")
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            raise BenchError(f"journal file {path} is not readable and writable; fix its "
                             "permissions or choose another --output")
        if not os.access(path.parent, os.W_OK):
            raise BenchError(f"journal folder {path.parent} is not writable; choose a writable "
                             "--output (or --storage journal:PATH)")
        repair_journal_tail(path)
        try:
            return JournalStorage(JournalFile(path))
        except (ValueError, KeyError, UnicodeDecodeError) as err:
            raise BenchError(f"journal file {path} is corrupt ({err}); restore it from a "
                             "backup or move it away to start afresh") from None
    import sqlalchemy.exc  # imported here: journal-only runs never load SQLAlchemy

    kwargs = {}
    if heartbeat and not is_sqlite(url):
        interval = heartbeat_interval()
        kwargs = {"heartbeat_interval": interval, "grace_period": 2 * interval}
    try:
        with warnings.catch_warnings():  # heartbeat_interval is marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(driver_url(url), engine_kwargs=_engine_kwargs(url), **kwargs)
    except (optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError, ImportError,
            ValueError) as err:
        reason = str(err).splitlines()[0][:200]
        raise BenchError(f"cannot open storage {describe(url)}: {reason}; check the URL, "
                         "that the server runs and that the database exists") from None


def check_writable(storage: BaseStorage, url: str) -> None:
    """Refuse a PostgreSQL storage this user may only read, before any cell fails on it.

    Optuna would otherwise fail each write with "An exception is raised during the commit",
    which does not say that privileges are missing. (Journal files are checked when opened.)
    """
    if not isinstance(storage, RDBStorage) or not url.startswith("postgresql"):
        return
    import sqlalchemy as sa

    query = sa.text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND ("
        "(c.relkind = 'r' AND NOT (has_table_privilege(c.oid, 'INSERT') AND "
        "has_table_privilege(c.oid, 'UPDATE') AND has_table_privilege(c.oid, 'DELETE'))) OR "
        "(c.relkind = 'S' AND NOT has_sequence_privilege(c.oid, 'USAGE'))) ORDER BY 1")
    with storage.engine.connect() as conn:
        denied = [str(name) for (name,) in conn.execute(query)]
    if denied:
        raise BenchError(
            f"storage {describe(url)} is read-only for this user (cannot write "
            f"{', '.join(denied[:3])}{', ...' if len(denied) > 3 else ''}); grant INSERT, "
            "UPDATE, DELETE on its tables and USAGE on its sequences, or use another storage"
        )


def driver_url(url: str) -> str:
    """The URL with PostgreSQL's driver made explicit: psycopg2, which samplerbench depends on.

    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which is not installed.
    """
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def _engine_kwargs(url: str) -> dict[str, object]:
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": 5}, "pool_pre_ping": True}
    if is_sqlite(url):
        return {"connect_args": {"timeout": 30}}
    return {}


def _journal_file(storage: BaseStorage) -> JournalFile | None:
    """The storage's journal file when it is one of samplerbench's (`open_storage`)."""
    backend = getattr(storage, "_backend", None)
    return backend if isinstance(backend, JournalFile) else None


def stored_study_attrs(storage: BaseStorage, name: str) -> dict[str, Any] | None:
    """The user attributes of the stored study `name`, or None when there is none.

    A journal file answers from its study index, without replaying trials.
    """
    journal = _journal_file(storage)
    if journal is not None:
        return journal.index.study_attrs(name)
    try:
        return storage.get_study_user_attrs(storage.get_study_id_from_name(name))
    except KeyError:
        return None


def delete_stored_study(storage: BaseStorage, name: str) -> None:
    """Delete the stored study `name`, if there is one."""
    journal = _journal_file(storage)
    if journal is not None:
        worker_id = storage._replay_result.worker_id  # type: ignore[attr-defined]
        journal.append_indexed(lambda index: [] if name not in index.ids else [
            {"op_code": JournalOperation.DELETE_STUDY, "worker_id": worker_id,
             "study_id": index.ids[name]}])
        return
    with suppress(KeyError):
        storage.delete_study(storage.get_study_id_from_name(name))


def copy_finished_study(study: optuna.Study, storage: BaseStorage,
                        final_attrs: dict[str, Any] | None = None,
                        trial_attrs: dict[int, dict[str, Any]] | None = None) -> None:
    """Write a finished in-memory study to `storage` under the same name.

    `trial_attrs` maps trial numbers to user attributes added to those trials in the copy.

    For a journal file, the study, its attributes, every trial and `final_attrs` go in one
    fsynced append under the journal's lock, in the exact record format of `JournalStorage`,
    with the study id the journal's replay will give it (`JournalFile.append_indexed`); other
    storages get what `optuna.copy_study` does, then `final_attrs`. Either way `final_attrs`
    land last, so they can mark the copy complete.

    Raises:
        BenchError: another process stored a study of that name meanwhile.
    """
    final = dict(final_attrs or {})
    extra = trial_attrs or {}
    trials = [_with_user_attrs(t, extra.get(t.number)) for t in study.get_trials(deepcopy=False)]
    journal = _journal_file(storage)
    if journal is None:  # as optuna.copy_study, with the trials' added attributes
        target = optuna.create_study(study_name=study.study_name, storage=storage,
                                     directions=study.directions)
        for key, value in study.user_attrs.items():
            target.set_user_attr(key, value)
        target.add_trials(trials)
        for key, value in final.items():
            target.set_user_attr(key, value)
        return
    worker_id = storage._replay_result.worker_id  # type: ignore[attr-defined]
    name = study.study_name

    def records_for(index: JournalIndex) -> list[dict[str, Any]]:
        if name in index.ids:
            raise BenchError(f"study {name!r} was stored by another process while this one "
                             "ran it; two runs share this output: let one finish, then rerun")
        sid = index.next_id

        def attr_log(key: str, value: Any) -> dict[str, Any]:
            return {"op_code": JournalOperation.SET_STUDY_USER_ATTR, "worker_id": worker_id,
                    "study_id": sid, "user_attr": {key: value}}

        logs = [{"op_code": JournalOperation.CREATE_STUDY, "worker_id": worker_id,
                 "study_name": name, "directions": [int(d) for d in study.directions]}]
        logs += [attr_log(k, v) for k, v in study.user_attrs.items()]
        logs += [{"op_code": JournalOperation.CREATE_TRIAL, "worker_id": worker_id,
                  **_trial_log(sid, t)} for t in trials]
        return logs + [attr_log(k, v) for k, v in final.items()]

    journal.append_indexed(records_for)


@functools.lru_cache(maxsize=256)
def _distribution_json(distribution: BaseDistribution) -> str:
    """Optuna's JSON of a distribution; a study's trials share a handful of them."""
    return distribution_to_json(distribution)


def _with_user_attrs(trial: optuna.trial.FrozenTrial,
                     attrs: dict[str, Any] | None) -> optuna.trial.FrozenTrial:
    """A shallow copy of `trial` with `attrs` added to its user attributes."""
    if not attrs:
        return trial
    out = copy.copy(trial)
    out.user_attrs = {**trial.user_attrs, **attrs}
    return out


def _trial_log(study_id: int, t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    def iso(d: dt.datetime | None) -> str | None:
        return None if d is None else d.astimezone(dt.UTC).isoformat(timespec="microseconds")

    log: dict[str, Any] = {
        "study_id": study_id, "state": t.state, "value": t.value, "values": None,
        "datetime_start": iso(t.datetime_start),
        "distributions": {k: _distribution_json(d) for k, d in t.distributions.items()},
        "params": {k: t.distributions[k].to_internal_repr(v) for k, v in t.params.items()},
        "user_attrs": t.user_attrs, "system_attrs": t.system_attrs,
        "intermediate_values": t.intermediate_values,
    }
    if t.datetime_complete is not None:
        log["datetime_complete"] = iso(t.datetime_complete)
    return log


def repair_journal_tail(path: Path) -> int:
    """Cut a partial last record off a journal file and return how many bytes were cut.

    A writer killed (or out of disk) in the middle of an append leaves a last line without
    its newline. Optuna skips such a line when reading, but the next append would glue onto it
    and corrupt the file for good. The check runs under the journal's own lock, so a record
    that another process is writing at this moment is never cut.
    """
    if not _ends_partial(path):
        return 0
    lock = JournalFileSymlinkLock(str(path), grace_period=JOURNAL_LOCK_GRACE_S)
    lock.acquire()
    try:
        return _cut_partial_tail(path)
    finally:
        lock.release()


def _cut_partial_tail(path: Path) -> int:
    """Truncate after the last newline, say so on stderr, and return the bytes cut; the caller
    holds the journal's lock."""
    if not _ends_partial(path):
        return 0
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            start = max(0, end - 65536)
            f.seek(start)
            newline = f.read(end - start).rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
        f.truncate(end)
        f.flush()
        os.fsync(f.fileno())
    print(f"samplerbench: journal file {path} ended in a partial record (a writer was "
          f"stopped mid-write); dropped its {size - end} bytes", file=sys.stderr)
    return size - end


class JournalFile(JournalFileBackend):
    """Optuna's journal file whose appends first cut a partial record left by a dead writer.

    Cutting only at open would not do: with several writers (worker processes) a live one
    keeps the file open while another dies mid-append, and its next append would glue onto
    the partial line. The cut happens under the same lock as the append. `index` follows the
    file's studies without replaying trials (`bench.journal_index`), for `append_indexed`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = JournalFileSymlinkLock(str(path), grace_period=JOURNAL_LOCK_GRACE_S)
        self.index = JournalIndex(path)
        super().__init__(str(path), lock_obj=self.lock)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append records as Optuna does (one write, flush, fsync), after the cut."""
        self.append_indexed(lambda _index: logs, catch_up=False)

    def append_indexed(self, records_for: Callable[[JournalIndex], list[dict[str, Any]]],
                       catch_up: bool = True) -> None:
        """Append `records_for(index)` in one fsynced write, the index caught up to the end of
        the file first (so the records can take study ids from it) and the lock held
        throughout, so no other writer's record lands in between."""
        self.lock.acquire()
        try:
            _cut_partial_tail(self.path)
            if catch_up:
                self.index.catch_up()
            records = records_for(self.index)
            if not records:
                return
            data = ("\n".join(map(_ENCODE, records)) + "\n").encode("utf-8")
            with open(self.path, "ab") as f:
                at = f.tell()
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if catch_up and at == self.index.offset:  # the index saw every byte before ours
                for record in records:
                    self.index.apply(record)
                self.index.offset += len(data)
        finally:
            self.lock.release()


def _ends_partial(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False


def heartbeat_interval() -> int:
    """Seconds between heartbeats of a running trial (RDB storages): `$SAMPLERBENCH_HEARTBEAT_S`
    or HEARTBEAT_INTERVAL_S. A trial is stale after two missed intervals."""
    raw = os.environ.get(HEARTBEAT_ENV, "")
    if not raw:
        return HEARTBEAT_INTERVAL_S
    if not raw.isdigit() or int(raw) < 1:
        raise BenchError(f"{HEARTBEAT_ENV} must be a whole number of seconds >= 1, got {raw!r}")
    return int(raw)


def heartbeat_of(storage: BaseStorage) -> int | None:
    """The storage's heartbeat interval in seconds, or None when it keeps no heartbeats."""
    get = getattr(storage, "get_heartbeat_interval", None)
    return get() if callable(get) else None


@contextmanager
def trial_heartbeat(storage: BaseStorage, trial_id: int) -> Iterator[None]:
    """Record the trial's heartbeat every interval while the block runs (no-op without one).

    Optuna beats only inside `study.optimize`; the harness asks and tells itself, so it beats
    here.
    """
    interval = heartbeat_of(storage)
    if interval is None:
        yield
        return
    import sqlalchemy.exc

    stop = threading.Event()

    def beat() -> None:
        while True:
            # A failed beat is retried at the next interval; a trial that stays silent is
            # failed as stale by the next session.
            with suppress(sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError):
                storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def heartbeat_ages(storage: BaseStorage, trial_ids: Sequence[int]) -> dict[int, float | None]:
    """Seconds since each trial's last heartbeat by the database's clock (None: never beat)."""
    backend = getattr(storage, "_backend", storage)  # unwrap Optuna's cached RDB storage
    ages: dict[int, float | None] = dict.fromkeys(trial_ids)
    if not trial_ids or not isinstance(backend, RDBStorage):
        return ages
    import sqlalchemy as sa

    beats = sa.table("trial_heartbeats", sa.column("trial_id"), sa.column("heartbeat"))
    with backend.engine.connect() as conn:
        now = conn.execute(sa.select(sa.func.now())).scalar()
        rows = conn.execute(sa.select(beats.c.trial_id, beats.c.heartbeat)
                            .where(beats.c.trial_id.in_(list(trial_ids)))).all()
    now = now.replace(tzinfo=None)  # as Optuna compares them: both in the session's zone
    for trial_id, beat in rows:
        ages[int(trial_id)] = (now - beat).total_seconds()
    return ages
