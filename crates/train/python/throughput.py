"""PyTorch reference for `examples/throughput.rs`: the same LeNet, data, batch size, optimiser, thread count
and loop (gather a batch by index, forward, cross-entropy, zero_grad, backward, step, read the loss, count
correct predictions), timed over the same steps after the same warm-up.

Usage: throughput.py [--steps 300] [--warmup 30] [--batch 64] [--threads 2] [--mnist DIR]
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from interop import LeNet5


def read_idx(path: Path) -> np.ndarray:
    data = path.read_bytes()
    ndims = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def mnist_dir() -> Path:
    if "TESSERA_MNIST_DIR" in os.environ:
        return Path(os.environ["TESSERA_MNIST_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "tessera" / "mnist"


def train_epoch(model, optimizer, images, labels, batch):
    order = torch.randperm(len(labels))
    loss_sum, correct = 0.0, torch.zeros((), dtype=torch.int64)
    for chunk in order.split(batch):
        x, y = images.index_select(0, chunk), labels.index_select(0, chunk)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            correct += (logits.argmax(-1) == y).sum()
        loss_sum += loss.item() * len(chunk)
    return loss_sum / len(labels), correct.item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mnist", type=Path, default=mnist_dir())
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    pixels = torch.from_numpy(read_idx(args.mnist / "train-images-idx3-ubyte").copy()).view(-1, 1, 28, 28)
    images = (pixels.float() / 255 - 0.1307) / 0.3081
    labels = torch.from_numpy(read_idx(args.mnist / "train-labels-idx1-ubyte").astype(np.int64))
    warm = slice(0, args.warmup * args.batch)
    timed = slice(args.warmup * args.batch, (args.warmup + args.steps) * args.batch)

    model = LeNet5()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    train_epoch(model, optimizer, images[warm], labels[warm], args.batch)
    started = time.perf_counter()
    loss, _ = train_epoch(model, optimizer, images[timed], labels[timed], args.batch)
    seconds = time.perf_counter() - started
    samples = timed.stop - timed.start
    print(
        f"pytorch: steps={args.steps} samples={samples} threads={torch.get_num_threads()} seconds={seconds:.3f} "
        f"samples_per_s={samples / seconds:.1f} loss={loss:.4f}"
    )


if __name__ == "__main__":
    main()
