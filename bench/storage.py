"""Optuna storages from URLs: a journal file by default, SQLite, PostgreSQL or any RDB URL."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from bench.errors import BenchError

JOURNAL_FILE = "journal.log"
HEARTBEAT_INTERVAL_S = 30


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
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def open_storage(url: str, heartbeat: bool = False) -> BaseStorage:
    """Open the storage behind `url`; unreachable or unwritable ones raise BenchError.

    Args:
        url: `journal:PATH` or an SQLAlchemy URL.
        heartbeat: turn on RDB heartbeats so trials of dead workers are failed.
    """
    if url.startswith("journal:"):
        path = Path(url.removeprefix("journal:"))
        if not path.parent.is_dir():
            raise BenchError(f"journal folder {path.parent} does not exist; create it first")
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            raise BenchError(f"journal file {path} is not readable and writable; fix its "
                             "permissions or choose another --output")
        if not os.access(path.parent, os.W_OK):
            raise BenchError(f"cannot write in {path.parent}; choose a writable --output")
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except (ValueError, KeyError, UnicodeDecodeError) as err:
            raise BenchError(f"journal file {path} is corrupt ({err}); restore it from a "
                             "backup or move it away to start afresh") from None
    kwargs = {}
    if heartbeat and not is_sqlite(url):
        kwargs = {"heartbeat_interval": HEARTBEAT_INTERVAL_S,
                  "grace_period": 2 * HEARTBEAT_INTERVAL_S}
    try:
        return RDBStorage(url, engine_kwargs=_engine_kwargs(url), **kwargs)
    except (optuna.exceptions.StorageInternalError, ImportError, ValueError) as err:
        reason = str(err).splitlines()[0][:200]
        raise BenchError(f"cannot open storage {describe(url)}: {reason}; check the URL, "
                         "that the server runs and that the database exists") from None


def _engine_kwargs(url: str) -> dict[str, object]:
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": 5}, "pool_pre_ping": True}
    if is_sqlite(url):
        return {"connect_args": {"timeout": 30}}
    return {}
