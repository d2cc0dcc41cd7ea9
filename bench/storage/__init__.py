"""Optuna storages: URLs, opening them, the journal file and its study index, study-level
copies, and trial heartbeats."""

from bench.storage.backends import check_writable, open_storage
from bench.storage.journal import JOURNAL_FILE
from bench.storage.urls import describe, resolve_storage_url

__all__ = ["JOURNAL_FILE", "check_writable", "describe", "open_storage", "resolve_storage_url"]
