"""Best-so-far curves per cell and their resampling onto a common axis.

Definitions:
    - A cell is one (strategy, pruner, device, seed). Its rows are ordered by trial number
      when its trials ran one after another, and by completion time when they overlapped
      (K workers, live or simulated: a trial starts more than OVERLAP_S before an earlier
      one's end); `k` is the 1-based position in that order, the k-th trial to finish.
    - best-so-far after trial k = max `value` over COMPLETE trials 1..k of the cell. Before
      the first COMPLETE trial it is undefined (NaN: nothing is plotted there). Pruned and
      failed trials never raise it.
    - chosen-so-far after trial k = the `true_accuracy` (noise-free quality) of the trial the
      study would hand a user then: the first COMPLETE trial reaching best-so-far. It is what
      the strategy chose, scored without the replicate noise its choice harvested; `regret`
      = `true_optimum` - chosen-so-far (replay only: live runs know no optimum).
    - Axes: the trial number k; wall-clock time = cumulative `duration_s` at each trial's end
      (overlapping trials: its end on the cell's clock, `datetime_complete` less the cell's
      first `datetime_start`); epochs = cumulative `epochs_completed`.
    - Carry-forward resampling onto a grid: the value at grid point t is the best-so-far of
      the last trial that finished at or before t (undefined before the first one; the final
      best after the last one). Never the first record after t, which flatters curves.
    - Quantiles across seeds (`seed_quantiles`): undefined values rank below every defined
      one, and a quantile that involves an undefined value is itself undefined. So the median
      appears only once at least half the seeds have a COMPLETE trial.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

CELL_KEYS: list[str] = ["strategy", "pruner", "device", "seed"]
PAIR_KEYS: list[str] = ["strategy", "pruner", "device"]
OVERLAP_S = 1e-3  # a trial starting this much before an earlier one's end ran beside it
FloatArray = npt.NDArray[np.float64]


def best_so_far(trials: pd.DataFrame) -> pd.DataFrame:
    """Add the per-cell running quantities to a trials table.

    Args:
        trials: The trials table (`bench.results.schema.TRIALS_COLUMNS`).

    Returns:
        A copy sorted by cell and trial number with added columns: `k` (1-based trial
        position in the cell), `complete` (bool), `best` (best-so-far, NaN while undefined),
        `elapsed_s` (cumulative `duration_s`), `epochs_used` (cumulative `epochs_completed`),
        `chosen_true` (chosen-so-far, NaN while undefined) and `regret`.
    """
    df, overlapping = _in_cell_order(trials)
    groups = df.groupby(CELL_KEYS, sort=False, observed=True)
    df["k"] = groups.cumcount().astype("int64") + 1
    df["complete"] = (df["state"] == "COMPLETE").fillna(False).astype(bool)
    keys = [df[c] for c in CELL_KEYS]
    done = df["value"].astype("float64").where(df["complete"])
    running = done.groupby(keys, sort=False, observed=True).cummax()
    df["best"] = running.groupby(keys, sort=False, observed=True).ffill()
    before = df["best"].groupby(keys, sort=False, observed=True).shift()
    new_best = df["complete"] & done.notna() & (before.isna() | (done > before))
    true = df["true_accuracy"].astype("float64") if "true_accuracy" in df else np.nan
    chosen = pd.Series(np.where(new_best, true, np.nan), index=df.index)
    df["chosen_true"] = chosen.groupby(keys, sort=False, observed=True).ffill()
    optimum = df["true_optimum"].astype("float64") if "true_optimum" in df else np.nan
    df["regret"] = optimum - df["chosen_true"]
    df["elapsed_s"] = groups["duration_s"].cumsum().astype("float64")
    if overlapping.any():
        origin = groups["datetime_start"].transform("min")
        clock = (df["datetime_complete"] - origin).dt.total_seconds()
        df["elapsed_s"] = df["elapsed_s"].where(~overlapping, clock)
    df["epochs_used"] = groups["epochs_completed"].cumsum().astype("float64")
    return df


def _in_cell_order(trials: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The trials sorted by cell, then by trial number, or by completion time in a cell
    whose trials overlapped; and which rows belong to such a cell. A table without
    datetimes is taken as serial."""
    df = trials.sort_values([*CELL_KEYS, "trial"], kind="stable").reset_index(drop=True)
    if "datetime_start" not in df or "datetime_complete" not in df:  # no clock: serial
        return df, pd.Series(False, index=df.index)
    keys = [df[c] for c in CELL_KEYS]
    start, end = df["datetime_start"], df["datetime_complete"]
    ended = end.groupby(keys, sort=False, observed=True).cummax()
    before = ended.groupby(keys, sort=False, observed=True).shift()
    overlap = (start < before - pd.Timedelta(seconds=OVERLAP_S)).fillna(False)
    overlapping = overlap.groupby(keys, sort=False, observed=True).transform("any").astype(bool)
    if not overlapping.any():
        return df, overlapping
    # in an overlapping cell the k-th row is the k-th trial to finish (unfinished ones last)
    rank = end.groupby(keys, sort=False, observed=True).rank(method="first")
    order = df["trial"].astype("float64").where(~overlapping, rank.fillna(np.inf))
    df = df.assign(_order=order, _overlapping=overlapping).sort_values(
        [*CELL_KEYS, "_order", "trial"], kind="stable").reset_index(drop=True)
    return df.drop(columns=["_order", "_overlapping"]), df["_overlapping"]


