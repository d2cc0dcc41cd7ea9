"""Sim-to-real agreement: the default suite's 9 pairs run live and replayed at the same
settings, scored by the same noise-free metric.

    samplerbench run benchmarks/fidelity/pairs-live.toml -o LIVE --no-report      # ~50 min
    samplerbench run benchmarks/fidelity/pairs-replay.toml -o REPLAY --no-report  # seconds
    python benchmarks/fidelity/agreement.py LIVE REPLAY [LABEL=REPLAY2 ...]
        [--markdown docs/fidelity/agreement.md] [--figures docs/fidelity]
        [--save-live benchmarks/fidelity/data/pairs-live.parquet]

LIVE may also be the saved parquet of a live run's trials (the committed
`benchmarks/fidelity/data/pairs-live.parquet`), so the tables are reproduced without
retraining.

Design.
    - Metric: true final, the noise-free quality of each seed's chosen configuration (its
      best COMPLETE trial): the shipped table's mean over all its replicates at the suite's
      last report, at the chosen learning rate by log-linear interpolation. Live and replayed
      choices are scored by the same function, so the metric compares what the strategies
      chose, not the noise of the values they saw. true area (the mean of chosen-so-far over
      the trials) is shown beside it.
    - Per pair: replayed minus live mean over the 20 seeds, with a 95% percentile-bootstrap
      interval of the per-seed paired difference (seed s live against seed s replayed: their
      samplers start from the same stream).
    - Ranking: Kendall's tau-b between the live and replayed orders of the 9 pairs by mean
      true final, with a 95% bootstrap interval (seeds resampled jointly, 2,000 times). The
      ceiling noise allows: tau between the two halves of the live seeds, over 2,000 random
      splits, next to tau between a live half and the other half replayed (the same sample
      sizes on both sides).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy import stats as scistats

from bench.core.files import atomic_write, write_text
from bench.core.spaces import SEED_SPACE
from bench.objectives.replay import ReplayObjective
from bench.objectives.table import load_curves, shipped_table_path
from bench.spec.objective import ObjectiveSpec
from reports import stats
from reports.render import markdown

PAIR = ["strategy", "pruner"]
CELL = [*PAIR, "seed"]
KEEP = [*CELL, "trial", "state", "value", "param_learning_rate", "param_hidden_size",
        "duration_s", "epochs_completed"]
RESAMPLES = 2_000


def read_trials(path: Path) -> pd.DataFrame:
    """A run's trials: a results folder's trials.parquet, or a saved parquet."""
    file = path / "trials.parquet" if path.is_dir() else path
    return pd.read_parquet(file)[KEEP]


def scorer(epochs: int = 1, reports_per_epoch: int = 4) -> ReplayObjective:
    """The noise-free scorer: the shipped table at the suite's settings, log-linear."""
    spec = ObjectiveSpec(epochs=epochs, reports_per_epoch=reports_per_epoch)
    path = shipped_table_path()
    return ReplayObjective(load_curves(path), spec, SEED_SPACE, 0, path, "log-linear")


def cell_scores(trials: pd.DataFrame, score: ReplayObjective) -> pd.DataFrame:
    """Per cell: true final and true area (chosen-so-far, undefined counted as 0)."""
    trials = trials.sort_values([*CELL, "trial"])
    true = [score.true_accuracy(float(lr), int(h)) for lr, h in
            zip(trials["param_learning_rate"], trials["param_hidden_size"], strict=True)]
    trials = trials.assign(true=true)
    rows = []
    for key, g in trials.groupby(CELL, sort=True):
        best, chosen, chosen_true = -np.inf, np.nan, []
        for state, value, t in zip(g["state"], g["value"], g["true"], strict=True):
            if state == "COMPLETE" and value > best:
                best, chosen = value, t
            chosen_true.append(chosen)
        rows.append({**dict(zip(CELL, key, strict=True)), "true_final": chosen,
                     "true_area": float(np.nan_to_num(chosen_true).mean()),
                     "n_pruned": int((g["state"] == "PRUNED").sum()),
                     "epochs": float(g["epochs_completed"].sum())})
    return pd.DataFrame(rows)


