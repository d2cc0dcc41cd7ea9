"""Errors a user can fix: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class BenchError(Exception):
    """A problem the user can fix; its message says what is wrong and how to fix it."""

    exit_code: int = 2


class DataError(BenchError):
    """The dataset is missing, corrupt or cannot be fetched."""
