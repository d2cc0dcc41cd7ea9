"""Checksummed journal records and the journal's end marker: what tells damage from a writer
that was stopped mid-write.

Every record samplerbench appends ends in one more member, `"sb":"SEQ:CRC"`: its number among
the file's stamped records (0, 1, 2, ... in file order) and the CRC-32 of the record's bytes
before that member. Optuna's replay ignores the extra key. Records without one (written by
Optuna's own file backend, or by samplerbench before the stamps) are read as they are.

Beside the file, `journal.log.end` holds the bytes and stamped records committed so far; it is
replaced after every append, under the journal's lock. A writer stopped mid-append leaves
bytes beyond it, which the next writer may cut; a file shorter than it lost committed records.

Damage is named by byte offset, and nothing is rewritten because of it:
    - a stamp whose checksum does not match, or a line that is not JSON: corrupt;
    - a number above the next one expected: records missing;
    - a number below it: a record duplicated;
    - a file shorter than its marker, or fewer records than it: truncated.
`bench.storage.journal_recovery` keeps what precedes the first damage (`samplerbench recover`).
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import BenchError

STAMP = b',"sb":"'
END_SUFFIX = ".end"


def stamp(body: bytes, seq: int) -> bytes:
    """The encoded record `body` (`{...}`) with its number and checksum as its last member."""
    head = body[:-1]
    return head + b',"sb":"%d:%08x"}' % (seq, zlib.crc32(head))


def stamp_of(line: bytes) -> tuple[int, int, bool] | None:
    """(number, stamp's offset in the line, checksum matches) of a line without its newline;
    None for a record that carries no stamp. A stamp that cannot be read counts as a
    mismatch."""
    pos = line.rfind(STAMP)
    if pos < 0:
        return None
    seq_text, _, crc_text = line[pos + len(STAMP):-2].partition(b":")
    if not line.endswith(b'"}') or not seq_text.isdigit() or len(crc_text) != 8:
        return -1, pos, False
    try:
        crc = int(crc_text, 16)
    except ValueError:
        return -1, pos, False
    return int(seq_text), pos, zlib.crc32(line[:pos]) == crc


class JournalDamage(BenchError):
    """A journal file damaged before its last record; the message names the byte offset."""

    def __init__(self, message: str, what: str = "") -> None:
        super().__init__(message)
        self.what = what  # the damage alone, for `samplerbench recover` to repeat


def damage(path: Path, at: int, what: str) -> JournalDamage:
    """The one-line error for damage at byte `at` of the journal `path`."""
    return JournalDamage(
        f"journal file {path} is damaged at byte {at:,}: {what}; nothing was changed or "
        f"retrained. `samplerbench recover {path}` keeps the whole records before it (the file "
        f"is kept as {path.name}.damaged), then `samplerbench run` redoes what was lost", what)


@dataclass
class RecordCheck:
    """Checks a journal's complete lines in file order: `check` each one, then `finish`."""

    path: Path
    next_seq: int = 0  # the number the next stamped record must carry

    def check(self, line: bytes, at: int) -> None:
        """Raise JournalDamage unless `line` (without its newline, at byte `at`) is whole and
        follows the records checked so far."""
        found = stamp_of(line)
        if found is None:
            return  # Optuna's own writer, or an older samplerbench: JSON is checked on decode
        seq, _, crc_ok = found
        if not crc_ok:
            raise damage(self.path, at, "a record's checksum does not match (it is corrupt)")
        if seq > self.next_seq:
            missing = (f"record {self.next_seq} is" if seq == self.next_seq + 1
                       else f"records {self.next_seq} to {seq - 1} are")
            raise damage(self.path, at, f"{missing} missing before it")
        if seq < self.next_seq:
            raise damage(self.path, at, f"record {seq} appears a second time")
        self.next_seq = seq + 1


def decode(path: Path, line: bytes, at: int) -> dict:
    """The JSON record of a checked line; a line that is not one is damage at `at`."""
    try:
        record = json.loads(line)
    except ValueError:
        raise damage(path, at, "a record is not valid JSON (it is corrupt)") from None
    if not isinstance(record, dict) or "op_code" not in record:
        raise damage(path, at, "a line is not a journal record")
    return record


@dataclass(frozen=True)
class EndMarker:
    """What the journal held after its last complete append."""

    bytes: int
    records: int  # stamped records: the number the next one takes


def marker_path(path: Path) -> Path:
    """Where the end marker of the journal `path` lives."""
    return path.with_name(path.name + END_SUFFIX)


def read_marker(path: Path) -> EndMarker | None:
    """The journal's end marker, None when there is none; a damaged one is an error."""
    marker = marker_path(path)
    try:
        data = json.loads(marker.read_bytes())
        found = EndMarker(int(data["bytes"]), int(data["records"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        raise BenchError(f"{marker} is damaged; it records how much of {path.name} was "
                         f"committed: `samplerbench recover {path}` rewrites it from the "
                         "journal's whole records") from None
    if found.bytes < 0 or found.records < 0:
        raise BenchError(f"{marker} holds negative counts; `samplerbench recover {path}` "
                         "rewrites it")
    return found


def write_marker(path: Path, end: EndMarker) -> None:
    """Replace the end marker (the caller holds the journal's lock, so the temporary name is
    its own)."""
    marker = marker_path(path)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"bytes": end.bytes, "records": end.records}) + "\n",
                   encoding="utf-8")
    os.replace(tmp, marker)


@dataclass(frozen=True)
class Scan:
    """The longest prefix of whole, checked records of a journal, and what stops it there."""

    bytes: int
    lines: int
    records: int  # stamped ones
    damage: JournalDamage | None  # None: the end of the file, or a partial last line


def scan(path: Path, data: bytes) -> Scan:
    """Check every whole line of the journal `data` (read from `path`) in order."""
    check = RecordCheck(path)
    at = lines = 0
    while (stop := data.find(b"\n", at)) >= 0:
        line = data[at:stop]
        try:
            check.check(line, at)
            decode(path, line, at)
        except JournalDamage as err:
            return Scan(at, lines, check.next_seq, err)
        at, lines = stop + 1, lines + 1
    return Scan(at, lines, check.next_seq, None)


def check_against_marker(path: Path, size: int, end: EndMarker | None) -> None:
    """Refuse a journal of `size` bytes shorter than what its marker says was committed: the
    first damaged record when a scan finds one (a record cut out mid-file), else a
    truncation."""
    if end is not None and size < end.bytes:
        found = scan(path, path.read_bytes()).damage
        if found is not None:
            raise found
        raise JournalDamage(
            f"journal file {path} is {size:,} bytes but {end.bytes:,} were committed "
            f"({marker_path(path).name}): it was truncated or replaced by an older copy, so "
            f"records after byte {size:,} are lost; nothing was changed or retrained. "
            f"`samplerbench recover {path}` keeps the whole records before it (the file is "
            f"kept as {path.name}.damaged), then `samplerbench run` redoes what was lost")


def check_record_count(path: Path, seen: int, end: EndMarker | None) -> None:
    """Refuse a whole read of the journal that found fewer stamped records than committed."""
    if end is not None and seen < end.records:
        raise JournalDamage(
            f"journal file {path} holds {seen:,} samplerbench records but "
            f"{end.records:,} were committed ({marker_path(path).name}): records were lost; "
            f"nothing was changed or retrained. `samplerbench recover {path}` keeps the whole "
            f"records (the file is kept as {path.name}.damaged), then `samplerbench run` "
            "redoes what was lost")
