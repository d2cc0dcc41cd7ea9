"""Cells on a dask.distributed cluster: one task per cell, retried when its worker dies.

`DaskExecutor(workers, scheduler)` connects to a running scheduler (`tcp://host:8786`), or
starts a LocalCluster of `workers` single-threaded worker processes. Each cell is one task;
when the worker running it dies, the scheduler hands the task to another worker, which
resumes the cell's study (the cell is the unit of resume). A cell whose workers die more
than `retries` times, or that raises, becomes a CellResult with its error and the other
cells go on. Workers send their CellEvents through a distributed Queue; the client relays
them to the progress display, dropping the repeats of a retried cell.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

import dask
import optuna
from distributed import Client, Future, KilledWorker, LocalCluster, Queue

from bench.core.attrs import INTERRUPTED
from bench.core.errors import BenchError
from bench.core.optuna_internals import study_id
from bench.execution.base import EventSink, run_cell_safely
from bench.execution.prelude import fail_running_trials
from bench.execution.task import CellEvent, CellResult, CellTask
from bench.storage.backends import open_storage

DEFAULT_RETRIES = 2  # a cell's task may lose its worker this often before it is failed
CONNECT_TIMEOUT_S = 10
POLL_S = 0.5


class DaskExecutor:
    """Runs each cell as one dask task, on a given scheduler or a LocalCluster.

    Args:
        workers: worker processes of the LocalCluster (ignored with a scheduler).
        scheduler: address of a running dask scheduler, e.g. `tcp://host:8786`.
        retries: how often a cell's task may be restarted after its worker died (on a
            LocalCluster; a remote scheduler applies its own
            `distributed.scheduler.allowed-failures`, 3 by default).
        connect_timeout_s: how long to try reaching `scheduler`.
    """

    def __init__(self, workers: int, scheduler: str | None = None,
                 retries: int = DEFAULT_RETRIES,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        if workers < 1:
            raise BenchError(f"--workers must be at least 1, got {workers}")
        if retries < 0:
            raise BenchError(f"dask retries must be 0 or more, got {retries}")
        self.workers = workers
        self.scheduler = scheduler
        self.retries = retries
        self.connect_timeout_s = connect_timeout_s

    def run(self, tasks: Sequence[CellTask], on_event: EventSink) -> list[CellResult]:
        """Run every task on the cluster; one result per task, in the tasks' order."""
        if not tasks:
            return []
        if self.scheduler:
            _check_shared_storage(tasks[0].storage_url)
        run_id = uuid.uuid4().hex[:8]
        results: dict[str, CellResult] = {}
        try:
            self._run_on_cluster(tasks, on_event, run_id, results)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the cluster is closed by now
            if not self.scheduler:  # its workers are gone, so their trials stopped
                _fail_interrupted(tasks[0].storage_url,
                                  [t.cell.name for t in tasks if t.cell.name not in results])
            raise
        return [results[t.cell.name] for t in tasks]

    def _run_on_cluster(self, tasks: Sequence[CellTask], on_event: EventSink, run_id: str,
                        results: dict[str, CellResult]) -> None:
        """Submit every task and collect its result into `results`, by cell name."""
        with self._client() as client:
            events: Queue = Queue(f"samplerbench-events-{run_id}", client=client)
            futures = {
                client.submit(_run_cell_task, task, events.name, key=f"cell-{task.cell.name}-"
                              f"{run_id}", retries=self.retries, pure=False): task
                for task in tasks
            }
            relay = _Relay(on_event)
            pending = set(futures)
            while pending:
                relay.drain(events)
                finished = {fut for fut in pending if fut.done()}
                if not finished:
                    time.sleep(POLL_S)
                pending -= finished
                for fut in finished:
                    task = futures[fut]
                    results[task.cell.name] = _result(fut, task, self.retries)
            relay.drain(events)  # a task's events are all queued before its result

    @contextmanager
    def _client(self) -> Iterator[Client]:
        if self.scheduler:
            try:
                client = Client(self.scheduler, timeout=self.connect_timeout_s,
                                set_as_default=False)
            except (OSError, TimeoutError) as err:
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise BenchError(f"cannot reach the dask scheduler at {self.scheduler} "
                                 f"({reason}); start `dask scheduler` there or fix --scheduler"
                                 ) from None
            with client:
                yield client
            return
        # The scheduler of a LocalCluster lives in this process, so this setting reaches it.
        with dask.config.set({"distributed.scheduler.allowed-failures": self.retries}), \
                LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                             dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster, set_as_default=False) as client:
            yield client


def _fail_interrupted(url: str, cells: Sequence[str]) -> None:
    """Fail the RUNNING trials of interrupted cells as `interrupted`, after the LocalCluster's
    workers are stopped. (The tasks of a remote scheduler cannot be stopped from here: their
    trials are failed as stale by the next run, once their heartbeats stop.)"""
    storage = open_storage(url)
    names = set(cells)
    for study in storage.get_all_studies():
        if study.study_name in names:
            running = storage.get_all_trials(study_id(study), deepcopy=False,
                                             states=(optuna.trial.TrialState.RUNNING,))
            fail_running_trials(storage, running, INTERRUPTED)


def _check_shared_storage(url: str) -> None:
    """Workers on other machines cannot reach this machine's journal or SQLite file."""
    if url.startswith(("journal:", "sqlite:")):
        raise BenchError(
            f"storage {url.split(':', 1)[0]} is a file on this machine, which workers of a "
            "remote dask scheduler cannot reach; pass --storage postgresql://USER@HOST/DB "
            "(or omit --scheduler to run local workers)"
        )


def _run_cell_task(task: CellTask, queue_name: str) -> CellResult:
    """The dask task: run one cell and put its events on the run's queue."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # as the CLI does in the client
    events = Queue(queue_name)
    return run_cell_safely(task, events.put)


def _result(fut: Future, task: CellTask, retries: int) -> CellResult:
    """A finished future's CellResult; a task lost with its workers becomes a failed one."""
    if fut.status == "finished":
        result: CellResult = fut.result()
        return result
    if fut.status == "cancelled":
        line = "its task was cancelled (the scheduler lost it); run again to resume the cell"
    elif isinstance(err := fut.exception(), KilledWorker):
        line = (f"its worker died {retries + 1} times (killed or out of memory); see the dask "
                "worker logs, then run again to resume the cell")
    else:
        first = str(err).splitlines()[0] if str(err) else ""
        line = f"{type(err).__name__}: {first}".rstrip(": ")
    return CellResult.failed(task.cell.name, line)


class _Relay:
    """Forwards events once: a retried cell re-sends progress its first attempt sent."""

    def __init__(self, on_event: EventSink) -> None:
        self.on_event = on_event
        self.done: dict[str, int] = {}
        self.finished: set[str] = set()

    def drain(self, events: Queue) -> None:
        """Forward every queued event."""
        n = events.qsize()
        if n:
            for event in events.get(batch=n):
                self(event)

    def __call__(self, event: CellEvent) -> None:
        """Forward one event, counting only trials not counted yet."""
        if event.finished:
            if event.cell not in self.finished:
                self.finished.add(event.cell)
                self.on_event(event)
            return
        seen = self.done.get(event.cell)
        if seen is not None and event.done <= seen:
            return
        self.done[event.cell] = event.done
        self.on_event(event if seen is None else replace(event, new=event.done - seen))
