#!/usr/bin/env python3
"""The tables and the plot of `benches/e2e/run.py`'s results: time to 98% and 99% test accuracy, time per round and
each system's ratio to plain PyTorch FedAvg, the accuracy after every round, where the whole stack's round time goes,
and test accuracy against loop time as an SVG.

Usage: report.py RESULTS.jsonl OUT_DIR   (run.py calls it at the end)
"""

import json
import os
import platform
import sys
from html import escape
from pathlib import Path

SYSTEMS = ["reference", "flower-deployment", "flower-simulation", "sim", "stack"]
NAMES = {
    "reference": "plain PyTorch FedAvg (one process)",
    "flower-deployment": "Flower, deployment engine (SuperLink + 10 SuperNodes)",
    "flower-simulation": "Flower, simulation engine",
    "sim": "Tessera, tessera-sim (in process)",
    "stack": "Tessera, whole stack (coordinator, 10 worker processes, anvil, IPFS, SQLite)",
}
COLOURS = {
    "reference": "#24292f",
    "flower-deployment": "#d1242f",
    "flower-simulation": "#e16f24",
    "sim": "#1a7f37",
    "stack": "#1f6feb",
}
TARGETS = (98.0, 99.0)
PARTITIONS = {"iid": "IID", "dirichlet": "Dirichlet alpha = 0.5"}


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}"


def load(results):
    """{partition: {system: [row, ...] in round order}}."""
    runs = {}
    for line in Path(results).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            runs.setdefault(row["partition"], {}).setdefault(row["system"], []).append(row)
    for systems in runs.values():
        for rows in systems.values():
            rows.sort(key=lambda r: r["round"])
    return runs


def time_to(rows, target):
    """The loop time at the end of the first round reaching `target`% test accuracy, or None."""
    return next((r["loop_s"] for r in rows if r["test_accuracy"] >= target), None)


def ratio(value, base):
    return f"{value / base:.2f}" if value is not None and base else "-"


def seconds(value):
    return f"{value:.1f} s" if value is not None else "not reached"


def summary_table(systems):
    reference = systems.get("reference", [])
    base = {t: time_to(reference, t) for t in TARGETS}
    base_round = reference[-1]["loop_s"] / len(reference) if reference else None
    lines = [
        "| system | rounds | final test accuracy | to 98% | x PyTorch | to 99% | x PyTorch | per round | x PyTorch "
        "| launch to last round |",
        "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |",
    ]
    for system in SYSTEMS:
        rows = systems.get(system)
        if not rows:
            continue
        to = {t: time_to(rows, t) for t in TARGETS}
        per_round = rows[-1]["loop_s"] / len(rows)
        lines.append(
            f"| {NAMES[system]} | {len(rows)} | {rows[-1]['test_accuracy']:.2f}% "
            f"| {seconds(to[98.0])} | {ratio(to[98.0], base[98.0])} "
            f"| {seconds(to[99.0])} | {ratio(to[99.0], base[99.0])} "
            f"| {per_round:.1f} s | {ratio(per_round, base_round)} | {rows[-1]['launch_s']:.1f} s |"
        )
    return lines


def rounds_table(systems):
    present = [s for s in SYSTEMS if s in systems]
    most = max(len(systems[s]) for s in present)
    lines = ["| round | " + " | ".join(NAMES[s].split(" (")[0] for s in present) + " |",
             "| --: |" + " --: |" * len(present)]
    for i in range(most):
        cells = []
        for s in present:
            rows = systems[s]
            cells.append(f"{rows[i]['test_accuracy']:.2f}% at {rows[i]['loop_s']:.1f} s" if i < len(rows) else "")
        lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    return lines


def stack_table(rows):
    """Where the whole stack's round time goes, from the demo's report."""
    lines = [
        "| round | round | slowest worker's training | transfer and waiting | fetch | scoring | publish | chain |",
        "| --: | --: | --: | --: | --: | --: | --: | --: |",
    ]
    for row in rows:
        d = row.get("stack")
        if not d:
            continue
        s = lambda key: f"{d[key] / 1000:.1f} s"  # noqa: E731
        lines.append(
            f"| {row['round']} | {s('wall_ms')} | {s('training_ms')} | {s('transfer_ms')} | {s('fetch_ms')} "
            f"| {s('scoring_ms')} | {s('publish_ms')} | {s('chain_ms')} |"
        )
    return lines


