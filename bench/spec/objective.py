"""What determines the objective's value, without torch: the objective spec, its training
settings and the names of datasets, validation protocols and devices it may use."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.core.errors import BenchError
from bench.core.spaces import get_space


@dataclass(frozen=True)
class ObjectiveSpec:
    """Everything that determines the objective's value for given parameters and seed."""

    dataset: str = "mnist"
    space: str = "seed"
    epochs: int = 2
    validation: str = "holdout"
    report_every: int | None = None
    reports_per_epoch: int = 1
    batch_size: int = 64

    def validate(self) -> None:
        """Raise BenchError on an unknown name or a bad count."""
        check_dataset_name(self.dataset)
        check_validation(self.validation)
        get_space(self.space)
        self.settings().validate()

    def settings(self) -> TrainSettings:
        """The training settings this spec implies."""
        return TrainSettings(self.epochs, self.report_every, self.reports_per_epoch,
                             self.batch_size)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored with each cell."""
        return asdict(self)


def check_positive(name: str, value: int | None) -> None:
    """Raise BenchError unless `value` is None or a positive integer."""
    if value is not None and value < 1:
        raise BenchError(f"{name} must be a positive integer, got {value}")


@dataclass(frozen=True)
class TrainSettings:
    """How long and how finely to train and report.

    Attributes:
        epochs: passes over the training split.
        report_every: report validation accuracy every this many optimizer steps (and at
            the last step); None reports `reports_per_epoch` times per epoch.
        reports_per_epoch: evenly spaced reports per epoch when `report_every` is None.
        batch_size: minibatch size (the seed's 64).
        test_each_epoch: also score the test split at every epoch end (for tabulation);
            its seconds go to `ReportPoint.test_s`, not `eval_s`.
    """

    epochs: int = 2
    report_every: int | None = None
    reports_per_epoch: int = 1
    batch_size: int = 64
    test_each_epoch: bool = False

    def validate(self) -> None:
        """Raise BenchError on a count that is not a whole number, or not positive."""
        for name in ("epochs", "report_every", "reports_per_epoch", "batch_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise BenchError(f"{name} must be a whole number, got {value!r}")
        if self.epochs < 1:
            raise BenchError(f"epochs must be at least 1, got {self.epochs}")
        if self.report_every is not None and self.report_every < 1:
            raise BenchError(
                f"report_every must be a positive number of steps, got {self.report_every}"
            )
        if self.reports_per_epoch < 1:
            raise BenchError(
                f"reports_per_epoch must be at least 1, got {self.reports_per_epoch}"
            )
        if self.batch_size < 1:
            raise BenchError(f"batch_size must be at least 1, got {self.batch_size}")

    def report_steps(self, steps_per_epoch: int) -> list[int]:
        """The 1-based global optimizer steps after which validation accuracy is reported."""
        total = steps_per_epoch * self.epochs
        if self.report_every is not None:
            points = list(range(self.report_every, total + 1, self.report_every))
            return points if points and points[-1] == total else [*points, total]
        r = min(self.reports_per_epoch, steps_per_epoch)
        within = [-(-k * steps_per_epoch // r) for k in range(1, r + 1)]
        return [e * steps_per_epoch + s for e in range(self.epochs) for s in within]


VALIDATIONS = ("holdout", "test")


DATASET_HELP: dict[str, str] = {
    "mnist": "MNIST, 60,000 train / 10,000 test 28x28 digits, verified by MD5 (default)",
    "fashion-mnist": "Fashion-MNIST, same format, from torchvision or Debian's package",
    "digits": "scikit-learn's bundled 8x8 digits (1,797 images), no download, for smoke tests",
}


def check_dataset_name(name: str) -> None:
    """Raise BenchError unless `name` is a known dataset."""
    if name not in DATASET_HELP:
        raise BenchError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASET_HELP)}")


def check_validation(validation: str) -> None:
    """Raise BenchError unless `validation` is a known protocol."""
    if validation not in VALIDATIONS:
        raise BenchError(
            f"unknown validation {validation!r}; choose one of: {', '.join(VALIDATIONS)}"
        )


DEVICES = ("cpu", "cuda", "mps", "auto")
