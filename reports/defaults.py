"""Defaults the command line shows before any report code runs (importing this costs nothing)."""

from __future__ import annotations

DEFAULT_TARGET = 0.97  # the validation accuracy that counts as reaching the target
