#!/usr/bin/env python3
"""The coordinator's scaling from `benches/load/load.sh` runs, as a small SVG: round time from the window's close to
finalized, peak resident memory and submissions accepted per second, against the number of workers (log scale),
one line per model, with the targets (2 minutes, 1.5 GB) dashed; the latest run of each size counts.

Usage: plot.py RESULTS.jsonl OUT.svg
"""

import json
import math
import sys
from pathlib import Path

COLOURS = ["#1f6feb", "#d1242f", "#1a7f37", "#8250df"]


def series(lines):
    """{architecture: {workers: (close_to_finalized_s, peak_rss_mb, accepted_per_s)}} from the runs' JSON lines."""
    found = {}
    for line in lines:
        run = json.loads(line)
        last = run["rounds"][-1]
        found.setdefault(run["architecture"], {})[run["workers"]] = (
            last["close_to_finalized_ms"] / 1000,
            run["peak_rss_mb"],
            last["accepted_per_s"],
        )
    return found


def panel(found, index, title, unit, target, x0, width, height, top):
    """One chart's SVG elements: a line per model of the `index`-th measure against workers, and the target as a
    dashed line when there is one."""
    left, bottom = x0 + 55, top + height - 30
    right = x0 + width - 30
    workers = sorted({w for points in found.values() for w in points})
    values = [p[index] for points in found.values() for p in points.values()]
    lo, hi = math.log10(min(workers)), math.log10(max(workers))
    span = max(hi - lo, 1e-9)
    top_value = max(values + ([target] if target else [])) * 1.15 or 1
    x = lambda w: left + (math.log10(w) - lo) / span * (right - left)
    y = lambda v: bottom - v / top_value * (bottom - top - 20)
    out = [f'<text x="{x0 + width / 2}" y="{top + 12}" text-anchor="middle" font-weight="bold">{title}</text>',
           f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>',
           f'<line x1="{left}" y1="{bottom}" x2="{left}" y2="{top + 20}" stroke="#888"/>']
    for w in workers:
        out.append(f'<text x="{x(w):.1f}" y="{bottom + 16}" text-anchor="middle">{w}</text>')
    for k in range(5):
        v = top_value * k / 4
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    out.append(f'<text x="{x0 + 14}" y="{(top + bottom) / 2}" transform="rotate(-90 {x0 + 14} {(top + bottom) / 2})" '
               f'text-anchor="middle">{unit}</text>')
    if target:
        out.append(f'<line x1="{left}" y1="{y(target):.1f}" x2="{right}" y2="{y(target):.1f}" stroke="#888" '
                   f'stroke-dasharray="4 3"/>')
        out.append(f'<text x="{left + 4}" y="{y(target) - 4:.1f}" font-size="10" fill="#555">target {target:g}</text>')
    for colour, (arch, points) in zip(COLOURS, sorted(found.items())):
        xs = sorted(points)
        path = " ".join(f"{x(w):.1f},{y(points[w][index]):.1f}" for w in xs)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for w in xs:
            v = points[w][index]
            out.append(f'<circle cx="{x(w):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
            out.append(f'<text x="{x(w) + 5:.1f}" y="{y(v) - 6:.1f}" font-size="10">{v:.0f}</text>')
    return out


def svg(found):
    width, height = 900, 300
    body = []
    titles = [
        ("Window close to finalized", "seconds", 120),
        ("Peak coordinator RSS", "MB", 1536),
        ("Submissions accepted", "per second", None),
    ]
    for i, (title, unit, target) in enumerate(titles):
        body += panel(found, i, title, unit, target, i * width / 3, width / 3, height - 40, 10)
    for k, (colour, arch) in enumerate(zip(COLOURS, sorted(found))):
        body.append(f'<rect x="{60 + k * 220}" y="{height - 22}" width="12" height="12" fill="{colour}"/>')
        body.append(f'<text x="{78 + k * 220}" y="{height - 12}">{arch}</text>')
    body.append(f'<text x="{width - 10}" y="{height - 12}" text-anchor="end" font-size="10">workers (log scale)</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
            f'font-size="11"><rect width="100%" height="100%" fill="white"/>' + "".join(body) + "</svg>\n")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    found = series(Path(sys.argv[1]).read_text().splitlines())
    Path(sys.argv[2]).write_text(svg(found))
    print(f"wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
