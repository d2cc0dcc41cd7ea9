"""Import modules on a background thread while this process waits on others.

While worker processes run a suite's cells, the calling process only relays their progress;
the report's imports (matplotlib, seaborn, scipy: about 2.5 CPU-seconds) can load then
instead of after the cells. The thread is joined when the block ends, so nothing else in this
process imports at the same time as it afterwards. A module that fails to import is left
alone: the later `import` in the ordinary code path raises its error there.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def _import_all(names: Sequence[str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # raised again where the module is really imported
            return


@contextmanager
def imported_meanwhile(names: Sequence[str]) -> Iterator[None]:
    """Import `names` on a daemon thread during the block; join it when the block ends."""
    if not names:
        yield
        return
    thread = threading.Thread(target=_import_all, args=(tuple(names),), daemon=True,
                              name="samplerbench-prefetch")
    thread.start()
    try:
        yield
    finally:
        thread.join()
