"""The one place that maps strategy names to colours and pruner names to line styles.

Every figure reads these functions, so a strategy has the same colour and a pruner the same
line style everywhere. Names that are not listed get a deterministic fallback chosen by a
stable hash of the name (never Python's salted `hash`), so a new strategy looks the same in
every run and on every machine.
"""

from __future__ import annotations

import hashlib

# Colour-blind-safe colours (Okabe-Ito and seaborn "colorblind"), random search in grey.
SAMPLER_COLOURS: dict[str, str] = {
    "random": "#7f7f7f",
    "tpe": "#0072b2",
    "cmaes": "#e69f00",
    "gp": "#009e73",
    "qmc": "#cc79a7",
    "nsgaii": "#44aa99",
    "grid": "#d55e00",
    "tpe-multivariate": "#882255",
    "bruteforce": "#8c564b",
    "auto": "#000000",
}
_FALLBACK_COLOURS: tuple[str, ...] = (
    "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#17becf", "#bcbd22", "#9467bd",
)

# Matplotlib line styles: a named style or an (offset, (on, off, ...)) dash pattern.
LineStyle = str | tuple[int, tuple[int, ...]]
PRUNER_LINESTYLES: dict[str, LineStyle] = {
    "none": "-",
    "median": "--",
    "percentile": "-.",
    "hyperband": ":",
    "successive_halving": (0, (5, 1, 1, 1)),
    "threshold": (0, (3, 1, 1, 1, 1, 1)),
    "patient": (0, (1, 3)),
    "wilcoxon": (0, (8, 2)),
}
_FALLBACK_LINESTYLES: tuple[LineStyle, ...] = (
    (0, (4, 2, 1, 2)), (0, (6, 2)), (0, (2, 2)), (0, (10, 3, 2, 3)),
)

DEVICE_COLOURS: dict[str, str] = {"cpu": "#4c72b0", "cuda": "#55a868", "mps": "#c44e52"}

# How names read in prose ("TPE with the median pruner").
DISPLAY_NAMES: dict[str, str] = {
    "random": "random search",
    "tpe": "TPE",
    "cmaes": "CMA-ES",
    "gp": "GP",
    "qmc": "QMC",
    "nsgaii": "NSGA-II",
    "grid": "grid search",
    "bruteforce": "brute force",
}


def _stable_index(name: str, n: int) -> int:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % n


def sampler_colour(strategy: str) -> str:
    """The colour of a strategy (sampler registry name), with a stable fallback.

    Args:
        strategy: The strategy's registry name, e.g. "tpe".

    Returns:
        A hex colour string.
    """
    if strategy in SAMPLER_COLOURS:
        return SAMPLER_COLOURS[strategy]
    return _FALLBACK_COLOURS[_stable_index(strategy, len(_FALLBACK_COLOURS))]


def pruner_linestyle(pruner: str) -> LineStyle:
    """The matplotlib line style of a pruner, with a stable fallback.

    Args:
        pruner: The pruner's registry name, e.g. "median" or "none".

    Returns:
        A line style accepted by matplotlib's `linestyle` argument.
    """
    if pruner in PRUNER_LINESTYLES:
        return PRUNER_LINESTYLES[pruner]
    return _FALLBACK_LINESTYLES[_stable_index(pruner, len(_FALLBACK_LINESTYLES))]


def device_colour(device: str) -> str:
    """The colour of a device kind ("cpu", "cuda", ...; "cuda:1" counts as "cuda").

    Args:
        device: A device string as recorded in the results table.

    Returns:
        A hex colour string.
    """
    kind = device.split(":", 1)[0]
    if kind in DEVICE_COLOURS:
        return DEVICE_COLOURS[kind]
    return _FALLBACK_COLOURS[_stable_index(kind, len(_FALLBACK_COLOURS))]


def pair_label(strategy: str, pruner: str) -> str:
    """The short label of a strategy/pruner pair used in legends and tables: "tpe / median".

    Args:
        strategy: The strategy's registry name.
        pruner: The pruner's registry name.

    Returns:
        The label.
    """
    return f"{strategy} / {pruner}"


def describe_pair(strategy: str, pruner: str) -> str:
    """A strategy/pruner pair in plain words: "TPE with the median pruner".

    Args:
        strategy: The strategy's registry name.
        pruner: The pruner's registry name.

    Returns:
        The description.
    """
    name = DISPLAY_NAMES.get(strategy, strategy)
    if pruner == "none":
        return f"{name} without pruning"
    return f"{name} with the {pruner} pruner"
