"""`imported_meanwhile`: modules load on a background thread during the block and are loaded
when it ends; one that fails is left for the ordinary import to report."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from bench.core.prefetch import imported_meanwhile


def test_modules_load_on_another_thread_during_the_block(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "prefetched_a.py").write_text(
        "import threading\nLOADED_ON = threading.current_thread().name\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "prefetched_a", raising=False)
    with imported_meanwhile(["prefetched_a"]):
        pass
    loaded = sys.modules["prefetched_a"]
    assert loaded.LOADED_ON == "samplerbench-prefetch"
    assert threading.current_thread().name != loaded.LOADED_ON


def test_a_module_that_fails_is_reported_by_the_ordinary_import(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "prefetched_bad.py").write_text("raise RuntimeError('broken module')\n",
                                                encoding="utf-8")
    (tmp_path / "prefetched_after.py").write_text("X = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("prefetched_bad", "prefetched_after"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with imported_meanwhile(["prefetched_bad", "prefetched_after"]):
        pass  # nothing raised here
    assert "prefetched_bad" not in sys.modules
    assert "prefetched_after" not in sys.modules  # the rest is left to the ordinary path
    with pytest.raises(RuntimeError, match="broken module"):
        import prefetched_bad  # noqa: F401


def test_nothing_to_import_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self))
    with imported_meanwhile([]):
        pass
    assert started == []
