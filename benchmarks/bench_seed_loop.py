"""The seed example's DataLoader loop against samplerbench's fast loop, in one run.

Both train the seed's network (784 -> hidden -> ReLU -> 10, Adam, cross-entropy, batch 64)
on the same 60,000 MNIST training images and score on the 10,000 test images, as the seed
does (`validation="test"`). Epochs of the two loops are interleaved so machine load hits
both alike. Prints per-epoch seconds, their ratio, a breakdown of the fast loop's time, and
the mean accuracy of each loop over seeds after one epoch.

    python benchmarks/bench_seed_loop.py [--hidden 256] [--epochs 3] [--seeds 5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from bench.datasets.load import Splits, default_data_root, load_dataset
from bench.spec.objective import TrainSettings
from bench.training.loop import NetworkConfig, train, trial_seed
from bench.training.seed_reference import seed_loop


def fast_loop(data: Splits, hidden: int, lr: float, epochs: int, seed: int) -> tuple[
        list[float], float]:
    """samplerbench's loop: per-epoch training seconds and final test accuracy."""
    result = train(NetworkConfig((hidden,), lr), data, TrainSettings(epochs=epochs),
                   trial_seed(seed, 0))
    return [r.train_s for r in result.reports], result.reports[-1].accuracy


def breakdown(data: Splits, hidden: int, lr: float, steps: int = 300) -> dict[str, float]:
    """Milliseconds per step of each part of the fast loop, each timed in its own loop."""
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(data.train_x), generator=g)
    idxs = [order[i * 64:(i + 1) * 64] for i in range(steps)]

    def timed(fn: object) -> float:
        start = time.perf_counter()
        for idx in idxs:
            fn(idx)  # type: ignore[operator]
        return 1e3 * (time.perf_counter() - start) / steps

    batches = [(data.train_x[i], data.train_y[i]) for i in idxs]
    out: dict[str, float] = {"gather batch": timed(lambda i: (data.train_x[i], data.train_y[i]))}
    xb, yb = batches[0]
    out["forward + loss"] = timed(lambda i: loss_fn(model(xb), yb))

    def fwd_bwd(_i: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xb), yb).backward()

    out["forward + loss + backward"] = timed(fwd_bwd)
    out["optimizer step"] = timed(lambda i: opt.step())
    out["whole step"] = timed(lambda i: (fwd_bwd(i), opt.step()))
    return out


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for both loops (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)  # before anything loads or trains
    root = (args.data_root or default_data_root()).expanduser()
    data = load_dataset("mnist", device=torch.device("cpu"), validation="test", data_root=root)
    threads = "set by --threads" if args.threads is not None else "torch default"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads ({threads})")
    seed_t: list[float] = []
    fast_t: list[float] = []
    for rep in range(args.epochs):  # interleave one epoch of each
        seed_t += seed_loop(root, args.hidden, 1e-3, 1, rep)[0]
        fast_t += fast_loop(data, args.hidden, 1e-3, 1, rep)[0]
    s, f = statistics.median(seed_t), statistics.median(fast_t)
    print(f"hidden {args.hidden}, per-epoch training seconds (median of {args.epochs}): "
          f"seed loop {s:.2f} s, fast loop {f:.2f} s, speed-up {s / f:.1f}x")
    parts = breakdown(data, args.hidden, 1e-3)
    steps = -(-len(data.train_x) // 64)
    print(f"fast loop, ms per step ({steps} steps per epoch):")
    for name, ms in parts.items():
        print(f"  {name:<28} {ms:.3f} ms  ({ms * steps / 1e3:.2f} s per epoch)")
    seed_acc, fast_acc = [], []
    for seed in range(args.seeds):
        seed_acc.append(seed_loop(root, 128, 1e-3, 1, 100 + seed)[1])
        fast_acc.append(fast_loop(data, 128, 1e-3, 1, 100 + seed)[1])
    ms, mf = statistics.mean(seed_acc), statistics.mean(fast_acc)
    print(f"accuracy after 1 epoch, lr 1e-3, hidden 128, {args.seeds} seeds: seed loop "
          f"{100 * ms:.2f}%, fast loop {100 * mf:.2f}%, difference {100 * (mf - ms):+.2f} pp")


if __name__ == "__main__":
    main()