def pair_table(live: pd.DataFrame, replay: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per pair: live and replayed means, the paired difference and its 95% interval."""
    both = live.merge(replay, on=CELL, suffixes=("_live", "_replay"))
    rows = []
    for key, g in both.groupby(PAIR, sort=False):
        d = g[f"{metric}_replay"] - g[f"{metric}_live"]
        low, high = stats.bootstrap_ci(d.to_numpy(), seed=[0, len(rows)])
        rows.append({"strategy": key[0], "pruner": key[1], "seeds": len(g),
                     "live": g[f"{metric}_live"].mean(), "replay": g[f"{metric}_replay"].mean(),
                     "diff": d.mean(), "ci_low": low, "ci_high": high,
                     "pruned_live": g["n_pruned_live"].mean(),
                     "pruned_replay": g["n_pruned_replay"].mean()})
    out = pd.DataFrame(rows)
    out["rank_live"] = out["live"].rank(ascending=False)
    out["rank_replay"] = out["replay"].rank(ascending=False)
    return out


def _matrix(cells: pd.DataFrame, seeds: np.ndarray, metric: str) -> np.ndarray:
    """[seed, pair] values of `metric`, pairs in sorted order."""
    wide = cells.pivot_table(index="seed", columns=PAIR, values=metric, aggfunc="first")
    return wide.sort_index(axis=1).loc[seeds].to_numpy()


def _tau(a: np.ndarray, b: np.ndarray) -> float:
    return float(scistats.kendalltau(a, b).statistic)


def rank_agreement(live: pd.DataFrame, replay: pd.DataFrame, metric: str) -> dict[str, float]:
    """Kendall's tau live against replayed, its bootstrap interval, and the split-half
    ceilings (see the module docstring)."""
    seeds = np.array(sorted(set(live["seed"]) & set(replay["seed"])))
    a, b = _matrix(live, seeds, metric), _matrix(replay, seeds, metric)
    n = len(seeds)
    rng = np.random.default_rng(20261202)
    tau = _tau(a.mean(0), b.mean(0))
    boot = []
    for _ in range(RESAMPLES):
        s = rng.integers(n, size=n)
        boot.append(_tau(a[s].mean(0), b[s].mean(0)))
    halves_live, halves_cross = [], []
    for _ in range(RESAMPLES):
        perm = rng.permutation(n)
        h1, h2 = perm[: n // 2], perm[n // 2:]
        halves_live.append(_tau(a[h1].mean(0), a[h2].mean(0)))
        halves_cross.append(_tau(a[h1].mean(0), b[h2].mean(0)))
    q = [2.5, 97.5]
    return {"tau": tau, "tau_low": float(np.nanpercentile(boot, q[0])),
            "tau_high": float(np.nanpercentile(boot, q[1])),
            "half_live": float(np.nanmean(halves_live)),
            "half_live_low": float(np.nanpercentile(halves_live, q[0])),
            "half_live_high": float(np.nanpercentile(halves_live, q[1])),
            "half_cross": float(np.nanmean(halves_cross)),
            "half_cross_low": float(np.nanpercentile(halves_cross, q[0])),
            "half_cross_high": float(np.nanpercentile(halves_cross, q[1]))}


def _md(df: pd.DataFrame) -> str:
    shown = df.copy()
    for col in shown.columns:
        if shown[col].dtype.kind == "f":
            scale, spec = (100, "{:+.3f}") if col in ("diff", "ci_low", "ci_high") else \
                (100, "{:.3f}") if col in ("live", "replay") else (1, "{:.2f}")
            shown[col] = (shown[col] * scale).map(spec.format)
    return markdown([("table", shown)]).rstrip()


def pair_figure(tables: dict[str, pd.DataFrame], metric: str, path: Path) -> None:
    """Each pair's replayed minus live mean with its interval, one colour per replay."""
    frames = [t.assign(replay_kind=label, pair=t["strategy"] + " / " + t["pruner"])
              for label, t in tables.items()]
    df = pd.concat(frames)
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(df["pair"].unique()) + 1.6))
    palette = sns.color_palette("colorblind", len(tables))
    pairs = list(dict.fromkeys(df["pair"]))
    offsets = np.linspace(-0.2, 0.2, len(tables)) if len(tables) > 1 else [0.0]
    for (label, t), off, colour in zip(tables.items(), offsets, palette, strict=True):
        t = t.assign(pair=t["strategy"] + " / " + t["pruner"]).set_index("pair").loc[pairs]
        y = np.arange(len(pairs)) + off
        ax.errorbar(100 * t["diff"], y, xerr=[100 * (t["diff"] - t["ci_low"]),
                                              100 * (t["ci_high"] - t["diff"])],
                    fmt="o", color=colour, capsize=3, label=label)
    ax.axvline(0, color="0.4", lw=1)
    ax.set_yticks(range(len(pairs)), pairs)
    ax.invert_yaxis()
    ax.set_xlabel(f"replayed minus live mean {metric.replace('_', ' ')} (pp), 95% CI")
    ax.legend(loc="best", fontsize=8)
    ax.set_title("Sim-to-real: the default suite's pairs, 20 seeds x 20 trials of 1 epoch",
                 fontsize=10)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def rank_figure(table: pd.DataFrame, path: Path) -> None:
    """Live against replayed mean true final per pair."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    sns.scatterplot(x=100 * table["live"], y=100 * table["replay"], hue=table["strategy"],
                    style=table["pruner"], s=80, ax=ax, palette="colorblind")
    lo = 100 * min(table["live"].min(), table["replay"].min()) - 0.05
    hi = 100 * max(table["live"].max(), table["replay"].max()) + 0.05
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=1, ls="--")
    ax.set_xlabel("live mean true final (%)")
    ax.set_ylabel("replayed mean true final (%)")
    ax.set_title("Each pair, live against replayed", fontsize=10)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def main() -> None:
    """Score, compare and print (and optionally write) the tables and figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("live", type=Path)
    parser.add_argument("replays", nargs="+", help="REPLAY or LABEL=REPLAY")
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--figures", type=Path, default=None)
    parser.add_argument("--save-live", type=Path, default=None)
    args = parser.parse_args()
    score = scorer()
    live_trials = read_trials(args.live)
    if args.save_live is not None:
        args.save_live.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(args.save_live, lambda tmp: live_trials.to_parquet(
            tmp, index=False, compression="zstd"))
    live = cell_scores(live_trials, score)
    blocks = []
    tables: dict[str, pd.DataFrame] = {}
    for item in args.replays:
        label, _, where = item.rpartition("=")
        label = label or "replay"
        replay = cell_scores(read_trials(Path(where)), score)
        for metric in ("true_final", "true_area"):
            table = pair_table(live, replay, metric)
            tau = rank_agreement(live, replay, metric)
            if metric == "true_final":
                tables[label] = table
            outside = table[(table["ci_low"] > 0) | (table["ci_high"] < 0)]
            blocks.append(
                f"## {label}: {metric} (pp; replayed minus live, 95% CI)\n\n{_md(table)}\n\n"
                f"Kendall's tau, live against replayed: {tau['tau']:.2f} "
                f"[{tau['tau_low']:.2f}, {tau['tau_high']:.2f}]. Split halves of the seeds: "
                f"live against live {tau['half_live']:.2f} "
                f"[{tau['half_live_low']:.2f}, {tau['half_live_high']:.2f}], live against "
                f"replayed {tau['half_cross']:.2f} "
                f"[{tau['half_cross_low']:.2f}, {tau['half_cross_high']:.2f}]. "
                f"Pairs whose interval excludes 0: {len(outside)} of {len(table)} "
                f"({', '.join(outside['strategy'] + '/' + outside['pruner']) or 'none'}); "
                f"largest |difference| {100 * table['diff'].abs().max():.3f} pp.")
    text = "\n\n".join(blocks)
    print(text)
    if args.figures is not None:
        args.figures.mkdir(parents=True, exist_ok=True)
        pair_figure(tables, "true_final", args.figures / "agreement-pairs.png")
        rank_figure(next(iter(tables.values())), args.figures / "agreement-ranks.png")
    if args.markdown is not None:
        write_text(args.markdown, text + "\n")


if __name__ == "__main__":
    main()
