"""Every GPU figure the project needs, measured by one command and written as JSON and Markdown.

Sections (each one a section of `gpu_check.json` and `gpu_check.md`):
1. one network (hidden 256, the seed model): per-epoch training time eager
   (`bench.training.loop.train`), with a CUDA graph of the whole step, and with `torch.compile`
   (in a child process, bounded; a failure is recorded, not raised);
2. MNIST model-epochs/s of `bench.training.batched.train_batch` for K networks in one batch
   (K = 1, 8, 64, 512; the same on the CPU for comparison when the device is a GPU);
3. the time to tabulate the default grid (`bench.objectives.tabulate`);
4. a live suite end to end with `trials_in_parallel = 4` and `batch_trials = true`;
5. the out-of-memory fallback, forced through `train_batch`'s `alloc_check` hook: the batch
   splits and finishes with the same results as unsplit.

Data is MNIST if its files are already here (no fetch) or random tensors of MNIST's shape;
with --quick every section runs on tiny sizes (digits where MNIST is absent, a 2 x 2 grid),
in well under a minute on a CPU. The files are rewritten after every section, and the run
stops itself at --time-limit, marking what it did not reach "skipped: time limit". Exit 0
when every section ran (or was not applicable), 1 when one failed, 2 for bad arguments.

    python benchmarks/gpu_check.py [--device cuda|cpu] [--quick] [--out DIR] [--time-limit S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import queue as queue_module
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks.*` import by path
    sys.path.insert(0, str(ROOT))

from bench.datasets.load import Splits, default_data_root, load_dataset  # noqa: E402
from bench.objectives.tabulate import TabulationGrid, tabulate  # noqa: E402
from bench.spec.objective import TrainSettings  # noqa: E402
from bench.training.batched import train_batch  # noqa: E402
from bench.training.devices import device_model, synchronize  # noqa: E402
from bench.training.loop import NetworkConfig, TrainResult, train, trial_seed, warm_up  # noqa: E402
from bench.training.memory import choose_batch_size_k  # noqa: E402
from bench.training.network import build_network  # noqa: E402
from benchmarks.bench_batched import (  # noqa: E402
    BATCH,
    MNIST_STEPS_PER_EPOCH,
    batched_seconds,
    draw_configs,
    epochs_of,
    mnist_or_random,
    rows_for,
    single_seconds,
    subset,
)

SEED_HIDDEN = 256  # the seed example's network
BATCHED_HIDDEN = 160  # bench_batched.py's default: the seed space's middle
NO_CUDA = "no CUDA device (torch.cuda.is_available() is False); use --device cpu"
NOT_CUDA = "not applicable: CUDA graphs need a CUDA device"
SKIPPED = "skipped: time limit"
Value = float | int | str | bool


class TimeUp(Exception):
    """The run's time limit was reached inside a section."""


@dataclass
class Deadline:
    """Seconds left before the run's time limit."""

    end: float

    def left(self) -> float:
        """Seconds until the limit (negative once past it)."""
        return self.end - time.monotonic()

    def passed(self) -> bool:
        """Whether the limit is reached."""
        return self.left() <= 0


@dataclass(frozen=True)
class Sizes:
    """How much each section measures: full or --quick."""

    epochs: int  # single-network epochs per variant
    train_rows: int | None  # cap on training rows for section 1 (None: all)
    ks: tuple[int, ...]
    model_steps: int  # optimizer steps summed over a batch's networks
    min_steps: int
    max_rows: int
    repeats: int
    cpu_ks: tuple[int, ...]  # CPU comparison when the device is a GPU
    compile_bound_s: float
    suite_trials: int
    suite_seeds: int
    suite_epochs: int


FULL = Sizes(3, None, (1, 8, 64, 512), 2048, 32, 50_000, 3, (1, 8, 64), 240.0, 16, 2, 1)
QUICK = Sizes(2, 1024, (1, 8, 64), 128, 2, 1024, 1, (1, 8), 30.0, 8, 1, 1)


@dataclass
class Section:
    """One section's outcome: a status and its figures, each (name, value, unit)."""

    key: str
    title: str
    status: str = "not run"
    figures: list[tuple[str, Value, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: Value, unit: str = "") -> None:
        """Record one figure and print it."""
        self.figures.append((name, value, unit))
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"  {name}: {shown} {unit}".rstrip(), flush=True)

    def as_json(self) -> dict[str, Any]:
        """The section as a JSON object."""
        return {"key": self.key, "title": self.title, "status": self.status,
                "figures": [{"name": n, "value": v, "unit": u} for n, v, u in self.figures],
                "notes": self.notes}


