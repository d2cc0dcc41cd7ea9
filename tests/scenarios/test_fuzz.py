"""A seeded, bounded fuzz test of every file a user hands samplerbench: suite files, result
tables, run.json, baselines and journals are mutated (bytes flipped, cut, repeated; numbers
swapped for NaN, infinities, huge, negative or wrong-typed values; columns dropped) and each
command that reads them must end in exit 0, 1 or 2, without a traceback, with one
`samplerbench CMD: error:` line when it fails, and with the results folder left as it was.

The inputs come from `numpy.random.default_rng(SEED)`; SAMPLERBENCH_FUZZ_SEED and
SAMPLERBENCH_FUZZ_CASES (per kind of file; a quarter of it for the trials table read by
`report`, which takes seconds) replay or widen the search. A failing case prints
its seed, kind and mutation, so it can be rerun alone.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.cli.main import main
from bench.results.schema import RUN_FILE, TRIALS_FILE
from bench.storage.journal import JOURNAL_FILE
from tests.helpers.suites import suite_toml

SEED = int(os.environ.get("SAMPLERBENCH_FUZZ_SEED", "0"))
CASES = int(os.environ.get("SAMPLERBENCH_FUZZ_CASES", "12"))
SUITE = {"name": "fuzz", "trials": 5, "seeds": 3, "strategies": ["random", "tpe"],
         "pruners": ["none"], "objective": {"kind": "mnist-table", "dataset": "mnist",
                                           "space": "seed", "epochs": 2,
                                           "reports_per_epoch": 4, "validation": "holdout"}}
ODD_NUMBERS = [b"NaN", b"nan", b"Infinity", b"-Infinity", b"inf", b"1e308", b"-5", b"0",
               b"2e70", b"1180591620717411303424", b'"x"', b"null", b"[]", b"{}", b"0.5"]
ODD_VALUES = [np.nan, np.inf, -np.inf, -5, 1e308, 0, "x", None]
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")

Mutation = Callable[[bytes, np.random.Generator], tuple[bytes, str]]


def _flip(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    i, bit = int(rng.integers(len(data))), int(rng.integers(8))
    return data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1:], f"flip bit {bit} of {i}"


def _cut(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    i = int(rng.integers(len(data)))
    n = int(rng.integers(1, max(2, len(data) // 8)))
    return data[:i] + data[i + n:], f"delete {n} bytes at {i}"


def _truncate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    i = int(rng.integers(len(data)))
    return data[:i], f"truncate to {i}"


def _lines_op(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    lines = data.splitlines(keepends=True)
    if len(lines) < 2:
        return _flip(data, rng)
    i, j = (int(x) for x in rng.integers(len(lines), size=2))
    op = int(rng.integers(3))
    if op == 0:
        lines.insert(j, lines[i])
        return b"".join(lines), f"repeat line {i} at {j}"
    if op == 1:
        del lines[i]
        return b"".join(lines), f"delete line {i}"
    lines[i], lines[j] = lines[j], lines[i]
    return b"".join(lines), f"swap lines {i} and {j}"


def _odd_number(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    spans = [m.span() for m in _NUMBER.finditer(data)]
    if not spans:
        return _flip(data, rng)
    start, end = spans[int(rng.integers(len(spans)))]
    odd = ODD_NUMBERS[int(rng.integers(len(ODD_NUMBERS)))]
    return data[:start] + odd + data[end:], f"number at {start} -> {odd.decode()}"


BYTE_MUTATIONS: list[Mutation] = [_flip, _cut, _truncate, _lines_op, _odd_number]


def _mutate_table(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """A parquet table with one odd value, a column dropped, rows repeated, or bad bytes."""
    op = int(rng.integers(4))
    if op == 3:
        return BYTE_MUTATIONS[int(rng.integers(3))](data, rng)
    df = pd.read_parquet(io.BytesIO(data))
    column = str(df.columns[int(rng.integers(len(df.columns)))])
    if op == 0:
        row = int(rng.integers(len(df)))
        value = ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]
        df[column] = df[column].astype(object)
        df.loc[df.index[row], column] = value
        what = f"{column}[{row}] -> {value!r}"
    elif op == 1:
        df = df.drop(columns=[column])
        what = f"drop column {column}"
    else:
        df = pd.concat([df, df.iloc[: int(rng.integers(1, len(df) + 1))]])
        what = "repeat rows"
    out = io.BytesIO()
    try:
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), out)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        df[column] = df[column].astype(str)  # a column of mixed types: strings, then
        out = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), out)
        what += " (column as strings)"
    return out.getvalue(), what


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(path: Path) -> int:
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowInvalid):
        return -1


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A finished replay run of SUITE and a baseline of it."""
    root = tmp_path_factory.mktemp("fuzz")
    suite = root / "suite.toml"
    suite.write_text(suite_toml(SUITE), encoding="utf-8")
    results, baseline = root / "results", root / "baseline.json"
    assert main(["run", str(suite), "-o", str(results), "--no-report"]) == 0
    assert main(["baseline", str(results), "-o", str(baseline)]) == 0
    return {"suite": suite, "results": results, "baseline": baseline}


