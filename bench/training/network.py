"""The seed example's network (input -> hidden -> ReLU -> 10), generalised to 1-3 hidden layers."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn


def build_network(
    n_features: int,
    hidden_sizes: Sequence[int],
    generator: torch.Generator,
    device: torch.device,
    n_classes: int = 10,
) -> nn.Sequential:
    """An MLP with ReLU between layers, initialised like `nn.Linear` but from `generator`.

    Args:
        n_features: input width (784 for MNIST).
        hidden_sizes: width of each hidden layer; the seed space has exactly one.
        generator: CPU generator that owns every random draw of the initialisation.
        device: where the parameters live.
        n_classes: output width.
    """
    layers: list[nn.Module] = []
    widths = [n_features, *hidden_sizes, n_classes]
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        linear = nn.Linear(fan_in, fan_out, device="meta")
        # nn.Linear's default: kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        bound = 1.0 / math.sqrt(fan_in)
        weight = (torch.rand(fan_out, fan_in, generator=generator) * 2 - 1) * bound
        bias = (torch.rand(fan_out, generator=generator) * 2 - 1) * bound
        linear.weight = nn.Parameter(weight.to(device))
        linear.bias = nn.Parameter(bias.to(device))
        layers.append(linear)
        if i < len(hidden_sizes):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)
