"""Read and write IDX files, the format of the MNIST family of data sets.

An IDX file is a header followed by raw data: two zero bytes, a type code (``0x08`` for
unsigned bytes, the only type used here), the number of dimensions, one big-endian 32-bit size
per dimension, then the values in C order. MNIST images use magic ``0x00000803`` (``[n, 28, 28]``)
and labels ``0x00000801`` (``[n]``).
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.core.files import atomic_write

UBYTE_TYPE_CODE = 0x08
"""IDX type code of unsigned 8-bit values."""

_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: Path) -> np.ndarray:
    """Parse an unsigned-byte IDX file.

    Args:
        path: The IDX file (uncompressed).

    Returns:
        A writable ``uint8`` array shaped as the header says, e.g. ``[n, 28, 28]`` for images
        (magic ``0x0803``) or ``[n]`` for labels (magic ``0x0801``).

    Raises:
        DataError: The file is missing, unreadable, gzip-compressed, has a bad header, or holds
            fewer or more bytes than its header announces.
    """
    try:
        with path.open("rb") as stream:
            head = stream.read(4)
            if head[:2] == _GZIP_MAGIC:
                raise DataError(
                    f"{path} is gzip-compressed, not an IDX file: gunzip it "
                    f"(gunzip -k {path}) and use the uncompressed file"
                )
            if len(head) < 4 or head[:2] != b"\x00\x00":
                raise DataError(
                    f"{path} is not an IDX file (bad magic {head.hex() or 'empty'}): "
                    "replace it with the official file"
                )
            type_code, ndim = head[2], head[3]
            if type_code != UBYTE_TYPE_CODE or ndim == 0:
                raise DataError(
                    f"{path} is an unsupported IDX file (magic 0x{head.hex()}, expected unsigned "
                    "bytes with at least one dimension): replace it with the official file"
                )
            dims_raw = stream.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise DataError(
                    f"{path} is truncated inside its IDX header: replace it with the official file"
                )
            shape = struct.unpack(f">{ndim}I", dims_raw)
            count = math.prod(shape)
            available = os.fstat(stream.fileno()).st_size - (4 + 4 * ndim)
            values = None
            if available == count:
                values = np.fromfile(stream, dtype=np.uint8, count=count)
    except FileNotFoundError:
        raise DataError(f"IDX file {path} not found: put the file there") from None
    except OSError as error:
        raise DataError(
            f"cannot read IDX file {path} ({error.strerror or error}): check its permissions"
        ) from error
    if available < count:
        raise DataError(
            f"{path} is truncated: header announces shape {list(shape)} ({count} bytes of data) "
            f"but only {available} are present; replace it with the official file"
        )
    if values is None or values.size != count:
        raise DataError(
            f"{path} holds {available} bytes of data where its header announces {count}: "
            "replace it with the official file"
        )
    return values.reshape(shape)


def idx_bytes_header(shape: tuple[int, ...]) -> bytes:
    """Build the IDX header of an unsigned-byte array.

    Args:
        shape: The array's shape (1 to 255 dimensions, each below 2**32).

    Returns:
        The header bytes: magic ``0x000008NN`` then one big-endian size per dimension.

    Raises:
        ValueError: The shape cannot be written as IDX.
    """
    if not 1 <= len(shape) <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got shape {shape}")
    if any(not 0 <= size < 2**32 for size in shape):
        raise ValueError(f"IDX sizes must fit in 32 bits, got shape {shape}")
    return bytes((0, 0, UBYTE_TYPE_CODE, len(shape))) + struct.pack(f">{len(shape)}I", *shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a ``uint8`` array as an IDX file, atomically.

    The bytes go through :func:`bench.core.files.atomic_write`: they are written to a temporary
    file in the same folder, flushed to disk and renamed over ``path``; readers see either the
    old file or the complete new one, and a failure leaves no temporary file behind.

    Args:
        path: Destination file; its folder must exist.
        array: The values, dtype ``uint8``, 1 to 255 dimensions.

    Raises:
        ValueError: The array is not ``uint8`` or its shape cannot be written as IDX.
        BenchError: The file cannot be written.
    """
    if array.dtype != np.uint8:
        raise ValueError(f"write_idx writes uint8 arrays only, got dtype {array.dtype}")
    header = idx_bytes_header(tuple(int(size) for size in array.shape))

    def write(temp: Path) -> None:
        with temp.open("wb") as stream:
            stream.write(header)
            stream.write(np.ascontiguousarray(array).tobytes())
            stream.flush()
            os.fsync(stream.fileno())

    atomic_write(path, write)