def _commands(kind: str, case: Path) -> list[list[str]]:
    r, b, s = case / "results", str(case / "baseline.json"), str(case / "suite.toml")
    return {
        "suite": [["run", s, "-o", str(case / "fresh"), "--dry-run"],
                  ["run", s, "-o", str(r), "--dry-run"]],
        "journal": [["export", str(r)], ["run", s, "-o", str(r), "--no-report"]],
        "trials": [["check", str(r), "--baseline", b],
                   ["baseline", str(r), "-o", str(case / "new-baseline.json")]],
        "trials for report": [["report", str(r), "-o", str(case / "report")]],
        "run.json": [["export", str(r)], ["check", str(r), "--baseline", b]],
        "baseline": [["check", str(r), "--baseline", b]],
    }[kind]


TARGETS = {"suite": "suite.toml", "journal": f"results/{JOURNAL_FILE}",
           "trials": f"results/{TRIALS_FILE}", "trials for report": f"results/{TRIALS_FILE}",
           "run.json": f"results/{RUN_FILE}",
           "baseline": "baseline.json"}


@pytest.mark.parametrize("kind", list(TARGETS))
def test_mutated_inputs_end_in_one_line_and_leave_results_intact(
        kind: str, pristine: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng([SEED, list(TARGETS).index(kind)])
    started, codes = time.perf_counter(), []
    cases = max(1, CASES // 4) if kind == "trials for report" else CASES  # seconds each
    for n in range(cases):
        case = tmp_path / f"case{n}"
        case.mkdir()
        shutil.copy(pristine["suite"], case / "suite.toml")
        shutil.copy(pristine["baseline"], case / "baseline.json")
        shutil.copytree(pristine["results"], case / "results")
        target = case / TARGETS[kind]
        data = target.read_bytes()
        if kind.startswith("trials"):
            mutated, what = _mutate_table(data, rng)
        else:
            mutated, what = BYTE_MUTATIONS[int(rng.integers(len(BYTE_MUTATIONS)))](data, rng)
        target.write_bytes(mutated)
        label = f"seed {SEED}, {kind} case {n}: {what}"
        for argv in _commands(kind, case):
            before = _snapshot(case / "results")
            capsys.readouterr()
            try:
                code = main(argv)
            except BaseException as err:  # a traceback: the one thing that must not happen
                pytest.fail(f"{label}: `samplerbench {' '.join(argv[:1])}` raised {err!r}")
            _, err = capsys.readouterr()
            codes.append(code)
            assert code in (0, 1, 2), f"{label}: exit {code}\n{err}"
            assert "Traceback" not in err, f"{label}\n{err}"
            if code == 2:
                last = err.strip().splitlines()[-1] if err.strip() else ""
                assert last.startswith(f"samplerbench {argv[0]}: error: "), f"{label}\n{err}"
                assert _snapshot(case / "results") == before, f"{label}: results changed"
            else:  # a command that went on kept every earlier trial
                trials = case / "results" / TRIALS_FILE
                if before.get(TRIALS_FILE) is not None and _rows(trials) >= 0:
                    old = pq.ParquetFile(io.BytesIO(before[TRIALS_FILE])).metadata.num_rows
                    assert _rows(trials) >= old, f"{label}: trials table shrank"
                if JOURNAL_FILE in before:
                    now = (case / "results" / JOURNAL_FILE).read_bytes()
                    assert now.startswith(before[JOURNAL_FILE]), f"{label}: journal rewritten"
        shutil.rmtree(case)
    elapsed = time.perf_counter() - started
    print(f"fuzz {kind}: {cases} inputs, {len(codes)} commands, exits "
          f"{ {c: codes.count(c) for c in sorted(set(codes))} }, {elapsed:.1f}s")
