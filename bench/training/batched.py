"""Train K one-hidden-layer networks at once, in the same kernels, each as `train` would.

Each network k has its own hidden size, learning rate, initialisation and data order, all drawn
from its own `torch.Generator(seed_k)` in the order `bench.training.loop.train` draws them (the
weights of `bench.training.network.build_network`, then one `torch.randperm` per epoch), so
network k of a batch follows the same trajectory as `train(configs[k], data, settings,
seeds[k])`, to float tolerance (rounding depends on the batch, and can grow over many epochs).

Design:
- Parameters are stacked as one flat float32 buffer [K, P] per quantity (weights, gradients,
  Adam's two moments), laid out per network as W1 [H, F] | b1 [H] | W2 [10, H] | b2 [10] with
  nn.Linear's orientation. Forward and backward are written out by hand with `torch.baddbmm` /
  `torch.bmm` (no autograd graph, no input gradient), each network's minibatch is gathered
  with one `index_select` of all K permutations' rows, and Adam is the fused kernel
  `torch.optim.Adam(fused=True)` runs (see `_Stack` for the per-network learning rate).
- Mixed hidden sizes: a batch pads every network to its largest hidden size, and the padding
  stays exactly zero by construction: padded rows of W1 and b1 and padded columns of W2 start
  at zero, so the padded units output relu(0) = 0, their gradients are exact zeros, and Adam
  moves a parameter with zero gradient and zero moments by exactly 0 (no mask multiply per
  step is needed; tests check the padding stays zero). Whether mixed sizes share a batch is a
  per-device default (`group_by_size`): on a GPU one padded batch keeps one kernel sequence
  for all networks, which is what a launch-bound device needs, whereas on the CPU the padded
  units cost their full compute (1.6x for a uniform mix of the seed space's 64..256) while
  batching gains little past K=8, so the CPU runs one batch per distinct hidden size.
  Batches larger than memory allows are split after sorting by hidden size.
- A pruned network is dropped from the batch: the buffers are compacted and, when the largest
  network goes, re-padded to the new largest size, so it stops costing compute.
- Out of memory (`torch.OutOfMemoryError`, on any device) splits the batch in halves and
  retries each half from its seeds. Prune decisions already given by `on_report` are
  remembered and replayed, so the callback never sees the same (network, report) twice.
  (The CPU allocator raises a plain RuntimeError, which is not caught: on the CPU
  `choose_batch_size_k` sizes K from MemAvailable instead.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from bench.core.errors import BenchError
from bench.datasets.load import Splits
from bench.spec.objective import TrainSettings
from bench.training.devices import synchronize
from bench.training.loop import NetworkConfig, ReportPoint, TrainResult, report_point
from bench.training.memory import EVAL_ELEMENTS, N_CLASSES, choose_batch_size_k, parameter_count
from bench.training.network import build_network
from bench.training.schedule import ReportSchedule, timed

BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
EPS = 1e-8

OnReport = Callable[[int, ReportPoint], bool]
# (networks in the group, optimizer steps so far): called before each allocation-heavy phase.
AllocCheck = Callable[[int, int], None]


def check_batchable(config: NetworkConfig) -> None:
    """Raise BenchError unless the batched trainer supports `config`."""
    if config.optimizer != "adam":
        raise BenchError(
            f"the batched trainer supports adam only, not {config.optimizer!r}; "
            "train it one at a time with bench.training.loop.train"
        )
    if len(config.hidden_sizes) != 1:
        raise BenchError(
            f"the batched trainer supports one hidden layer, not {len(config.hidden_sizes)}; "
            "train it one at a time with bench.training.loop.train"
        )


def _views(flat: torch.Tensor, h: int, f: int) -> tuple[torch.Tensor, ...]:
    """W1 [K, h, f], b1 [K, h], W2 [K, 10, h], b2 [K, 10] as views of `flat` [K, P]."""
    k = flat.shape[0]
    o1, o2, o3 = h * f, h * f + h, h * f + h + N_CLASSES * h
    return (
        flat[:, :o1].view(k, h, f),
        flat[:, o1:o2],
        flat[:, o2:o3].view(k, N_CLASSES, h),
        flat[:, o3:],
    )


def _fused_adam(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avg: list[torch.Tensor],
    exp_avg_sq: list[torch.Tensor],
    steps: list[torch.Tensor],
    lr: float,
) -> None:
    """One in-place step of torch.optim.Adam(fused=True)'s kernel, no weight decay/amsgrad."""
    torch._fused_adam_(
        params, grads, exp_avg, exp_avg_sq, [], steps, lr=lr, beta1=BETAS[0], beta2=BETAS[1],
        weight_decay=0.0, eps=EPS, amsgrad=False, maximize=False,
    )


