"""ENV arguments -> interpreters and PYTHONPATH overlays (cached; a failed build leaves none)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.ab import environments as envs
from bench.ab.environments import COMPLETE, OVERLAYS_ENV, Environment, parse_environment
from bench.core.errors import BenchError


@pytest.fixture(autouse=True)
def _overlays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(OVERLAYS_ENV, str(tmp_path / "overlays"))
    return tmp_path / "overlays"


def test_current_and_python_forms(tmp_path: Path) -> None:
    assert parse_environment("current").python == Path(sys.executable)
    venv = tmp_path / "v"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    for spec in (f"python:{venv}", str(venv), f"python:{venv / 'bin' / 'python'}"):
        env = parse_environment(spec)
        assert env.kind == "python" and env.python == (venv / "bin" / "python").absolute()
        assert env.pythonpath == ()


@pytest.mark.parametrize(("spec", "message"), [
    ("python:/no/such/python", "no Python interpreter at /no/such/python"),
    ("path:/no/such/folder", "no folder /no/such/folder to put first on PYTHONPATH"),
    ("nonsense", "not an environment; give current, python:PATH, pip:REQ, path:DIR or git:REF"),
    ("pip:", "pip: needs a value after the colon"),
    ("git:no-such-ref-xyz", "git knows no commit 'no-such-ref-xyz'"),
])
def test_bad_environments_are_one_line(spec: str, message: str) -> None:
    with pytest.raises(BenchError, match=r"^environment ") as err:
        parse_environment(spec)
    assert message in str(err.value)


def test_a_folder_without_an_interpreter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="is a folder without bin/python"):
        parse_environment(f"python:{tmp_path}")


def test_path_puts_the_folder_first_on_pythonpath(tmp_path: Path) -> None:
    env = parse_environment(f"path:{tmp_path}")
    assert env.pythonpath == (tmp_path.resolve(),)
    merged = env.env({"PYTHONPATH": "/elsewhere"})["PYTHONPATH"]
    assert merged.split(":") == [str(tmp_path.resolve()), "/elsewhere"]
    assert env.command("-c", "x")[:2] == [sys.executable, "-P"]


def test_a_pip_overlay_is_built_once_then_reused(
        _overlays: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_pip(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        target = Path(cmd[cmd.index("--target") + 1])
        (target / "optuna").mkdir(parents=True)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(envs.subprocess, "run", fake_pip)
    first = parse_environment("pip:optuna==4.9.0")
    second = parse_environment("pip:optuna==4.9.0")
    assert first == second and len(calls) == 1
    folder = first.pythonpath[0]
    assert folder.parent == _overlays and (folder / COMPLETE).is_file()
    assert "--no-deps" in calls[0] and "--isolated" in calls[0]
    assert [p.name for p in _overlays.iterdir()] == [folder.name]  # no .partial left


def test_a_failed_pip_install_leaves_nothing(_overlays: Path) -> None:
    with pytest.raises(BenchError, match="pip could not install"):
        parse_environment(f"pip:{_overlays.parent / 'optuna-9.9.9-py3-none-any.whl'}")
    assert list(_overlays.iterdir()) == []


def _repo(path: Path) -> str:
    path.mkdir()
    run = {"cwd": path, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **run)
    (path / "bench").mkdir()
    (path / "bench" / "marker.py").write_text("WHO = 'ref'\n")
    subprocess.run(["git", "add", "."], **run)
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"],
                   **run)
    return subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.decode().strip()


def test_a_git_ref_is_extracted_once_per_commit(tmp_path: Path, _overlays: Path) -> None:
    sha = _repo(tmp_path / "repo")
    env = parse_environment(f"git:{tmp_path / 'repo'}@HEAD")
    folder = env.pythonpath[0]
    assert folder.name == f"git-{sha[:12]}"
    assert (folder / "bench" / "marker.py").read_text() == "WHO = 'ref'\n"
    (folder / "bench" / "marker.py").write_text("cached")
    assert parse_environment(f"git:{tmp_path / 'repo'}@{sha}") == Environment(
        f"git:{tmp_path / 'repo'}@{sha}", "git", Path(sys.executable), (folder,))
    assert (folder / "bench" / "marker.py").read_text() == "cached"  # reused, not rebuilt
