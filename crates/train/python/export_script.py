"""Exports the TorchScript modules `tests/script.rs` loads: a small CNN a requester might post, and three it must
refuse. Prints the small CNN's parameter names, in order, one per line.

Usage: export_script.py DIR. Exits 77 (after printing `SKIP: ...`) if torch cannot be imported.
"""

import sys
from pathlib import Path

try:
    import torch
    from torch import nn
except (ImportError, OSError) as error:
    print(f"SKIP: {error}")
    sys.exit(77)


def small_cnn(classes=10, norm=None):
    layers = [nn.Conv2d(1, 8, 3, padding=1)]
    if norm is not None:
        layers.append(norm)
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(16 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, classes))


class Detached(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x).detach()


def main(folder: Path) -> int:
    torch.manual_seed(0)
    model = small_cnn()
    torch.jit.save(torch.jit.script(model), str(folder / "small_cnn.pt"))
    # Traced as well as scripted: both are TorchScript.
    torch.jit.save(torch.jit.trace(small_cnn(), torch.zeros(1, 1, 28, 28)), str(folder / "traced_cnn.pt"))
    torch.jit.save(torch.jit.script(small_cnn(classes=5)), str(folder / "five_classes.pt"))
    torch.jit.save(torch.jit.script(small_cnn(norm=nn.BatchNorm2d(8))), str(folder / "batch_norm.pt"))
    # Batch statistics only, no running ones: accepted.
    stateless = small_cnn(norm=nn.BatchNorm2d(8, track_running_stats=False))
    torch.jit.save(torch.jit.script(stateless), str(folder / "batch_stats_only.pt"))
    # A parameter the output does not depend on, and an output cut from the graph: neither would ever train.
    unused = small_cnn()
    unused.register_parameter("unused", nn.Parameter(torch.zeros(3)))
    torch.jit.save(torch.jit.script(unused), str(folder / "unused_parameter.pt"))
    torch.jit.save(torch.jit.script(Detached(small_cnn())), str(folder / "detached.pt"))
    # A name that would collide with the safetensors header's own key.
    metadata = small_cnn()
    metadata.register_parameter("__metadata__", nn.Parameter(torch.zeros(1)))
    torch.jit.save(torch.jit.script(metadata), str(folder / "metadata_name.pt"))
    for name, _ in model.named_parameters():
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
