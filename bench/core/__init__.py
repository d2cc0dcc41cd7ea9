"""The vocabulary every stage shares, importing nothing else of samplerbench: errors the user
can fix, the names written on studies and trials, search spaces, file helpers, JSON diffs."""

from bench.core.errors import BenchError, DataError
from bench.core.files import atomic_write, now_iso, write_json

__all__ = ["BenchError", "DataError", "atomic_write", "now_iso", "write_json"]
