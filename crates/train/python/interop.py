"""Loads a Tessera checkpoint into an equivalent PyTorch nn.Module and checks it gives the same logits.

Usage: interop.py DIR, where DIR holds (written by the Rust test `tests/interop.rs`):
  checkpoint.safetensors  a lenet5-mnist-v1 or resnet18-cifar-v1 checkpoint from tessera-train
  batch.safetensors       "images" [n, c, h, w] f32 and "logits" [n, 10] f32 computed by tessera-train
Writes DIR/pytorch.safetensors: the module's state_dict saved by PyTorch with the same metadata, for the
test to decode in Rust. Prints `max_abs_diff=<x>`; exits 1 if it exceeds TOLERANCE or the metadata is wrong, and
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
    """lenet5-mnist-v1, written the way the project's PyTorch reference writes it; with 3 channels of 32x32,
    cnn-cifar10-v1."""

    def __init__(self, channels=1, side=28):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 32, 5)
        self.conv2 = nn.Conv2d(32, 64, 5)
        features = ((side - 4) // 2 - 4) // 2
        self.fc1 = nn.Linear(64 * features * features, 512)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block, with group normalisation under the batch-norm names."""

    def __init__(self, inputs, width, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, width, 3, stride, 1, bias=False)
        self.bn1 = nn.GroupNorm(32, width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.GroupNorm(32, width)
        self.downsample = None
        if stride != 1 or inputs != width:
            self.downsample = nn.Sequential(nn.Conv2d(inputs, width, 1, stride, bias=False), nn.GroupNorm(32, width))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """resnet18-cifar-v1: torchvision's resnet18 with the CIFAR stem (3x3 stride-1 convolution, no max-pool)
    and GroupNorm(32) in place of BatchNorm."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.GroupNorm(32, 64)
        inputs, stages = 64, []
        for width, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            stages.append(nn.Sequential(BasicBlock(inputs, width, stride), BasicBlock(width, width, 1)))
            inputs = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


MODELS = {"lenet5-mnist-v1": LeNet5, "resnet18-cifar-v1": ResNet18}
# A deeper network sums more products, in another order than tessera-train's libtorch calls may: a looser bound.
TOLERANCE = {"lenet5-mnist-v1": 1e-5, "resnet18-cifar-v1": 1e-4}


def main(folder: Path) -> int:
    checkpoint = folder / "checkpoint.safetensors"
    with safe_open(str(checkpoint), framework="pt") as f:
        metadata = f.metadata()
    architecture = metadata.get("architecture")
    expected = {"format": "tessera-weights-v1", "kind": "checkpoint", "dtype": "F32"}
    wrong = {k: metadata.get(k) for k, v in expected.items() if metadata.get(k) != v}
    if wrong or architecture not in MODELS:
        print(f"unexpected metadata: {wrong or metadata}")
        return 1

    model = MODELS[architecture]()
    model.load_state_dict(load_file(str(checkpoint)), strict=True)
    model.eval()
    batch = load_file(str(folder / "batch.safetensors"))
    with torch.no_grad():
        logits = model(batch["images"])
    diff = (logits - batch["logits"]).abs().max().item()
    print(f"max_abs_diff={diff:.3e}")

    state = {name: t.contiguous() for name, t in model.state_dict().items()}
    save_file(state, str(folder / "pytorch.safetensors"), metadata=metadata)
    return 0 if diff <= TOLERANCE[architecture] else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
