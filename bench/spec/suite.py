"""Suite files (TOML): parsed and validated into a frozen `Suite` before anything runs."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bench.core.errors import BenchError
from bench.core.spaces import SearchSpace, get_space, space_from_mapping
from bench.spec.objective import DEVICES, ObjectiveSpec
from strategies.registry import (
    build_pruner,
    build_sampler,
    check_pruner,
    check_sampler,
    is_import_path,
)

OBJECTIVE_KINDS = ("mnist", "mnist-table")
EXECUTORS = ("serial", "processes", "dask")
_TOP_KEYS = {"name", "description", "objective", "trials", "seeds", "strategies", "pruners",
             "devices", "storage", "executor", "workers", "trials_in_parallel",
             "batch_trials", "sampler_salt"}
BATCHED_DEVICES = ("cuda", "mps")  # where `batch_trials = "auto"` trains K trials as one batch
_OBJECTIVE_KEYS = {"kind", "dataset", "space", "epochs", "validation", "report_every",
                   "reports_per_epoch", "batch_size", "table", "interpolation"}
# How a replayed trial gets a curve at its learning rate (bench.objectives.interpolation).
INTERPOLATIONS = ("log-linear", "nearest")


@dataclass(frozen=True)
class Strategy:
    """A sampler or pruner by registry name (or import path), its options and its label."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()
    label: str = ""

    @property
    def key(self) -> str:
        """The name shown in tables: the label, else the registry name."""
        return self.label or self.name

    def options_dict(self) -> dict[str, Any]:
        """Options as a plain dict."""
        return dict(self.options)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "options": self.options_dict(), "label": self.key}


@dataclass(frozen=True)
class ObjectiveConfig:
    """Which objective a suite runs: live training (`mnist`) or replay (`mnist-table`)."""

    kind: str = "mnist"
    spec: ObjectiveSpec = field(default_factory=ObjectiveSpec)
    table: str | None = None  # replay only: path of the table, default the shipped one
    custom_space: tuple[tuple[str, Any], ...] | None = None
    interpolation: str = INTERPOLATIONS[0]  # replay only

    def space(self) -> SearchSpace:
        """The search space (named, or defined inline in the suite file)."""
        if self.custom_space is not None:
            return space_from_mapping(self.spec.space, dict(self.custom_space))
        return get_space(self.spec.space)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {"kind": self.kind, **self.spec.to_dict()}
        if self.table is not None:
            out["table"] = self.table
        if self.kind == "mnist-table":
            out["interpolation"] = self.interpolation
        if self.custom_space is not None:
            out["space_definition"] = self.space().describe()
        return out


