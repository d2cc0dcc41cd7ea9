"""Open an Optuna storage from its URL (once per process for a journal file) and check that it
can be written."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage

from bench.core.errors import BenchError
from bench.storage.heartbeats import heartbeat_interval
from bench.storage.journal import JournalFile, repair_journal_tail
from bench.storage.urls import describe, driver_url, engine_kwargs, hide_password, is_sqlite


def open_storage(url: str, heartbeat: bool = False) -> BaseStorage:
    """Open the storage behind `url`, once per process; bad ones raise BenchError.

    Journal storages are cached: each instance replays the whole log when it opens, and
    later reads are incremental, so reopening per cell would cost O(log size) every time.

    Args:
        url: `journal:PATH` or an SQLAlchemy URL.
        heartbeat: turn on RDB heartbeats so trials of dead workers are failed.
    """
    if url.startswith("journal:"):
        path = Path(url.removeprefix("journal:"))
        cached, inode = _JOURNALS.get(url), _inode(path)
        if cached is not None and cached[0] == os.getpid() and cached[1] in (None, inode):
            repair_journal_tail(path)  # damaged since it was opened: say so
            _JOURNALS[url] = (cached[0], inode, cached[2])  # created by its first append
            return cached[2]
        storage = _open_storage(url, heartbeat)
        _JOURNALS[url] = (os.getpid(), inode, storage)
        return storage
    return _open_storage(url, heartbeat)


# url -> (process, the file's device and inode, storage); another file under the same name
# (a recovered journal, say) is opened afresh.
_JOURNALS: dict[str, tuple[int, tuple[int, int] | None, BaseStorage]] = {}


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


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
        backend = JournalFile(path)
        try:
            storage = JournalStorage(backend)  # replays every record, checking each stamp
        except (ValueError, KeyError, UnicodeDecodeError) as err:
            raise BenchError(f"journal file {path} is corrupt ({err}); restore it from a "
                             "backup or move it away to start afresh") from None
        backend.check_committed()
        return storage
    import sqlalchemy.exc  # imported here: journal-only runs never load SQLAlchemy

    kwargs = {}
    if heartbeat and not is_sqlite(url):
        interval = heartbeat_interval()
        kwargs = {"heartbeat_interval": interval, "grace_period": 2 * interval}
    try:
        with warnings.catch_warnings():  # heartbeat_interval is marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(driver_url(url), engine_kwargs=engine_kwargs(url), **kwargs)
    except (optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError, ImportError,
            ValueError) as err:
        reason = hide_password(str(err).splitlines()[0], url)[:200]
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