def _repad(flat: torch.Tensor, h_old: int, h_new: int, f: int) -> torch.Tensor:
    """`flat` laid out for `h_old` hidden units, cut to the first `h_new` (h_new < h_old)."""
    new = flat.new_empty(flat.shape[0], parameter_count(f, h_new))
    nw1, nb1, nw2, nb2 = _views(new, h_new, f)
    ow1, ob1, ow2, ob2 = _views(flat, h_old, f)
    nw1.copy_(ow1[:, :h_new])
    nb1.copy_(ob1[:, :h_new])
    nw2.copy_(ow2[:, :, :h_new])
    nb2.copy_(ob2)
    return new


class _Stack:
    """K padded networks with their Adam state, as flat [K, P] buffers on one device.

    Adam is `torch._fused_adam_`, the kernel behind `torch.optim.Adam(fused=True)` that
    `bench.training.loop.train` uses, so each parameter is read and written once per step. It takes
    one learning rate per call, hence two modes:
    - per network (default on the CPU, where a call costs microseconds): one call per network
      with its own learning rate: exactly torch.optim.Adam's arithmetic.
    - shared (default elsewhere): one call for all networks with lr=1 on a zeroed scratch
      buffer, which leaves -m_hat / (sqrt(v_hat) + eps) there, then one
      `params += lr_k * scratch`: three kernel launches whatever K is, for GPUs where
      per-network launches would dominate; it rounds lr * (m / denom) instead of
      (lr / bc1) * m / denom, a last-bit difference.
    """

    def __init__(
        self,
        n_features: int,
        hidden: list[int],
        lr: list[float],
        params: torch.Tensor,
        exp_avg: torch.Tensor | None = None,
        exp_avg_sq: torch.Tensor | None = None,
        per_network_adam: bool | None = None,
    ) -> None:
        self.n_features = n_features
        self.hidden = hidden  # true hidden size of each network
        self.lr = lr
        self.params = params
        self.exp_avg = torch.zeros_like(params) if exp_avg is None else exp_avg
        self.exp_avg_sq = torch.zeros_like(params) if exp_avg_sq is None else exp_avg_sq
        if per_network_adam is None:
            per_network_adam = params.device.type == "cpu"
        self.per_network_adam = per_network_adam
        self.grads = torch.zeros_like(params)
        self._scratch = torch.zeros_like(params) if not per_network_adam else params[:0]
        self._lr_column = torch.tensor(lr, dtype=torch.float32, device=params.device)[:, None]
        self._t = torch.zeros((), dtype=torch.float32, device=params.device)
        self._rows = [list(buf.unbind(0)) for buf in
                      (self._scratch if not per_network_adam else params,
                       self.grads, self.exp_avg, self.exp_avg_sq)]

    @property
    def h_max(self) -> int:
        """The padded hidden size."""
        return max(self.hidden)

    def views(self, flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """`_views` of `flat` at this stack's padded hidden size."""
        return _views(flat, self.h_max, self.n_features)

    @classmethod
    def create(
        cls,
        configs: Sequence[NetworkConfig],
        generators: Sequence[torch.Generator],
        n_features: int,
        device: torch.device,
        per_network_adam: bool | None = None,
    ) -> _Stack:
        """Initialise each network from its generator exactly as `build_network` does."""
        hidden = [c.hidden_sizes[0] for c in configs]
        h = max(hidden)
        params = torch.zeros(len(configs), parameter_count(n_features, h))
        w1, b1, w2, b2 = _views(params, h, n_features)
        for k, (config, generator) in enumerate(zip(configs, generators, strict=True)):
            net = build_network(n_features, config.hidden_sizes, generator, torch.device("cpu"))
            weight1, bias1, weight2, bias2 = (p.detach() for p in net.parameters())
            hk = hidden[k]
            w1[k, :hk].copy_(weight1)
            b1[k, :hk].copy_(bias1)
            w2[k, :, :hk].copy_(weight2)
            b2[k].copy_(bias2)
        lr = [c.learning_rate for c in configs]
        return cls(n_features, hidden, lr, params.to(device), per_network_adam=per_network_adam)

    def keep(self, rows: list[int]) -> _Stack:
        """The networks at `rows` only, re-padded to the largest remaining hidden size."""
        h_old, f = self.h_max, self.n_features
        hidden = [self.hidden[r] for r in rows]
        h_new = max(hidden)
        index = torch.tensor(rows, device=self.params.device)
        kept: list[torch.Tensor] = []
        for buf in (self.params, self.exp_avg, self.exp_avg_sq):
            old = buf.index_select(0, index)
            kept.append(old if h_new == h_old else _repad(old, h_old, h_new, f))
        params, exp_avg, exp_avg_sq = kept
        return _Stack(f, hidden, [self.lr[r] for r in rows], params, exp_avg, exp_avg_sq,
                      self.per_network_adam)

    def step(self, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, t: int) -> None:
        """Adam step `t` of every network k on its minibatch `x[idx[k]]`, `y[idx[k]]`.

        The gradients are those autograd computes for nn.Linear -> ReLU -> nn.Linear ->
        CrossEntropyLoss (mean over the batch), in the same operation order.
        """
        k, rows = idx.shape
        flat_idx = idx.reshape(-1)
        xb = x.index_select(0, flat_idx).view(k, rows, -1)  # 7x faster than x[idx] on CPU
        yb = y.index_select(0, flat_idx).view(k, rows, 1)
        w1, b1, w2, b2 = self.views(self.params)
        g_w1, g_b1, g_w2, g_b2 = self.views(self.grads)
        h = torch.baddbmm(b1.unsqueeze(1), xb, w1.mT).relu_()
        logits = torch.baddbmm(b2.unsqueeze(1), h, w2.mT)
        # Cross-entropy backward as log_softmax_backward(nll_loss_backward): p/B - onehot/B.
        inv = 1.0 / rows
        d_logits = torch.log_softmax(logits, dim=2).exp_().mul_(inv)
        d_logits.scatter_add_(2, yb, d_logits.new_full((k, rows, 1), -inv))
        torch.bmm(d_logits.mT, h, out=g_w2)
        torch.sum(d_logits, dim=1, out=g_b2)
        d_h = torch.ops.aten.threshold_backward(torch.bmm(d_logits, w2), h, 0.0)
        torch.bmm(d_h.mT, xb, out=g_w1)
        torch.sum(d_h, dim=1, out=g_b1)
        self._adam(t)

    def _adam(self, t: int) -> None:
        self._t.fill_(t)
        first, grads, exp_avg, exp_avg_sq = self._rows
        if self.per_network_adam:
            for p, g, m, v, lr in zip(first, grads, exp_avg, exp_avg_sq, self.lr, strict=True):
                _fused_adam([p], [g], [m], [v], [self._t], lr)
            return
        _fused_adam(first, grads, exp_avg, exp_avg_sq, [self._t] * len(first), 1.0)
        self.params.addcmul_(self._scratch, self._lr_column)
        self._scratch.zero_()

    def correct(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Rows of `x` each network classifies as `y`, as an int64 tensor [K] (no host sync)."""
        w1, b1, w2, b2 = self.views(self.params)
        k, h = w1.shape[0], w1.shape[1]
        # Bounded by the input width too, in case a backend materialises the expanded rows.
        chunk = max(1, EVAL_ELEMENTS // (k * max(h, self.n_features)))
        total = torch.zeros(k, dtype=torch.int64, device=x.device)
        for i in range(0, len(x), chunk):
            xc = x[i : i + chunk]
            hidden = torch.baddbmm(b1.unsqueeze(1), xc.expand(k, *xc.shape), w1.mT).relu_()
            logits = torch.baddbmm(b2.unsqueeze(1), hidden, w2.mT)
            total += (logits.argmax(dim=2) == y[i : i + chunk]).sum(dim=1)
        return total

    def correct_counts(self, x: torch.Tensor, y: torch.Tensor) -> list[int]:
        """`correct` copied to the host (one sync)."""
        return self.correct(x, y).tolist()


@dataclass(frozen=True)
class _Job:
    """What every batch of one `train_batch` call shares."""

    configs: Sequence[NetworkConfig]
    data: Splits
    settings: TrainSettings
    seeds: Sequence[int]
    ask: OnReport
    alloc_check: AllocCheck | None
    per_network_adam: bool | None


def _train_group(members: list[int], job: _Job) -> dict[int, TrainResult]:
    """Train the networks `members` (indices into job.configs) as one batch."""
    data, settings, ask, alloc_check = job.data, job.settings, job.ask, job.alloc_check
    device = data.train_x.device
    if alloc_check is not None:
        alloc_check(len(members), 0)
    generators = [torch.Generator().manual_seed(job.seeds[i]) for i in members]
    stack = _Stack.create([job.configs[i] for i in members], generators, data.n_features,
                          device, job.per_network_adam)
    alive = list(members)
    reports: dict[int, list[ReportPoint]] = {i: [] for i in members}
    results: dict[int, TrainResult] = {}
    n, bs = len(data.train_x), settings.batch_size
    schedule = ReportSchedule.create(settings, n)
    report_at = schedule.report_at
    steps = 0
    synchronize(device)
    clock = time.perf_counter()
    for _epoch in range(settings.epochs):
        order = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)
        for start in range(0, n, bs):
            idx = order[:, start : start + bs]
            steps += 1
            stack.step(data.train_x, data.train_y, idx, steps)
            if steps not in report_at:
                continue
            if alloc_check is not None:
                alloc_check(len(alive), steps)
            synchronize(device)
            scores, tested, times = schedule.score(
                steps, clock, stack.correct_counts,
                (data.val_x, data.val_y), (data.test_x, data.test_y), share=len(alive),
            )
            tests: list[float | None] = (
                [None] * len(alive) if tested is None else [c / len(data.test_x) for c in tested]
            )
            keep: list[int] = []
            for row, (i, correct) in enumerate(zip(alive, scores, strict=True)):
                point = report_point(schedule, len(reports[i]) + 1, steps,
                                     correct / len(data.val_x), times, tests[row])
                reports[i].append(point)
                if ask(i, point):
                    results[i] = TrainResult(tuple(reports[i]), stopped_early=True,
                                             test_accuracy=None)
                else:
                    keep.append(row)
            if len(keep) < len(alive):
                if not keep:
                    return results
                alive = [alive[r] for r in keep]
                generators = [generators[r] for r in keep]
                order = order[keep]
                stack = stack.keep(keep)
            synchronize(device)
            clock = time.perf_counter()
    counts, test_s = timed(stack.correct_counts, (data.test_x, data.test_y), len(alive))
    for i, correct in zip(alive, counts, strict=True):
        results[i] = TrainResult(tuple(reports[i]), stopped_early=False,
                                 test_accuracy=correct / len(data.test_x), test_s=test_s)
    return results


def _release(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _train_splitting(members: list[int], job: _Job) -> dict[int, TrainResult]:
    """`_train_group`, halving the group and retrying each half when memory runs out."""
    device = job.data.train_x.device
    try:
        return _train_group(members, job)
    except torch.OutOfMemoryError:
        if len(members) == 1:
            raise BenchError(
                f"one network (hidden size {job.configs[members[0]].hidden_sizes[0]}) does not "
                f"fit in {device} memory; use a smaller network or another device"
            ) from None
    # Outside the except block, so the failed attempt's tensors are freed before the retry.
    _release(device)
    half = len(members) // 2
    return _train_splitting(members[:half], job) | _train_splitting(members[half:], job)


def plan_groups(
    hidden_sizes: Sequence[int], max_k: int, by_size: bool = False
) -> list[list[int]]:
    """Split networks into batches of at most `max_k`, similar hidden sizes together.

    Args:
        hidden_sizes: each network's hidden size.
        max_k: the most networks one batch may hold.
        by_size: one batch (or more, by `max_k`) per distinct hidden size, so nothing is
            padded; otherwise batches are as large as `max_k` allows and pad to their largest.

    Returns:
        Lists of indices into `hidden_sizes`, each ascending, smaller hidden sizes first.
    """
    order = sorted(range(len(hidden_sizes)), key=lambda i: hidden_sizes[i])
    runs: list[list[int]] = []
    for i in order:
        if runs and (not by_size or hidden_sizes[runs[-1][-1]] == hidden_sizes[i]):
            runs[-1].append(i)
        else:
            runs.append([i])
    return [sorted(run[s : s + max_k]) for run in runs for s in range(0, len(run), max_k)]


def train_batch(
    configs: Sequence[NetworkConfig],
    data: Splits,
    settings: TrainSettings,
    seeds: Sequence[int],
    on_report: OnReport | None = None,
    *,
    max_k: int | None = None,
    group_by_size: bool | None = None,
    per_network_adam: bool | None = None,
    alloc_check: AllocCheck | None = None,
) -> list[TrainResult]:
    """Train several one-hidden-layer Adam networks in the same kernels.

    Network k gets the initial weights and data order `bench.training.loop.train(configs[k], data,
    settings, seeds[k])` would give it, and reports at the same steps. Timings are shared:
    each network's `train_s`, `eval_s` and `test_s` at a report (and the final `test_s`) are
    the batch's seconds divided evenly among the networks alive in the batch at that time.
    Several batches (see `max_k`) run one after another. After an out-of-memory retry the
    results hold the retry's report points (same accuracies: training is a function of the
    seeds), while `on_report` saw the first attempt's; the failed attempt's seconds are charged
    to no network.

    Args:
        configs: the networks; each must be adam with one hidden layer (`check_batchable`).
        data: splits already on the target device (cpu, cuda or mps).
        settings: epochs, report interval and batch size, as for `train`.
        seeds: one per config, as `train`'s `seed`.
        on_report: called as `on_report(k, point)` for each network k still training at each
            report (networks in index order within a batch); True prunes network k, which
            is then dropped from the batch.
        max_k: the most networks trained at once; default `choose_batch_size_k` for the
            device. Larger requests run as several batches, grouped by hidden size.
        group_by_size: one batch per distinct hidden size instead of padding to the largest;
            default True on the CPU, where padded units cost their full compute, and False
            elsewhere, where one longer kernel beats several launches (see `plan_groups`).
        per_network_adam: one fused Adam call per network (True) or one for the batch
            (False); default True on the CPU only (see `_Stack`).
        alloc_check: test hook, called as `alloc_check(networks, steps)` before a batch
            allocates its state (steps 0) and before each evaluation; raising
            `torch.OutOfMemoryError` there simulates running out of memory.

    Returns:
        One TrainResult per config, in the order of `configs`.
    """
    settings.validate()
    if len(seeds) != len(configs):
        raise BenchError(f"got {len(configs)} configs but {len(seeds)} seeds; give one each")
    if not configs:
        return []
    for config in configs:
        check_batchable(config)
    hidden = [c.hidden_sizes[0] for c in configs]
    if max_k is None:
        max_k = choose_batch_size_k(
            data.train_x.device, max(hidden), len(data.train_x),
            n_features=data.n_features, batch_size=settings.batch_size,
        )
    if max_k < 1:
        raise BenchError(f"max_k must be at least 1, got {max_k}")
    decisions: dict[tuple[int, int], bool] = {}

    def ask(k: int, point: ReportPoint) -> bool:
        key = (k, point.step)
        if key not in decisions:
            decisions[key] = bool(on_report(k, point)) if on_report is not None else False
        return decisions[key]

    job = _Job(configs, data, settings, seeds, ask, alloc_check, per_network_adam)
    results: dict[int, TrainResult] = {}
    if group_by_size is None:
        group_by_size = data.train_x.device.type == "cpu"
    for group in plan_groups(hidden, max_k, group_by_size):
        results.update(_train_splitting(group, job))
    return [results[k] for k in range(len(configs))]
