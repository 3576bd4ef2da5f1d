#!/usr/bin/env python3
"""The red team against the scorer, in the simulation: every attack's pay against the same worker's honest pay,
the round it is flagged, and the test accuracy against the no-attack run; pay against work done; honest workers
flagged over seeds and partitions; and pay against true data size. Writes a Markdown report and an SVG plot.

    benches/redteam/run.py --sim target/release/tessera-sim --out docs/redteam

Every run is the same 10 workers on MNIST with the coordinator's default strategy and scorer; the attacker is
the last worker (w09), so its honest counterpart is w09 of the no-attack run with the same seed: same shard,
same training seed. Standard library only.
"""

import argparse
import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKERS = 10
ATTACKER = f"w{WORKERS - 1:02}"

# (label, --adversaries, extra arguments, workers whose pay is the attacker's)
ATTACKS = [
    ("free-rider", "free-rider", [], [ATTACKER]),
    ("sign-flip", "sign-flip", [], [ATTACKER]),
    ("noise:0.01", "noise:0.01", [], [ATTACKER]),
    ("label-flip", "label-flip", [], [ATTACKER]),
    ("copycat (of w00, this round)", "copycat", [], [ATTACKER]),
    ("copy-scaled:3", "copy-scaled:3", [], [ATTACKER]),
    ("copy-scaled:0.2", "copy-scaled:0.2", [], [ATTACKER]),
    ("copy-noisy:0.1", "copy-noisy:0.1", [], [ATTACKER]),
    ("copy-noisy:0.3", "copy-noisy:0.3", [], [ATTACKER]),
    ("copy-noisy:0.6", "copy-noisy:0.6", [], [ATTACKER]),
    ("copy-noisy:1", "copy-noisy:1", [], [ATTACKER]),
    ("copy-noisy:2", "copy-noisy:2", [], [ATTACKER]),
    ("copy-noisy:3", "copy-noisy:3", [], [ATTACKER]),
    ("copy-noisy:10", "copy-noisy:10", [], [ATTACKER]),
    ("copy-sparse:0.1", "copy-sparse:0.1", [], [ATTACKER]),
    ("copy-mix:2", "copy-mix:2", [], [ATTACKER]),
    ("replay-global", "replay-global", [], [ATTACKER]),
    ("replay-own", "replay-own", [], [ATTACKER]),
    ("overclaim:1000", "overclaim:1000", [], [ATTACKER]),
    ("overclaim:1000 (fedavg)", "overclaim:1000", ["--strategy", "fedavg"], [ATTACKER]),
    ("boost:10", "boost:10", [], [ATTACKER]),
    ("boost:1000", "boost:1000", [], [ATTACKER]),
    ("sybil x2 (one shard, two stakes)", "sybil,sybil", [], ["w08", "w09"]),
]
PARTIAL = [0.01, 0.1, 0.5]
COLLUDERS = 3


def run(sim, adversaries, extra, rounds, seed, samples, out):
    """Runs the simulation; returns (per-round results, test accuracy per round, stdout)."""
    json_path = out / f"run-{abs(hash((adversaries, tuple(extra), seed, samples))) % 10**12}.jsonl"
    args = [sim, "--workers", str(WORKERS), "--rounds", str(rounds), "--seed", str(seed),
            "--samples-per-worker", str(samples), "--adversaries", adversaries, "--json", str(json_path), *extra]
    started = time.time()
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    results = [json.loads(line) for line in json_path.read_text().splitlines()]
    accuracy = [float(a) / 100 for a in re.findall(r"^round \d+: test accuracy ([\d.]+)%", done.stdout, re.M)]
    print(f"  {adversaries} {' '.join(extra)} seed {seed}: {time.time() - started:.0f} s", file=sys.stderr)
    return results, accuracy, done.stdout


def pay(results, workers):
    return sum(int(w["reward"]) for r in results for w in r["workers"] if w["worker"] in workers)


def first_flag(results, workers):
    for r in results:
        flags = [f for f in r["flags"] if f["worker"] in workers]
        if flags:
            return r["round"], flags[0]["reason"]
    return None, None


def min_residual(results, workers):
    values = [w["residual"] for r in results for w in r["workers"] if w["worker"] in workers and w.get("residual") is not None]
    return min(values) if values else float("nan")


