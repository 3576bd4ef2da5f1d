#!/usr/bin/env python3
"""Turns the log of benches/train/device.sh into a Markdown table: median samples/s of tessera-train and PyTorch
for each network, batch and device, their ratio, and each one's GPU speed-up over the CPU.

Usage: summary.py LOG
"""

import re
import statistics
import sys
from collections import defaultdict


def main(path: str) -> None:
    rates: dict[tuple[str, int, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    config = None
    for line in open(path):
        if m := re.match(r"config: arch=(\S+) device=(\S+) batch=(\d+)", line):
            config = (m[1], int(m[3]), m[2])
        elif (m := re.match(r"(rust|pytorch): .*samples_per_s=([0-9.]+)", line)) and config:
            rates[config][m[1]].append(float(m[2]))
    median = {key: {who: statistics.median(v) for who, v in runs.items()} for key, runs in rates.items()}
    print("| network | batch | device | tessera-train samples/s | PyTorch samples/s | tessera / PyTorch | GPU / CPU (tessera, PyTorch) |")
    print("|---|---|---|---|---|---|---|")
    for (arch, batch, device), m in sorted(median.items()):
        cpu = median.get((arch, batch, "cpu"), {})
        speedup = ""
        if device == "cuda" and cpu:
            speedup = f"{m['rust'] / cpu['rust']:.1f}x, {m['pytorch'] / cpu['pytorch']:.1f}x"
        print(
            f"| {arch} | {batch} | {device} | {m['rust']:.0f} | {m['pytorch']:.0f} | "
            f"{m['rust'] / m['pytorch']:.3f} | {speedup} |"
        )


if __name__ == "__main__":
    main(sys.argv[1])
