"""The fast training loop: data held as tensors on the device, no per-batch host sync.

Same objective as the seed example (Adam, cross-entropy, batch size 64, shuffled every
epoch, last partial batch kept), without torchvision's per-image transform and the DataLoader."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch import nn

from bench.core.errors import BenchError
from bench.datasets.load import Splits
from bench.spec.objective import TrainSettings
from bench.training.devices import synchronize
from bench.training.network import build_network
from bench.training.schedule import ReportSchedule, ReportTimes, timed

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class NetworkConfig:
    """What one trial trains: the hyperparameters, already chosen."""

    hidden_sizes: tuple[int, ...]
    learning_rate: float
    optimizer: str = "adam"
    momentum: float = 0.0


@dataclass(frozen=True)
class ReportPoint:
    """One intermediate validation score, with the cost of getting there."""

    step: int  # 1-based index of this report
    epoch: float  # epochs consumed so far (fractional with report_every)
    optimizer_steps: int
    accuracy: float
    train_s: float  # training seconds since the previous report
    eval_s: float  # seconds this evaluation took
    test_accuracy: float | None = None  # only with test_each_epoch, at epoch ends
    test_s: float = 0.0  # seconds that epoch-end test pass took (not part of eval_s)


def report_point(
    schedule: ReportSchedule,
    index: int,
    steps: int,
    score: float,
    times: ReportTimes,
    test_score: float | None = None,
) -> ReportPoint:
    """Report `index` (1-based) after `steps` optimizer steps, charged the seconds `times`.

    Args:
        schedule: the run's report schedule (for the epoch fraction).
        index: 1-based index of this report among the network's reports.
        steps: optimizer steps so far.
        score: validation accuracy.
        times: this network's seconds, from `ReportSchedule.score`.
        test_score: test accuracy, at the epoch ends of `schedule.test_at` only.
    """
    return ReportPoint(
        step=index,
        epoch=schedule.epoch(steps),
        optimizer_steps=steps,
        accuracy=score,
        train_s=times.train_s,
        eval_s=times.eval_s,
        test_accuracy=test_score,
        test_s=times.test_s,
    )


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced; `test_accuracy` is None when stopped early."""

    reports: tuple[ReportPoint, ...]
    stopped_early: bool
    test_accuracy: float | None
    test_s: float = 0.0  # seconds of the final test pass (0 when stopped early)

    @property
    def accuracy(self) -> float:
        """The last reported validation accuracy."""
        return self.reports[-1].accuracy

    @property
    def train_s(self) -> float:
        """Total training seconds."""
        return sum(r.train_s for r in self.reports)

    @property
    def eval_s(self) -> float:
        """Total evaluation seconds (validation reports and the final test pass)."""
        return sum(r.eval_s for r in self.reports) + self.test_s


def trial_seed(study_seed: int, trial_number: int) -> int:
    """The torch seed of one trial, derived from (study seed, trial number)."""
    state = np.random.SeedSequence([study_seed, trial_number]).generate_state(2, np.uint32)
    return int(state[0]) << 32 | int(state[1])


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int = 10_000) -> float:
    """Share of rows of `x` whose argmax prediction equals `y` (one host sync)."""
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for i in range(0, len(x), chunk):
        correct += (model(x[i : i + chunk]).argmax(dim=1) == y[i : i + chunk]).sum()
    return int(correct.item()) / len(x)


def _optimizer(model: nn.Module, config: NetworkConfig) -> torch.optim.Optimizer:
    fused = model[0].weight.device.type in ("cpu", "cuda")
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.learning_rate, fused=fused)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.learning_rate, momentum=config.momentum, fused=fused
        )
    raise BenchError(f"unknown optimizer {config.optimizer!r}; choose one of: adam, sgd")


def warm_up(data: Splits) -> None:
    """Pay a process's one-off costs of training before any trial is timed.

    The first optimizer a process builds imports `torch._dynamo` (seconds on a small CPU), and
    the first step initialises autograd and the fused kernels: without this, the first trial of
    every worker carries those costs in its objective time and duration. One step of each
    optimizer on two rows does it; the generator is a private one, so no seed is consumed.

    Args:
        data: the splits the trials will train on (their device and width).
    """
    device = data.train_x.device
    model = build_network(data.n_features, (8,), torch.Generator().manual_seed(0), device)
    for name in OPTIMIZERS:
        optimizer = _optimizer(model, NetworkConfig((8,), 1e-3, name))
        nn.functional.cross_entropy(model(data.train_x[:2]), data.train_y[:2]).backward()
        optimizer.step()
    synchronize(device)


def train(
    config: NetworkConfig,
    data: Splits,
    settings: TrainSettings,
    seed: int,
    on_report: Callable[[ReportPoint], bool] | None = None,
) -> TrainResult:
    """Train one network and report validation accuracy as it goes.

    Args:
        config: the hyperparameters.
        data: splits already on the target device.
        settings: epochs, report interval and batch size.
        seed: seeds the initialisation and every epoch's shuffle (see `trial_seed`).
        on_report: called at each report; returning True stops training (pruning).
    """
    settings.validate()
    device = data.train_x.device
    generator = torch.Generator().manual_seed(seed)
    model = build_network(data.n_features, config.hidden_sizes, generator, device)
    optimizer = _optimizer(model, config)
    loss_fn = nn.CrossEntropyLoss()
    n = len(data.train_x)
    bs = settings.batch_size
    schedule = ReportSchedule.create(settings, n)
    report_at = schedule.report_at
    reports: list[ReportPoint] = []
    steps = 0
    # Each batch is gathered into these buffers (`index_select(out=)`): 3-16% faster per step
    # than `x[idx]`, which allocates (benchmarks/bench_floor.py), with the same values.
    batch_x = torch.empty((bs, data.train_x.shape[1]), dtype=data.train_x.dtype, device=device)
    batch_y = torch.empty((bs,), dtype=data.train_y.dtype, device=device)
    synchronize(device)
    clock = time.perf_counter()
    for _epoch in range(settings.epochs):
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            rows = len(idx)
            x = torch.index_select(data.train_x, 0, idx, out=batch_x[:rows])
            y = torch.index_select(data.train_y, 0, idx, out=batch_y[:rows])
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            optimizer.step()
            steps += 1
            if steps not in report_at:
                continue
            synchronize(device)
            score, test_score, times = schedule.score(
                steps, clock, partial(accuracy, model),
                (data.val_x, data.val_y), (data.test_x, data.test_y),
            )
            point = report_point(schedule, len(reports) + 1, steps, score, times, test_score)
            reports.append(point)
            if on_report is not None and on_report(point):
                return TrainResult(tuple(reports), stopped_early=True, test_accuracy=None)
            clock = time.perf_counter()
    test, test_s = timed(partial(accuracy, model), (data.test_x, data.test_y))
    return TrainResult(tuple(reports), stopped_early=False, test_accuracy=test, test_s=test_s)
