"""Tabulate the live objective over a grid, resumably, for the replay objective.

Each finished training run is appended as one JSON line to `<table>.partial.jsonl`
(a cut-off last line is ignored on resume); when the grid is complete the parquet table is
written atomically and the partial file removed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.core.errors import BenchError
from bench.core.spaces import SEED_SPACE, IntParam
from bench.datasets.load import Splits, load_dataset
from bench.objectives.table import write_table
from bench.spec.objective import TrainSettings
from bench.training.batched import train_batch
from bench.training.devices import device_model, resolve_device
from bench.training.loop import NetworkConfig, TrainResult, train, trial_seed
from bench.training.machine import machine_info, versions


def _seed_hidden_sizes() -> tuple[int, ...]:
    hidden = next(p for p in SEED_SPACE.params if p.name == "hidden_size")
    assert isinstance(hidden, IntParam)
    return tuple(hidden.values())


@dataclass(frozen=True)
class TabulationGrid:
    """What to tabulate: the default is the issue's 25 x 7 x 3 replicates x 4 epochs grid."""

    n_learning_rates: int = 25
    lr_low: float = 1e-5
    lr_high: float = 1e-1
    hidden_sizes: tuple[int, ...] = _seed_hidden_sizes()
    replicates: int = 3
    epochs: int = 4
    reports_per_epoch: int = 4
    dataset: str = "mnist"
    validation: str = "holdout"

    def validate(self) -> None:
        """Raise BenchError on an empty or inverted grid."""
        if self.n_learning_rates < 2 or not 0 < self.lr_low < self.lr_high:
            raise BenchError("tabulate: need at least 2 learning rates and 0 < low < high")
        if self.replicates < 1 or not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise BenchError("tabulate: replicates and hidden sizes must be positive")
        TrainSettings(self.epochs, None, self.reports_per_epoch).validate()

    def learning_rates(self) -> np.ndarray:
        """Log-spaced learning rates."""
        return np.geomspace(self.lr_low, self.lr_high, self.n_learning_rates)

    def runs(self) -> Iterator[tuple[int, float, int, int]]:
        """(replicate, learning rate, hidden size, seed) for every run, replicate-major."""
        lrs = self.learning_rates()
        n_h = len(self.hidden_sizes)
        for r in range(self.replicates):
            for i, lr in enumerate(lrs):
                for j, h in enumerate(self.hidden_sizes):
                    yield r, float(lr), h, trial_seed(r, i * n_h + j)


def _run_rows(r: int, lr: float, h: int, seed: int, result: TrainResult) -> list[dict[str, Any]]:
    return [{
        "learning_rate": lr, "hidden_size": h, "replicate": r, "seed": seed,
        "step": p.step, "epoch": p.epoch, "val_accuracy": p.accuracy,
        "train_s": p.train_s, "eval_s": p.eval_s,
        "test_accuracy": np.nan if p.test_accuracy is None else p.test_accuracy,
    } for p in result.reports]


def _read_partial(path: Path) -> dict[tuple[int, float, int], list[dict[str, Any]]]:
    done: dict[tuple[int, float, int], list[dict[str, Any]]] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut off by a kill
        key = (rows[0]["replicate"], rows[0]["learning_rate"], rows[0]["hidden_size"])
        done[key] = rows
    return done


def calibrate_seconds(grid: TabulationGrid, data: Splits) -> dict[int, dict[str, float]]:
    """Seconds per report of the single-network loop, per hidden size, measured now.

    One epoch of `bench.training.loop.train` per hidden size (the loop live cells run), reporting
    as the grid does; the first report is a warm-up and is left out of the means.
    """
    settings = TrainSettings(1, None, grid.reports_per_epoch)
    out: dict[int, dict[str, float]] = {}
    for h in grid.hidden_sizes:
        reports = train(NetworkConfig((h,), 1e-3), data, settings, trial_seed(0, h)).reports
        steady = reports[1:] or reports
        out[h] = {"train_s": sum(r.train_s for r in steady) / len(steady),
                  "eval_s": sum(r.eval_s for r in steady) / len(steady)}
    return out


