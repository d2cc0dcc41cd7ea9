"""A faithful re-implementation of the seed example's training loop, for comparison only.

torchvision's MNIST with `ToTensor`, a shuffling DataLoader at batch size 64, the seed's
`SimpleNet`, Adam and cross-entropy, scored on the test set each epoch. samplerbench's own
loop (`bench.training`) must reach the same accuracy much faster.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


class SimpleNet(nn.Module):
    """The seed's network, verbatim."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden_size)
        self.fc2 = nn.Linear(hidden_size, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Flatten, hidden layer, ReLU, logits."""
        x = x.view(-1, 28 * 28)
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


def seed_loop(root: Path, hidden: int, lr: float, epochs: int, seed: int) -> tuple[list[float],
                                                                                   float]:
    """The seed's loop (ToTensor + DataLoader): per-epoch seconds and final test accuracy."""
    transform = transforms.ToTensor()
    train_set = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    test_set = datasets.MNIST(str(root), train=False, download=False, transform=transform)
    loader = DataLoader(train_set, batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    test_loader = DataLoader(test_set, batch_size=64)
    with torch.random.fork_rng():  # seeded init that leaves the global generator untouched
        torch.manual_seed(seed)
        model = SimpleNet(hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    times = []
    acc = 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for data, target in loader:
            optimizer.zero_grad()
            loss = criterion(model(data), target)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for data, target in test_loader:
                pred = model(data).argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
                total += target.size(0)
        acc = correct / total
    return times, acc
