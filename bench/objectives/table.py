"""The tabulated objective's table: one row per (learning rate, hidden size, replicate, report).

Written by `samplerbench tabulate`, read by the replay objective. Provenance (dataset
checksum, grid, versions, device, date, schema_version) rides in the parquet metadata under
the key `samplerbench`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.core.errors import BenchError
from bench.core.files import atomic_write
from bench.objectives.interpolation import CurveBlender

TABLE_SCHEMA_VERSION = 1
META_KEY = b"samplerbench"
SHIPPED_TABLE = "mnist-cpu.parquet"
TABLE_COLUMNS = ("learning_rate", "hidden_size", "replicate", "seed", "step", "epoch",
                 "val_accuracy", "train_s", "eval_s", "test_accuracy")


def shipped_table_path() -> Path:
    """The table built from real MNIST on a 2-core CPU, shipped with samplerbench."""
    return Path(str(resources.files("bench") / "data" / SHIPPED_TABLE))


def write_table(df: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    """Write the table with its provenance atomically (temp file, then rename)."""
    table = pa.Table.from_pandas(df[list(TABLE_COLUMNS)], preserve_index=False)
    meta = {**meta, "schema_version": TABLE_SCHEMA_VERSION}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           META_KEY: json.dumps(meta).encode()})
    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


@dataclass(frozen=True)
class Curves:
    """The table as arrays: index [lr, hidden, replicate, step]."""

    learning_rates: np.ndarray  # ascending
    hidden_sizes: np.ndarray  # ascending
    val: np.ndarray  # [L, H, R, S] validation accuracy per report
    train_s: np.ndarray  # [L, H, R, S] training seconds since the previous report
    eval_s: np.ndarray  # [L, H, R, S]
    test: np.ndarray  # [L, H, R, E] test accuracy at each epoch end
    reports_per_epoch: int
    epochs: int
    meta: dict[str, Any]
    checksum: str

    @cached_property
    def train_cum(self) -> list[Any]:
        """Cumulative training seconds (up to and including each step) as nested Python
        lists, built once per table: indexing them per report is far cheaper than indexing
        numpy arrays."""
        return np.cumsum(self.train_s, axis=-1).tolist()

    @cached_property
    def _eval_cum_by_reports(self) -> dict[tuple[int, ...], list[Any]]:
        return {}

    def eval_cum(self, reports: tuple[int, ...]) -> list[Any]:
        """Evaluation seconds summed over the steps `reports` up to each of them (evaluation
        runs at reports only), as nested lists, built once per table and report set."""
        cache = self._eval_cum_by_reports
        if reports not in cache:
            cache[reports] = np.cumsum(self.eval_s[..., list(reports)], axis=-1).tolist()
        return cache[reports]

    @cached_property
    def blenders(self) -> tuple[CurveBlender, CurveBlender]:
        """Validation and test accuracy as `CurveBlender`s (mean and residuals per
        replicate), built once per table."""
        return CurveBlender(self.val), CurveBlender(self.test)


def read_meta(path: Path) -> dict[str, Any]:
    """The provenance of a table file, version-checked."""
    try:
        raw = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid) as err:
        raise BenchError(f"{path} is not a readable parquet table ({err}); "
                         "rebuild it with `samplerbench tabulate`") from None
    if META_KEY not in raw:
        raise BenchError(f"{path} has no samplerbench provenance; it was not written by "
                         "`samplerbench tabulate`")
    meta: dict[str, Any] = json.loads(raw[META_KEY])
    if meta.get("schema_version") != TABLE_SCHEMA_VERSION:
        raise BenchError(
            f"table {path} has schema_version {meta.get('schema_version')!r}, this samplerbench "
            f"reads {TABLE_SCHEMA_VERSION}; rebuild it with `samplerbench tabulate -o {path}`"
        )
    return meta


def load_curves(path: Path) -> Curves:
    """Read a table into dense arrays (cached per process by path and modification time)."""
    path = path.expanduser().resolve()
    if not path.is_file():
        raise BenchError(f"table {path} does not exist; build it with `samplerbench tabulate` "
                         "or omit `table` to use the shipped one")
    return _load(str(path), path.stat().st_mtime_ns)


# What a recorded value may be: accuracies in [0, 1], seconds >= 0, all finite. Test accuracy
# is recorded at epoch ends only, so it may be missing elsewhere.
_VALUE_RANGES = {"val_accuracy": (0.0, 1.0), "train_s": (0.0, np.inf), "eval_s": (0.0, np.inf)}


def _check_values(df: pd.DataFrame, path: str) -> None:
    """Name the first recorded value no training run can produce: a damaged table is refused,
    never replayed."""
    for col, (low, high) in _VALUE_RANGES.items():
        try:
            values = df[col].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise BenchError(f"table {path}: column {col} is not numeric; rebuild it with "
                             "`samplerbench tabulate`") from None
        bad = ~(np.isfinite(values) & (values >= low) & (values <= high))
        if bad.any():
            row = df.iloc[int(np.argmax(bad))]
            raise BenchError(
                f"table {path}: {col} is {float(values[bad][0])!r} at learning rate "
                f"{row['learning_rate']:g}, hidden size {int(row['hidden_size'])}, replicate "
                f"{int(row['replicate'])}, step {int(row['step'])} (allowed: finite, "
                f"{low:g} to {high:g}); rebuild the table with `samplerbench tabulate`")


@lru_cache(maxsize=4)
def _load(path: str, _mtime: int) -> Curves:
    meta = read_meta(Path(path))
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise BenchError(f"{path} is corrupt ({err}); rebuild it with samplerbench tabulate"
                         ) from None
    missing = set(TABLE_COLUMNS) - set(df.columns)
    if missing:
        raise BenchError(f"table {path} lacks columns {sorted(missing)}; rebuild it")
    lrs = np.sort(df["learning_rate"].unique())
    hs = np.sort(df["hidden_size"].unique())
    reps = np.sort(df["replicate"].unique())
    steps = np.sort(df["step"].unique())
    shape = (len(lrs), len(hs), len(reps), len(steps))
    if len(df) != int(np.prod(shape)):
        raise BenchError(f"table {path} has {len(df)} rows, not the full grid {shape}; "
                         "finish it with `samplerbench tabulate` (it resumes)")
    df = df.sort_values(["learning_rate", "hidden_size", "replicate", "step"])

    def grid(col: str) -> np.ndarray:
        return df[col].to_numpy(dtype=np.float64).reshape(shape)

    _check_values(df, path)
    rpe = int(meta["grid"]["reports_per_epoch"])
    epochs = int(meta["grid"]["epochs"])
    test_full = grid("test_accuracy")
    test = test_full[..., rpe - 1 :: rpe]
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    return Curves(lrs, hs, grid("val_accuracy"), grid("train_s"), grid("eval_s"), test, rpe,
                  epochs, meta, digest)