def to_median(results, workers, key):
    """Each of `workers`' values of `key` over its round's median of that value (rounds with a positive median),
    with the value itself: (ratio, value) pairs."""
    pairs = []
    for r in results:
        values = [w[key] for w in r["workers"] if w.get(key) is not None]
        middle = statistics.median(values) if values else 0.0
        if middle > 0:
            pairs += [(w[key] / middle, w[key]) for w in r["workers"] if w["worker"] in workers and w.get(key) is not None]
    return pairs


def partial_margin(results, workers):
    """The largest ratio of a worker's exact partial cosine to its round's median one (the copy test flags at
    2.5 times the median, at least 0.2), with that partial cosine."""
    return max(to_median(results, workers, "partial_cosine"), default=(0.0, 0.0))


def beyond_margin(results, workers):
    """The smallest ratio of a worker's remainder cosine (what is left of it beyond another update, against the
    others) to its round's median one (the copy test flags at a quarter of the median, or chance if lower), with
    that cosine."""
    return min(to_median(results, workers, "beyond_cosine"), default=(math.inf, math.inf))


def honest_flags(results, honest):
    return sorted({(r["round"], f["worker"], f["reason"]) for r in results for f in r["flags"] if f["worker"] in honest})


def svg_curve(points, honest_level, path):
    """Pay (relative to honest) against the fraction of the shard trained on, as a small SVG."""
    width, height, left, bottom, top, right = 480, 300, 60, 250, 20, 20
    x = lambda f: left + (math.log10(f) + 2) / 2 * (width - left - right)
    y = lambda v: bottom - v / 1.2 * (bottom - top)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{bottom}" x2="{left}" y2="{top}" stroke="black"/>']
    for f in [0.01, 0.1, 1.0]:
        parts.append(f'<text x="{x(f)}" y="{bottom + 16}" text-anchor="middle">{f:g}</text>')
    for v in [0, 0.5, 1.0]:
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4}" text-anchor="end">{v:g}</text>')
        parts.append(f'<line x1="{left}" y1="{y(v)}" x2="{width - right}" y2="{y(v)}" stroke="#ddd"/>')
    parts.append(f'<line x1="{x(0.1)}" y1="{y(0.5)}" x2="{x(0.1)}" y2="{bottom}" stroke="#c33" stroke-dasharray="4"/>')
    parts.append(f'<text x="{x(0.1) + 4}" y="{y(0.5) - 4}" fill="#c33">target: at most 0.5 at 10%</text>')
    path_d = " ".join(f"{'M' if i == 0 else 'L'}{x(f):.1f},{y(v):.1f}" for i, (f, v) in enumerate(points))
    parts.append(f'<path d="{path_d}" fill="none" stroke="#1f6feb" stroke-width="2"/>')
    for f, v in points:
        parts.append(f'<circle cx="{x(f):.1f}" cy="{y(v):.1f}" r="4" fill="#1f6feb"/>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 8}" text-anchor="middle">fraction of its shard the worker trained on (claiming all of it), log scale</text>')
    parts.append(f'<text transform="translate(14,{(top + bottom) / 2}) rotate(-90)" text-anchor="middle">pay / honest pay (same shard)</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=1000, help="samples per worker")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for the honest sweep")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    runs = Path(tempfile.mkdtemp(prefix="tessera-redteam-"))
    r, s = args.rounds, args.samples
    lines = [f"# Red team against the scorer ({WORKERS} workers, MNIST, {s} samples each, IID, {r} rounds, seed 1)", "",
             f"Command: `benches/redteam/run.py --sim <tessera-sim> --out {out} --rounds {r} --samples {s} --seeds {args.seeds}`", ""]

    print("baselines", file=sys.stderr)
    base, base_acc, _ = run(args.sim, "honest", [], r, 1, s, runs)
    base_fedavg, base_fedavg_acc, _ = run(args.sim, "honest", ["--strategy", "fedavg"], r, 1, s, runs)

    lines += ["## Every attack (the attacker is w09; its pay against w09's in the no-attack run)", "",
              "| attack | pay / honest pay | first flagged | reason | final test accuracy | vs no attack |",
              "| --- | ---: | ---: | --- | ---: | ---: |"]
    for label, adversaries, extra, payees in ATTACKS:
        results, acc, _ = run(args.sim, adversaries, extra, r, 1, s, runs)
        reference, reference_acc = (base_fedavg, base_fedavg_acc) if extra else (base, base_acc)
        honest_pay = pay(reference, [payees[0]])
        ratio = pay(results, payees) / honest_pay if honest_pay else float("nan")
        rnd, reason = first_flag(results, payees)
        lines.append(f"| {label} | {ratio:.3f} | {rnd or 'never'} | {reason or '-'} | {100 * acc[-1]:.2f}% | "
                     f"{100 * (acc[-1] - reference_acc[-1]):+.2f} |")

    # Colluders: "a little is enough", 30% of the workers.
    from_z = f"{0.5244:.4f}"
    colluders = ",".join([f"little-is-enough:{from_z}"] * COLLUDERS)
    results, acc, _ = run(args.sim, colluders, [], r, 1, s, runs)
    members = [f"w{i:02}" for i in range(WORKERS - COLLUDERS, WORKERS)]
    honest_pay = pay(base, members)
    rnd, reason = first_flag(results, members)
    lines += ["", f"## Colluders: {COLLUDERS} of {WORKERS} send \"a little is enough\" (z = {from_z}, Baruch et al.'s bound for 10 workers, 3 colluding)", "",
              "| colluders' pay / their honest pay | first flagged | reason | final test accuracy | vs no attack |",
              "| ---: | ---: | --- | ---: | ---: |",
              f"| {pay(results, members) / honest_pay:.3f} | {rnd or 'never'} | {reason or '-'} | {100 * acc[-1]:.2f}% | "
              f"{100 * (acc[-1] - base_acc[-1]):+.2f} |"]

    # Pay against work done.
    points = []
    lines += ["", "## Pay against work: w09 trains on part of its shard and claims all of it", "",
              "| fraction trained on | pay / honest pay | first flagged |", "| ---: | ---: | ---: |"]
    for fraction in PARTIAL:
        results, _, _ = run(args.sim, f"partial-work:{fraction}", [], r, 1, s, runs)
        ratio = pay(results, [ATTACKER]) / pay(base, [ATTACKER])
        rnd, reason = first_flag(results, [ATTACKER])
        points.append((fraction, ratio))
        lines.append(f"| {fraction:g} | {ratio:.3f} | {f'{rnd} ({reason})' if rnd else 'never'} |")
    points.append((1.0, 1.0))
    lines.append("| 1 | 1.000 | never |")
    svg_curve(points, 1.0, out / "pay-vs-work.svg")
    lines += ["", f"![pay against work](pay-vs-work.svg)"]

    # Honest workers over seeds and partitions.
    lines += ["", f"## Honest workers flagged ({WORKERS} honest workers, {args.seeds} seeds each)", "",
              "| partition | runs | honest workers flagged | smallest honest copy-test residual (the bar is at most 0.65) | "
              "largest honest partial cosine over its round's median (the bar is 2.5, and at least 0.2) | "
              "smallest honest remainder cosine over its round's median (the bar is at most 0.25, and at most chance) | "
              "final test accuracy (min-max) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    honest = [f"w{i:02}" for i in range(WORKERS)]
    for label, extra in [("IID", []), ("Dirichlet alpha=0.5", ["--partition", "dirichlet", "--alpha", "0.5"]),
                         ("Dirichlet alpha=0.1", ["--partition", "dirichlet", "--alpha", "0.1"])]:
        flagged, accuracies, residuals, margins, remainders = [], [], [], [], []
        for seed in range(1, args.seeds + 1):
            results, acc, _ = run(args.sim, "honest", extra, r, seed, s, runs)
            flagged += honest_flags(results, honest)
            accuracies.append(acc[-1])
            residuals.append(min_residual(results, honest))
            margins.append(partial_margin(results, honest))
            remainders.append(beyond_margin(results, honest))
        shown = ", ".join(f"r{rd} {w} {why}" for rd, w, why in flagged) or "none"
        ratio, partial = max(margins)
        least, remainder = min(remainders)
        # The remainder test abstains in rounds whose honest updates do not all agree with each other.
        judged = f"{least:.2f} ({remainder:.4f})" if math.isfinite(least) else "abstains in every round"
        lines.append(f"| {label} | {args.seeds} | {shown} | {min(residuals):.3f} | {ratio:.2f} ({partial:.3f}) | "
                     f"{judged} | {100 * min(accuracies):.2f}%-{100 * max(accuracies):.2f}% |")

    # Fairness: pay against true data size, claims equal to the truth but unused.
    _, _, stdout = run(args.sim, "honest", ["--data-weights", "1,1,1,2,2,2,4,4,4,4"], r, 1, s, runs)
    fairness = re.search(r"^fairness: .*$", stdout, re.M).group(0)
    lines += ["", "## Fairness: honest workers with 1x, 2x and 4x data (1,1,1,2,2,2,4,4,4,4)", "", f"`{fairness}`", ""]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