@dataclass(frozen=True)
class Suite:
    """A validated suite: the cells are every strategy x pruner x seed x device."""

    name: str
    objective: ObjectiveConfig
    trials: int
    seeds: tuple[int, ...]
    strategies: tuple[Strategy, ...]
    pruners: tuple[Strategy, ...]
    devices: tuple[str, ...] = ("cpu",)
    storage: str = "journal"
    executor: str = "serial"
    workers: int = 1
    trials_in_parallel: tuple[int, ...] = (1,)  # K per cell; more than one sweeps K
    batch_trials: str | bool = "auto"
    description: str = ""
    sampler_salt: int = 0  # salts every sampler's seed; replicate draws stay (a neutral change)

    @property
    def sweeps_parallel(self) -> bool:
        """True when the suite runs every strategy at several K (`trials_in_parallel` is a
        list): each cell's strategy label then ends in `-k<K>`."""
        return len(self.trials_in_parallel) > 1

    def batches_trials(self, device: str, auto_device: str | None = None,
                       trials_in_parallel: int | None = None) -> bool:
        """Whether a live cell on `device` trains its K parallel trials as one batch:
        `batch_trials = true`, or "auto" on a GPU (one network there is launch-bound).

        Args:
            device: the cell's device name (`cpu`, `cuda:1`, `auto`, ...).
            auto_device: the device type `auto` stands for on this machine (the caller
                resolves it: the spec imports no torch); needed only for `auto` devices.
            trials_in_parallel: the cell's K (default: the suite's largest).
        """
        k = max(self.trials_in_parallel) if trials_in_parallel is None else trials_in_parallel
        if k < 2 or self.objective.kind != "mnist":
            return False
        if self.batch_trials == "auto":
            base = device.split(":")[0]
            if base == "auto":  # the device this machine picks
                if auto_device is None:
                    raise ValueError("a cell on device 'auto' needs auto_device: the device "
                                     "type 'auto' resolves to on this machine")
                base = auto_device
            return base in BATCHED_DEVICES and _batchable(self.objective)
        return bool(self.batch_trials)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored in run.json."""
        d = asdict(self)
        d["objective"] = self.objective.to_dict()
        d["strategies"] = [s.to_dict() for s in self.strategies]
        d["pruners"] = [p.to_dict() for p in self.pruners]
        d["seeds"] = list(self.seeds)
        d["devices"] = list(self.devices)
        d["trials_in_parallel"] = _parallel_json(self.trials_in_parallel)
        d["hash"] = self.hash()
        return d

    def hash(self) -> str:
        """Hash of what determines the suite's results (not storage or executor)."""
        d = asdict(self)
        for key in ("storage", "executor", "workers", "description"):
            d.pop(key)
        if d["batch_trials"] == "auto":  # the default: hashes of suites without the key stay
            d.pop("batch_trials")
        if not d["sampler_salt"]:
            d.pop("sampler_salt")
        d["objective"] = self.objective.to_dict()
        d["trials_in_parallel"] = _parallel_json(self.trials_in_parallel)
        blob = json.dumps(d, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _parallel_json(ks: tuple[int, ...]) -> int | list[int]:
    """`trials_in_parallel` as the suite file gives it: one K as a number (so the hashes of
    suites without a sweep stay as they were), a sweep as a list."""
    return ks[0] if len(ks) == 1 else list(ks)


def _parallel(raw: Any, trials: int) -> tuple[int, ...]:
    """Check `trials_in_parallel`: one K or a list of distinct K, each from 1 to `trials`."""
    ks = raw if isinstance(raw, list) else [raw]
    fix = "e.g. trials_in_parallel = 4, or [1, 4, 16] to sweep K"
    if not ks:
        raise BenchError(f"`trials_in_parallel` lists no K; {fix}")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise BenchError(f"`trials_in_parallel` must be a positive integer or a list of "
                             f"them, got {k!r}; {fix}")
        if k > trials:
            raise BenchError(f"`trials_in_parallel` {k} is more than the {trials} trials of a "
                             f"cell, so some workers would never get a trial; lower it to at "
                             f"most {trials} or raise `trials`")
    if len(set(ks)) < len(ks):
        raise BenchError(f"`trials_in_parallel` lists a K twice ({ks}); list each once")
    return tuple(ks)


def _strategy_list(raw: Any, what: str) -> tuple[Strategy, ...]:
    if not isinstance(raw, list) or not raw:
        raise BenchError(f"`{what}` must be a non-empty list of names, e.g. {what} = [\"random\"]")
    out = []
    for item in raw:
        if isinstance(item, str):
            out.append(Strategy(item))
        elif isinstance(item, dict) and "name" in item:
            extra = set(item) - {"name", "options", "label"}
            if extra:
                raise BenchError(f"{what} entry {item['name']!r} has unknown keys "
                                 f"{sorted(extra)}; use name, options, label")
            opts = item.get("options", {})
            if not isinstance(opts, dict):
                raise BenchError(f"{what} entry {item['name']!r}: options must be a table")
            out.append(Strategy(str(item["name"]), tuple(sorted(opts.items())),
                                str(item.get("label", ""))))
        else:
            raise BenchError(f"each entry of `{what}` is a name or a table with `name`")
    keys = [s.key for s in out]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise BenchError(f"`{what}` lists {dupes} twice; give repeated entries distinct labels")
    return tuple(out)


# Seeds are stored in int64 table columns and fed to numpy's SeedSequence: keep them in 32 bits.
MAX_SEED = 2**32 - 1


def _seeds(raw: Any) -> tuple[int, ...]:
    if isinstance(raw, bool) or not isinstance(raw, int | list):
        raise BenchError("`seeds` must be a positive count or a list of integers")
    if isinstance(raw, int):
        if raw <= 0:
            raise BenchError(f"`seeds` must be a positive count, got {raw}")
        if raw > MAX_SEED + 1:
            raise BenchError(f"`seeds` counts at most {MAX_SEED + 1} seeds, got {raw}")
        return tuple(range(raw))
    if not raw or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED
                          for s in raw):
        raise BenchError(f"`seeds` as a list must hold non-negative integers up to {MAX_SEED}, "
                         "at least one")
    if len(set(raw)) != len(raw):
        raise BenchError("`seeds` lists a seed twice; list each once")
    return tuple(raw)