@dataclass
class Check:
    """What every section shares."""

    device: torch.device
    quick: bool
    sizes: Sizes
    deadline: Deadline
    data: Splits
    source: str  # what `data` is, in words
    mnist_here: bool


def one_line(err: BaseException) -> str:
    """An exception as one line."""
    text = " ".join(part.strip() for part in str(err).splitlines() if part.strip())
    return f"{type(err).__name__}: {text}"[:300]


def mnist_cached() -> bool:
    """Whether MNIST's files are already in the data folder (nothing is fetched)."""
    return (default_data_root() / "MNIST" / "raw").is_dir()


def load_data(device: torch.device, quick: bool) -> tuple[Splits, str]:
    """MNIST if cached; else digits with --quick, random tensors of MNIST's shape without."""
    if quick and not mnist_cached():
        data = load_dataset("digits", device=device, report=lambda line: None)
        return data, f"digits ({len(data.train_x)} training rows; MNIST not available here)"
    data, source = mnist_or_random(device)
    if source == "mnist":
        return data, f"mnist ({len(data.train_x)} training rows, cached in {default_data_root()})"
    return data, f"{source} (MNIST not available here; same shape, same cost)"


def cap_rows(data: Splits, rows: int | None) -> Splits:
    """The first `rows` training rows (all when None) and bench_batched's small evaluation
    slice (evaluation is not timed here)."""
    return subset(data, len(data.train_x) if rows is None else min(rows, len(data.train_x)))


# --- section 1: one network ----------------------------------------------------------------


def eager_epochs(data: Splits, epochs: int, seed: int) -> list[float]:
    """Training seconds of each epoch of `bench.training.loop.train` (hidden 256, lr 1e-3)."""
    result = train(NetworkConfig((SEED_HIDDEN,), 1e-3), data, TrainSettings(epochs=epochs),
                   trial_seed(seed, 0))
    return [r.train_s for r in result.reports]


def graphed_epochs(data: Splits, epochs: int, seed: int) -> list[float]:
    """Per-epoch seconds with one CUDA graph per full minibatch step (gather, forward,
    backward, fused capturable Adam); a last partial minibatch runs eagerly."""
    device = data.train_x.device
    generator = torch.Generator().manual_seed(trial_seed(seed, 0))
    model = build_network(data.n_features, (SEED_HIDDEN,), generator, device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True, capturable=True)
    loss_fn = nn.CrossEntropyLoss()
    n = len(data.train_x)
    static_idx = torch.arange(BATCH, device=device)

    def step(idx: torch.Tensor) -> None:
        loss_fn(model(data.train_x.index_select(0, idx)),
                data.train_y.index_select(0, idx)).backward()
        opt.step()

    def eager_step(idx: torch.Tensor, to_none: bool) -> None:
        opt.zero_grad(set_to_none=to_none)  # False after capture: keep the graph's grads
        step(idx)

    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):  # warm-up on a side stream, as torch.cuda.graphs asks
            eager_step(static_idx, True)
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)  # backward in the graph allocates from its private pool
    with torch.cuda.graph(graph):
        step(static_idx)
    seconds: list[float] = []
    for _ in range(epochs):
        synchronize(device)
        clock = time.perf_counter()
        order = torch.randperm(n, generator=generator).to(device)
        full = n - n % BATCH
        for start in range(0, full, BATCH):
            static_idx.copy_(order[start : start + BATCH])
            graph.replay()
        if full < n:
            eager_step(order[full:], False)
        synchronize(device)
        seconds.append(time.perf_counter() - clock)
    return seconds


