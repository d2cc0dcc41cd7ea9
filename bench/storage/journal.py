"""The journal file: Optuna's file backend with a short lock grace period, checksummed records
and an end marker (`bench.storage.journal_records`), an indexed append of a whole study in one
write, and repair of a record cut off by a stopped writer, told apart from damage."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from optuna.storages import BaseStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

from bench.core.optuna_internals import journal_backend
from bench.storage.journal_index import JournalIndex
from bench.storage.journal_records import (
    EndMarker,
    RecordCheck,
    check_against_marker,
    check_record_count,
    damage,
    decode,
    marker_path,
    read_marker,
    stamp,
    stamp_of,
    write_marker,
)

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
    """Check a journal file against its end marker, cut a partial last record off it, and
    return how many bytes were cut.

    A writer killed (or out of disk) in the middle of an append leaves a last line without
    its newline, beyond the end marker. Optuna skips such a line when reading, but the next
    append would glue onto it and corrupt the file for good. A file shorter than its marker
    lost committed records: that is damage (JournalDamage), never cut. The cut runs under the
    journal's own lock, so a record that another process is writing at this moment is never
    cut.
    """
    if not path.exists():
        return 0
    end = read_marker(path)  # before the size: the marker lags the file, never leads it
    check_against_marker(path, path.stat().st_size, end)
    if not _ends_partial(path):
        return 0
    lock = JournalFileSymlinkLock(str(path), grace_period=JOURNAL_LOCK_GRACE_S)
    lock.acquire()
    try:
        return _cut_partial_tail(path, read_marker(path))
    finally:
        lock.release()


def _cut_partial_tail(path: Path, end: EndMarker | None) -> int:
    """Truncate after the last newline, say so on stderr, and return the bytes cut; the caller
    holds the journal's lock. Only bytes beyond the end marker are ever cut."""
    if not _ends_partial(path):
        return 0
    floor = 0 if end is None else end.bytes
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        cut = _last_line_end(f, size, floor)
        if cut < floor:
            raise damage(path, max(cut, 0), "the committed records do not end in a newline")
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
    print(f"samplerbench: journal file {path} ended in a partial record (a writer was "
          f"stopped mid-write); dropped its {size - cut} bytes", file=sys.stderr)
    return size - cut


