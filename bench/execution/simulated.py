"""K asynchronous workers on a simulated clock: the trial loop of a replay cell.

Design (issue 16). The clock is event-driven; its events are a worker asking for a trial and
a running trial making one report.
    - Each free worker asks the sampler for a trial; the sampler sees the finished trials and
      the ones still running as RUNNING (so TPE's constant liar works as it does live).
    - A trial's reports come at the table's recorded seconds (training and evaluation up to
      each report, `ReplayedTrial.seconds`); at each one the pruner sees exactly the values
      reported by then, and a pruned trial frees its worker at once.
    - The sampler's and pruner's real seconds are charged to the one clock (as Syne Tune's
      simulator charges its scheduler's): everything after a call waits for it, as if one
      process asked and pruned for every worker while the workers paused. Where K processes
      would ask at once this overcharges; docs/parallel.md measures by how much.
    - Events happen in the order of the table's seconds, ties broken by reports before asks
      and then by the order events were made, so a cell is deterministic per seed (measured
      real seconds, if they could reorder events, would make it differ from run to run). The
      clock is the table's seconds plus the seconds charged so far, which never decrease, so
      it runs in the same order: every decision sees exactly what ended before it on the
      clock, and trials numbered in the order they start have non-decreasing start times.
    - With one worker the loop is the serial replay, trial for trial.

Trials are numbered in the order they start; each one's start and end on the clock go into
`LoopRun.trial_times`, for the copy into the storage to carry as its datetimes.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import optuna

from bench.core.errors import BenchError
from bench.execution.loops import LoopEnd, LoopRun, grid_points_taken
from bench.execution.task import CellEvent
from bench.execution.trials import finish_trial, record_failure
from bench.objectives.replay import ReplayedTrial

REPORT, ASK = 0, 1  # event kinds; at the same moment reports go first, so an ask sees them


@dataclass
class _Running:
    """A trial on a worker: its replayed curve, where it stands, what its sampler spent."""

    trial: optuna.Trial
    replayed: ReplayedTrial
    begun: float  # the table's clock when its worker asked for it
    started: float  # the simulated clock then (table seconds + the seconds charged so far)
    ask_s: float
    made: int = 0
    prune_s: float = 0.0


def simulated_trials(run: LoopRun) -> LoopEnd:
    """Run the cell's trials on `cell.trials_in_parallel` simulated workers.

    Args:
        run: the cell, its in-memory study and the replay objective; its `trial_times` is
            filled with each trial's (start, end) in simulated seconds from the cell's start.
    """
    cell, study, objective = run.cell, run.study, run.objective
    plan = getattr(objective, "plan", None)
    if plan is None:
        raise BenchError("simulated workers replay a table; use the objective kind "
                         "\"mnist-table\"")
    times = run.trial_times if run.trial_times is not None else {}
    workers = cell.trials_in_parallel
    charged = 0.0  # the sampler's and pruner's real seconds so far, on the clock
    running: dict[int, _Running] = {}
    done, ran, grid_out, seq = run.done, 0, False, workers
    heap = [(0.0, ASK, w, w) for w in range(workers)]

    def ask(now: float, w: int) -> tuple[float, int, int, int] | None:
        nonlocal grid_out, charged
        if done + len(running) >= cell.trials:
            return None
        if grid_points_taken(study, done + len(running)):
            grid_out = True
            return None
        t0 = time.perf_counter()
        trial = study.ask()
        try:
            replayed = plan(trial.number, objective.space.suggest(trial))
        except BaseException as err:
            record_failure(study, trial, err)
            raise
        ask_s = time.perf_counter() - t0
        running[w] = _Running(trial, replayed, now, now + charged, ask_s)
        charged += ask_s
        return now + replayed.seconds(1), REPORT, seq, w

    def report(now: float, w: int) -> tuple[float, int, int, int] | None:
        nonlocal done, ran, charged
        r = running[w]
        r.made += 1
        t0 = time.perf_counter()
        try:
            r.trial.report(r.replayed.values[r.made - 1], r.made)
            stop = r.trial.should_prune()
        except BaseException as err:
            record_failure(study, r.trial, err)
            raise
        spent = time.perf_counter() - t0
        r.prune_s += spent
        charged += spent
        if not stop and r.made < len(r.replayed.values):
            return r.begun + r.replayed.seconds(r.made + 1), REPORT, seq, w
        finish_trial(study, r.trial, r.replayed.outcome(r.made, stop, r.prune_s), r.ask_s,
                     True, run.held_attrs)
        times[r.trial.number] = (r.started, now + charged)
        del running[w]
        done += 1
        ran += 1
        if ran % run.event_every == 0:
            run.emit(CellEvent(cell.name, done, cell.trials, None, new=run.event_every))
        return now, ASK, seq, w

    event = heapq.heappop(heap)
    while True:
        now, kind, _, w = event
        follow = ask(now, w) if kind == ASK else report(now, w)
        seq += 1
        if follow is not None:  # pushed and the earliest popped: O(1) when it is the earliest
            event = heapq.heappushpop(heap, follow)
        elif heap:
            event = heapq.heappop(heap)
        else:
            break
    return LoopEnd(done, ran, grid_out)
