"""File helpers every stage uses: atomic writes (temporary name, then rename), JSON files and
UTC timestamps."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.core.errors import BenchError


def now_iso() -> str:
    """The current UTC time, ISO formatted."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def atomic_write(path: Path, write: Any) -> None:
    """Call `write(tmp_path)`, then rename onto `path`: readers never see a partial file.

    A failed write (full disk, quota, permissions) removes the temporary file, leaves any
    previous `path` as it was and raises BenchError.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as err:
        raise _write_error(path, err) from None
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise _write_error(path, err) from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_error(path: Path, err: OSError) -> BenchError:
    return BenchError(f"cannot write {path} ({err.strerror or err}); nothing was half-written: "
                      "free some space or fix the folder's permissions and run again")


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (`atomic_write`), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically."""
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=2, default=str) + "\n",
                                              encoding="utf-8"))
