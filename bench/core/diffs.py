"""Where two JSON-like values first differ, as a dotted path, and the value at such a path."""

from __future__ import annotations

from typing import Any


def first_difference(stored: Any, current: Any, path: str = "") -> str | None:
    """The dotted path of the first field where two JSON-like values differ, or None."""
    if isinstance(stored, dict) and isinstance(current, dict):
        for key in sorted(set(stored) | set(current)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in stored or key not in current:
                return sub
            found = first_difference(stored[key], current[key], sub)
            if found:
                return found
        return None
    if isinstance(stored, list | tuple) and isinstance(current, list | tuple):
        if len(stored) != len(current):
            return path
        for i, (a, b) in enumerate(zip(stored, current, strict=True)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if stored == current else path or "(root)"


def value_at(obj: Any, path: str) -> Any:
    """The value at a dotted path as `first_difference` writes it (`a.b[2].c`), or None."""
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        try:
            obj = obj[int(part[1:-1])] if part.startswith("[") else obj[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return obj
