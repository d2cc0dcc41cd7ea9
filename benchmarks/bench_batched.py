"""Batched training throughput: K networks in one batch against training them one at a time.

Prints MNIST model-epochs per second (optimizer steps of batch 64, summed over networks,
divided by the 782 steps of one epoch over MNIST's 50,000 training rows) for the batched
trainer at each K and for one-at-a-time `bench.training.loop.train`, and the ratio of the two
measured in the same repeat (median over repeats). Only training seconds count
(`TrainResult.train_s`); evaluation runs on a 256-row slice and is excluded.

Table 1 trains networks of one hidden size (`--hidden`, default the seed space's middle, 160)
with learning rates log-uniform in [1e-4, 1e-2]. Table 2 takes K=64 networks with the seed
space's mixed hidden sizes (64..256 step 32) and compares one padded batch, one batch per
hidden size, and one-at-a-time (estimated as the sum of each size's measured time alone).

Each measurement trains a fraction of an epoch on a prefix of the training rows: about
`--model-steps` optimizer steps summed over the networks (at least `--min-steps` steps of the
batch), so K=512 takes seconds, not an hour. A repeat interleaves all measurements; K values
that `choose_batch_size_k` says do not fit are skipped. Data is MNIST if its files are already
here (no fetch), else random tensors of MNIST's shape.

    python benchmarks/bench_batched.py [--ks 1,8,64,512] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

import torch

from bench.core.errors import BenchError
from bench.datasets.load import Splits, default_data_root, load_dataset
from bench.spec.objective import TrainSettings
from bench.training.batched import train_batch
from bench.training.devices import resolve_device
from bench.training.loop import NetworkConfig, train
from bench.training.memory import choose_batch_size_k

BATCH = 64
MNIST_STEPS_PER_EPOCH = -(-50_000 // BATCH)
EVAL_ROWS = 256


def mnist_or_random(device: torch.device) -> tuple[Splits, str]:
    """MNIST's splits if its files are already here (no fetch), else random tensors alike."""
    if (default_data_root() / "MNIST" / "raw").is_dir():
        try:
            return load_dataset("mnist", device=device, report=lambda line: None), "mnist"
        except BenchError:
            pass
    g = torch.Generator().manual_seed(0)
    x = torch.rand(60_000, 784, generator=g).to(device)
    y = torch.randint(0, 10, (60_000,), generator=g).to(device)
    train_x, train_y, val_x, val_y = x[:50_000], y[:50_000], x[50_000:], y[50_000:]
    splits = Splits("random", train_x, train_y, val_x, val_y, val_x, val_y, "random")
    return splits, "random 50000x784"


SEED_SIZES = tuple(range(64, 257, 32))


def draw_configs(k: int, seed: int, hidden: int | None) -> list[NetworkConfig]:
    """K networks: `hidden` units (None: the seed space's 64..256 step 32), lr in [1e-4, 1e-2]."""
    g = torch.Generator().manual_seed(seed)
    sizes = [hidden] * k if hidden else [SEED_SIZES[i] for i in
                                         torch.randint(0, len(SEED_SIZES), (k,), generator=g)]
    lr = (10 ** (-4 + 2 * torch.rand(k, generator=g, dtype=torch.float64))).tolist()
    return [NetworkConfig((h,), r) for h, r in zip(sizes, lr, strict=True)]


def subset(data: Splits, rows: int) -> Splits:
    """The first `rows` training rows and a small evaluation slice."""
    return replace(
        data, train_x=data.train_x[:rows], train_y=data.train_y[:rows],
        val_x=data.val_x[:EVAL_ROWS], val_y=data.val_y[:EVAL_ROWS],
        test_x=data.test_x[:EVAL_ROWS], test_y=data.test_y[:EVAL_ROWS],
    )