def check_interpolation(name: object) -> None:
    """Raise BenchError unless `name` is one of INTERPOLATIONS."""
    if name not in INTERPOLATIONS:
        raise BenchError(f"unknown interpolation {name!r}; choose one of: "
                         f"{', '.join(INTERPOLATIONS)}")


def _objective(raw: Any) -> ObjectiveConfig:
    if not isinstance(raw, dict):
        raise BenchError("`[objective]` must be a table (kind, dataset, space, epochs, ...)")
    unknown = set(raw) - _OBJECTIVE_KEYS
    if unknown:
        raise BenchError(f"[objective] has unknown keys {sorted(unknown)}; valid keys: "
                         f"{', '.join(sorted(_OBJECTIVE_KEYS))}")
    kind = raw.get("kind", "mnist")
    if kind not in OBJECTIVE_KINDS:
        raise BenchError(f"unknown objective kind {kind!r}; choose one of: "
                         f"{', '.join(OBJECTIVE_KINDS)}")
    space = raw.get("space", "seed")
    custom = None
    if isinstance(space, dict):
        custom = tuple(space.items())
        space = "custom"
    spec = ObjectiveSpec(
        dataset=raw.get("dataset", "mnist"), space=space, epochs=raw.get("epochs", 2),
        validation=raw.get("validation", "holdout"), report_every=raw.get("report_every"),
        reports_per_epoch=raw.get("reports_per_epoch", 1),
        batch_size=raw.get("batch_size", 64),
    )
    interpolation = raw.get("interpolation", INTERPOLATIONS[0])
    if "interpolation" in raw and kind != "mnist-table":
        raise BenchError("`interpolation` applies to the replay objective only (kind = "
                         "\"mnist-table\"); remove it from this live suite")
    check_interpolation(interpolation)
    config = ObjectiveConfig(kind, spec, raw.get("table"), custom, interpolation)
    if custom is None:
        spec.validate()
    else:
        ObjectiveSpec(spec.dataset, "seed", spec.epochs, spec.validation, spec.report_every,
                      spec.reports_per_epoch, spec.batch_size).validate()
        config.space()
    return config


# A suite's name is its results folder's name (results/<name>): one path component of safe
# characters, so no name can write outside results/ or into another suite's folder.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _name(raw: Any) -> str:
    name = str(raw)
    if not _NAME.fullmatch(name):
        raise BenchError(f"suite name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit (it names the results folder); "
                         'set `name = "..."` in the suite file')
    return name


