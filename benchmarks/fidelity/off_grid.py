"""Off-grid validation of the replay: live training at learning rates halfway between the
table's, against what the replay predicts there by log-linear interpolation and by snapping.

    python benchmarks/fidelity/off_grid.py [--data benchmarks/fidelity/data/off-grid.parquet]
        [--markdown docs/fidelity/off-grid.md]

Trains (once; the parquet is reused when present, `--retrain` redoes it) every geometric
midpoint of two neighbouring tabulated rates (24 for the shipped table) x hidden sizes 64,
160 and 256 x 2 seeds, for the default suite's 2 epochs at 4 reports per epoch, on real MNIST
with the trainer that built the table (`bench.training.batched.train_batch`; the same
accuracies as the single-network loop). Seeds are new (`trial_seed(1000 + s, k)`): no live
run here shares a seed with a tabulated replicate.

Prints, per learning-rate decade and report, for each model the mean error (prediction minus
live, pp) and its RMSE against single live runs, next to the live noise (the standard
deviation of one run, from the two seeds' differences: sd(y1 - y2) / sqrt(2)), which bounds
from below the RMSE any prediction of the mean can reach. The replay's prediction is the
noise-free value (the replicates' mean, interpolated or snapped); its spread is compared
separately: the live noise against the replay's replicate spread at the midpoints, with the
rescaled blend and with a plain one.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.files import atomic_write, write_text
from bench.datasets.load import load_dataset
from bench.objectives.interpolation import CurveBlender, bracket, nearest, noise_scale
from bench.objectives.table import Curves, load_curves, shipped_table_path
from bench.spec.objective import TrainSettings
from bench.training.batched import train_batch
from bench.training.devices import resolve_device
from bench.training.loop import NetworkConfig, trial_seed
from reports.render import markdown

HIDDEN = (64, 160, 256)
SEEDS = 2
EPOCHS = 2
REPORTS_PER_EPOCH = 4
DECADES = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
DEFAULT_DATA = Path(__file__).parent / "data" / "off-grid.parquet"


def midpoints(curves: Curves) -> np.ndarray:
    """The geometric midpoint of every two neighbouring tabulated rates."""
    lrs = curves.learning_rates
    return np.sqrt(lrs[:-1] * lrs[1:])


def train_off_grid(curves: Curves, out: Path) -> pd.DataFrame:
    """Train every midpoint x hidden size x seed and write one row per report."""
    data = load_dataset("mnist", device=resolve_device("cpu"), validation="holdout")
    settings = TrainSettings(EPOCHS, None, REPORTS_PER_EPOCH)
    rows = []
    t0 = time.perf_counter()
    for j, h in enumerate(HIDDEN):
        runs = [(m, float(lr), s) for m, lr in enumerate(midpoints(curves)) for s in range(SEEDS)]
        configs = [NetworkConfig((h,), lr) for _, lr, _ in runs]
        seeds = [trial_seed(1000 + s, m * len(HIDDEN) + j) for m, _, s in runs]
        for (m, lr, s), seed, result in zip(runs, seeds,
                                            train_batch(configs, data, settings, seeds),
                                            strict=True):
            rows += [{"learning_rate": lr, "midpoint": m, "hidden_size": h, "seed": s,
                      "torch_seed": seed, "report": k, "epoch": p.epoch,
                      "val_accuracy": p.accuracy} for k, p in enumerate(result.reports)]
        print(f"hidden {h}: {len(runs)} networks, {time.perf_counter() - t0:.0f} s so far",
              flush=True)
    df = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: df.to_parquet(tmp, index=False))
    return df


def predictions(curves: Curves, live: pd.DataFrame) -> pd.DataFrame:
    """Each live row with the replay's noise-free prediction under both models."""
    blender = CurveBlender(curves.val)
    log_lrs = np.log(curves.learning_rates).tolist()
    stride = curves.reports_per_epoch // REPORTS_PER_EPOCH
    hidden = {int(h): j for j, h in enumerate(curves.hidden_sizes)}
    interp, snap = [], []
    for row in live.itertuples():
        k = stride * (row.report + 1) - 1
        j = hidden[int(row.hidden_size)]
        i, w = bracket(log_lrs, row.learning_rate)
        interp.append(blender.mean_at(i, w, j, k))
        snap.append(blender.mean_at(nearest(log_lrs, row.learning_rate), 0.0, j, k))
    return live.assign(interpolated=interp, snapped=snap)