def _train_runs(todo: list[tuple[int, float, int, int]], data: Splits, settings: TrainSettings,
                batched: bool) -> Iterator[tuple[tuple[int, float, int, int], TrainResult]]:
    if not batched:
        for run in todo:
            yield run, train(NetworkConfig((run[2],), run[1]), data, settings, run[3])
        return
    for h in sorted({run[2] for run in todo}):
        group = [run for run in todo if run[2] == h]
        results = train_batch([NetworkConfig((h,), lr) for _, lr, _, _ in group], data,
                              settings, [seed for *_, seed in group])
        yield from zip(group, results, strict=True)


def tabulate(grid: TabulationGrid, out: Path, device: str = "cpu",
             data_root: Path | None = None,
             on_run: Callable[[int, int], None] | None = None, batched: bool = True) -> Path:
    """Train every grid point and write the table to `out` (resuming a partial run).

    Accuracies come from training every grid point (batched: many networks in the same
    kernels, the same accuracies as one at a time to float tolerance). Seconds come from
    `calibrate_seconds`: the single-network loop that live cells run, timed per hidden size on
    this device, so replayed wall time is what a live trial would cost here.

    Args:
        grid: the grid to tabulate.
        out: the parquet file to write.
        device: where to train.
        data_root: dataset folder.
        on_run: called with (runs done, runs total) as runs finish.
        batched: train many networks at once (`bench.training.batched`) instead of one at a time.
    """
    grid.validate()
    dev = resolve_device(device)
    out = out.expanduser().resolve()
    if not out.parent.is_dir():
        raise BenchError(f"folder {out.parent} does not exist; create it or choose another -o")
    partial = out.with_name(out.name + ".partial.jsonl")
    data = load_dataset(grid.dataset, device=dev, validation=grid.validation,
                        data_root=data_root)
    settings = TrainSettings(grid.epochs, None, grid.reports_per_epoch, test_each_epoch=True)
    done = _read_partial(partial)
    runs = list(grid.runs())
    todo = [run for run in runs if run[:3] not in done]
    load_before = os.getloadavg()[0]
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    seconds = calibrate_seconds(grid, data)
    with partial.open("a", encoding="utf-8") as log:
        for (r, lr, h, seed), result in _train_runs(todo, data, settings, batched):
            rows = _run_rows(r, lr, h, seed, result)
            log.write(json.dumps(rows) + "\n")
            log.flush()
            done[(r, lr, h)] = rows
            if on_run is not None:
                on_run(sum(run[:3] in done for run in runs), len(runs))
    wanted = {(r, lr, h) for r, lr, h, _ in runs}
    df = pd.DataFrame([row for key in sorted(done) if key in wanted for row in done[key]])
    df["train_s"] = df["hidden_size"].map(lambda h: seconds[int(h)]["train_s"])
    df["eval_s"] = df["hidden_size"].map(lambda h: seconds[int(h)]["eval_s"])
    meta = {
        "grid": asdict(grid),
        "dataset_checksum": data.checksum,
        "steps_per_epoch": -(-len(data.train_x) // settings.batch_size),
        "batch_size": settings.batch_size,
        "device": dev.type,
        "device_model": device_model(dev),
        "versions": versions(),
        "machine": machine_info(),
        "started": started,
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average": {"start": load_before, "end": os.getloadavg()[0]},
        "trainer": "batched" if batched else "single",
        "seconds_per_report": {str(h): v for h, v in seconds.items()},
        "timing": "train_s and eval_s are the single-network loop's seconds per report for "
                  "the row's hidden size, measured on this device when the table was written "
                  "(seconds_per_report); replay sums them as simulated wall time",
    }
    write_table(df, meta, out)
    if set(done) <= wanted:  # keep runs of a larger grid for a later, larger tabulation
        partial.unlink()
    return out
