"""A results table or run.json edited or damaged by hand is refused with one line naming the
column or field, before any reader trips on it deep inside pandas (classes found by
tests/scenarios/test_fuzz.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.core.errors import BenchError
from bench.results.schema import RUN_FILE, TRIALS_FILE, read_run_info, read_table
from tests.helpers.results import make_results


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return make_results(tmp_path / "r", seeds=2, trials=4)


def _edit(results: Path, change: Callable[[pd.DataFrame], None]) -> None:
    trials = pd.read_parquet(results / TRIALS_FILE)
    change(trials)
    trials.to_parquet(results / TRIALS_FILE, index=False)


def _set(column: str, value: object) -> Callable[[pd.DataFrame], None]:
    def change(df: pd.DataFrame) -> None:
        df[column] = df[column].astype(object)
        df.loc[df.index[1], column] = value
        if isinstance(value, float):
            df[column] = df[column].astype(float)
    return change


@pytest.mark.parametrize(("change", "message"), [
    (lambda df: df.pop("sampler_s"), "lacks its column sampler_s"),
    (_set("seed", np.nan), "column seed holds float64 values, not integers"),
    (_set("value", np.inf), "column value holds an infinite value"),
    (_set("value", 1.5), "column value holds a value outside [0, 1]"),
    (_set("duration_s", -5.0), "column duration_s holds a negative value"),
    (_set("pruner", None), "column pruner has a missing value"),
    (lambda df: df.__setitem__("strategy", 7), "column strategy holds values that are not text"),
])
def test_a_damaged_table_is_one_line_naming_its_column(
        results: Path, change: Callable[[pd.DataFrame], None], message: str) -> None:
    _edit(results, change)
    with pytest.raises(BenchError) as err:
        read_table(results, TRIALS_FILE)
    assert str(err.value) == (f"{results / TRIALS_FILE}: {message}; re-export it with "
                              f"`samplerbench export {results}`"
                              if not message.startswith("lacks") else
                              f"{results / TRIALS_FILE} {message}; re-export it with "
                              f"`samplerbench export {results}`")


@pytest.mark.parametrize(("field", "value", "kind"), [
    ("trials", "40", "a whole number of at least 1"),
    ("seeds", [0, -1], "a list of whole numbers from 0 to 2**63 - 1"),
    ("objective", [], "a table"),
])
def test_a_run_json_field_of_the_wrong_kind_is_one_line(
        results: Path, field: str, value: object, kind: str) -> None:
    info = json.loads((results / RUN_FILE).read_text(encoding="utf-8"))
    info["suite"][field] = value
    (results / RUN_FILE).write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(BenchError, match=rf"suite\.{field} is .*, not {kind.replace('*', '.')}"):
        read_run_info(results)


def test_a_run_json_that_is_not_utf8_is_one_line(results: Path) -> None:
    (results / RUN_FILE).write_bytes(b'{"suite": "\xac"}')
    with pytest.raises(BenchError, match="is not valid JSON"):
        read_run_info(results)
