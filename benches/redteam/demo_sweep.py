#!/usr/bin/env python3
"""The demo (the whole stack: anvil, IPFS, coordinator, six worker processes) across shard sizes and label skews:
are honest workers ever flagged or slashed? One `tessera-demo --exit --report` run per setting, a Markdown table.

    benches/redteam/demo_sweep.py --demo target/debug/tessera-demo --out docs/redteam/demo-sweep.md
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = [
    ("default (unit 600, alpha 1)", []),
    ("unit 300", ["--unit", "300"]),
    ("unit 1500", ["--unit", "1500"]),
    ("unit 3000", ["--unit", "3000"]),
    ("alpha 0.3", ["--alpha", "0.3"]),
    ("alpha 10", ["--alpha", "10"]),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    lines = [f"# The demo across shard sizes and label skews ({args.rounds} rounds each)", "",
             f"Command: `benches/redteam/demo_sweep.py --demo <tessera-demo> --out {args.out} --rounds {args.rounds}`. "
             "Four honest workers hold 1x, 2x, 4x and 8x `unit` samples of Dirichlet(alpha) shards; a free-rider and "
             "a sign-flipper hold 2x.", "",
             "| setting | honest flagged or slashed | cheats slashed | honest rewards by samples (TST) | final test accuracy |",
             "| --- | --- | --- | --- | ---: |"]
    for label, extra in SETTINGS:
        report = Path(tempfile.mkstemp(suffix=".json")[1])
        started = time.time()
        done = subprocess.run([args.demo, "--exit", "--rounds", str(args.rounds), "--report", str(report), *extra],
                              capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{label} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        data = json.loads(report.read_text())
        honest = [w for w in data["workers"] if w["role"] == "honest"]
        cheats = [w for w in data["workers"] if w["role"] != "honest"]
        flagged = [f"{w['name']} ({', '.join(w['flags'])})" for w in honest if w["flags"] or int(w["slashed"]) > 0]
        caught = sum(1 for w in cheats if int(w["slashed"]) > 0)
        rewards = ", ".join(f"{w['samples']}: {int(w['rewards']) / 1e18:.1f}" for w in honest)
        accuracy = data["rounds"][-1]["test_accuracy"]
        lines.append(f"| {label} | {', '.join(flagged) or 'none'} | {caught}/{len(cheats)} | {rewards} | {100 * accuracy:.2f}% |")
        print(f"  {label}: {time.time() - started:.0f} s", file=sys.stderr)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
