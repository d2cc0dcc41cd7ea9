"""Executors take whole cells: serial (default) and local worker processes.

The seam is `Executor.run(tasks, on_event) -> list[CellResult]`; workers' progress events
reach `on_event` in the calling process. A cell that raises becomes a CellResult with its
error, and the other cells go on."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from types import FrameType

from bench.core.errors import BenchError
from bench.core.signals import SIGTERM_EXIT, raise_terminated
from bench.execution.base import EventSink, Executor, run_cell_safely
from bench.execution.task import CellEvent, CellResult, CellTask


class SerialExecutor:
    """One cell after another in this process."""

    def run(self, tasks: Sequence[CellTask], on_event: EventSink) -> list[CellResult]:
        """Run every task in order."""
        return [run_cell_safely(t, on_event) for t in tasks]


def _worker(task: CellTask, q: queue.Queue[CellEvent | None]) -> CellResult:
    signal.signal(signal.SIGTERM, raise_terminated)  # a cell runs: unwind it (trial marked)
    try:
        return run_cell_safely(task, q.put)
    finally:
        signal.signal(signal.SIGTERM, _exit_now)


def _exit_now(_signum: int, _frame: FrameType | None) -> None:
    os._exit(SIGTERM_EXIT)  # an idle worker holds nothing to clean up


def init_worker(workers: int) -> None:
    """Set up a worker process: an equal share of the cores, and Optuna's log quiet.

    Torch defaults to every core in every process; N workers then oversubscribe the CPU N
    times, and OpenMP's spinning makes small networks train many times slower. Torch is not
    imported here (a replay worker never needs it, and importing it costs seconds): its
    OpenMP threads are set through OMP_NUM_THREADS, which it reads when a live cell imports
    it; one already imported is set directly.
    """
    import optuna

    share = max(1, (os.cpu_count() or 1) // workers)
    os.environ["OMP_NUM_THREADS"] = str(share)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(share)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    signal.signal(signal.SIGTERM, _exit_now)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us


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
                try:
                    for fut in as_completed(futures):
                        task = futures[fut]
                        try:
                            results[task.cell.name] = fut.result()
                        except Exception as err:  # the worker process died
                            results[task.cell.name] = CellResult.failed(task.cell.name,
                                                                        f"worker died: {err}")
                except BaseException:  # interrupted (Ctrl-C, SIGTERM): stop every worker
                    _stop_workers(pool)
                    raise
            q.put(None)
            relay.join()
        return [results[t.cell.name] for t in tasks]


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the cells not started and SIGTERM the workers: a running cell marks its trial
    interrupted and ends, an idle worker exits; the pool's shutdown then joins them all."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


def _drain(q: queue.Queue[CellEvent | None], on_event: EventSink) -> None:
    try:
        while (event := q.get()) is not None:
            on_event(event)
    except (EOFError, OSError):
        return  # the manager was shut down by an interrupted run


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
