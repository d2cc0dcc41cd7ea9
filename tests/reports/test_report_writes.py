"""A report is written whole or not at all, and a suite with no completed trial still gets one."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.cli.main import main
from reports import publish

Maker = Callable[..., Path]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture(name="old_report")
def _old_report(golden: Path, tmp_path: Path) -> Iterator[tuple[Path, dict[str, bytes]]]:
    """A folder holding a report of the golden results with a target of 90%, an unrelated
    file beside it, and a snapshot of it all."""
    out = tmp_path / "out"
    assert main(["report", str(golden), "-o", str(out), "--target", "0.9"]) == 0
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    yield out, snapshot(out)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if not line.startswith("samplerbench report: warning:")]
    assert len(errors) == 1 and "Traceback" not in "\n".join(lines), lines
    assert errors[0].startswith("samplerbench report: error: cannot write the report into")
    assert ".report-" not in errors[0]  # says where, not the staging folder's name
    return errors[0]


@pytest.mark.parametrize("fail_at", [1, 7, 20])
def test_a_full_disk_midway_leaves_the_old_report_intact(
        golden: Path, old_report: tuple[Path, dict[str, bytes]], fail_at: int,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out, before = old_report
    real = publish.write_file
    calls = {"n": 0}

    def full_disk(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(publish, "write_file", full_disk)
    capsys.readouterr()
    assert main(["report", str(golden), "-o", str(out)]) == 2  # default target: new text
    assert "No space left on device" in one_error_line(capsys)
    assert calls["n"] == fail_at
    assert snapshot(out) == before  # old report whole, nothing new, no staging folder


def test_a_failed_swap_is_undone(golden: Path, old_report: tuple[Path, dict[str, bytes]],
                                 monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out, before = old_report
    real = os.rename
    calls = {"n": 0}

    def flaky(src: object, dst: object) -> None:
        calls["n"] += 1
        if calls["n"] == 6:  # after the four old entries moved aside and one new one in
            raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(src))
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(publish.os, "rename", flaky)
    capsys.readouterr()
    assert main(["report", str(golden), "-o", str(out)]) == 2
    one_error_line(capsys)
    assert snapshot(out) == before


def test_a_new_report_replaces_the_old_one_and_keeps_other_files(
        golden: Path, old_report: tuple[Path, dict[str, bytes]]) -> None:
    out, before = old_report
    (out / "figures" / "stale.png").write_bytes(b"old")
    assert main(["report", str(golden), "-o", str(out)]) == 0
    after = snapshot(out)
    assert after["notes.txt"] == b"mine"
    assert "figures/stale.png" not in after  # the figures folder is the new report's
    assert after["report.md"] != before["report.md"]
    assert not [name for name in after if name.startswith(".")]


def test_a_read_only_folder_is_one_line(golden: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    # The tests run as root, whom a folder's mode does not stop, so the refusal a read-only
    # folder gives everyone else (EACCES when the staging folder is made) is raised here.
    out = tmp_path / "ro"
    out.mkdir()

    def denied(*args: object, **kwargs: object) -> str:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(out))

    monkeypatch.setattr(publish.tempfile, "mkdtemp", denied)
    capsys.readouterr()
    assert main(["report", str(golden), "-o", str(out)]) == 2
    assert "Permission denied" in one_error_line(capsys)
    assert list(out.iterdir()) == []


def test_an_immutable_report_file_is_one_line_and_kept(
        golden: Path, old_report: tuple[Path, dict[str, bytes]],
        capsys: pytest.CaptureFixture[str]) -> None:
    out, before = old_report
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(out / "report.md")],
                                        capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        capsys.readouterr()
        assert main(["report", str(golden), "-o", str(out)]) == 2
        one_error_line(capsys)
    finally:
        subprocess.run([chattr, "-i", str(out / "report.md")], check=True)
    assert snapshot(out) == before


def test_a_suite_whose_trials_all_failed_gets_a_plain_report(
        make_results: Maker, tmp_path: Path) -> None:
    path = make_results(tmp_path / "r", pairs=[("random", "none"), ("tpe", "median")],
                        fail_rate=1.0)
    assert main(["report", str(path), "-o", str(tmp_path / "o")]) == 0
    md = (tmp_path / "o" / "report.md").read_text(encoding="utf-8")
    reading = md.split("## Reading\n\n", 1)[1]
    assert reading.startswith("- No trial completed: all 120 trials of every sampler/pruner "
                              "pair failed (120) or were pruned (0)")
    for name in ("critical_difference", "best_vs_trial", "best_vs_time", "best_vs_epochs",
                 "final_best", "average_rank"):
        assert f"Figure {name} skipped: no trial completed" in md
        assert not (tmp_path / "o" / "figures" / f"{name}.png").exists()
    assert (tmp_path / "o" / "figures" / "trial_time.png").exists()
    assert "No trial completed, so there is nothing to rank or test." in md
    assert "Use " not in reading.split("##", 1)[0]


def test_a_pair_whose_trials_all_failed_ranks_last(make_results: Maker,
                                                   tmp_path: Path) -> None:
    import pandas as pd

    path = make_results(tmp_path / "r", pairs=[("random", "none"), ("tpe", "none")],
                        seeds=8, effect={("tpe", "none"): 0.05})
    trials = pd.read_parquet(path / "trials.parquet")
    dead = trials["strategy"] == "tpe"
    trials.loc[dead, "state"] = "FAIL"
    trials.loc[dead, ["value", "true_accuracy", "test_accuracy"]] = float("nan")
    trials.to_parquet(path / "trials.parquet")
    assert main(["report", str(path), "-o", str(tmp_path / "o")]) == 0
    md = (tmp_path / "o" / "report.md").read_text(encoding="utf-8")
    assert "- Use random search without pruning: it ranked first" in md
    assert (tmp_path / "o" / "figures" / "best_vs_trial.png").exists()
