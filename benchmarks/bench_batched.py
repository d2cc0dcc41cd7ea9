"""Batched training throughput: K networks in one batch against training them one at a time.

Prints MNIST model-epochs per second (optimizer steps of batch 64, summed over networks,
divided by the 782 steps of one epoch over MNIST's 50,000 training rows) for the batched
trainer at each K and for one-at-a-time `bench.training.train`, and their ratio. Hidden sizes
are the seed space's (64..256 step 32), drawn from a seeded generator; learning rates are
log-uniform in [1e-4, 1e-2]. Only training seconds count (`TrainResult.train_s`; evaluation
runs on a 256-row slice and is excluded).

Each measurement trains a fraction of an epoch on a prefix of the training rows: about
`--model-steps` optimizer steps summed over the networks (at least `--min-steps` steps of the
batch), so K=512 takes seconds, not an hour. One-at-a-time throughput does not depend on K, so
it is measured once per repeat on `--single` networks with the same sizes. The measurements
of one repeat are interleaved (single, then each K) and the median over repeats is printed.
Data is MNIST if `load_dataset("mnist")` finds it, else random tensors of MNIST's shape.

    python benchmarks/bench_batched.py [--ks 1,8,64,512] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

import torch

from bench.batched import train_batch
from bench.datasets import Splits, default_data_root, load_dataset
from bench.devices import resolve_device
from bench.errors import BenchError
from bench.training import NetworkConfig, TrainResult, TrainSettings, train

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


def draw_configs(k: int, seed: int) -> list[NetworkConfig]:
    """K seed-space networks: hidden 64..256 step 32, learning rate log-uniform [1e-4, 1e-2]."""
    g = torch.Generator().manual_seed(seed)
    hidden = (64 + 32 * torch.randint(0, 7, (k,), generator=g)).tolist()
    lr = (10 ** (-4 + 2 * torch.rand(k, generator=g, dtype=torch.float64))).tolist()
    return [NetworkConfig((h,), r) for h, r in zip(hidden, lr, strict=True)]


def subset(data: Splits, rows: int) -> Splits:
    """The first `rows` training rows and a small evaluation slice."""
    return replace(
        data, train_x=data.train_x[:rows], train_y=data.train_y[:rows],
        val_x=data.val_x[:EVAL_ROWS], val_y=data.val_y[:EVAL_ROWS],
        test_x=data.test_x[:EVAL_ROWS], test_y=data.test_y[:EVAL_ROWS],
    )


def rows_for(k: int, model_steps: int, min_steps: int, max_rows: int) -> int:
    """Training rows giving about `model_steps` steps summed over K networks."""
    steps = max(min_steps, model_steps // k)
    return min(max_rows, steps * BATCH)


def model_epochs_per_s(results: Sequence[TrainResult], rows: int) -> float:
    """MNIST model-epochs per training second."""
    steps = len(results) * -(-rows // BATCH)
    return steps / MNIST_STEPS_PER_EPOCH / sum(r.train_s for r in results)


def run_single(configs: Sequence[NetworkConfig], data: Splits, rows: int) -> float:
    """One-at-a-time throughput over `configs`."""
    part = subset(data, rows)
    settings = TrainSettings(epochs=1, batch_size=BATCH)
    return model_epochs_per_s([train(c, part, settings, i) for i, c in enumerate(configs)], rows)


def run_batched(
    configs: Sequence[NetworkConfig], data: Splits, rows: int, max_k: int | None = None
) -> float:
    """Batched throughput of all `configs` in one batch (or batches of `max_k`)."""
    part = subset(data, rows)
    settings = TrainSettings(epochs=1, batch_size=BATCH)
    seeds = list(range(len(configs)))
    return model_epochs_per_s(train_batch(configs, part, settings, seeds, max_k=max_k), rows)


def run_grouped(configs: Sequence[NetworkConfig], data: Splits, rows: int) -> float:
    """Batched throughput with one batch per hidden size instead of padding."""
    part = subset(data, rows)
    settings = TrainSettings(epochs=1, batch_size=BATCH)
    results: list[TrainResult] = []
    for h in sorted({c.hidden_sizes[0] for c in configs}):
        group = [c for c in configs if c.hidden_sizes[0] == h]
        results += train_batch(group, part, settings, list(range(len(group))))
    return model_epochs_per_s(results, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the throughput table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="1,8,64,512", help="batch sizes K, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--single", type=int, default=4, help="networks timed one at a time")
    parser.add_argument("--model-steps", type=int, default=1024)
    parser.add_argument("--min-steps", type=int, default=8)
    parser.add_argument("--max-rows", type=int, default=10_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-grouped", action="store_true",
                        help="skip the padded-vs-grouped comparison at K=64")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data, source = mnist_or_random(device)
    ks = [int(k) for k in args.ks.split(",")]
    single_rows = rows_for(1, args.model_steps, args.min_steps, args.max_rows)
    single_configs = draw_configs(args.single, seed=1)
    jobs: dict[str, Callable[[], float]] = {
        "one-at-a-time": partial(run_single, single_configs, data, single_rows),
    }
    rows_of = {k: rows_for(k, args.model_steps, args.min_steps, args.max_rows) for k in ks}
    for k in ks:
        configs = draw_configs(k, seed=k)
        jobs[f"batched K={k}"] = partial(run_batched, configs, data, rows_of[k])
    if not args.no_grouped and 64 in ks:
        configs = draw_configs(64, seed=64)
        jobs["K=64 one batch per size"] = partial(run_grouped, configs, data, rows_of[64])
    print(f"data: {source} on {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; training rows per measurement: "
          f"single {single_rows}, " + ", ".join(f"K={k} {rows_of[k]}" for k in ks))
    run_single(single_configs[:1], data, BATCH * 4)  # warm-up: lazy imports, allocator
    run_batched(single_configs[:2], data, BATCH * 4)
    samples: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(args.repeats):
        for name, job in jobs.items():
            start = time.perf_counter()
            samples[name].append(job())
            print(f"  {name}: {samples[name][-1]:.3f} model-epochs/s "
                  f"({time.perf_counter() - start:.1f} s wall)", flush=True)
    base = statistics.median(samples["one-at-a-time"])
    print(f"\n{'trainer':>26} {'model-epochs/s':>15} {'ratio':>7}  (median of {args.repeats})")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:>26} {median:15.3f} {median / base:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
