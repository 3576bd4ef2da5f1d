"""A requester's own model, end to end: exports a small CNN with TorchScript, and evaluates a Tessera checkpoint of
it in plain PyTorch.

Usage:
  script_model.py export MODULE.pt
  script_model.py evaluate MODULE.pt CHECKPOINT MNIST_DIR N
`evaluate` loads the checkpoint's tensors into the module by the module's own parameter names and prints
`accuracy=<x> correct=<k> total=<n>` on the first N images of MNIST's test split, normalised as tessera-train does.
Exits 77 (after `SKIP: ...`) if torch or safetensors is missing.
"""

import sys
from pathlib import Path

try:
    import torch
    from safetensors.torch import load_file
    from torch import nn
except (ImportError, OSError) as error:
    print(f"SKIP: {error}")
    sys.exit(77)

# The same images, normalisation and output as the LeNet check of the demo's scenario.
from evaluate_checkpoint import score  # noqa: E402


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.GroupNorm(4, 32),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


def export(out: Path) -> int:
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(SmallCnn()), str(out))
    return 0


def evaluate(module_path: Path, checkpoint: Path, mnist: Path, n: int) -> int:
    module = torch.jit.load(str(module_path))
    weights = load_file(str(checkpoint))
    names = [name for name, _ in module.named_parameters()]
    if sorted(names) != sorted(weights):
        print(f"the checkpoint holds {sorted(weights)}, the module {sorted(names)}", file=sys.stderr)
        return 1
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            parameter.copy_(weights[name])
    return score(module, mnist, n)


if __name__ == "__main__":
    if sys.argv[1] == "export":
        sys.exit(export(Path(sys.argv[2])))
    sys.exit(evaluate(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])))
