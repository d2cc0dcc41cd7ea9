"""Executors take whole cells: serial (default) and local worker processes.

The seam is `Executor.run(tasks, on_event) -> list[CellResult]`; workers' progress events
reach `on_event` in the calling process. A cell that raises becomes a CellResult with its
error, and the other cells go on."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

from bench.core.errors import BenchError
from bench.execution.base import EventSink, Executor, run_cell_safely
from bench.execution.task import CellEvent, CellResult, CellTask


class SerialExecutor:
    """One cell after another in this process."""

    def run(self, tasks: Sequence[CellTask], on_event: EventSink) -> list[CellResult]:
        """Run every task in order."""
        return [run_cell_safely(t, on_event) for t in tasks]


def _worker(task: CellTask, q: queue.Queue[CellEvent | None]) -> CellResult:
    return run_cell_safely(task, q.put)


def init_worker(workers: int) -> None:
    """Set up a worker process: an equal share of the cores, and Optuna's log quiet.

    Torch defaults to every core in every process; N workers then oversubscribe the CPU N
    times, and OpenMP's spinning makes small networks train many times slower.
    """
    import optuna
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    optuna.logging.set_verbosity(optuna.logging.WARNING)


class ProcessExecutor:
    """Cells spread over `workers` local processes (spawned, so torch's threads are safe)."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise BenchError(f"--workers must be at least 1, got {workers}")
        self.workers = workers

    def run(self, tasks: Sequence[CellTask], on_event: EventSink) -> list[CellResult]:
        """Run the tasks on the pool and relay events through a manager queue."""
        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager:
            q: queue.Queue[CellEvent | None] = manager.Queue()
            relay = threading.Thread(target=_drain, args=(q, on_event), daemon=True)
            relay.start()
            results: dict[str, CellResult] = {}
            with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=init_worker,
                                     initargs=(self.workers,)) as pool:
                futures = {pool.submit(_worker, t, q): t for t in tasks}
                for fut in as_completed(futures):
                    task = futures[fut]
                    try:
                        results[task.cell.name] = fut.result()
                    except Exception as err:  # the worker process died
                        results[task.cell.name] = CellResult.failed(task.cell.name,
                                                                    f"worker died: {err}")
            q.put(None)
            relay.join()
        return [results[t.cell.name] for t in tasks]


def _drain(q: queue.Queue[CellEvent | None], on_event: EventSink) -> None:
    while (event := q.get()) is not None:
        on_event(event)


def make_executor(kind: str, workers: int, scheduler: str | None = None) -> Executor:
    """The executor named by a suite or `--executor`."""
    if scheduler and kind != "dask":
        raise BenchError(f"--scheduler {scheduler} needs the dask executor, not {kind!r}; "
                         "add --executor dask")
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    if kind == "dask":
        from bench.execution.dask_executor import DaskExecutor

        return DaskExecutor(workers, scheduler)
    raise BenchError(f"unknown executor {kind!r}; choose one of: serial, processes, dask")
