"""The report schedule `train` and `train_batch` share: when to report, and what it costs.

Torch-free: the trainers synchronize their device before `ReportSchedule.score`, and their
scoring callables return only once the scores are on the host.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bench.spec.objective import TrainSettings

S = TypeVar("S")  # what a scorer returns
X = TypeVar("X")  # a split's inputs or labels


def timed(scorer: Callable[[X, X], S], split: tuple[X, X], share: int = 1) -> tuple[S, float]:
    """`scorer(*split)` and the seconds it took, divided evenly among `share` networks.

    Args:
        scorer: scores a split's (inputs, labels), returning once the scores are on the host.
        split: the split to score.
        share: networks scored together.
    """
    start = time.perf_counter()
    scores = scorer(*split)
    return scores, (time.perf_counter() - start) / share


@dataclass(frozen=True)
class ReportTimes:
    """Seconds one report charges to each network it scores.

    Attributes:
        train_s: training since the previous report (or the start).
        eval_s: the validation pass.
        test_s: the epoch-end test pass (`TrainSettings.test_each_epoch`), else 0.
    """

    train_s: float
    eval_s: float
    test_s: float = 0.0


@dataclass(frozen=True)
class ReportSchedule:
    """When a run reports, precomputed from `TrainSettings.report_steps`.

    Attributes:
        steps_per_epoch: optimizer steps per pass over the training split (last partial
            batch kept).
        report_at: 1-based global optimizer steps after which validation is scored.
        test_at: the steps of `report_at` that end an epoch and also score the test split;
            empty unless `test_each_epoch`.
    """

    steps_per_epoch: int
    report_at: frozenset[int]
    test_at: frozenset[int]

    @classmethod
    def create(cls, settings: TrainSettings, n_train: int) -> ReportSchedule:
        """The schedule of `settings` over a training split of `n_train` rows."""
        steps_per_epoch = -(-n_train // settings.batch_size)
        report_at = frozenset(settings.report_steps(steps_per_epoch))
        test_at = frozenset(
            s for s in report_at if settings.test_each_epoch and s % steps_per_epoch == 0
        )
        return cls(steps_per_epoch, report_at, test_at)

    def epoch(self, steps: int) -> float:
        """Epochs consumed after `steps` optimizer steps (fractional between epoch ends)."""
        return steps / self.steps_per_epoch

    def score(
        self,
        steps: int,
        clock: float,
        scorer: Callable[[X, X], S],
        val: tuple[X, X],
        test: tuple[X, X],
        share: int = 1,
    ) -> tuple[S, S | None, ReportTimes]:
        """Score the report after `steps`, timing each pass; call right after a device sync.

        Args:
            steps: optimizer steps so far (a member of `report_at`).
            clock: `time.perf_counter()` when training since the previous report began.
            scorer: scores one split's (inputs, labels), returning once the scores are on
                the host.
            val: the validation split.
            test: the test split, scored only at the steps of `test_at`.
            share: networks trained and scored together, whose seconds are divided evenly.

        Returns:
            The validation scores, the test scores (None off `test_at`) and each network's
            seconds.
        """
        t_eval = time.perf_counter()
        val_scores = scorer(*val)
        t_val = time.perf_counter()
        test_scores, test_s = None, 0.0
        if steps in self.test_at:
            test_scores, test_s = timed(scorer, test, share)
        times = ReportTimes((t_eval - clock) / share, (t_val - t_eval) / share, test_s)
        return val_scores, test_scores, times
