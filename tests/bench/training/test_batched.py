"""The batched trainer against one-at-a-time `train`, pruning, padding, OOM splitting, K choice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from bench.core.errors import BenchError
from bench.datasets.load import Splits, load_dataset
from bench.spec.objective import TrainSettings
from bench.training import memory
from bench.training.batched import _Stack, plan_groups, train_batch
from bench.training.loop import NetworkConfig, ReportPoint, TrainResult, train
from bench.training.memory import choose_batch_size_k, network_bytes

CONFIGS = (
    NetworkConfig((64,), 1e-3),
    NetworkConfig((256,), 3e-2),  # the largest: pruning it re-pads the batch
    NetworkConfig((96,), 1e-4),
    NetworkConfig((160,), 1e-1),
)
SEEDS = (11, 22, 33, 44)
SETTINGS = TrainSettings(epochs=2, reports_per_epoch=2)  # digits: 17 steps/epoch, 4 reports
ABS = 1e-6


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread: on a busy 2-core machine OpenMP's waiting made these 5x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits() -> Splits:
    return load_dataset("digits", device=torch.device("cpu"))


@pytest.fixture(scope="module")
def alone(digits: Splits) -> list[TrainResult]:
    return [train(c, digits, SETTINGS, s) for c, s in zip(CONFIGS, SEEDS, strict=True)]


def assert_same_run(got: TrainResult, want: TrainResult, n_reports: int | None = None) -> None:
    n = len(want.reports) if n_reports is None else n_reports
    assert len(got.reports) == n
    for g, w in zip(got.reports, want.reports[:n], strict=True):
        assert (g.step, g.optimizer_steps) == (w.step, w.optimizer_steps)
        assert g.epoch == pytest.approx(w.epoch)
        assert g.accuracy == pytest.approx(w.accuracy, abs=ABS)
        assert g.train_s >= 0 and g.eval_s >= 0
    if n_reports is None:
        assert not got.stopped_early
        assert got.test_accuracy == pytest.approx(want.test_accuracy, abs=ABS)


@pytest.mark.parametrize("per_network_adam", [True, False], ids=["cpu-adam", "gpu-adam"])
def test_each_network_of_a_batch_trains_as_it_would_alone(
    digits: Splits, alone: list[TrainResult], per_network_adam: bool
) -> None:
    batch = train_batch(CONFIGS, digits, SETTINGS, SEEDS, group_by_size=False,
                        per_network_adam=per_network_adam)
    assert len(batch) == len(CONFIGS)
    for got, want in zip(batch, alone, strict=True):
        assert_same_run(got, want)
    # The networks really differ, so matching each one is not matching a common curve.
    assert len({r.test_accuracy for r in alone}) == len(alone)


def test_a_pruned_network_leaves_the_batch_and_the_others_are_unaffected(
    digits: Splits, alone: list[TrainResult]
) -> None:
    calls: list[tuple[int, int]] = []
    sizes: list[tuple[int, int]] = []

    def prune_largest_at_second_report(k: int, point: ReportPoint) -> bool:
        calls.append((k, point.step))
        assert point.accuracy == pytest.approx(alone[k].reports[point.step - 1].accuracy, abs=ABS)
        return k == 1 and point.step == 2

    batch = train_batch(
        CONFIGS, digits, SETTINGS, SEEDS, prune_largest_at_second_report, group_by_size=False,
        alloc_check=lambda n, steps: sizes.append((n, steps)),
    )
    assert batch[1].stopped_early and batch[1].test_accuracy is None
    assert_same_run(batch[1], alone[1], n_reports=2)
    for k in (0, 2, 3):
        assert_same_run(batch[k], alone[k])
    assert calls == [(k, s) for s in (1, 2) for k in range(4)] + [
        (k, s) for s in (3, 4) for k in (0, 2, 3)
    ]
    # Evaluations after the prune run on a batch of three: network 1 is no longer computed.
    assert [n for n, _ in sizes] == [4, 4, 4, 3, 3]


def test_pruning_every_network_stops_without_a_test_pass(digits: Splits) -> None:
    batch = train_batch(CONFIGS[:2], digits, SETTINGS, SEEDS[:2], lambda k, p: True)
    assert all(r.stopped_early and len(r.reports) == 1 for r in batch)


@pytest.mark.parametrize("per_network_adam", [True, False], ids=["cpu-adam", "gpu-adam"])
def test_padded_units_stay_exactly_zero_and_repadding_keeps_the_weights(
    per_network_adam: bool,
) -> None:
    gen = torch.Generator().manual_seed(0)
    configs = [NetworkConfig((3,), 0.05), NetworkConfig((8,), 0.01)]
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    stack = _Stack.create(configs, gens, 5, torch.device("cpu"), per_network_adam)
    x = torch.rand(30, 5, generator=gen)
    y = torch.randint(0, 10, (30,), generator=gen)
    for t in range(1, 6):
        stack.step(x, y, torch.randint(0, 30, (2, 7), generator=gen), t)
    w1, _b1, w2, _b2 = stack.views(stack.params)
    for buf in (stack.params, stack.exp_avg, stack.exp_avg_sq):
        p_w1, p_b1, p_w2, _ = stack.views(buf)
        assert torch.count_nonzero(p_w1[0, 3:]) == 0
        assert torch.count_nonzero(p_b1[0, 3:]) == 0
        assert torch.count_nonzero(p_w2[0, :, 3:]) == 0
    assert torch.count_nonzero(w1[0, :3]) > 0 and torch.count_nonzero(w2[1]) > 0
    before = [v[0].clone() for v in stack.views(stack.params)]
    moments = [v[0].clone() for v in stack.views(stack.exp_avg_sq)]
    stack = stack.keep([0])
    assert stack.h_max == 3
    after = stack.views(stack.params)
    assert torch.equal(after[0][0], before[0][:3])
    assert torch.equal(after[1][0], before[1][:3])
    assert torch.equal(after[2][0], before[2][:, :3])
    assert torch.equal(after[3][0], before[3])
    assert stack.params.shape == (1, 3 * 5 + 3 + 10 * 3 + 10)
    assert torch.equal(stack.views(stack.exp_avg_sq)[2][0], moments[2][:, :3])
    stack.step(x, y, torch.randint(0, 30, (1, 7), generator=gen), 6)  # still trains
    assert not torch.equal(stack.views(stack.params)[0][0], before[0][:3])


@pytest.mark.parametrize("per_network_adam", [True, False], ids=["cpu-adam", "gpu-adam"])
def test_gradients_and_adam_match_autograd_and_torch_adam(per_network_adam: bool) -> None:
    """Parameters after a few steps, not just accuracies, agree with nn + torch.optim.Adam."""
    gen = torch.Generator().manual_seed(5)
    configs = [NetworkConfig((6,), 0.03), NetworkConfig((4,), 0.002)]
    x = torch.rand(40, 8, generator=gen)
    y = torch.randint(0, 10, (40,), generator=gen)
    idxs = [torch.randint(0, 40, (2, 9), generator=gen) for _ in range(6)]
    stack = _Stack.create(configs, [torch.Generator().manual_seed(s) for s in (3, 4)], 8,
                          torch.device("cpu"), per_network_adam)
    for t, idx in enumerate(idxs, start=1):
        stack.step(x, y, idx, t)
    w1, b1, w2, b2 = stack.views(stack.params)
    from bench.training.network import build_network

    for k, (config, seed) in enumerate(zip(configs, (3, 4), strict=True)):
        net = build_network(8, config.hidden_sizes, torch.Generator().manual_seed(seed),
                            torch.device("cpu"))
        opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
        for idx in idxs:
            opt.zero_grad()
            nn.CrossEntropyLoss()(net(x[idx[k]]), y[idx[k]]).backward()
            opt.step()
        h = config.hidden_sizes[0]
        want = [p.detach() for p in net.parameters()]
        for got, expected in zip((w1[k, :h], b1[k, :h], w2[k, :, :h], b2[k]), want, strict=True):
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)


def out_of_memory_above(
    limit: int, at_steps: int = 0, tried: list[int] | None = None
) -> Callable[[int, int], None]:
    """An `alloc_check` that fakes running out of memory for more than `limit` networks."""

    def check(networks: int, steps: int) -> None:
        if tried is not None and steps == at_steps:
            tried.append(networks)
        if steps == at_steps and networks > limit:
            raise torch.OutOfMemoryError(f"fake: {networks} networks do not fit")

    return check


def test_out_of_memory_halves_the_batch_until_it_fits_and_results_are_unchanged(
    digits: Splits, alone: list[TrainResult]
) -> None:
    tried: list[int] = []
    batch = train_batch(CONFIGS, digits, SETTINGS, SEEDS, group_by_size=False,
                        alloc_check=out_of_memory_above(1, tried=tried))
    assert tried == [4, 2, 1, 1, 2, 1, 1]
    for got, want in zip(batch, alone, strict=True):
        assert_same_run(got, want)


def test_out_of_memory_mid_run_replays_prune_decisions_without_asking_twice(
    digits: Splits, alone: list[TrainResult]
) -> None:
    calls: list[tuple[int, int]] = []

    def prune_first_at_first_report(k: int, point: ReportPoint) -> bool:
        calls.append((k, point.step))
        return k == 0

    # Memory runs out at the second report (step 17), after the first report was delivered.
    batch = train_batch(CONFIGS, digits, SETTINGS, SEEDS, prune_first_at_first_report,
                        group_by_size=False, alloc_check=out_of_memory_above(2, at_steps=17))
    assert len(calls) == len(set(calls))
    assert sorted(calls) == sorted([(0, 1)] + [(k, s) for k in (1, 2, 3) for s in (1, 2, 3, 4)])
    assert batch[0].stopped_early and len(batch[0].reports) == 1
    for k in (1, 2, 3):
        assert_same_run(batch[k], alone[k])


def test_one_network_out_of_memory_is_a_bench_error(digits: Splits) -> None:
    with pytest.raises(BenchError, match="does not fit"):
        train_batch(CONFIGS[:2], digits, SETTINGS, SEEDS[:2],
                    alloc_check=out_of_memory_above(0))


def test_plan_groups_pads_or_groups_by_size() -> None:
    assert plan_groups([64, 256, 96, 160], 2) == [[0, 2], [1, 3]]
    assert plan_groups([64, 256, 96], 5) == [[0, 1, 2]]
    assert plan_groups([96, 64, 96, 256, 96, 64], 5, by_size=True) == [[1, 5], [0, 2, 4], [3]]
    assert plan_groups([96, 64, 96, 256, 96, 64], 2, by_size=True) == [
        [1, 5], [0, 2], [4], [3]
    ]
    assert plan_groups([], 3) == []


def test_max_k_splits_into_batches_of_similar_hidden_size(
    digits: Splits, alone: list[TrainResult]
) -> None:
    sizes: list[int] = []
    batch = train_batch(CONFIGS, digits, SETTINGS, SEEDS, max_k=3, group_by_size=False,
                        alloc_check=lambda n, steps: sizes.append(n) if steps == 0 else None)
    assert sizes == [3, 1]
    for got, want in zip(batch, alone, strict=True):
        assert_same_run(got, want)


def test_on_the_cpu_each_hidden_size_is_its_own_batch(
    digits: Splits, alone: list[TrainResult]
) -> None:
    configs = [*CONFIGS, NetworkConfig((64,), 3e-3)]
    sizes: list[int] = []
    batch = train_batch(configs, digits, SETTINGS, [*SEEDS, 55],
                        alloc_check=lambda n, steps: sizes.append(n) if steps == 0 else None)
    assert sizes == [2, 1, 1, 1]  # 64 (twice), 96, 160, 256
    for got, want in zip(batch[:4], alone, strict=True):
        assert_same_run(got, want)
    assert_same_run(batch[4], train(configs[4], digits, SETTINGS, 55))


@pytest.mark.parametrize(
    ("config", "match"),
    [(NetworkConfig((64,), 0.01, optimizer="sgd"), "adam only"),
     (NetworkConfig((64, 64), 0.01), "one hidden layer")],
)
def test_unsupported_networks_point_to_the_single_trainer(
    digits: Splits, config: NetworkConfig, match: str
) -> None:
    with pytest.raises(BenchError, match=match) as info:
        train_batch([CONFIGS[0], config], digits, SETTINGS, [1, 2])
    assert "bench.training.loop.train" in str(info.value)


def test_seeds_must_match_configs(digits: Splits) -> None:
    with pytest.raises(BenchError, match="2 configs but 1 seeds"):
        train_batch(CONFIGS[:2], digits, SETTINGS, [1])
    assert train_batch([], digits, SETTINGS, []) == []


def test_batch_size_k_follows_free_memory_and_cap() -> None:
    cpu = torch.device("cpu")
    per = network_bytes(256, 50_000)
    fixed = memory.EVAL_ELEMENTS * 2 * memory.FLOAT_BYTES
    free = 2 * (fixed + 100 * per)  # budget_fraction 0.5 leaves room for exactly 100
    assert choose_batch_size_k(cpu, 256, 50_000, free_bytes=free) == 100
    assert choose_batch_size_k(cpu, 256, 50_000, free_bytes=free, cap=40) == 40
    assert choose_batch_size_k(cpu, 64, 50_000, free_bytes=free) > 100
    assert choose_batch_size_k(cpu, 256, 50_000, free_bytes=1) == 1
    assert choose_batch_size_k(cpu, 256, 50_000, budget_fraction=1.0, free_bytes=free) == (
        (free - fixed) // per
    )
    with pytest.raises(BenchError, match="budget_fraction"):
        choose_batch_size_k(cpu, 256, 50_000, budget_fraction=0.0)
    # Real free memory on this machine: a positive count within the cap.
    assert 1 <= choose_batch_size_k(cpu, 256, 50_000) <= memory.DEFAULT_CAP


def test_batch_size_k_on_cuda_reads_mem_get_info(monkeypatch: pytest.MonkeyPatch) -> None:
    gib = 1 << 30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10 * gib, 80 * gib))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 3 * gib)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 1 * gib)
    cuda = torch.device("cuda")
    assert memory.available_bytes(cuda) == 12 * gib
    want = int((6 * gib - memory.EVAL_ELEMENTS * 8) // network_bytes(256, 50_000))
    assert choose_batch_size_k(cuda, 256, 50_000, cap=10**9) == want


def test_cpu_memory_reads_meminfo_and_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable:    2048 kB\n")
    assert memory._meminfo_available(meminfo) == 2048 * 1024
    assert memory._meminfo_available(tmp_path / "missing") is None
    monkeypatch.setattr(memory, "_meminfo_available", lambda: None)
    monkeypatch.setattr(memory, "_sysconf_available", lambda: None)
    assert memory.available_bytes(torch.device("cpu")) == 1 << 30
    assert memory.available_bytes(torch.device("mps")) == 1 << 30  # unified memory


class _HostSyncs(TorchDispatchMode):
    """Counts the ops that make a GPU run wait for the host: `.item()`, nonzero, bool(t)."""

    SYNC_OPS = frozenset({"aten::_local_scalar_dense", "aten::nonzero", "aten::is_nonzero",
                          "aten::equal", "aten::masked_select"})

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(
        self, func: Any, types: Any, args: Any = (), kwargs: Any = None
    ) -> Any:
        self.ops[func.name()] += 1
        return func(*args, **(kwargs or {}))

    @property
    def syncs(self) -> int:
        return sum(n for op, n in self.ops.items() if op in self.SYNC_OPS)


def test_no_host_sync_per_optimizer_step(digits: Splits) -> None:
    """Seen from the dispatcher on the CPU: syncs come per report, never per step."""
    settings = TrainSettings(epochs=2, reports_per_epoch=2)  # 34 steps, 4 reports
    with _HostSyncs() as single:
        train(CONFIGS[0], digits, settings, SEEDS[0])
    assert single.ops["aten::_fused_adam_"] == 34
    assert single.syncs == 4 + 1  # one .item() per validation report and one for the test
    with _HostSyncs() as batched:
        train_batch(CONFIGS[:2], digits, settings, SEEDS[:2], group_by_size=False)
    assert batched.ops["aten::baddbmm"] == 34 * 2 + 5 * 2  # training steps and evaluations
    assert batched.syncs == 0  # its one sync per report is a .tolist(), below the dispatcher
