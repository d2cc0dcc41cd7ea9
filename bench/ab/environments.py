"""Environments of an A/B comparison: an ENV argument -> an interpreter and a PYTHONPATH.

Forms (`parse_environment`):
    - `current`: this interpreter, as it is;
    - `python:PATH` (or a plain existing PATH): a Python executable or a venv folder
      (PATH/bin/python), with the samplerbench and Optuna installed there;
    - `pip:REQ`: this interpreter with REQ (say `optuna==4.9.0`) installed by pip, without
      its dependencies (torch and the rest come from this environment), into a cached overlay
      folder put first on PYTHONPATH, as `scripts/optuna-overlay` does;
    - `path:DIR`: this interpreter with DIR first on PYTHONPATH (a package, or a patched
      copy of one);
    - `git:REF` or `git:REPO@REF`: this interpreter with the tree of REF (of this repository,
      or of REPO) extracted into a cached overlay folder put first on PYTHONPATH.

Overlays live in `overlays_root()` (`$SAMPLERBENCH_OVERLAYS`, else `.venv-overlays` of the
checkout, git-ignored), one folder per requirement or commit, built in a `.partial` folder
and renamed when complete, so a rerun reuses it and a failed build leaves nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.core.errors import BenchError

OVERLAYS_ENV = "SAMPLERBENCH_OVERLAYS"
COMPLETE = ".complete"
PIP_INDEX = "https://pypi.org/simple"
KINDS = ("current", "python", "pip", "path", "git")


@dataclass(frozen=True)
class Environment:
    """Where one side of a comparison runs.

    Attributes:
        spec: The ENV argument as given (`pip:optuna==4.9.0`).
        kind: One of `KINDS`.
        python: The interpreter.
        pythonpath: Folders put first on PYTHONPATH, in order.
    """

    spec: str
    kind: str
    python: Path
    pythonpath: tuple[Path, ...] = field(default=())

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The process environment to run this side with (`base`: default os.environ)."""
        out = dict(os.environ if base is None else base)
        if self.pythonpath:
            parts = [str(p) for p in self.pythonpath]
            if out.get("PYTHONPATH"):
                parts.append(out["PYTHONPATH"])
            out["PYTHONPATH"] = os.pathsep.join(parts)
        return out

    def command(self, *args: str) -> list[str]:
        """`python -P ARGS` in this environment (-P: the working folder is not on sys.path,
        so a checkout there cannot shadow the environment's samplerbench)."""
        return [str(self.python), "-P", *args]


def project_root() -> Path:
    """The checkout samplerbench runs from (the folder above the `bench` package)."""
    return Path(__file__).resolve().parents[2]


def overlays_root() -> Path:
    """Where overlays are cached: $SAMPLERBENCH_OVERLAYS, else the checkout's .venv-overlays
    when it has a pyproject.toml, else ~/.cache/samplerbench/overlays."""
    if os.environ.get(OVERLAYS_ENV):
        return Path(os.environ[OVERLAYS_ENV]).expanduser().resolve()
    root = project_root()
    if (root / "pyproject.toml").is_file():
        return root / ".venv-overlays"
    return Path.home() / ".cache" / "samplerbench" / "overlays"


def _bad(spec: str, why: str) -> BenchError:
    return BenchError(f"environment {spec!r}: {why}")


