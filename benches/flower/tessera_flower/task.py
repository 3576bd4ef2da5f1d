"""What the ServerApp and the ClientApp share: the run's settings and the plain PyTorch reference's code.

Flower installs this app into its own folder before running it, so the reference cannot be found beside it; the
run names its path (`reference` in the run config) and both sides load it from there. Training, evaluation, the
model, the data and the partition are then the reference's own functions, not copies.
"""

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from flwr.app import UserConfig


@dataclass(frozen=True)
class Settings:
    """The run config of pyproject.toml's [tool.flwr.app.config], as types."""

    reference: str
    mnist: str
    rounds_file: str
    num_rounds: int
    clients: int
    seed: int
    partition: str
    alpha: float
    holdout: int
    samples_per_client: int
    epochs: int
    batch: int
    lr: float
    client_threads: int
    server_threads: int

    @classmethod
    def from_run_config(cls, config: UserConfig) -> "Settings":
        settings = cls(**{name: config[name.replace("_", "-")] for name in cls.__dataclass_fields__})
        if not settings.reference:
            raise ValueError("the run config names no `reference`: start runs with benches/flower/run_flower.py")
        if settings.partition not in ("iid", "dirichlet"):
            raise ValueError(f"partition must be iid or dirichlet, not {settings.partition}")
        return settings

    def mnist_dir(self, reference: ModuleType) -> Path:
        return Path(self.mnist) if self.mnist else reference.mnist_dir()


@functools.cache
def load_reference(path: str) -> ModuleType:
    """benches/sim/fedavg_reference.py, loaded once per process."""
    spec = importlib.util.spec_from_file_location("fedavg_reference", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"cannot load the reference from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def _train_set(reference_path: str, mnist: Path):
    return load_reference(reference_path).load(mnist, "train")


@functools.cache
def _shards(settings: Settings, mnist: Path, num_partitions: int) -> list[np.ndarray]:
    # The reference's call, argument for argument, so the shards are the ones its workers train on.
    reference = load_reference(settings.reference)
    _, labels = _train_set(settings.reference, mnist)
    pool = len(labels) - settings.holdout
    return reference.partition(
        labels[:pool].numpy(), num_partitions, settings.partition, settings.alpha, np.random.default_rng(settings.seed)
    )


def client_data(settings: Settings, partition_id: int, num_partitions: int) -> tuple[torch.Tensor, torch.Tensor]:
    """This client's shard of MNIST's training set (cached: a simulation process serves many clients)."""
    mnist = settings.mnist_dir(load_reference(settings.reference))
    images, labels = _train_set(settings.reference, mnist)
    shard = _shards(settings, mnist, num_partitions)[partition_id]
    if settings.samples_per_client:
        shard = shard[: settings.samples_per_client]
    index = torch.from_numpy(shard)
    return images[index], labels[index]


def local_order(seed: int, server_round: int, partition_id: int) -> torch.Generator:
    """The generator of a client's sample order in a round.

    The reference draws every worker's order from one generator in turn; here each client trains in its own
    process, so each (seed, round, client) gets its own seeded generator: the same kind of order, not the same draw.
    """
    entropy = np.random.SeedSequence([seed, server_round, partition_id]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(entropy))
