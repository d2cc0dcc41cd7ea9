"""SIGTERM handled like Ctrl-C: CI runners and schedulers stop jobs with SIGTERM, and a run
stopped that way must unwind as an interrupted one (trials marked, locks released, workers
stopped, one line, exit 143) instead of dying where it stands."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGTERM_EXIT = 128 + signal.SIGTERM  # 143, the shell's status for a process ended by SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised where the process stands, as Ctrl-C's KeyboardInterrupt is."""


def raise_terminated(_signum: int, _frame: FrameType | None) -> None:
    """Signal handler: raise `Terminated` where the process stands."""
    raise Terminated


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` in the main thread (a no-op elsewhere:
    only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
