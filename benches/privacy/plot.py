#!/usr/bin/env python3
"""Test accuracy after each round at each target epsilon, from `benches/privacy/run.sh`'s logs, as a small SVG (one
line per epsilon, and one without DP).

Usage: plot.py LOGDIR OUT.svg   (LOGDIR holds eps-none.log, eps-1.log, ...)
"""

import re
import sys
from pathlib import Path

COLOURS = {"none": "#1a7f37", "8": "#1f6feb", "3": "#8250df", "1": "#d1242f"}


def curve(log):
    """[(round, test accuracy %)] from a run's log."""
    found = re.findall(r"^round (\d+): test accuracy ([0-9.]+)%", log.read_text(), re.M)
    return [(int(r), float(a)) for r, a in found]


def main():
    logs, out = Path(sys.argv[1]), Path(sys.argv[2])
    curves = {}
    for name in ["none", "8", "3", "1"]:
        path = logs / f"eps-{name}.log"
        if path.exists():
            curves[name] = curve(path)
    rounds = max(r for points in curves.values() for r, _ in points)
    width, height, left, top, right, bottom = 560, 320, 50, 20, 150, 40
    x = lambda r: left + (width - left - right) * r / rounds
    y = lambda a: top + (height - top - bottom) * (1 - a / 100)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="12"><rect width="100%" height="100%" fill="white"/>']
    for a in range(0, 101, 20):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(a):.1f}" y2="{y(a):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y(a) + 4:.1f}" text-anchor="end">{a}%</text>')
    for r in range(rounds + 1):
        parts.append(f'<text x="{x(r):.1f}" y="{height - bottom + 16}" text-anchor="middle">{r}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 6}" text-anchor="middle">round</text>')
    for i, (name, points) in enumerate(curves.items()):
        colour = COLOURS[name]
        path = " ".join(f"{x(r):.1f},{y(a):.1f}" for r, a in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        label = "no DP" if name == "none" else f"ε = {name}"
        ly = top + 18 * i + 10
        parts.append(f'<line x1="{width - right + 12}" x2="{width - right + 32}" y1="{ly}" y2="{ly}" '
                     f'stroke="{colour}" stroke-width="2"/><text x="{width - right + 38}" y="{ly + 4}">{label}</text>')
    parts.append(f'<text x="{left}" y="{top - 6}">test accuracy (MNIST, 10,000 images), δ = 1e-5</text></svg>')
    out.write_text("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
