"""The live training loop against its kernel floor (issue 17, item 2).

The floor is the forward and backward kernels of the seed model at the loop's shapes (batch 64
of MNIST's 784 features, hidden 64 or 256, 10 classes) on one fixed, preallocated batch: no
optimiser step, no data gather, nothing else per step. Each loop variant runs one epoch's
steps (782) the way `bench.training.loop.train` does between reports:
    - `loop`: the harness's loop (shuffle, `x[idx]` gather, zero_grad, forward, backward,
      fused Adam step);
    - `index_select`: the gather into preallocated batch buffers (`torch.index_select(out=)`);
    - `floor + step`: the floor plus the fused Adam step (what the gather costs is the rest).
Variants are interleaved within each repeat so that machine drift hits them alike; the table
gives the median time per step and its ratio to the floor, at 1 and 2 torch threads.

    python benchmarks/bench_floor.py [--repeats 5] [--steps 782]

Data are random tensors of MNIST's shape (the kernels do not depend on the values).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from bench.training.network import build_network

FEATURES, CLASSES, BATCH, ROWS = 784, 10, 64, 50_000
HIDDEN = (64, 256)
THREADS = (1, 2)

Step = Callable[[], None]


def _setup(hidden: int, seed: int) -> dict[str, Step]:
    """The per-step callables of each variant, on a fresh network and data."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(ROWS, FEATURES, generator=gen)
    y = torch.randint(0, CLASSES, (ROWS,), generator=gen)
    model = build_network(FEATURES, (hidden,), gen, torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    fixed_x, fixed_y = x[:BATCH].clone(), y[:BATCH].clone()
    buf_x, buf_y = torch.empty(BATCH, FEATURES), torch.empty(BATCH, dtype=torch.int64)
    state = {"order": torch.randperm(ROWS, generator=gen), "at": 0}

    def next_idx() -> torch.Tensor:
        if state["at"] + BATCH > ROWS:
            state["order"], state["at"] = torch.randperm(ROWS, generator=gen), 0
        idx = state["order"][state["at"]: state["at"] + BATCH]
        state["at"] += BATCH
        return idx

    def floor() -> None:
        model.zero_grad(set_to_none=True)
        loss_fn(model(fixed_x), fixed_y).backward()

    def floor_step() -> None:
        floor()
        opt.step()

    def loop() -> None:
        idx = next_idx()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()

    def index_select() -> None:
        idx = next_idx()
        torch.index_select(x, 0, idx, out=buf_x)
        torch.index_select(y, 0, idx, out=buf_y)
        opt.zero_grad(set_to_none=True)
        loss_fn(model(buf_x), buf_y).backward()
        opt.step()

    return {"floor": floor, "floor + step": floor_step, "loop": loop,
            "index_select": index_select}


def _time(step: Step, steps: int) -> float:
    """Seconds per step over `steps` steps, after 20 warm-up steps."""
    for _ in range(20):
        step()
    clock = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - clock) / steps


def measure(hidden: int, threads: int, repeats: int, steps: int) -> dict[str, float]:
    """Median seconds per step of each variant, interleaved over `repeats`."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        variants = _setup(hidden, seed=hidden)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(repeats):
            for name, step in variants.items():
                times[name].append(_time(step, steps))
    finally:
        torch.set_num_threads(before)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    """Print the floor table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=782, help="steps per timing (an epoch)")
    args = parser.parse_args()
    load = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load {load}, "
          f"median of {args.repeats} x {args.steps} steps, batch {BATCH}")
    print("| hidden | threads | floor ms/step | floor + step | loop | index_select | "
          "loop / floor | index_select / floor |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for hidden in HIDDEN:
        for threads in THREADS:
            t = measure(hidden, threads, args.repeats, args.steps)
            ms = {k: v * 1e3 for k, v in t.items()}
            print(f"| {hidden} | {threads} | {ms['floor']:.3f} | {ms['floor + step']:.3f} | "
                  f"{ms['loop']:.3f} | {ms['index_select']:.3f} | "
                  f"{t['loop'] / t['floor']:.2f} | {t['index_select'] / t['floor']:.2f} |")


if __name__ == "__main__":
    main()
