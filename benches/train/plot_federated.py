#!/usr/bin/env python3
"""Test accuracy per round of each network in a `benches/train/federated.sh` log, as a small SVG.

Usage: plot_federated.py LOG OUT.svg [TITLE]
"""

import re
import sys
from pathlib import Path

COLOURS = ["#1f6feb", "#d1242f", "#1a7f37", "#8250df"]


def curves(text):
    """{network: [(round, accuracy), ...]} from the log's `== network` and `round N: test accuracy X%` lines."""
    found, current = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            current = line[3:].strip()
            found[current] = []
        elif current and (m := re.match(r"round (\d+): test accuracy ([\d.]+)%", line)):
            found[current].append((int(m.group(1)), float(m.group(2)) / 100))
    return found


def svg(found, title):
    width, height, left, bottom, top, right = 560, 320, 60, 260, 30, 170
    rounds = max(r for points in found.values() for r, _ in points)
    x = lambda r: left + r / rounds * (width - left - right)
    y = lambda v: bottom - v * (bottom - top)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="18">{title}</text>',
        f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" stroke="black"/>',
        f'<line x1="{left}" y1="{bottom}" x2="{left}" y2="{top}" stroke="black"/>',
    ]
    for r in range(0, rounds + 1, max(1, rounds // 5)):
        parts.append(f'<text x="{x(r):.1f}" y="{bottom + 16}" text-anchor="middle">{r}</text>')
    for v in [0, 0.25, 0.5, 0.75, 1.0]:
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0%}</text>')
        parts.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{width - right}" y2="{y(v):.1f}" stroke="#ddd"/>')
    for i, (name, points) in enumerate(found.items()):
        colour = COLOURS[i % len(COLOURS)]
        d = " ".join(f"{'M' if j == 0 else 'L'}{x(r):.1f},{y(v):.1f}" for j, (r, v) in enumerate(points))
        parts.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"/>')
        last_r, last_v = points[-1]
        parts.append(f'<text x="{width - right + 8}" y="{y(last_v) + 4 + 14 * i:.1f}" fill="{colour}">{name} {last_v:.1%}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 8}" text-anchor="middle">round</text>')
    parts.append(f'<text transform="translate(14,{(top + bottom) / 2}) rotate(-90)" text-anchor="middle">test accuracy</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main():
    log, out = Path(sys.argv[1]), Path(sys.argv[2])
    title = sys.argv[3] if len(sys.argv) > 3 else "Federated test accuracy per round"
    out.write_text(svg(curves(log.read_text()), title))


if __name__ == "__main__":
    main()