def _last_line_end(f: Any, size: int, floor: int) -> int:
    """The offset just after the open file's last newline before `size`, searched back to the
    newline that ends the committed bytes (`floor`); -1 when that one is missing too."""
    lowest = max(floor - 1, 0)
    end = size
    while end > lowest:
        start = max(lowest, end - 65536)
        f.seek(start)
        newline = f.read(end - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0 if floor == 0 else -1


class JournalFile(JournalFileBackend):
    """Optuna's journal file whose appends stamp each record, keep the end marker, and first
    cut a partial record left by a dead writer; its reads check every stamp.

    Cutting only at open would not do: with several writers (worker processes) a live one
    keeps the file open while another dies mid-append, and its next append would glue onto
    the partial line. The cut happens under the same lock as the append. `index` follows the
    file's studies without replaying trials (`bench.journal_index`), for `append_indexed`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = JournalFileSymlinkLock(str(path), grace_period=JOURNAL_LOCK_GRACE_S)
        self.index = JournalIndex(path)
        self._offsets: dict[int, int] = {0: 0}  # log number -> byte offset of its line
        self._check = RecordCheck(path)
        self._checked = 0  # lines checked so far, from the start of the file
        self._read_to = 0  # the byte after the last whole line read
        super().__init__(str(path), lock_obj=self.lock)

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        """Yield the records from number `log_number_from` on, as Optuna's backend does (a
        partial last line waits for its writer), checking each line's stamp once."""
        with open(self.path, "rb") as f:
            remaining = os.fstat(f.fileno()).st_size
            number = log_number_from if log_number_from in self._offsets else 0
            at = self._offsets[number]
            f.seek(at)
            remaining -= at
            for line in f:
                remaining -= len(line)
                if remaining < 0 or not line.endswith(b"\n"):
                    break
                body = line[:-1]
                if number == self._checked:
                    self._check.check(body, at)
                    self._checked += 1
                self._offsets[number + 1] = at + len(line)
                self._read_to = max(self._read_to, at + len(line))
                if number >= log_number_from:
                    yield decode(self.path, body, at)
                number += 1
                at += len(line)

    def check_committed(self) -> None:
        """After a whole read: refuse fewer stamped records than the end marker counts, and say
        so when a stamped journal has lost its marker. A marker beyond the bytes read counts
        records that other writers appended since, so it proves nothing yet."""
        end = read_marker(self.path)
        if end is not None and end.bytes <= self._read_to:
            check_record_count(self.path, self._check.next_seq, end)
        if end is None and self._check.next_seq > 0:
            print(f"samplerbench: {marker_path(self.path)} is missing, so records lost before "
                  "now cannot be detected; it is written again with the next record",
                  file=sys.stderr)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append records as Optuna does (one write, flush, fsync), after the cut."""
        self.append_indexed(lambda _index: logs, catch_up=False)

    def append_indexed(self, records_for: Callable[[JournalIndex], list[dict[str, Any]]],
                       catch_up: bool = True) -> None:
        """Append `records_for(index)` in one fsynced write, the index caught up to the end of
        the file first (so the records can take study ids from it) and the lock held
        throughout, so no other writer's record lands in between; then move the end
        marker."""
        self.lock.acquire()
        try:
            seq = self._settle_tail()
            if catch_up:
                self.index.catch_up()
            records = records_for(self.index)
            if not records:
                return
            data = b"".join(stamp(_ENCODE(r).encode("utf-8"), seq + i) + b"\n"
                            for i, r in enumerate(records))
            with open(self.path, "ab") as f:
                at = f.tell()
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            write_marker(self.path, EndMarker(at + len(data), seq + len(records)))
            if catch_up and at == self.index.offset:  # the index saw every byte before ours
                for record in records:
                    self.index.apply(record)
                self.index.offset += len(data)
                self.index.check.next_seq = seq + len(records)
        finally:
            self.lock.release()

    def _settle_tail(self) -> int:
        """Under the lock: check the file against its marker, cut a partial last record, and
        return the number the next stamped record takes."""
        end = read_marker(self.path)
        size = self.path.stat().st_size if self.path.exists() else 0
        if end is None and size == 0:  # a new journal: a marker from the start, so that one
            end = EndMarker(0, 0)      # missing later means it was lost, not never written
            write_marker(self.path, end)
        check_against_marker(self.path, size, end)
        if _cut_partial_tail(self.path, end):
            size = self.path.stat().st_size
        if end is not None and end.bytes == size:
            return end.records
        return _next_seq(self.path, size, end)


def _next_seq(path: Path, size: int, end: EndMarker | None) -> int:
    """The number after the last stamped record: read from the marker on (records appended
    beyond it by a writer stopped before it moved the marker, or by Optuna's own writer), or
    back from the end when there is no marker."""
    with open(path, "rb") as f:
        if end is not None:
            f.seek(end.bytes)
            check = RecordCheck(path, end.records)
            at = end.bytes
            for line in f.read(size - end.bytes).splitlines(keepends=True):
                check.check(line.rstrip(b"\n"), at)
                at += len(line)
            return check.next_seq
        tail, stop = b"", size
        while stop > 0:  # no marker (a journal from before them): back from the end
            start = max(0, stop - (1 << 20))
            f.seek(start)
            chunk = f.read(stop - start) + tail
            newline = chunk.find(b"\n")
            cut = 0 if start == 0 else (newline + 1 if newline >= 0 else len(chunk))
            for line in reversed(chunk[cut:].splitlines()):
                found = stamp_of(line)
                if found is not None and found[2]:
                    return found[0] + 1
            tail, stop = chunk[:cut], start
        return 0


def _ends_partial(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False
