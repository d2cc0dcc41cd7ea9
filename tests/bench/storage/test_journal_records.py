"""Journal records carry a number and a checksum, and the file an end marker: a stopped
writer's partial record is cut, while damage anywhere else (a changed byte, a record missing
or repeated, a truncation) is named by byte offset and never cut or rewritten."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from bench.storage.backends import open_storage
from bench.storage.journal import JournalFile
from bench.storage.journal_records import (
    EndMarker,
    JournalDamage,
    marker_path,
    read_marker,
    scan,
    stamp,
    stamp_of,
)
from bench.storage.journal_recovery import recover_journal

VALUES = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875)


def _journal(path: Path, values: tuple[float, ...] = VALUES) -> Path:
    """A study of one record per trial: line 0 creates it, line k > 0 adds trial k - 1."""
    study = optuna.create_study(study_name="s", storage=JournalStorage(JournalFile(path)))
    for x in values:
        study.add_trial(optuna.trial.create_trial(value=x))
    return path


def _values(path: Path) -> list[float]:
    storage = JournalStorage(JournalFileBackend(str(path)))  # Optuna's own reader
    return [t.value for t in optuna.load_study(study_name="s", storage=storage).trials]


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_a_stamp_numbers_the_record_and_checks_its_bytes() -> None:
    body = json.dumps({"op_code": 0, "x": [1, 2]}, separators=(",", ":")).encode()
    line = stamp(body, 41)
    assert json.loads(line)["sb"] == f"41:{json.loads(line)['sb'][3:]}"
    assert stamp_of(line) == (41, len(body) - 1, True)
    assert stamp_of(line.replace(b"[1,2]", b"[1,3]"))[2] is False  # still JSON, not the same
    assert stamp_of(body) is None  # a record of Optuna's own writer


def test_every_record_is_stamped_and_the_marker_follows_the_file(tmp_path: Path) -> None:
    path = _journal(tmp_path / "journal.log")
    lines = _lines(path)
    assert [stamp_of(line.rstrip(b"\n"))[0] for line in lines] == list(range(len(lines)))
    assert read_marker(path) == EndMarker(path.stat().st_size, len(lines))
    assert _values(path) == list(VALUES)  # Optuna reads stamped records as its own


@pytest.mark.parametrize("change", ["flip", "delete", "duplicate", "swap"])
def test_damage_mid_file_is_named_by_byte_offset(tmp_path: Path, change: str) -> None:
    path = _journal(tmp_path / "journal.log")
    lines = _lines(path)
    at = sum(map(len, lines[:3]))
    if change == "flip":  # one digit of a value: valid JSON, wrong bytes
        assert b'"value":0.375,' in lines[3]
        lines[3] = lines[3].replace(b'"value":0.375,', b'"value":0.376,')
        what = "a record's checksum does not match (it is corrupt)"
    elif change == "delete":
        del lines[3]
        what = "record 3 is missing before it"
    elif change == "duplicate":
        lines.insert(3, lines[2])
        at = sum(map(len, lines[:3]))
        what = "record 2 appears a second time"
    else:
        lines[3], lines[4] = lines[4], lines[3]
        what = "record 3 is missing before it"
    damaged = b"".join(lines)
    path.write_bytes(damaged)
    with pytest.raises(JournalDamage, match=f"^journal file {path} is damaged at byte "
                                            f"{at:,}: {what.replace('(', '.').replace(')', '.')}"):
        JournalStorage(JournalFile(path))
    assert path.read_bytes() == damaged  # nothing cut, nothing rewritten


def test_a_partial_record_beyond_the_marker_is_a_stopped_writer_and_is_cut(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _journal(tmp_path / "journal.log")
    whole = path.read_bytes()
    path.write_bytes(whole + stamp(b'{"op_code":4,"worker_id":"w"}', 99)[:20])
    open_storage(f"journal:{path}")
    assert "ended in a partial record" in capsys.readouterr().err
    assert path.read_bytes() == whole


def test_a_cut_at_a_record_boundary_is_still_caught_by_the_marker(tmp_path: Path) -> None:
    path = _journal(tmp_path / "journal.log")
    lines = _lines(path)
    path.write_bytes(b"".join(lines[:-2]))  # whole lines: no partial record to go by
    size = path.stat().st_size
    with pytest.raises(JournalDamage, match=f"is {size:,} bytes but {size + len(lines[-2]) + len(lines[-1]):,} were committed"):  # noqa: E501
        open_storage(f"journal:{path}")


def test_a_marker_that_lost_records_it_counted_is_caught(tmp_path: Path) -> None:
    path = _journal(tmp_path / "journal.log")
    lines = _lines(path)
    marker_path(path).write_text(json.dumps({"bytes": 10, "records": len(lines) + 2}))
    with pytest.raises(JournalDamage, match=f"holds {len(lines)} samplerbench records but "
                                            f"{len(lines) + 2} were committed"):
        open_storage(f"journal:{path}")


def test_records_of_optunas_own_writer_are_read_and_numbering_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    study = optuna.create_study(study_name="s",
                                storage=JournalStorage(JournalFileBackend(str(path))))
    study.add_trial(optuna.trial.create_trial(value=0.1))  # an older journal: no stamps
    legacy = len(_lines(path))
    mine = optuna.load_study(study_name="s", storage=JournalStorage(JournalFile(path)))
    mine.add_trial(optuna.trial.create_trial(value=0.2))
    study.add_trial(optuna.trial.create_trial(value=0.3))  # Optuna's writer again
    mine.add_trial(optuna.trial.create_trial(value=0.4))
    stamps = [stamp_of(line.rstrip(b"\n")) for line in _lines(path)]
    assert stamps[:legacy] == [None] * legacy
    assert [s[0] for s in stamps if s is not None] == [0, 1]  # numbered among their own
    assert _values(path) == [0.1, 0.2, 0.3, 0.4]
    assert scan(path, path.read_bytes()).damage is None


def test_a_lost_marker_is_said_and_written_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _journal(tmp_path / "journal.log")
    marker_path(path).unlink()
    storage = open_storage(f"journal:{path}")
    assert f"{marker_path(path)} is missing" in capsys.readouterr().err
    optuna.load_study(study_name="s", storage=storage).add_trial(
        optuna.trial.create_trial(value=1.0))
    assert read_marker(path) == EndMarker(path.stat().st_size, len(_lines(path)))


def test_recovery_keeps_the_records_before_the_damage_and_the_damaged_file(
        tmp_path: Path) -> None:
    path = _journal(tmp_path / "journal.log")
    lines = _lines(path)
    damaged = b"".join(lines[:4] + lines[5:])
    path.write_bytes(damaged)
    done = recover_journal(path)
    assert (done.kept_records, done.dropped_lines) == (4, len(lines) - 5)
    assert done.reason == "record 4 is missing before it"
    assert path.read_bytes() == b"".join(lines[:4])
    assert done.damaged_copy == tmp_path / "journal.log.damaged"
    assert done.damaged_copy.read_bytes() == damaged
    assert read_marker(path) == EndMarker(path.stat().st_size, 4)
    study = optuna.load_study(study_name="s", storage=JournalStorage(JournalFile(path)))
    study.add_trial(optuna.trial.create_trial(value=0.9))  # the journal works again
    assert _values(path)[-1] == 0.9
    path.write_bytes(path.read_bytes()[:-3])
    assert recover_journal(path).damaged_copy == tmp_path / "journal.log.damaged.1"


def test_records_appended_after_a_read_are_not_taken_for_lost_ones(tmp_path: Path) -> None:
    path = _journal(tmp_path / "journal.log")
    reader = JournalFile(path)
    JournalStorage(reader)  # reads every record so far
    writer = optuna.load_study(study_name="s", storage=JournalStorage(JournalFile(path)))
    writer.add_trial(optuna.trial.create_trial(value=1.0))  # the marker moves past the read
    reader.check_committed()  # another writer's new records: nothing was lost


def test_recovery_rewrites_a_damaged_marker_of_a_whole_journal(tmp_path: Path) -> None:
    path = _journal(tmp_path / "journal.log")
    whole = path.read_bytes()
    marker_path(path).write_text("not json", encoding="utf-8")
    done = recover_journal(path)
    assert done.damaged_copy is None and path.read_bytes() == whole
    assert read_marker(path) == EndMarker(len(whole), len(_lines(path)))
