"""Machine and version information recorded with every run."""

from __future__ import annotations

import os
import platform
from functools import cache
from typing import Any

import optuna
import torch

import bench


@cache
def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or platform's guess elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU, GPU, CUDA, OS and the harness/torch/Optuna versions, as a JSON-ready dict."""
    return dict(_machine_info())


@cache
def _machine_info() -> dict[str, Any]:
    cuda = torch.cuda.is_available()
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu_name": torch.cuda.get_device_name(0) if cuda else None,
        "cuda_version": torch.version.cuda if cuda else None,
        "versions": versions(),
    }


def versions() -> dict[str, str]:
    """Versions of the harness and the libraries that shape results."""
    return {
        "samplerbench": bench.__version__,
        "optuna": optuna.__version__,
        "torch": torch.__version__,
    }
