"""Evaluates a Tessera lenet5-mnist-v1 checkpoint in plain PyTorch on the first N images of MNIST's test split.

Usage: evaluate_checkpoint.py CHECKPOINT MNIST_DIR N
Prints `accuracy=<x> correct=<k> total=<n>`. Exits 77 (after `SKIP: ...`) if torch or safetensors is missing.
The images are read straight from the IDX files and normalised as tessera-train does (mean 0.1307, std 0.3081).
"""

import struct
import sys
from pathlib import Path

try:
    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file
    from torch import nn
except (ImportError, OSError) as error:
    print(f"SKIP: {error}")
    sys.exit(77)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5)
        self.conv2 = nn.Conv2d(32, 64, 5)
        self.fc1 = nn.Linear(64 * 4 * 4, 512)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def idx(path: Path) -> torch.Tensor:
    data = path.read_bytes()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim :]), dtype=torch.uint8).reshape(dims)


def score(model, mnist: Path, n: int) -> int:
    """Prints `model`'s accuracy on the first `n` test images, normalised as tessera-train does."""
    images = idx(mnist / "t10k-images-idx3-ubyte")[:n].float().div(255.0).sub(0.1307).div(0.3081).unsqueeze(1)
    labels = idx(mnist / "t10k-labels-idx1-ubyte")[:n].long()
    model.eval()
    with torch.no_grad():
        correct = int((model(images).argmax(1) == labels).sum())
    print(f"accuracy={correct / n!r} correct={correct} total={n}")
    return 0


def main(checkpoint: Path, mnist: Path, n: int) -> int:
    model = LeNet5()
    model.load_state_dict(load_file(str(checkpoint)), strict=True)
    return score(model, mnist, n)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
