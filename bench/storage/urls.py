"""Storage URLs: the journal file by default, SQLite, PostgreSQL or any SQLAlchemy URL; how to
name and describe one without its password."""

from __future__ import annotations

from pathlib import Path

from bench.core.errors import BenchError
from bench.storage.journal import JOURNAL_FILE


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


MASK = "***"
STORAGE_ENV = "SAMPLERBENCH_STORAGE"  # the real storage URL when run.json holds a masked one


def _password(url: str) -> str | None:
    """The password a URL carries (`[scheme://]user:password@host...`), or None."""
    if url.startswith("journal"):
        return None  # a file path, whatever characters it holds
    head, at, _ = url.rpartition("@")
    creds = head.rpartition("://")[2]
    if not at or ":" not in creds:
        return None
    return creds.split(":", 1)[1] or None


def describe(url: str) -> str:
    """The URL with any password masked, for logs, errors and run.json (with or without a
    scheme, so a mistyped URL is masked too)."""
    secret = _password(url)
    if secret is None:
        return url
    head, _, host = url.rpartition("@")
    prefix = head[: len(head) - len(secret)]
    return f"{prefix}{MASK}@{host}"


def hide_password(text: str, url: str) -> str:
    """`text` (a driver's error, say) with the password of `url` masked wherever it appears."""
    secret = _password(url)
    return text.replace(secret, MASK) if secret else text


def is_masked(url: str) -> bool:
    """True for a URL whose password `describe` masked (it cannot connect)."""
    return _password(url) == MASK


def driver_url(url: str) -> str:
    """The URL with PostgreSQL's driver made explicit: psycopg2, which samplerbench depends on.

    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which is not installed.
    """
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def engine_kwargs(url: str) -> dict[str, object]:
    """SQLAlchemy engine options: PostgreSQL gives up connecting after 5 s and checks pooled
    connections before use; SQLite waits up to 30 s for a lock."""
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": 5}, "pool_pre_ping": True}
    if is_sqlite(url):
        return {"connect_args": {"timeout": 30}}
    return {}