def carry_forward(x: npt.ArrayLike, y: npt.ArrayLike, grid: npt.ArrayLike) -> FloatArray:
    """Resample a step curve onto `grid` by carrying the last value forward.

    Args:
        x: Non-decreasing positions of the records (e.g. cumulative seconds at trial ends).
        y: The value recorded at each position (NaN where undefined).
        grid: The points to evaluate at.

    Returns:
        For each grid point t, the `y` of the last record with x <= t; NaN before the first.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    g = np.asarray(grid, dtype=np.float64)
    idx = np.searchsorted(xs, g, side="right") - 1
    out = np.full(g.shape, np.nan)
    ok = idx >= 0
    out[ok] = ys[idx[ok]]
    return out


def seed_quantiles(curves: FloatArray, qs: Sequence[float]) -> FloatArray:
    """Quantiles across seeds (axis 0) where undefined values rank lowest.

    Args:
        curves: Matrix of shape (seeds, grid points); NaN where undefined.
        qs: Quantiles in [0, 1].

    Returns:
        Matrix of shape (len(qs), grid points); NaN where a quantile touches an undefined
        value.
    """
    filled = np.where(np.isnan(curves), -np.inf, curves)
    with np.errstate(invalid="ignore"):
        out = np.quantile(filled, list(qs), axis=0)
    return np.where(np.isfinite(out), out, np.nan)


def resample_cells(
    curves: pd.DataFrame, x: str, grid: npt.ArrayLike, y: str = "best"
) -> dict[tuple[str, str, str], FloatArray]:
    """Carry each cell's `y` forward onto `grid`, stacked per strategy/pruner/device.

    Args:
        curves: Output of `best_so_far`.
        x: The axis column: "k", "elapsed_s" or "epochs_used".
        grid: The common grid.
        y: The running quantity: "best" (best-so-far), "chosen_true", "regret", ...

    Returns:
        For each (strategy, pruner, device), a (seeds, grid points) matrix, seeds in order.
    """
    g = np.asarray(grid, dtype=np.float64)
    out: dict[tuple[str, str, str], FloatArray] = {}
    xs = curves[x].to_numpy(dtype=np.float64)
    ys = curves[y].to_numpy(dtype=np.float64)
    for key, rows in curves.groupby(PAIR_KEYS, sort=True, observed=True).indices.items():
        cell_of = curves["seed"].to_numpy()[rows]
        bounds = np.flatnonzero(np.diff(cell_of)) + 1
        parts = np.split(rows, bounds)
        out[(str(key[0]), str(key[1]), str(key[2]))] = np.vstack(
            [carry_forward(xs[p], ys[p], g) for p in parts])
    return out


def axis_grid(curves: pd.DataFrame, x: str, n_points: int = 200) -> FloatArray:
    """A common grid for one axis: trial numbers 1..max, or `n_points` from 0 to the maximum.

    Args:
        curves: Output of `best_so_far` (for one device).
        x: The axis column: "k", "elapsed_s" or "epochs_used".
        n_points: Number of grid points for the continuous axes.

    Returns:
        The grid.
    """
    top = float(curves[x].max()) if len(curves) else 0.0
    if x == "k":
        return np.arange(1.0, top + 1.0)
    return np.linspace(0.0, max(top, 0.0), n_points)