def parse_environment(spec: str) -> Environment:
    """An ENV argument as an environment, building its overlay if needed (see the module
    docstring); raises BenchError for an interpreter or folder that does not exist, a
    requirement pip cannot install or a ref git does not know."""
    kind, sep, value = spec.partition(":")
    if spec == "current":
        return Environment(spec, "current", Path(sys.executable))
    if not sep or kind not in KINDS:
        if Path(spec).exists():
            return Environment(spec, "python", interpreter(spec, spec))
        raise _bad(spec, f"not an environment; give current, python:PATH, pip:REQ, path:DIR "
                         f"or git:REF (no file or folder {spec} either)")
    if not value:
        raise _bad(spec, f"{kind}: needs a value after the colon")
    if kind == "python":
        return Environment(spec, kind, interpreter(spec, value))
    if kind == "path":
        folder = Path(value).expanduser().resolve()
        if not folder.is_dir():
            raise _bad(spec, f"no folder {folder} to put first on PYTHONPATH")
        return Environment(spec, kind, Path(sys.executable), (folder,))
    if kind == "pip":
        return Environment(spec, kind, Path(sys.executable), (pip_overlay(spec, value),))
    return Environment(spec, kind, Path(sys.executable), (git_overlay(spec, value),))


def interpreter(spec: str, value: str) -> Path:
    """The interpreter of `python:PATH`: PATH itself, or PATH/bin/python for a venv folder."""
    path = Path(value).expanduser()
    if path.is_dir():
        for name in ("bin/python", "bin/python3", "Scripts/python.exe"):
            if (path / name).is_file():
                return (path / name).absolute()
        raise _bad(spec, f"{path} is a folder without bin/python; give a venv folder or a "
                         "Python executable")
    if not path.is_file():
        raise _bad(spec, f"no Python interpreter at {path}; give a venv folder or a Python "
                         "executable")
    if not os.access(path, os.X_OK):
        raise _bad(spec, f"{path} is not executable; give a Python interpreter")
    return path.absolute()


def _slug(text: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9.=_-]+", "_", text)[:60]
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _build(final: Path, fill: Callable[[Path], None]) -> Path:
    """Build an overlay in FINAL.partial with `fill(folder)` and rename it to FINAL, unless
    a complete one is there already."""
    if (final / COMPLETE).is_file():
        return final
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)  # an incomplete leftover
    partial.mkdir(parents=True)
    try:
        fill(partial)
        (partial / COMPLETE).touch()
        partial.rename(final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith("error")]
    return (errors or lines or ["no message"])[-1]


def pip_overlay(spec: str, requirement: str) -> Path:
    """The overlay folder of a pip requirement: `pip install --no-deps --only-binary :all:
    --target` from PyPI (`--isolated`: whatever pip's configuration here says), cached."""
    final = overlays_root() / f"pip-{_slug(requirement)}"

    def fill(folder: Path) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            fh.write(requirement + "\n")
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--isolated",
                 "--disable-pip-version-check", "--no-deps", "--only-binary", ":all:",
                 "--index-url", PIP_INDEX, "--target", str(folder), "-r", fh.name],
                capture_output=True, text=True, check=False)
        finally:
            os.unlink(fh.name)
        if done.returncode != 0:
            raise _bad(spec, f"pip could not install {requirement!r}: "
                             f"{_last_line(done.stderr + done.stdout)}")

    return _build(final, fill)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)


def split_git_ref(value: str) -> tuple[Path, str]:
    """`REPO@REF` (REPO an existing folder) or `REF` of this checkout."""
    repo, sep, ref = value.partition("@")
    if sep and ref and Path(repo).expanduser().is_dir():
        return Path(repo).expanduser().resolve(), ref
    return project_root(), value


def git_overlay(spec: str, value: str) -> Path:
    """The overlay folder of a git ref: `git archive` of its commit, extracted, cached per
    commit."""
    repo, ref = split_git_ref(value)
    found = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise _bad(spec, f"git knows no commit {ref!r} in {repo}")
    sha = found.stdout.decode().strip()
    final = overlays_root() / f"git-{sha[:12]}"

    def fill(folder: Path) -> None:
        tar = _git(repo, "archive", "--format=tar", sha)
        if tar.returncode != 0:
            raise _bad(spec, f"git archive of {sha[:12]} failed: "
                             f"{_last_line(tar.stderr.decode(errors='replace'))}")
        with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
            archive.extractall(folder, filter="data")

    return _build(final, fill)