def compiled_epochs(data: Splits, epochs: int, seed: int) -> list[float]:
    """Per-epoch seconds of `train`'s loop with the network under `torch.compile`."""
    device = data.train_x.device
    generator = torch.Generator().manual_seed(trial_seed(seed, 0))
    model = build_network(data.n_features, (SEED_HIDDEN,), generator, device)
    compiled = torch.compile(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    n = len(data.train_x)
    seconds: list[float] = []
    for _ in range(epochs):
        synchronize(device)
        clock = time.perf_counter()
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            opt.zero_grad(set_to_none=True)
            loss_fn(compiled(data.train_x[idx]), data.train_y[idx]).backward()
            opt.step()
        synchronize(device)
        seconds.append(time.perf_counter() - clock)
    return seconds


def _compile_child(device: str, quick: bool, rows: int | None, epochs: int,
                   queue: Any) -> None:
    """Child process body: `compiled_epochs` on freshly loaded data, result put on `queue`."""
    try:
        data = cap_rows(load_data(torch.device(device), quick)[0], rows)
        queue.put(compiled_epochs(data, epochs, 0))
    except Exception as err:  # reported to the parent as one line
        queue.put(f"failed: {one_line(err)}")


def compiled_bounded(check: Check, bound_s: float) -> list[float] | str:
    """`compiled_epochs` in a spawned child, killed after `bound_s` seconds."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_compile_child, args=(
        str(check.device), check.quick, check.sizes.train_rows, check.sizes.epochs, queue))
    child.start()
    end = time.monotonic() + bound_s
    try:
        while True:
            try:
                return queue.get(timeout=1.0)
            except queue_module.Empty:
                if not child.is_alive() and queue.empty():
                    return f"failed: the child process exited with {child.exitcode}"
                if time.monotonic() > end:
                    return (f"failed: not finished within {bound_s:.0f} s "
                            "(the bound; compilation included)")
    finally:
        child.join(timeout=5 if time.monotonic() <= end else 0)
        if child.is_alive():
            child.kill()
            child.join()


def add_epochs(section: Section, label: str, seconds: list[float] | str, rows: int) -> None:
    """First-epoch and steady per-epoch seconds, and ms per optimizer step."""
    if isinstance(seconds, str):
        section.add(label, seconds)
        return
    steady = statistics.median(seconds[1:] or seconds)
    steps = -(-rows // BATCH)
    section.add(f"{label}: first epoch (one-off costs included)", seconds[0], "s")
    section.add(f"{label}: later epochs (median of {len(seconds[1:]) or 1})", steady, "s/epoch")
    section.add(f"{label}: per optimizer step", 1e3 * steady / steps, "ms/step")


def section_single(check: Check, section: Section) -> None:
    """Per-epoch time of one hidden-256 network: eager, CUDA graph, torch.compile."""
    data = cap_rows(check.data, check.sizes.train_rows)
    rows, epochs = len(data.train_x), check.sizes.epochs
    section.notes.append(f"{rows} training rows of {check.data.name}, batch {BATCH}, "
                         f"{-(-rows // BATCH)} steps per epoch, {epochs} epochs per variant; "
                         "training time only (no evaluation)")
    warm_up(data)
    add_epochs(section, "eager (bench.training.loop.train)", eager_epochs(data, epochs, 0), rows)
    if check.device.type != "cuda":
        section.add("CUDA graph", NOT_CUDA)
    else:
        try:
            add_epochs(section, "CUDA graph", graphed_epochs(data, epochs, 0), rows)
        except Exception as err:
            section.add("CUDA graph", f"failed: {one_line(err)}")
    bound = min(check.sizes.compile_bound_s, check.deadline.left())
    if bound < 5:
        section.add("torch.compile", SKIPPED)
        return
    add_epochs(section, "torch.compile", compiled_bounded(check, bound), rows)


# --- section 2: K networks as one batch ------------------------------------------------------


def batched_rates(check: Check, section: Section, device: torch.device, data: Splits,
                  ks: Sequence[int], label: str) -> None:
    """MNIST model-epochs/s of `train_batch` at each K (median of the repeats)."""
    sizes = check.sizes
    max_rows = min(sizes.max_rows, len(data.train_x))
    fits = choose_batch_size_k(device, BATCHED_HIDDEN, max_rows,
                               n_features=data.n_features, cap=1 << 20)
    single = draw_configs(1, 1, BATCHED_HIDDEN)
    batched_seconds(draw_configs(2, 2, BATCHED_HIDDEN), data, BATCH * 4, False)  # warm-up
    one_rows = rows_for(1, sizes.model_steps, sizes.min_steps, max_rows)
    rate = [epochs_of(one_rows) / sum(single_seconds(single, data, one_rows))
            for _ in range(sizes.repeats)]
    section.add(f"{label}: one at a time (loop.train)", statistics.median(rate),
                "MNIST model-epochs/s")
    for k in ks:
        name = f"{label}: K={k}"
        if check.deadline.passed():
            section.add(name, SKIPPED)
            continue
        if k > fits:
            section.add(name, f"skipped: does not fit (memory fits K={fits})")
            continue
        rows = rows_for(k, sizes.model_steps, sizes.min_steps, max_rows)
        configs = draw_configs(k, k, BATCHED_HIDDEN)
        rate = [k * epochs_of(rows) / batched_seconds(configs, data, rows, False)
                for _ in range(sizes.repeats)]
        section.add(name, statistics.median(rate), f"MNIST model-epochs/s ({rows} rows)")


def section_batched(check: Check, section: Section) -> None:
    """Model-epochs/s for K networks trained as one batch, on the device and on the CPU."""
    section.notes.append(
        f"hidden {BATCHED_HIDDEN}, learning rates log-uniform in [1e-4, 1e-2], {check.data.name}; "
        f"one MNIST model-epoch = {MNIST_STEPS_PER_EPOCH} optimizer steps of {BATCH} rows "
        "of one network; each K trains about "
        f"{check.sizes.model_steps} steps summed over its networks (at least "
        f"{check.sizes.min_steps} of the batch); median of {check.sizes.repeats}; "
        "training time only (benchmarks/bench_batched.py's helpers)")
    batched_rates(check, section, check.device, check.data, check.sizes.ks, check.device.type)
    if check.device.type != "cpu":
        cpu = torch.device("cpu")
        cpu_data, _ = load_data(cpu, check.quick)
        short = replace(check.sizes, model_steps=min(check.sizes.model_steps, 512),
                        max_rows=min(check.sizes.max_rows, 8192), repeats=1)
        batched_rates(replace(check, sizes=short), section, cpu, cpu_data, check.sizes.cpu_ks,
                      "cpu")


# --- section 3: tabulate -----------------------------------------------------------------------


def quick_grid() -> TabulationGrid:
    """2 learning rates x 2 hidden sizes x 1 replicate x 1 epoch on digits."""
    return TabulationGrid(n_learning_rates=2, hidden_sizes=(64, 128), replicates=1, epochs=1,
                          reports_per_epoch=2, dataset="digits")


def section_tabulate(check: Check, section: Section) -> None:
    """Wall time of `tabulate` over the default grid (the quick grid with --quick)."""
    grid = quick_grid() if check.quick else TabulationGrid()
    runs = grid.replicates * grid.n_learning_rates * len(grid.hidden_sizes)
    which = "the QUICK grid, not the default one" if check.quick else "the default grid"
    section.notes.append(
        f"{which}: {grid.n_learning_rates} learning rates x {len(grid.hidden_sizes)} hidden "
        f"sizes x {grid.replicates} replicates x {grid.epochs} epochs on {grid.dataset} "
        f"({runs} runs), batched, calibration of seconds included")
    done = [0]

    def on_run(finished: int, total: int) -> None:
        done[0] = finished
        if check.deadline.passed():
            raise TimeUp

    with tempfile.TemporaryDirectory(prefix="gpuchk-tab-") as tmp:
        start = time.perf_counter()
        try:
            tabulate(grid, Path(tmp) / "table.parquet", device=str(check.device), on_run=on_run)
        except TimeUp:
            seconds = time.perf_counter() - start
            section.add("runs finished before the time limit", f"{done[0]} of {runs}")
            section.add("seconds so far", seconds, "s")
            section.status = f"stopped: time limit after {done[0]} of {runs} runs"
            return
        seconds = time.perf_counter() - start
    section.add("tabulate wall time", seconds, "s")
    section.add("runs", runs)
    section.add("per run", seconds / runs, "s/run")


# --- section 4: live batched suite -------------------------------------------------------------


def suite_toml(check: Check, dataset: str) -> str:
    """A small live suite: 4 trials in parallel, trained as one batch."""
    s = check.sizes
    return f"""name = "gpu-check"
trials = {s.suite_trials}
seeds = {s.suite_seeds}
strategies = ["tpe"]
pruners = ["median"]
devices = ["{check.device.type}"]
trials_in_parallel = 4
batch_trials = true

[objective]
kind = "mnist"
dataset = "{dataset}"
space = "seed"
epochs = {s.suite_epochs}
reports_per_epoch = 2
"""


def section_suite(check: Check, section: Section) -> None:
    """`samplerbench run` in-process on a live suite with batch_trials on."""
    from bench.cli.main import main as samplerbench

    dataset = "digits" if check.quick or not check.mnist_here else "mnist"
    s = check.sizes
    trials = s.suite_trials * s.suite_seeds
    section.notes.append(
        f"live {dataset}, TPE x median pruner, {s.suite_seeds} seeds x {s.suite_trials} trials "
        f"of {s.suite_epochs} epoch(s), trials_in_parallel = 4, batch_trials = true, "
        "journal storage, serial executor, report off; whole `run` command in-process"
        + ("" if dataset == "mnist" or check.quick else " (digits: MNIST not available here)"))
    with tempfile.TemporaryDirectory(prefix="gpuchk-suite-") as tmp:
        suite = Path(tmp) / "gpu-check.toml"
        suite.write_text(suite_toml(check, dataset), encoding="utf-8")
        start = time.perf_counter()
        code = samplerbench(["run", str(suite), "-o", str(Path(tmp) / "out"), "--no-report"])
        seconds = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"samplerbench run exited {code}")
    section.add("wall time", seconds, "s")
    section.add("trials", trials)
    section.add("trials per second", trials / seconds, "trials/s")


# --- section 5: out-of-memory fallback ---------------------------------------------------------


def accuracies(results: Sequence[TrainResult]) -> list[float]:
    """Every reported validation accuracy and each final test accuracy, flattened."""
    out: list[float] = []
    for r in results:
        out += [p.accuracy for p in r.reports]
        out.append(-1.0 if r.test_accuracy is None else r.test_accuracy)
    return out


def section_oom(check: Check, section: Section) -> None:
    """Force one out-of-memory error on the first batch of more than one network."""
    data = cap_rows(check.data, 1024)
    configs = draw_configs(8, 8, None)  # the seed space's mixed hidden sizes
    seeds = [trial_seed(0, i) for i in range(len(configs))]
    settings = TrainSettings(epochs=1, reports_per_epoch=2)
    section.notes.append(
        f"{len(configs)} networks (hidden 64..256 mixed) in one padded batch, 1 epoch of "
        f"{len(data.train_x)} rows of {check.data.name}; torch.OutOfMemoryError raised from "
        "train_batch's alloc_check hook the first time a batch of more than one network "
        "allocates")
    plain = train_batch(configs, data, settings, seeds, max_k=len(configs), group_by_size=False)
    tried: list[int] = []

    def alloc_check(networks: int, steps: int) -> None:
        if steps == 0:
            tried.append(networks)
            if len(tried) == 1 and networks > 1:
                raise torch.OutOfMemoryError(f"forced: {networks} networks do not fit")

    split = train_batch(configs, data, settings, seeds, max_k=len(configs),
                        group_by_size=False, alloc_check=alloc_check)
    diff = max(abs(a - b) for a, b in zip(accuracies(plain), accuracies(split), strict=True))
    section.add("batches tried (networks each)", " -> ".join(map(str, tried)))
    section.add("split after the error", len(tried) > 1)
    section.add("finished", len(split) == len(configs))
    section.add("largest accuracy difference, split vs unsplit", diff)
    same = diff <= 1e-6
    section.add("same results as unsplit (to 1e-6)", same)
    if not (same and len(tried) > 1):
        section.status = "failed: the forced out-of-memory error did not split to the same results"


# --- the run -----------------------------------------------------------------------------------

SECTIONS: tuple[tuple[str, str, Callable[[Check, Section], None]], ...] = (
    ("single", "One network (hidden 256): per-epoch training time", section_single),
    ("batched", "K networks as one batch: model-epochs per second", section_batched),
    ("tabulate", "Tabulating the grid", section_tabulate),
    ("suite", "Live batched suite end to end", section_suite),
    ("oom", "Out-of-memory fallback, forced", section_oom),
)


def machine(device: torch.device) -> dict[str, Value]:
    """The machine, as the files record it."""
    info: dict[str, Value] = {
        "device": str(device), "device_model": device_model(device),
        "cpu_model": device_model(torch.device("cpu")), "cpus": os.cpu_count() or 0,
        "torch": torch.__version__, "cuda": torch.version.cuda or "none",
        "torch_threads": torch.get_num_threads(), "python": sys.version.split()[0],
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
    return info


def render_value(value: Value) -> str:
    """A figure for the Markdown table."""
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|")


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: machine, then one table per section."""
    m, load = report["machine"], report["load_average"]
    lines = [
        f"# GPU check: {m['device_model']} ({m['device']})", "",
        f"{report['date']}; {'--quick' if report['quick'] else 'full'} run, "
        f"{report['elapsed_s']:.1f} s of a {report['time_limit_s']:.0f} s limit"
        f"{'' if report['complete'] else ' (incomplete)'}; command: `{report['command']}`", "",
        f"torch {m['torch']} (CUDA {m['cuda']}), {m['torch_threads']} torch threads, "
        f"{m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}"
        + (f", {m['gpu_memory_gib']} GiB GPU memory" if "gpu_memory_gib" in m else "")
        + "; load average (1, 5, 15 min) at start "
        + " / ".join(map(str, load["start"])) + ", at end " + " / ".join(map(str, load["end"])),
        "",
        f"Data: {report['data']}", "",
    ]
    for i, sec in enumerate(report["sections"], 1):
        lines += [f"## {i}. {sec['title']}", "", f"Status: **{sec['status']}**", ""]
        lines += [f"- {note}" for note in sec["notes"]] + ([""] if sec["notes"] else [])
        if sec["figures"]:
            lines += ["| figure | value | unit |", "| --- | --- | --- |"]
            lines += [f"| {f['name']} | {render_value(f['value'])} | {f['unit']} |"
                      for f in sec["figures"]]
            lines.append("")
    return "\n".join(lines)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(out: Path, report: dict[str, Any]) -> None:
    """Both files, each atomically."""
    write_atomic(out / "gpu_check.json", json.dumps(report, indent=2) + "\n")
    write_atomic(out / "gpu_check.md", markdown(report))


def run_section(check: Check, section: Section, fn: Callable[[Check, Section], None]) -> None:
    """Run one section, recording an exception as its status instead of raising it."""
    if check.deadline.passed():
        section.status = SKIPPED
        return
    print(f"{section.title}", flush=True)
    start = time.perf_counter()
    section.status = "ok"
    try:
        fn(check, section)
    except Exception as err:
        section.status = f"failed: {one_line(err)}"
        print(f"  {section.status}", flush=True)
    section.notes.append(f"section took {time.perf_counter() - start:.1f} s")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, every section (under a minute on a CPU)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for gpu_check.json/.md (default results/gpu-check-DEVICE"
                             "[-quick] in the checkout, git-ignored)")
    parser.add_argument("--time-limit", type=float, default=480.0, metavar="SECONDS",
                        help="stop at this many seconds, keeping what was measured (480)")
    args = parser.parse_args(argv)
    if args.time_limit <= 0:
        parser.error("--time-limit must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every section, write the files after each, return the exit status."""
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check: error: {NO_CUDA}", file=sys.stderr)
        return 2
    deadline = Deadline(time.monotonic() + args.time_limit)
    started = time.perf_counter()
    device = torch.device(args.device)
    out = args.out or ROOT / "results" / f"gpu-check-{args.device}{'-quick' if args.quick else ''}"
    out.mkdir(parents=True, exist_ok=True)
    data, source = load_data(device, args.quick)
    check = Check(device, args.quick, QUICK if args.quick else FULL, deadline, data, source,
                  mnist_cached())
    sections = [Section(key, title) for key, title, _ in SECTIONS]
    load_start = [round(x, 2) for x in os.getloadavg()]
    report: dict[str, Any] = {
        "command": " ".join(["python benchmarks/gpu_check.py", *(argv or sys.argv[1:])]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick, "time_limit_s": args.time_limit, "machine": machine(device),
        "data": source, "load_average": {"start": load_start, "end": load_start},
    }

    def save(complete: bool) -> None:
        report.update(elapsed_s=round(time.perf_counter() - started, 2), complete=complete,
                      sections=[s.as_json() for s in sections])
        report["load_average"]["end"] = [round(x, 2) for x in os.getloadavg()]
        write_report(out, report)

    print(f"gpu_check: {device} ({report['machine']['device_model']}), data {source}; "
          f"writing {out}", flush=True)
    for section, (_, _, fn) in zip(sections, SECTIONS, strict=True):
        run_section(check, section, fn)
        save(complete=False)
    save(complete=True)
    failed = [s.key for s in sections if s.status.startswith("failed")]
    print(f"gpu_check: wrote {out / 'gpu_check.json'} and gpu_check.md in "
          f"{report['elapsed_s']:.1f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
