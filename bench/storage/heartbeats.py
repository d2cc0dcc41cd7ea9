"""Trial heartbeats on RDB storages: the interval, a beating context for a running trial, and
the age of each trial's last beat."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

import optuna
from optuna.storages import BaseStorage

from bench.core.errors import BenchError
from bench.core.optuna_internals import heartbeat_rows, rdb_storage_of

HEARTBEAT_INTERVAL_S = 10  # RDB storages: a trial's process beats this often


HEARTBEAT_ENV = "SAMPLERBENCH_HEARTBEAT_S"  # overrides it (integer seconds), e.g. in tests


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
    ages: dict[int, float | None] = dict.fromkeys(trial_ids)
    rdb = rdb_storage_of(storage) if trial_ids else None
    if rdb is None:
        return ages
    now, rows = heartbeat_rows(rdb, trial_ids)
    now = now.replace(tzinfo=None)  # as Optuna compares them: both in the session's zone
    for trial_id, beat in rows:
        ages[trial_id] = (now - beat).total_seconds()
    return ages
