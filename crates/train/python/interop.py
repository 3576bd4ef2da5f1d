"""Loads a Tessera checkpoint into an equivalent PyTorch nn.Module and checks it gives the same logits.

Usage: interop.py DIR, where DIR holds (written by the Rust test `tests/interop.rs`):
  checkpoint.safetensors  a lenet5-mnist-v1 checkpoint from tessera-train
  batch.safetensors       "images" [n, 1, 28, 28] f32 and "logits" [n, 10] f32 computed by tessera-train
Writes DIR/pytorch.safetensors: the module's state_dict saved by PyTorch with the same metadata, for the
test to decode in Rust. Prints `max_abs_diff=<x>`; exits 1 if it exceeds 1e-5 or the metadata is wrong, and
77 (after printing `SKIP: ...`) if torch or safetensors cannot be imported.
"""

import sys
from pathlib import Path

try:
    import torch
    import torch.nn.functional as F
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    from torch import nn
except (ImportError, OSError) as error:
    # The Rust test reads this exit code as "skip": a machine without Python torch still passes.
    print(f"SKIP: {error}")
    sys.exit(77)


class LeNet5(nn.Module):
    """lenet5-mnist-v1, written the way the project's PyTorch reference writes it."""

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


def main(folder: Path) -> int:
    checkpoint = folder / "checkpoint.safetensors"
    with safe_open(str(checkpoint), framework="pt") as f:
        metadata = f.metadata()
    expected = {"format": "tessera-weights-v1", "architecture": "lenet5-mnist-v1", "kind": "checkpoint", "dtype": "F32"}
    wrong = {k: metadata.get(k) for k, v in expected.items() if metadata.get(k) != v}
    if wrong:
        print(f"unexpected metadata: {wrong}")
        return 1

    model = LeNet5()
    model.load_state_dict(load_file(str(checkpoint)), strict=True)
    model.eval()
    batch = load_file(str(folder / "batch.safetensors"))
    with torch.no_grad():
        logits = model(batch["images"])
    diff = (logits - batch["logits"]).abs().max().item()
    print(f"max_abs_diff={diff:.3e}")

    state = {name: t.contiguous() for name, t in model.state_dict().items()}
    save_file(state, str(folder / "pytorch.safetensors"), metadata=metadata)
    return 0 if diff <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
