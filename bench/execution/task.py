"""What an executor ships to a worker (`CellTask`) and what comes back: progress (`CellEvent`)
after every trial and the cell's end (`CellResult`)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.results.rows import TableRows
from bench.spec.cells import Cell


@dataclass(frozen=True)
class CellTask:
    """A cell plus where to store it: what an executor ships to a worker."""

    cell: Cell
    storage_url: str
    data_root: str | None = None
    suite_hash: str = ""


@dataclass(frozen=True)
class CellEvent:
    """Progress of one cell, sent after every trial."""

    cell: str
    done: int
    budget: int
    best: float | None
    finished: bool = False
    new: int = 1  # trials run since the previous event of this cell


@dataclass(frozen=True)
class CellResult:
    """How a cell ended; `error` is one line when it failed. `rows` are the table rows of a
    cell whose whole study this run wrote (a replay cell), as written."""

    cell: str
    done: int
    ran: int
    best: float | None
    seconds: float
    error: str | None = None
    rows: TableRows | None = None

    @classmethod
    def failed(cls, cell: str, error: str) -> CellResult:
        """A cell that ran nothing countable and ended with `error` (one line)."""
        return cls(cell, done=0, ran=0, best=None, seconds=0.0, error=error)
