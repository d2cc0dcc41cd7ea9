"""Datasets held as tensors on the target device, loaded once per process.

`mnist` and `fashion-mnist` come from verified IDX files (see `bench.datasets.mnist_files`);
`digits` is scikit-learn's bundled 8x8 set, for smoke tests. Each load gives train, validation
and test splits: by default the last 10,000 training images (20% for digits) are the validation
set that trials are scored and pruned on; `validation="test"` scores on the test set as the seed
example does."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from bench.core.errors import BenchError
from bench.spec.objective import DATASET_HELP, check_dataset_name, check_validation


@dataclass(frozen=True)
class Splits:
    """Float32 features in [0, 1], flattened, and int64 labels, all on one device."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    checksum: str

    @property
    def n_features(self) -> int:
        """Input width of the network."""
        return int(self.train_x.shape[1])


def default_data_root() -> Path:
    """`$SAMPLERBENCH_DATA`, else the user cache folder."""
    env = os.environ.get("SAMPLERBENCH_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "samplerbench" / "data"


def _idx_arrays(raw: Path, names: tuple[str, str, str, str]) -> tuple[np.ndarray, ...]:
    from bench.datasets.idx import read_idx

    return tuple(read_idx(raw / n) for n in names)


_IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _mnist_like(
    ensure: Callable[[Path, Callable[[str], None]], Path],
    root: Path,
    report: Callable[[str], None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    raw = ensure(root, report)
    digest = hashlib.md5()
    for name in _IDX_NAMES:
        digest.update((raw / name).read_bytes())
    xtr, ytr, xte, yte = _idx_arrays(raw, _IDX_NAMES)
    scale = np.float32(255.0)  # torchvision's ToTensor
    return (xtr.reshape(len(xtr), -1).astype(np.float32) / scale, ytr,
            xte.reshape(len(xte), -1).astype(np.float32) / scale, yte, digest.hexdigest())


def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    checksum = hashlib.md5(x.tobytes() + y.tobytes()).hexdigest()
    n_test = 360
    return x[:-n_test], y[:-n_test], x[-n_test:], y[-n_test:], checksum


def _raw_arrays(
    name: str, root: Path, report: Callable[[str], None]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    if name == "digits":
        return _digits()
    from bench.datasets.mnist_files import ensure_fashion_mnist, ensure_mnist

    if name == "mnist":
        return _mnist_like(ensure_mnist, root, report)
    if name == "fashion-mnist":
        return _mnist_like(ensure_fashion_mnist, root, report)
    raise BenchError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASET_HELP)}")


def load_dataset(
    name: str,
    *,
    device: torch.device,
    validation: str = "holdout",
    data_root: Path | None = None,
    report: Callable[[str], None] | None = None,
) -> Splits:
    """Load a dataset's splits onto `device`, once per process for the same arguments.

    Args:
        name: a key of `DATASET_HELP`.
        device: where the tensors live.
        validation: "holdout" (last 10,000 training images, 20% for digits) or "test".
        data_root: folder holding the files in torchvision's layout; default
            `default_data_root()`.
        report: receives one line per data source tried (default: stderr).
    """
    check_dataset_name(name)
    check_validation(validation)
    root = (data_root or default_data_root()).expanduser().resolve()
    return _load_cached(name, str(device), validation, str(root), report)


@lru_cache(maxsize=8)
def _load_cached(
    name: str, device: str, validation: str, root: str, report: Callable[[str], None] | None
) -> Splits:
    import sys

    def to_stderr(line: str) -> None:
        print(line, file=sys.stderr)

    xtr, ytr, xte, yte, checksum = _raw_arrays(name, Path(root), report or to_stderr)
    if validation == "holdout":
        n_val = 10_000 if len(xtr) > 20_000 else len(xtr) // 4
        xtr, ytr, xva, yva = xtr[:-n_val], ytr[:-n_val], xtr[-n_val:], ytr[-n_val:]
    else:
        xva, yva = xte, yte
    dev = torch.device(device)

    def put(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(dev, dtype)

    return Splits(
        name=name,
        train_x=put(xtr, torch.float32), train_y=put(ytr, torch.int64),
        val_x=put(xva, torch.float32), val_y=put(yva, torch.int64),
        test_x=put(xte, torch.float32), test_y=put(yte, torch.int64),
        checksum=checksum,
    )
