"""Put a rendered report into its folder all at once, or not at all.

`publish(out, files)` takes every file of the report as bytes (names relative to `out`, such
as "report.md" or "figures/x.png"). It writes them into a hidden staging folder inside `out`,
then swaps each top-level entry of the report ("report.md", "figures", ...) into place with
`os.rename`: the old entry moves into the staging folder first, the new one moves in. A failure
at any step (read-only folder, full disk, an immutable file) undoes the swaps made so far,
removes the staging folder and raises one BenchError line: the folder holds either the old
report or the new one, never half of each. Other files in `out` are left alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.core.errors import BenchError

STAGE_PREFIX = ".report-"


def _error(out: Path, err: OSError) -> BenchError:
    name = str(err.filename or "")
    where = f": {name}" if name and STAGE_PREFIX not in name else ""
    return BenchError(f"cannot write the report into {out} ({err.strerror or err}{where}); "
                      "nothing was half-written: free some space or fix the folder's "
                      "permissions and run again")


def write_file(path: Path, data: bytes) -> None:
    """Write one staged file (the step a full disk or a read-only folder makes fail)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _stage(stage: Path, files: Mapping[str, bytes]) -> None:
    mode = 0o777 & ~_umask()
    for name, data in files.items():
        write_file(stage / "new" / name, data)
    for folder in (stage / "new", *(p for p in (stage / "new").rglob("*") if p.is_dir())):
        folder.chmod(mode)  # mkdtemp makes 0700; a report is an ordinary folder
    for path in (p for p in (stage / "new").rglob("*") if p.is_file()):
        path.chmod(mode & 0o666)
    (stage / "old").mkdir()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap(out: Path, stage: Path, entries: list[str]) -> None:
    moved_old: list[str] = []
    placed: list[str] = []
    try:
        for name in entries:
            if os.path.lexists(out / name):
                os.rename(out / name, stage / "old" / name)
                moved_old.append(name)
        for name in entries:
            if os.path.lexists(stage / "new" / name):
                os.rename(stage / "new" / name, out / name)
                placed.append(name)
    except OSError:
        for name in reversed(placed):
            os.rename(out / name, stage / "new" / name)
        for name in reversed(moved_old):
            os.rename(stage / "old" / name, out / name)
        raise


def publish(out: Path, files: Mapping[str, bytes], entries: Sequence[str] = ()) -> None:
    """Write `files` into `out` atomically per report (see the module docstring).

    Args:
        out: The report folder (created when missing).
        files: Contents by path relative to `out`; their first path parts are the entries
            replaced (an old entry of the same name, file or folder, goes).
        entries: More top-level names that belong to the report: an old one goes even when
            the new report has nothing under that name (say, no figures at all).

    Raises:
        BenchError: Something could not be written or moved; the folder is as it was.
    """
    names = sorted({Path(name).parts[0] for name in files} | set(entries))
    stage: Path | None = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=out))
        _stage(stage, files)
        _swap(out, stage, names)
    except OSError as err:
        raise _error(out, err) from None
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
