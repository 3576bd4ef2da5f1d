"""PyTorch reference for `benches/train/src/main.rs`: the same network, data, batch size, optimiser, thread count,
device and loop (gather a batch by index on the CPU, move it to the device, forward, cross-entropy, zero_grad,
backward, step, read the loss, count correct predictions), timed over the same steps after the same warm-up.

Usage: throughput.py [--arch lenet|cifar-cnn|resnet18] [--device cpu|cuda] [--steps 300] [--warmup 30] [--batch 64]
                     [--threads 2] [--mnist DIR] [--random]
LeNet trains on MNIST; the CIFAR-sized networks, and LeNet with --random, on seeded random images.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from interop import LeNet5, ResNet18, ResNet20


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


def train_epoch(model, optimizer, images, labels, batch, device, mixed_precision=False):
    order = torch.randperm(len(labels))
    loss_sum, correct = 0.0, torch.zeros((), dtype=torch.int64, device=device)
    for chunk in order.split(batch):
        x, y = images.index_select(0, chunk).to(device), labels.index_select(0, chunk).to(device)
        # As tessera-train's --mixed-precision: CUDA autocast in float16 around the forward pass, no loss scaling.
        with torch.autocast("cuda", dtype=torch.float16, enabled=mixed_precision):
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
    parser.add_argument("--arch", choices=["lenet", "cifar-cnn", "resnet18", "resnet20"], default="lenet")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--random", action="store_true")
    parser.add_argument("--mixed-precision", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    warm = slice(0, args.warmup * args.batch)
    timed = slice(args.warmup * args.batch, (args.warmup + args.steps) * args.batch)
    if args.arch == "lenet" and not args.random:
        pixels = torch.from_numpy(read_idx(args.mnist / "train-images-idx3-ubyte").copy()).view(-1, 1, 28, 28)
        images = (pixels.float() / 255 - 0.1307) / 0.3081
        labels = torch.from_numpy(read_idx(args.mnist / "train-labels-idx1-ubyte").astype(np.int64))
        model = LeNet5()
    else:
        shape = (1, 28, 28) if args.arch == "lenet" else (3, 32, 32)
        images = torch.randn(timed.stop, *shape)
        labels = torch.arange(timed.stop) * 7 % 10
        networks = {"lenet": LeNet5, "cifar-cnn": lambda: LeNet5(3, 32), "resnet18": ResNet18, "resnet20": ResNet20}
        model = networks[args.arch]()

    model = model.to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    amp = args.mixed_precision
    train_epoch(model, optimizer, images[warm], labels[warm], args.batch, args.device, amp)
    started = time.perf_counter()
    loss, _ = train_epoch(model, optimizer, images[timed], labels[timed], args.batch, args.device, amp)
    seconds = time.perf_counter() - started
    samples = timed.stop - timed.start
    print(
        f"pytorch: arch={args.arch} device={args.device} mixed_precision={amp} steps={args.steps} samples={samples} "
        f"threads={torch.get_num_threads()} seconds={seconds:.3f} samples_per_s={samples / seconds:.1f} loss={loss:.4f}"
    )


if __name__ == "__main__":
    main()
