"""How many networks of one batch fit in memory: a per-network byte estimate and free memory.

`bench.training.batched` stacks K one-hidden-layer networks and trains them in the same kernels;
this module sizes K. The estimate is deliberately coarse (it counts the tensors the batched
trainer allocates per network and adds a fixed evaluation buffer); the trainer still catches
`torch.OutOfMemoryError` and halves the batch, so the estimate only has to be right most of the
time.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from bench.core.errors import BenchError

N_CLASSES = 10
FLOAT_BYTES = 4
INDEX_BYTES = 8
# Evaluation runs the validation/test rows in chunks holding at most this many hidden
# activations (or gathered inputs) across the whole batch (float32: 64 MiB), whatever K is.
EVAL_ELEMENTS = 1 << 24
# A sane upper bound: on the CPU throughput is flat from K=8 on (benchmarks/bench_batched.py),
# on a GPU 1024 seed-sized networks give each kernel ~10^10 flops (not measured here), and the
# per-epoch host work (one randperm per network) grows with K.
DEFAULT_CAP = 1024


def parameter_count(n_features: int, hidden: int, n_classes: int = N_CLASSES) -> int:
    """Parameters of one input -> hidden -> ReLU -> classes network (weights and biases)."""
    return hidden * n_features + hidden + n_classes * hidden + n_classes


def network_bytes(
    hidden: int, n_train_rows: int, *, n_features: int = 784, batch_size: int = 64
) -> int:
    """Device bytes one network costs inside a batch, padded to `hidden` units.

    Counts parameters, gradients, Adam's two moments and its temporaries (7 copies of the
    parameters), one step's activations (the gathered minibatch, the hidden layer and its
    gradient, the logits and their gradient) and the network's epoch permutation.

    Args:
        hidden: the batch's largest hidden size (every network is padded to it).
        n_train_rows: rows of the training split (each network holds a permutation of them).
        n_features: input width.
        batch_size: minibatch rows.
    """
    params = parameter_count(n_features, hidden)
    activations = batch_size * (n_features + 3 * hidden + 4 * N_CLASSES)
    return (7 * params + activations) * FLOAT_BYTES + (n_train_rows + batch_size) * INDEX_BYTES


def _meminfo_available(path: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _sysconf_available() -> int | None:
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def available_bytes(device: torch.device) -> int:
    """Free memory the batch may use on `device`.

    CUDA: `torch.cuda.mem_get_info` (free bytes on the card) plus what PyTorch's caching
    allocator holds but does not use. CPU and MPS (unified memory): `MemAvailable` from
    /proc/meminfo, else available physical pages from `os.sysconf`, else 1 GiB.
    """
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free) + max(0, int(cached))
    found = _meminfo_available() or _sysconf_available()
    return found if found is not None else 1 << 30


def choose_batch_size_k(
    device: torch.device,
    hidden_max: int,
    n_train_rows: int,
    budget_fraction: float = 0.5,
    *,
    n_features: int = 784,
    batch_size: int = 64,
    cap: int = DEFAULT_CAP,
    free_bytes: int | None = None,
) -> int:
    """How many networks one batch may hold: `budget_fraction` of free memory, at most `cap`.

    Args:
        device: where the batch trains.
        hidden_max: the largest hidden size in the batch.
        n_train_rows: rows of the training split.
        budget_fraction: share of free memory the batch may take, in (0, 1].
        n_features: input width.
        batch_size: minibatch rows.
        cap: upper bound whatever the memory (see `DEFAULT_CAP`).
        free_bytes: free memory to assume instead of asking the device (for tests).
    """
    if not 0.0 < budget_fraction <= 1.0:
        raise BenchError(f"budget_fraction must be in (0, 1], got {budget_fraction}")
    if hidden_max < 1 or n_train_rows < 1 or cap < 1:
        raise BenchError(
            f"hidden_max, n_train_rows and cap must be positive, got {hidden_max}, "
            f"{n_train_rows}, {cap}"
        )
    free = available_bytes(device) if free_bytes is None else free_bytes
    budget = free * budget_fraction - EVAL_ELEMENTS * 2 * FLOAT_BYTES
    per_network = network_bytes(
        hidden_max, n_train_rows, n_features=n_features, batch_size=batch_size
    )
    return max(1, min(cap, int(budget // per_network)))
