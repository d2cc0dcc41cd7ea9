"""Registry of Optuna samplers and pruners, each built from a seed."""

from __future__ import annotations