def svg(runs):
    """Test accuracy against loop time, one panel per partition."""
    width, height, left, right, top, bottom = 460, 320, 52, 12, 34, 44
    floor = 95.0
    panels = [p for p in PARTITIONS if p in runs]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * len(panels)}" height="{height + 70}" '
             'font-family="sans-serif" font-size="11">', '<rect width="100%" height="100%" fill="white"/>']
    for p_index, partition in enumerate(panels):
        systems = runs[partition]
        x0 = p_index * width
        longest = max(rows[-1]["loop_s"] for rows in systems.values())
        x_max = longest * 1.05
        px = lambda t: x0 + left + (width - left - right) * t / x_max  # noqa: E731
        py = lambda a: top + (height - top - bottom) * (100.0 - max(a, floor)) / (100.0 - floor)  # noqa: E731
        parts.append(f'<text x="{x0 + width / 2}" y="18" text-anchor="middle" font-size="13">'
                     f'{escape(PARTITIONS[partition])}</text>')
        for a in (95, 96, 97, 98, 99, 100):
            dash = ' stroke-dasharray="4 3"' if a in TARGETS else ""
            parts.append(f'<line x1="{px(0)}" x2="{px(x_max)}" y1="{py(a)}" y2="{py(a)}" stroke="#d0d7de"{dash}/>')
            parts.append(f'<text x="{px(0) - 4}" y="{py(a) + 4}" text-anchor="end">{a}%</text>')
        step = next(s for s in (10, 20, 30, 60, 120, 300, 600) if x_max / s <= 8)
        for t in range(0, int(x_max) + 1, step):
            parts.append(f'<text x="{px(t)}" y="{height - bottom + 16}" text-anchor="middle">{t}</text>')
        parts.append(f'<text x="{x0 + width / 2}" y="{height - 8}" text-anchor="middle">loop time (s)</text>')
        for system in SYSTEMS:
            rows = systems.get(system)
            if not rows:
                continue
            # A round under the floor is left off rather than drawn on it.
            rows = [r for r in rows if r["test_accuracy"] >= floor]
            points = " ".join(f"{px(r['loop_s']):.1f},{py(r['test_accuracy']):.1f}" for r in rows)
            colour = COLOURS[system]
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
            for r in rows:
                parts.append(f'<circle cx="{px(r["loop_s"]):.1f}" cy="{py(r["test_accuracy"]):.1f}" r="2.6" '
                             f'fill="{colour}"/>')
    for i, system in enumerate(s for s in SYSTEMS if any(s in runs[p] for p in panels)):
        x, y = 12 + (i % 2) * 420, height + 12 + (i // 2) * 18
        parts.append(f'<line x1="{x}" x2="{x + 18}" y1="{y}" y2="{y}" stroke="{COLOURS[system]}" stroke-width="2"/>')
        parts.append(f'<text x="{x + 24}" y="{y + 4}">{escape(NAMES[system])}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write(results, out):
    runs = load(results)
    out = Path(out)
    machines = sorted({row["machine"] for systems in runs.values() for rows in systems.values() for row in rows})
    lines = [
        "# Time to accuracy: Tessera, Flower and plain PyTorch",
        "",
        "Written by `benches/e2e/run.py` (`make bench-flower`) from one run; the logs are in `logs/`. Machine: "
        + "; ".join(machines) + ".",
        "",
        "Loop time: from the start of the federated loop to the end of the round, without the benchmark's own test "
        "of each global model on MNIST's 10,000 test images. Launch time: from starting the system, its start-up "
        "included (for the whole stack, anvil, IPFS and the contracts' deployment too). The ratios divide by "
        "plain PyTorch FedAvg's loop time. The plot leaves off rounds under 95%.",
        "",
        "![Test accuracy against loop time](accuracy.svg)",
        "",
    ]
    for partition, title in PARTITIONS.items():
        systems = runs.get(partition)
        if not systems:
            continue
        lines += [f"## {title}", ""] + summary_table(systems) + ["", "Test accuracy after each round, at loop time:",
                                                                   ""] + rounds_table(systems) + [""]
        if "stack" in systems:
            lines += ["Where the whole stack's rounds go (the demo's report; a round runs from the previous one's "
                      "finalize, or round 1's block time, to its own finalize):", ""] + stack_table(systems["stack"])
            lines += [""]
    (out / "README.md").write_text("\n".join(lines))
    (out / "accuracy.svg").write_text(svg(runs))


if __name__ == "__main__":
    write(sys.argv[1], sys.argv[2])
