"""Device names (`cpu`, `cuda`, `mps`, `auto`) resolved to torch devices, with clear errors."""

from __future__ import annotations

import torch

from bench.core.errors import BenchError
from bench.spec.objective import DEVICES


def resolve_device(name: str) -> torch.device:
    """Turn a device name into a torch device that exists on this machine.

    Args:
        name: one of `DEVICES`, or `cuda:N`.
    """
    base = name.split(":", 1)[0]
    if base not in DEVICES:
        raise BenchError(f"unknown device {name!r}; choose one of: {', '.join(DEVICES)}")
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise BenchError(
            f"device {name!r} asked for, but this torch build sees no CUDA GPU; "
            "use --device cpu or auto"
        )
    if base == "mps" and not torch.backends.mps.is_available():
        raise BenchError(f"device {name!r} asked for, but MPS is not available; use cpu or auto")
    return torch.device(name)


def device_model(device: torch.device) -> str:
    """A human-readable model name for the device (GPU name or CPU model)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    from bench.training.machine import cpu_model

    return cpu_model()


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so host clocks measure finished work (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
