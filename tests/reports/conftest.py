"""The synthetic results maker (tests/helpers/results.py) and the golden fixture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers.results import complete_trials, make_results

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(name="make_results")
def _make_results() -> Callable[..., Path]:
    """The `make_results` synthesiser."""
    return make_results


@pytest.fixture(name="trials_table")
def _trials_table() -> Callable[..., pd.DataFrame]:
    """`complete_trials`: a schema-exact trials table from a few hand-written columns."""
    return complete_trials


@pytest.fixture(name="golden")
def _golden() -> Path:
    """The committed golden results folder (rebuild with `python tests/reports/make_golden.py`)."""
    return GOLDEN
