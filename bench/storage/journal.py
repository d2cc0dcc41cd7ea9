"""The journal file: Optuna's file backend with a short lock grace period, an indexed append of
a whole study in one write, and repair of a record cut off by a killed writer."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from optuna.storages import BaseStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

from bench.core.optuna_internals import journal_backend
from bench.storage.journal_index import JournalIndex

JOURNAL_FILE = "journal.log"


# A writer holds the journal's lock for one append; one killed while holding it leaves the
# lock file behind, which others take over after this many seconds (Optuna's default: 30).
JOURNAL_LOCK_GRACE_S = 5


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # one encoder for every record


def journal_file_of(storage: BaseStorage) -> JournalFile | None:
    """The storage's journal file when it is one of samplerbench's (`open_storage`)."""
    backend = journal_backend(storage)
    return backend if isinstance(backend, JournalFile) else None


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
