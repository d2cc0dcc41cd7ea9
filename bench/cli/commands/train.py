"""`samplerbench train`: train one configuration of the objective and print its scores."""

from __future__ import annotations

import argparse
import json

from bench.cli.options import add_data_root, add_dataset, add_device
from bench.datasets.load import load_dataset
from bench.spec.objective import ObjectiveSpec, check_positive
from bench.training.devices import resolve_device
from bench.training.loop import NetworkConfig, train, trial_seed

HELP = "train one configuration (learning rate, hidden size) and print its accuracies"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `train`."""
    add_dataset(parser)
    add_device(parser)
    add_data_root(parser)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--hidden-size", type=int, nargs="+", default=[128],
                        help="width of each hidden layer (default: 128)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--report-every", type=int, default=None,
                        help="report every N optimizer steps (default: once per epoch)")
    parser.add_argument("--validation", default="holdout", help="holdout (default) or test")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    """Train and print one JSON line per report and a final summary line."""
    spec = ObjectiveSpec(dataset=args.dataset, epochs=args.epochs, validation=args.validation,
                         report_every=args.report_every)
    spec.validate()
    for width in args.hidden_size:
        check_positive("--hidden-size", width)
    device = resolve_device(args.device)
    data = load_dataset(args.dataset, device=device, validation=args.validation,
                        data_root=args.data_root)
    config = NetworkConfig(tuple(args.hidden_size), args.learning_rate)
    result = train(config, data, spec.settings(), trial_seed(args.seed, 0),
                   lambda p: print(json.dumps(p.__dict__), flush=True) is not None)
    print(json.dumps({"validation_accuracy": result.accuracy,
                      "test_accuracy": result.test_accuracy,
                      "train_s": result.train_s, "eval_s": result.eval_s,
                      "device": str(device)}))
    return 0
