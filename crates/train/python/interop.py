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

    def __init__(self, inputs, width, stride, groups=32):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, width, 3, stride, 1, bias=False)
        self.bn1 = nn.GroupNorm(groups, width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.GroupNorm(groups, width)
        self.downsample = None
        if stride != 1 or inputs != width:
            projection = nn.Conv2d(inputs, width, 1, stride, bias=False)
            self.downsample = nn.Sequential(projection, nn.GroupNorm(groups, width))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """A ResNet for 32x32 images with the CIFAR stem (3x3 stride-1 convolution, no max-pool) and GroupNorm in
    place of BatchNorm: resnet18-cifar-v1 is torchvision's resnet18 so changed, resnet20-cifar-v1 He et al.'s
    CIFAR ResNet-20 with 1x1 projections."""

    def __init__(self, stem, stages, blocks, groups, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem, 3, 1, 1, bias=False)
        self.bn1 = nn.GroupNorm(groups, stem)
        inputs, layers = stem, []
        for width, stride in stages:
            block = [BasicBlock(inputs, width, stride, groups)]
            block += [BasicBlock(width, width, 1, groups) for _ in range(blocks - 1)]
            layers.append(nn.Sequential(*block))
            inputs = width
        self.layers = layers
        for index, layer in enumerate(layers):
            setattr(self, f"layer{index + 1}", layer)
        self.fc = nn.Linear(inputs, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for layer in self.layers:
            x = layer(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def ResNet18(classes=10):
    return ResNet(64, [(64, 1), (128, 2), (256, 2), (512, 2)], 2, 32, classes)


def ResNet20(classes=10):
    return ResNet(16, [(16, 1), (32, 2), (64, 2)], 3, 8, classes)


MODELS = {"lenet5-mnist-v1": LeNet5, "resnet18-cifar-v1": ResNet18, "resnet20-cifar-v1": ResNet20}
# A deeper network sums more products, in another order than tessera-train's libtorch calls may: a looser bound.
TOLERANCE = {"lenet5-mnist-v1": 1e-5, "resnet18-cifar-v1": 1e-4, "resnet20-cifar-v1": 1e-4}


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
