"""Small models for the Python tests, in a file so that torch.jit.script can read their source."""
import torch
import torch.nn.functional as F


class SmallNet(torch.nn.Module):
    """Two convolutions and a linear layer on 1x28x28 inputs, 10 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.fc = torch.nn.Linear(16 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return self.fc(h.flatten(1))


def seeded_net(seed: int = 0) -> SmallNet:
    torch.manual_seed(seed)
    return SmallNet().eval()


def batch(n: int = 32, seed: int = 1):
    """Random images and the labels the network itself predicts, so that every point is
    clean-correct and attacked."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)
    with torch.no_grad():
        y = seeded_net()(x).argmax(1)
    return x, y
