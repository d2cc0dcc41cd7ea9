"""The fast loop is the seed's objective: same accuracy on real MNIST as the seed's loop."""

from __future__ import annotations

import statistics

import pytest
import torch

from bench.datasets.load import default_data_root, load_dataset
from bench.spec.objective import TrainSettings
from bench.training.loop import NetworkConfig, train, trial_seed
from bench.training.seed_reference import seed_loop


@pytest.mark.slow
def test_fast_loop_matches_the_seed_loop_within_half_a_point_over_five_seeds() -> None:
    root = default_data_root()
    data = load_dataset("mnist", device=torch.device("cpu"), validation="test", data_root=root)
    seed_acc, fast_acc = [], []
    for seed in range(5):
        seed_acc.append(seed_loop(root, 128, 1e-3, 1, 100 + seed)[1])
        result = train(NetworkConfig((128,), 1e-3), data, TrainSettings(epochs=1),
                       trial_seed(100 + seed, 0))
        fast_acc.append(result.reports[-1].accuracy)
    assert len(set(fast_acc)) == 5  # five genuinely different runs
    diff = statistics.mean(fast_acc) - statistics.mean(seed_acc)
    assert abs(diff) < 0.005, (seed_acc, fast_acc)
    assert statistics.mean(fast_acc) > 0.93  # 1 epoch at lr 1e-3: about 94.5%
