"""Machine and version information recorded with every run."""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import optuna

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


def machine_info(torch_fields: bool = True) -> dict[str, Any]:
    """CPU, GPU, CUDA, OS and the harness/torch/Optuna versions, as a JSON-ready dict.

    Args:
        torch_fields: include torch's threads, GPU and CUDA (importing torch, seconds);
            a replay run, which never trains, leaves them out.
    """
    return dict(_machine_info(torch_fields))


@cache
def _machine_info(torch_fields: bool) -> dict[str, Any]:
    info: dict[str, Any] = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
    }
    if torch_fields:
        import torch

        cuda = torch.cuda.is_available()
        info |= {"torch_threads": torch.get_num_threads(),
                 "gpu_name": torch.cuda.get_device_name(0) if cuda else None,
                 "cuda_version": torch.version.cuda if cuda else None}
    return info | {"versions": versions()}


def versions() -> dict[str, str]:
    """Versions of the harness and the libraries that shape results."""
    return {
        "samplerbench": bench.__version__,
        "optuna": optuna.__version__,
        "torch": torch_version(),
    }


@cache
def torch_version() -> str:
    """`torch.__version__` (with its local part, e.g. `+cu130`), read from torch's
    `version.py` without importing torch when it is not imported yet."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return str(torch.__version__)
    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            path = Path(folder) / "version.py"
            if path.is_file():
                found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]",
                                  path.read_text(encoding="utf-8"), re.MULTILINE)
                if found:
                    return found[1]
    import torch

    return str(torch.__version__)
