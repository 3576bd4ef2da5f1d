#!/usr/bin/env python3
"""Round times of a public and a confidential run of the demo, side by side (medians over the rounds, ms)."""
import json
import statistics
import sys

FIELDS = ["wall_ms", "transfer_ms", "fetch_ms", "scoring_ms", "publish_ms", "chain_ms", "training_ms"]


def medians(path):
    rounds = json.load(open(path))["rounds"]
    return {f: statistics.median(r[f] for r in rounds) for f in FIELDS}, rounds[-1]["test_accuracy"], len(rounds)


public, public_accuracy, n = medians(sys.argv[1])
sealed, sealed_accuracy, _ = medians(sys.argv[2])
print(f"| median over {n} rounds (ms) | public | confidential | confidential / public |")
print("| --- | --- | --- | --- |")
for field in FIELDS:
    ratio = sealed[field] / public[field] if public[field] else float("nan")
    print(f"| {field.removesuffix('_ms')} | {public[field]:.0f} | {sealed[field]:.0f} | {ratio:.2f} |")
print(f"| final test accuracy | {public_accuracy:.4f} | {sealed_accuracy:.4f} | |")