def parse_suite(data: dict[str, Any], default_name: str = "suite") -> Suite:
    """Validate a suite file's contents; every problem is one BenchError line."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise BenchError(f"suite has unknown keys {sorted(unknown)}; valid keys: "
                         f"{', '.join(sorted(_TOP_KEYS))}")
    trials = data.get("trials", 20)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials <= 0:
        raise BenchError(f"`trials` must be a positive integer, got {trials!r}")
    devices = tuple(data.get("devices", ["cpu"]))
    for d in devices:
        if d.split(":")[0] not in DEVICES:
            raise BenchError(f"unknown device {d!r}; choose from: {', '.join(DEVICES)}")
    executor = data.get("executor", "serial")
    if executor not in EXECUTORS:
        raise BenchError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    workers = data.get("workers", 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise BenchError(f"`workers` must be a positive integer, got {workers!r}")
    tip = _parallel(data.get("trials_in_parallel", 1), trials)
    salt = data.get("sampler_salt", 0)
    if isinstance(salt, bool) or not isinstance(salt, int) or not 0 <= salt <= MAX_SEED:
        raise BenchError(f"`sampler_salt` must be an integer from 0 to {MAX_SEED}, got "
                         f"{salt!r}")
    suite = Suite(
        name=_name(data.get("name", default_name)),
        objective=_objective(data.get("objective", {})),
        trials=trials,
        seeds=_seeds(data.get("seeds", 5)),
        strategies=_strategy_list(data.get("strategies"), "strategies"),
        pruners=_strategy_list(data.get("pruners", ["none"]), "pruners"),
        devices=devices,
        storage=str(data.get("storage", "journal")),
        executor=executor,
        workers=workers,
        trials_in_parallel=tip,
        batch_trials=_batch_trials(data.get("batch_trials", "auto"), tip),
        description=str(data.get("description", "")),
        sampler_salt=salt,
    )
    if suite.batch_trials is True and not _batchable(suite.objective):
        raise BenchError("`batch_trials = true` needs the live objective (kind \"mnist\") on a "
                         "space of learning_rate and hidden_size (one hidden layer, Adam); "
                         "set batch_trials = false")
    _check_strategies(suite)
    return suite


def _batch_trials(value: Any, trials_in_parallel: tuple[int, ...]) -> str | bool:
    if not (value == "auto" or isinstance(value, bool)):
        raise BenchError(f"`batch_trials` must be \"auto\", true or false, got {value!r}")
    if value is True and min(trials_in_parallel) < 2:
        raise BenchError("`batch_trials = true` trains trials_in_parallel trials as one batch; "
                         "set trials_in_parallel to 2 or more")
    return value


def _batchable(objective: ObjectiveConfig) -> bool:
    """True when the batched trainer covers every network of the objective's space."""
    names = {p.name for p in objective.space().params}
    return objective.kind == "mnist" and names == {"learning_rate", "hidden_size"}


def _check_strategies(suite: Suite) -> None:
    """Check every name, and build every registered sampler and pruner once, so bad names and
    options fail before any run. One named by import path is only checked for its form here:
    importing it runs its code, which waits for the run itself, never a dry run."""
    for s in suite.strategies:
        check_sampler(s.name)
    for p in suite.pruners:
        check_pruner(p.name)
    build_strategies(suite, imported=False)


def build_strategies(suite: Suite, imported: bool) -> None:
    """Build once each registered sampler and pruner (`imported=False`), or each one named by
    import path (`imported=True`, which imports its module and calls its factory), so a bad
    option fails in one line before anything runs."""
    space = suite.objective.space()
    for s in suite.strategies:
        if is_import_path(s.name) == imported:
            build_sampler(s.name, 0, space, s.options_dict())
    for p in suite.pruners:
        if is_import_path(p.name) == imported:
            build_pruner(p.name, p.options_dict())


def shipped_suites() -> dict[str, Path]:
    """Suites shipped with samplerbench, by name."""
    folder = resources.files("suites")
    return {Path(str(f)).stem: Path(str(f)) for f in folder.iterdir()
            if str(f).endswith(".toml")}


def load_suite(ref: str) -> Suite:
    """Load a suite from a TOML path or the name of a shipped suite."""
    path = Path(ref)
    if not path.is_file():
        shipped = shipped_suites()
        if ref not in shipped:
            raise BenchError(f"no suite file {ref!r} and no shipped suite of that name; "
                             f"shipped suites: {', '.join(sorted(shipped))}")
        path = shipped[ref]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise BenchError(f"{path}: malformed TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise BenchError(f"{path} is not UTF-8 text (byte {err.start}); save it as UTF-8"
                         ) from None
    except OSError as err:
        raise BenchError(f"cannot read suite file {path}: {err.strerror}") from None
    return parse_suite(data, default_name=path.stem)
