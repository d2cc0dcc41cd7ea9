"""Studies in a storage -> the tidy `trials` and `steps` tables (parquet, CSV on request)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from optuna.storages import BaseStorage

from bench.core.attrs import STUDY_SUITE
from bench.core.files import atomic_write
from bench.core.optuna_internals import study_id
from bench.results.rows import Row, TableRows, cell_labels, study_table_rows
from bench.results.schema import STEPS_COLUMNS, STEPS_FILE, TRIALS_COLUMNS, TRIALS_FILE


def build_tables(storage: BaseStorage, cells: Iterable[str] | None = None,
                 suite: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `trials` and `steps` tables of the samplerbench studies in `storage`.

    Args:
        storage: an open Optuna storage.
        cells: restrict to these study names (default: every samplerbench study).
        suite: restrict to the studies of this suite name.
    """
    studies = storage.get_all_studies()
    if cells is not None:
        wanted = set(cells)
        studies = [s for s in studies if s.study_name in wanted]
    if suite is not None:
        studies = [s for s in studies if s.user_attrs.get(STUDY_SUITE) == suite]
    rows = TableRows()
    for s in sorted(studies, key=lambda s: s.study_name):
        if cell_labels(s.study_name, s.user_attrs) is not None:
            trials = storage.get_all_trials(study_id(s), deepcopy=False)
            rows.extend(study_table_rows(s.study_name, s.user_attrs, trials))
    return tables_from_rows(rows)


def tables_from_rows(rows: TableRows) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `trials` and `steps` tables of these rows, typed and sorted by cell, trial and
    step."""
    return _frame(rows.trials, TRIALS_COLUMNS), _frame(rows.steps, STEPS_COLUMNS)


def _frame(rows: list[Row], columns: dict[str, str]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col, dtype in columns.items():
        if col not in df:
            df[col] = pd.Series(dtype=dtype)
        elif dtype.startswith("datetime"):
            df[col] = pd.to_datetime(df[col], utc=False).astype("datetime64[ns]")
        else:
            df[col] = df[col].astype(dtype)
    extra = sorted(c for c in df.columns if c not in columns)
    df = df[list(columns) + extra]
    keys = [k for k in ("cell", "trial", "step") if k in df]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def write_tables(trials: pd.DataFrame, steps: pd.DataFrame, out: Path, csv: bool = False
                 ) -> list[Path]:
    """Write both tables as parquet (and CSV) atomically; return the paths written."""
    written = []
    for df, name in ((trials, TRIALS_FILE), (steps, STEPS_FILE)):
        path = out / name
        atomic_write(path, lambda p, df=df: df.to_parquet(p, index=False))
        written.append(path)
        if csv:
            cpath = path.with_suffix(".csv")
            atomic_write(cpath, lambda p, df=df: df.to_csv(p, index=False))
            written.append(cpath)
    return written
