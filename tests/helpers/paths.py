"""Where the checkout and the committed test fixtures are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
# Built by `samplerbench tabulate --dataset digits` (see tests/bench/objectives/test_replay.py).
DIGITS_TABLE = FIXTURES / "digits-table.parquet"