def error_table(pred: pd.DataFrame) -> pd.DataFrame:
    """Per decade and report: mean error and RMSE (pp) of both models, and the live noise."""
    pred = pred.assign(decade=pd.cut(pred["learning_rate"], DECADES))
    out = []
    for (decade, report), g in pred.groupby(["decade", "report"], sort=True, observed=True):
        row = {"decade": f"({decade.left:g}, {decade.right:g}]", "report": report + 1,
               "n": len(g)}
        for model in ("snapped", "interpolated"):
            err = 100 * (g[model] - g["val_accuracy"])
            row[f"{model}_mean_pp"] = err.mean()
            row[f"{model}_rmse_pp"] = math.sqrt((err**2).mean())
        pairs = g.pivot_table(index=["midpoint", "hidden_size"], columns="seed",
                              values="val_accuracy")
        row["live_noise_pp"] = 100 * (pairs[0] - pairs[1]).std(ddof=1) / math.sqrt(2)
        out.append(row)
    return pd.DataFrame(out)


def spread_table(curves: Curves, live: pd.DataFrame) -> pd.DataFrame:
    """Per decade, at the last report: the live noise (sd of one run) next to the replay's
    spread about its own mean: at the midpoints' tabulated neighbours, and at the midpoints
    with the rescaled and with a plain blend. About a mean of R = 3 replicates a replicate
    spreads by sqrt(2/3) of one run's noise, at grid points and (rescaled) between them."""
    stride = curves.reports_per_epoch // REPORTS_PER_EPOCH
    last = stride * EPOCHS * REPORTS_PER_EPOCH - 1
    log_lrs = np.log(curves.learning_rates).tolist()
    hidden = {int(h): j for j, h in enumerate(curves.hidden_sizes)}
    vals = curves.val[..., last]  # [L, H, R]
    resid = vals - vals.mean(axis=2, keepdims=True)
    rows = []
    end = live[live["report"] == live["report"].max()]
    for decade in itertools.pairwise(DECADES):
        g = end[(end["learning_rate"] > decade[0]) & (end["learning_rate"] <= decade[1])]
        pairs = g.pivot_table(index=["midpoint", "hidden_size"], columns="seed",
                              values="val_accuracy")
        rescaled, plain, grid = [], [], []
        for lr, h in sorted({(r.learning_rate, r.hidden_size) for r in g.itertuples()}):
            i, w = bracket(log_lrs, lr)
            j = hidden[int(h)]
            blend = (1 - w) * resid[i, j] + w * resid[i + 1, j]
            plain += list(blend)
            rescaled += list(noise_scale(w) * blend)
            grid += [*resid[i, j], *resid[i + 1, j]]

        def sd(x: list[float]) -> float:
            return 100 * math.sqrt(np.mean(np.square(x)))

        rows.append({"decade": f"({decade[0]:g}, {decade[1]:g}]",
                     "live_noise_pp": 100 * (pairs[0] - pairs[1]).std(ddof=1) / math.sqrt(2),
                     "replay_at_grid_pp": sd(grid), "replay_rescaled_pp": sd(rescaled),
                     "replay_plain_pp": sd(plain)})
    return pd.DataFrame(rows)


def md_table(df: pd.DataFrame) -> str:
    """A Markdown table, floats to 2 decimals (mean errors signed)."""
    shown = df.apply(lambda col: col.map(("{:+.2f}" if "mean" in col.name else "{:.2f}").format)
                     if col.dtype.kind == "f" else col)
    return markdown([("table", shown)]).rstrip()


def main() -> None:
    """Train if needed, then print (and optionally write) the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--table", type=Path, default=None)
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    curves = load_curves(args.table or shipped_table_path())
    if args.retrain or not args.data.exists():
        live = train_off_grid(curves, args.data)
    else:
        live = pd.read_parquet(args.data)
    pred = predictions(curves, live)
    errors = error_table(pred)
    last = errors[errors["report"] == errors["report"].max()]
    spread = spread_table(curves, live)
    text = "\n\n".join([
        f"Off-grid validation: {live['midpoint'].nunique()} midpoint rates x "
        f"{live['hidden_size'].nunique()} hidden sizes x {live['seed'].nunique()} seeds, "
        f"{EPOCHS} epochs, {REPORTS_PER_EPOCH} reports per epoch "
        "(errors in pp, prediction minus live)",
        "At the last report:\n\n" + md_table(last.drop(columns="report")),
        "Noise at the midpoints, last report (sd, pp; the replay's about its own mean):\n\n"
        + md_table(spread),
        "Every report:\n\n" + md_table(errors),
    ])
    print(text)
    if args.markdown is not None:
        write_text(args.markdown, text + "\n")


if __name__ == "__main__":
    main()
