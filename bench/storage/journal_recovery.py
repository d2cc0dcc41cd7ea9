"""Recover a damaged journal file: keep the whole records before its first damage, keep the
damaged file beside it, and rewrite the end marker (`samplerbench recover`).

Only a prefix is kept: a record missing or corrupt mid-file may be one that later records
depend on (Optuna numbers trials by their create records in file order), so nothing after it
can be trusted. Cells that lost trials are then run again by `samplerbench run`, which the user
asks for; nothing is retrained here.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from optuna.storages.journal import JournalFileSymlinkLock

from bench.core.errors import BenchError
from bench.storage.journal import JOURNAL_FILE, JOURNAL_LOCK_GRACE_S
from bench.storage.journal_records import (
    EndMarker,
    marker_path,
    read_marker,
    scan,
    write_marker,
)


@dataclass(frozen=True)
class Recovery:
    """What `recover_journal` kept and dropped."""

    path: Path
    kept_bytes: int
    kept_records: int  # lines, stamped or not
    dropped_bytes: int
    dropped_lines: int
    reason: str  # why the rest was dropped, or why nothing was
    damaged_copy: Path | None  # the file as it was; None when nothing changed


def journal_path(target: Path) -> Path:
    """The journal file of a results folder, or `target` itself when it is a file."""
    path = target / JOURNAL_FILE if target.is_dir() else target
    if not path.is_file():
        raise BenchError(f"no journal file at {path}; pass a results folder holding "
                         f"{JOURNAL_FILE} or the journal file itself")
    return path


def recover_journal(path: Path) -> Recovery:
    """Cut `path` back to the whole, checked records before its first damage, under the
    journal's lock (stop every run writing to it first); the file as it was is kept as
    `PATH.damaged` (or `.damaged.N`)."""
    lock = JournalFileSymlinkLock(str(path), grace_period=JOURNAL_LOCK_GRACE_S)
    lock.acquire()
    try:
        data = path.read_bytes()
        found = scan(path, data)
        keep, lines, stamped = found.bytes, found.lines, found.records
        reason = None if found.damage is None else found.damage.what
        end = _marker_or_none(path)
        if keep == len(data) and (end is None or (end.bytes <= keep and end.records <= stamped)):
            if end != EndMarker(keep, stamped):  # missing, damaged or behind: rewritten
                write_marker(path, EndMarker(keep, stamped))
            return Recovery(path, keep, lines, 0, 0, "the journal is whole", None)
        if reason is None:
            reason = (f"the file is {len(data):,} bytes but its marker says {end.bytes:,} were "
                      "committed" if end is not None and end.bytes > keep
                      else "records counted by its marker are gone")
        copy = _free_name(path.with_name(path.name + ".damaged"))
        try:
            os.link(path, copy)
        except OSError:
            shutil.copy2(path, copy)
        tmp = path.with_name(f".{path.name}.recovered")
        with open(tmp, "wb") as f:
            f.write(data[:keep])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        write_marker(path, EndMarker(keep, stamped))
        rest = data[keep:]
        return Recovery(path, keep, lines, len(rest), rest.count(b"\n"), reason, copy)
    except OSError as err:
        raise BenchError(f"cannot recover {path} ({err.strerror or err}); free some space or "
                         "fix the folder's permissions and run again") from None
    finally:
        lock.release()


def _marker_or_none(path: Path) -> EndMarker | None:
    """The end marker; None when it is missing or damaged (it is rewritten either way)."""
    try:
        return read_marker(path)
    except BenchError:
        return None


def _free_name(path: Path) -> Path:
    """`path`, or `path.N` for the first N not taken."""
    candidate, n = path, 1
    while candidate.exists():
        candidate, n = path.with_name(f"{path.name}.{n}"), n + 1
    return candidate


def describe(recovery: Recovery) -> list[str]:
    """The lines `samplerbench recover` prints."""
    r = recovery
    if r.damaged_copy is None:
        return [f"{r.path}: {r.reason} ({r.kept_records:,} records, {r.kept_bytes:,} bytes); "
                f"nothing to recover ({marker_path(r.path).name} checked)"]
    return [
        f"{r.path}: kept the {r.kept_records:,} whole records before byte {r.kept_bytes:,}; "
        f"dropped {r.dropped_bytes:,} bytes ({r.dropped_lines:,} records) because {r.reason}",
        f"the file as it was is {r.damaged_copy}",
        "next: `samplerbench run` with the same suite and output redoes the trials that were "
        "lost, or `samplerbench export RESULTS --force` writes the tables of what was kept",
    ]
