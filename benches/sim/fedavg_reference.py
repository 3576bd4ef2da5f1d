"""Plain FedAvg on MNIST written directly in PyTorch: the reference that `tessera-sim` is compared with.

The same model as tessera-train's `lenet5-mnist-v1` (conv 32 and 64 channels 5x5, fc 512), the same
normalisation, 10 workers by default, each training 1 local epoch per round from the global model with a fresh
Adam (lr 1e-3), batch 64, in a seeded random order; the server takes the sample-weighted mean of the local
models. No scoring, no clipping, no robust aggregation. The test set is evaluated after every round, in batches
of 128 as `tessera-sim` evaluates. Reads the IDX files directly (no torchvision).

`--holdout N` keeps the last N training samples out of the workers' pool, as `tessera-sim` does with its
validation set (`--validation-samples`, 1000 by default), so the two train on the same 59,000 samples;
`--holdout 0` uses all 60,000. The partition is the same idea as tessera-train's (a seeded uniform shuffle cut
into equal shards, or per-class Dirichlet(alpha) shares redrawn until every worker has 10 samples), not the
same draw.

Prints the test accuracy after every round, the round's wall time, and at the end the loop's wall time
(first test evaluation to the end of the last round) and the whole process's (including reading the data).

Usage: fedavg_reference.py [--rounds 5] [--workers 10] [--partition iid|dirichlet] [--alpha 0.5] [--seed 0]
                           [--holdout 0] [--threads 2] [--batch 64] [--lr 1e-3] [--epochs 1] [--mnist DIR]
"""

import argparse
import os
import time
from pathlib import Path

PROCESS_STARTED = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


class LeNet5(nn.Module):
    """lenet5-mnist-v1."""

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


def load(folder: Path, split: str):
    prefix = "train" if split == "train" else "t10k"
    pixels = torch.from_numpy(read_idx(folder / f"{prefix}-images-idx3-ubyte").copy()).view(-1, 1, 28, 28)
    images = (pixels.float() / 255 - 0.1307) / 0.3081
    labels = torch.from_numpy(read_idx(folder / f"{prefix}-labels-idx1-ubyte").astype(np.int64))
    return images, labels


def partition(labels: np.ndarray, workers: int, kind: str, alpha: float, rng: np.random.Generator):
    n = len(labels)
    if kind == "iid":
        return [np.sort(shard) for shard in np.array_split(rng.permutation(n), workers)]
    by_class = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]
    for _ in range(1000):
        shards = [[] for _ in range(workers)]
        for members in by_class:
            members = rng.permutation(members)
            cuts = (np.cumsum(rng.dirichlet([alpha] * workers))[:-1] * len(members)).astype(int)
            for worker, part in enumerate(np.split(members, cuts)):
                shards[worker].extend(part.tolist())
        if all(len(shard) >= 10 for shard in shards):
            return [np.sort(np.array(shard)) for shard in shards]
    raise SystemExit(f"no Dirichlet({alpha}) draw gave every worker 10 samples")


def train_local(model, images, labels, epochs, batch, lr, generator):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        for chunk in order.split(batch):
            loss = F.cross_entropy(model(images.index_select(0, chunk)), labels.index_select(0, chunk))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


@torch.no_grad()
def accuracy(model, images, labels, batch=128):
    model.eval()
    correct = 0
    for start in range(0, len(labels), batch):
        logits = model(images[start : start + batch])
        correct += (logits.argmax(-1) == labels[start : start + batch]).sum().item()
    return correct / len(labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--partition", choices=["iid", "dirichlet"], default="iid")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout", type=int, default=0, help="last training samples kept out of the pool")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--mnist", type=Path, default=mnist_dir())
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    train_images, train_labels = load(args.mnist, "train")
    test_images, test_labels = load(args.mnist, "test")
    pool = len(train_labels) - args.holdout
    shards = partition(train_labels[:pool].numpy(), args.workers, args.partition, args.alpha,
                       np.random.default_rng(args.seed))
    data = [(train_images[s], train_labels[s]) for s in (torch.from_numpy(shard) for shard in shards)]
    sizes = [len(shard) for shard in shards]
    print(
        f"pytorch fedavg: {args.workers} workers, {args.rounds} rounds, {args.partition} partition"
        + (f" (alpha {args.alpha})" if args.partition == "dirichlet" else "")
        + f", seed {args.seed}, {pool} training samples (shards {min(sizes)}..{max(sizes)}), "
        f"threads {torch.get_num_threads()}"
    )

    global_model, local_model = LeNet5(), LeNet5()
    loop_started = time.perf_counter()
    print(f"round 0: test accuracy {100 * accuracy(global_model, test_images, test_labels):.2f}%")
    for round_ in range(1, args.rounds + 1):
        started = time.perf_counter()
        global_state = {k: v.clone() for k, v in global_model.state_dict().items()}
        total = {k: torch.zeros_like(v) for k, v in global_state.items()}
        for (images, labels), size in zip(data, sizes):
            local_model.load_state_dict(global_state)
            train_local(local_model, images, labels, args.epochs, args.batch, args.lr, generator)
            for k, v in local_model.state_dict().items():
                total[k].add_(v, alpha=size / sum(sizes))
        global_model.load_state_dict(total)
        trained = time.perf_counter() - started
        acc = accuracy(global_model, test_images, test_labels)
        print(
            f"round {round_}: test accuracy {100 * acc:.2f}% (training {trained:.1f} s, "
            f"round {time.perf_counter() - started:.1f} s)"
        )
    now = time.perf_counter()
    print(f"wall time: loop {now - loop_started:.1f} s, process {now - PROCESS_STARTED:.1f} s (from before importing torch)")


if __name__ == "__main__":
    main()
