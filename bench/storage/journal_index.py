"""The studies of an Optuna journal file, read incrementally without replaying trials.

Optuna's `JournalStorage` answers every question by replaying each new record of the file,
the records this process has just appended included. A replay cell needs much less: whether
its study is stored (and its labels), and, to append a finished study in one write, the id
the journal will give it. `JournalIndex` reads the complete lines added since its last
offset, decodes only the study records (create, delete, set user attribute; a trial record
is recognised by its `{"op_code":N,` prefix and skipped undecoded, its stamp checked:
`bench.storage.journal_records`) and applies Optuna's rules
to them (Optuna's `JournalStorageReplayResult`; the op codes come from
`bench.core.optuna_internals.journal_op`): ids count up from 0
in file order, a create whose name is a live study's is ignored, a delete or attribute for a
study that is not live is ignored. Tests check the index against Optuna's own replay.

`bench.storage.journal.JournalFile.append_indexed` holds the journal's lock from reading the file's
tail to the fsync, so no other writer's study can take an id in between.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core.optuna_internals import journal_op
from bench.storage.journal_records import RecordCheck, decode

_PREFIX = b'{"op_code":'


@functools.cache
def _ops() -> tuple[int, int, int]:
    """The op codes of the study records: create, delete, set user attribute."""
    return (journal_op("CREATE_STUDY"), journal_op("DELETE_STUDY"),
            journal_op("SET_STUDY_USER_ATTR"))


def _op_code(line: bytes) -> int | None:
    """The record's op code read from its first bytes, or None when laid out otherwise."""
    if not line.startswith(_PREFIX):
        return None
    end = line.find(b",", len(_PREFIX))
    digits = line[len(_PREFIX):end]
    return int(digits) if end > 0 and digits.isdigit() else None


@dataclass
class JournalIndex:
    """Live studies of the journal file at `path`: name -> id, and each one's user attributes."""

    path: Path
    offset: int = 0
    next_id: int = 0
    ids: dict[str, int] = field(default_factory=dict)
    attrs: dict[int, dict[str, Any]] = field(default_factory=dict)
    check: RecordCheck = field(init=False)
    _inode: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self.check = RecordCheck(self.path)

    def catch_up(self) -> None:
        """Apply the complete records added since the last call (a partial last line waits)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            stat = None
        inode = None if stat is None else (stat.st_dev, stat.st_ino)
        if inode != self._inode or (stat is not None and stat.st_size < self.offset):
            self._reset(inode)  # another file under the same name: read it from the start
        if stat is None or stat.st_size == self.offset:
            return
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        start = 0
        while start < end:
            stop = data.index(b"\n", start)
            self._read_line(data[start:stop], self.offset + start)
            start = stop + 1
        self.offset += end

    def _reset(self, inode: tuple[int, int] | None) -> None:
        self.offset, self.next_id, self._inode = 0, 0, inode
        self.check = RecordCheck(self.path)
        self.ids.clear()
        self.attrs.clear()

    def _read_line(self, line: bytes, at: int) -> None:
        self.check.check(line, at)  # every line's stamp, trial records included
        op = _op_code(line)
        if op is not None and op not in _ops():
            return
        self.apply(decode(self.path, line, at))

    def apply(self, record: dict[str, Any]) -> None:
        """Apply one record as Optuna's replay does (trial records change nothing here)."""
        op = record["op_code"]
        create, delete, set_attr = _ops()
        if op == create and record["study_name"] not in self.ids:
            self.ids[record["study_name"]] = self.next_id
            self.attrs[self.next_id] = {}
            self.next_id += 1
        elif op == delete:
            study_id = record["study_id"]
            if study_id in self.attrs:
                del self.attrs[study_id]
                self.ids = {n: i for n, i in self.ids.items() if i != study_id}
        elif op == set_attr and record["study_id"] in self.attrs:
            self.attrs[record["study_id"]].update(record["user_attr"])

    def study_attrs(self, name: str) -> dict[str, Any] | None:
        """The user attributes of the live study `name`, or None when there is none."""
        self.catch_up()
        study_id = self.ids.get(name)
        return None if study_id is None else dict(self.attrs[study_id])