def rows_for(k: int, model_steps: int, min_steps: int, max_rows: int) -> int:
    """Training rows giving about `model_steps` steps summed over K networks."""
    return min(max_rows, max(min_steps, model_steps // k) * BATCH)


def epochs_of(rows: int) -> float:
    """MNIST epochs in one pass over `rows` rows."""
    return -(-rows // BATCH) / MNIST_STEPS_PER_EPOCH


def single_seconds(configs: Sequence[NetworkConfig], data: Splits, rows: int) -> list[float]:
    """Training seconds of each network trained alone for one pass over `rows` rows."""
    part = subset(data, rows)
    settings = TrainSettings(epochs=1, batch_size=BATCH)
    return [train(c, part, settings, i).train_s for i, c in enumerate(configs)]


def batched_seconds(
    configs: Sequence[NetworkConfig], data: Splits, rows: int, group_by_size: bool
) -> float:
    """Training seconds of all `configs` in one batch (or one per size)."""
    part = subset(data, rows)
    settings = TrainSettings(epochs=1, batch_size=BATCH)
    seeds = list(range(len(configs)))
    results = train_batch(configs, part, settings, seeds, max_k=len(configs),
                          group_by_size=group_by_size)
    return sum(r.train_s for r in results)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the throughput tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="1,8,64,512", help="batch sizes K, comma-separated")
    parser.add_argument("--hidden", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--single", type=int, default=4, help="networks timed one at a time")
    parser.add_argument("--model-steps", type=int, default=2048)
    parser.add_argument("--min-steps", type=int, default=8)
    parser.add_argument("--max-rows", type=int, default=10_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-mixed", action="store_true", help="skip table 2")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data, source = mnist_or_random(device)
    fits = choose_batch_size_k(device, args.hidden, len(data.train_x), cap=1 << 20)
    ks = [int(k) for k in args.ks.split(",")]
    skipped = [k for k in ks if k > fits]
    ks = [k for k in ks if k <= fits]
    rows = {k: rows_for(k, args.model_steps, args.min_steps, args.max_rows) for k in ks}
    single_rows = rows_for(1, args.model_steps, args.min_steps, args.max_rows)
    # name -> (measure() -> seconds, model-epochs that many seconds trained)
    jobs: dict[str, tuple[Callable[[], float], float]] = {}
    single = draw_configs(args.single, 1, args.hidden)
    jobs["one-at-a-time"] = (
        lambda: sum(single_seconds(single, data, single_rows)),
        len(single) * epochs_of(single_rows),
    )
    for k in ks:
        configs = draw_configs(k, k, args.hidden)
        jobs[f"batched K={k}"] = (
            partial(batched_seconds, configs, data, rows[k], False), k * epochs_of(rows[k])
        )
    mixed = [] if args.no_mixed else draw_configs(64, 64, None)
    if mixed:
        m_rows = rows_for(64, args.model_steps, args.min_steps, args.max_rows)
        per_size = draw_configs(len(SEED_SIZES), 2, None)
        per_size = [replace(c, hidden_sizes=(h,)) for c, h in zip(per_size, SEED_SIZES,
                                                                   strict=True)]

        def mixed_alone() -> float:
            alone = dict(zip(SEED_SIZES, single_seconds(per_size, data, m_rows), strict=True))
            return sum(alone[c.hidden_sizes[0]] for c in mixed)

        model_epochs = 64 * epochs_of(m_rows)
        jobs["mixed: one-at-a-time (est.)"] = (mixed_alone, model_epochs)
        jobs["mixed: K=64 padded"] = (
            partial(batched_seconds, mixed, data, m_rows, False), model_epochs
        )
        jobs["mixed: K=64 by size"] = (
            partial(batched_seconds, mixed, data, m_rows, True), model_epochs
        )
    print(f"data: {source} on {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; training rows per measurement: "
          f"single {single_rows}, " + ", ".join(f"K={k} {rows[k]}" for k in ks)
          + (f"; skipped K={skipped} (memory fits {fits})" if skipped else ""))
    single_seconds(single[:1], data, BATCH * 4)  # warm-up: lazy imports, allocator
    batched_seconds(single[:2], data, BATCH * 4, False)
    speed: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(args.repeats):
        for name, (measure, model_epochs) in jobs.items():
            start = time.perf_counter()
            speed[name].append(model_epochs / measure())
            print(f"  {name}: {speed[name][-1]:.3f} model-epochs/s "
                  f"({time.perf_counter() - start:.1f} s wall)", flush=True)

    def table(names: list[str], base: str) -> None:
        print(f"\n{'trainer':>28} {'model-epochs/s':>15} {'ratio':>7}   "
              f"(medians of {args.repeats}; ratio to {base!r} in the same repeat)")
        for name in names:
            ratio = statistics.median(a / b for a, b in zip(speed[name], speed[base],
                                                            strict=True))
            print(f"{name:>28} {statistics.median(speed[name]):15.3f} {ratio:7.2f}")

    table([n for n in jobs if not n.startswith("mixed")], "one-at-a-time")
    if mixed:
        table([n for n in jobs if n.startswith("mixed")], "mixed: one-at-a-time (est.)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
