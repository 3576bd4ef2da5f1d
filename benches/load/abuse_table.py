#!/usr/bin/env python3
"""Prints the abuse runs of benches/load/abuse.sh (its JSON lines) as the Markdown table BENCHMARKS.md shows: per
run, the honest workers' submission latency beside the baseline with the same limits, and what the attacker got."""
import json
import sys


def main(path):
    runs = [json.loads(line) for line in open(path) if line.strip()]
    latest = {}
    for run in runs:
        attack = (run.get("attack") or {}).get("kind") or "none"
        latest[(run.get("limits", "off"), attack)] = run
    print("| limits | abuse | attacker | workers' submissions: accepted, p50, p99 (x baseline) | window close to finalized |")
    print("|---|---|---|---|---:|")
    for (limits, attack), run in sorted(latest.items(), key=lambda kv: (kv[0][0] != "on", kv[0][1] != "none", kv[0][1])):
        r = run["rounds"][0]
        base = latest.get((limits, "none"), run)["rounds"][0]
        a = run.get("attack") or {}
        if attack == "flood":
            total = a["answered_ok"] + a["refused_429"] + a["other_status"] + a["failed"]
            attacker = (f"{a['connections']} connections, {total / a['seconds']:.0f} requests/s: "
                        f"{a['answered_ok']} answered 2xx, {a['refused_429']} refused 429, {a['other_status']} other 4xx, "
                        f"{a['failed']} failed")
        elif attack == "slow-headers":
            attacker = (f"{a['connections']} slow connections: {a['opened']} opened, {a['cut_off']} closed by the "
                        f"coordinator (refused or timed out), longest held {a['longest_held_s']:.0f} s of "
                        f"{a['seconds']:.0f} s")
        else:
            attacker = "none"
        ratio = lambda key: r[key] / base[key] if base[key] else float("nan")
        print(f"| {limits} | {attack} | {attacker} | {r['accepted']}/{r['workers']}, {r['p50_ms']:.0f} ms "
              f"({ratio('p50_ms'):.2f}x), {r['p99_ms']:.0f} ms ({ratio('p99_ms'):.2f}x) | "
              f"{r['close_to_finalized_ms'] / 1000:.1f} s |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "benches/load/abuse.jsonl")
