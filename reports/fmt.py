"""Number and list formats the report's words share ("n/a" for NaN, "∞" for infinity)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd


def pct(x: float, digits: int = 1) -> str:
    """A share as a percentage: 0.9712 -> "97.1%"."""
    return "n/a" if pd.isna(x) else f"{100 * x:.{digits}f}%"


def points(x: float) -> str:
    """An accuracy difference in percentage points: 0.0012 -> "0.12 points"."""
    return "n/a" if pd.isna(x) else f"{100 * x:.2g} points"


def num(x: float, fmt: str = ".3g") -> str:
    """A number; "∞" for infinity."""
    if pd.isna(x):
        return "n/a"
    return "∞" if math.isinf(x) else format(x, fmt)


def secs(x: float) -> str:
    """Seconds: "1,234" from 100 on, else three significant digits; "∞" for infinity."""
    if pd.isna(x):
        return "n/a"
    if math.isinf(x):
        return "∞"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def pvalue(p: float) -> str:
    """A p-value for prose: "p < 0.001" or "p = 0.012"."""
    if pd.isna(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def speedup(x: float) -> str:
    """A speed-up factor: "2.8x", "∞" (only the reference never got there), "n/a"."""
    if pd.isna(x):
        return "n/a"
    return "∞" if math.isinf(x) else f"{x:.1f}x"


def join(names: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def sentence(text: str) -> str:
    """Capitalise the first letter."""
    return text[:1].upper() + text[1:]
