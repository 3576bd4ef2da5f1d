"""Per-seed detection summary from `tessera-sim --json` files (one JSON round result per line).

Roles are not in the JSON; they follow from the sim's own rule: the last `len(--adversaries)` workers take the
adversarial roles in order, the others are honest (ids w00, w01, ...). `intermittent` counts as honest.

For each file prints, per adversary, the first round it was flagged (and why), then every flag on an honest
worker; and at the end whether every adversary was flagged within `--within` rounds with no honest worker
flagged, over all files. Exits 1 if not.

Usage: detection_summary.py [--workers 10] [--adversaries free-rider,...] [--within 3] FILE.jsonl...
Standard library only.
"""

import argparse
import json
import sys

DEFAULT_ADVERSARIES = "free-rider,sign-flip,noise,label-flip,copycat,copy-noisy,intermittent"
HONEST_ROLES = {"honest", "intermittent"}


def summarise(path, roles, within):
    rounds = [json.loads(line) for line in open(path) if line.strip()]
    first = {}
    honest_flags = []
    for result in rounds:
        for flag in result["flags"]:
            worker = flag["worker"]
            if roles[worker] in HONEST_ROLES:
                honest_flags.append((result["round"], worker, flag["reason"], flag["evidence"].get("kind")))
            elif worker not in first:
                first[worker] = (result["round"], flag["reason"], flag["evidence"].get("kind"))
    ok = True
    parts = []
    for worker, role in roles.items():
        if role in HONEST_ROLES:
            continue
        if worker in first:
            round_, reason, kind = first[worker]
            parts.append(f"{worker} {role}: r{round_} {reason}/{kind}")
            ok &= round_ <= within
        else:
            parts.append(f"{worker} {role}: never")
            ok = False
    ok &= not honest_flags
    print(f"{path}: {len(rounds)} rounds")
    print("  first flagged: " + "; ".join(parts))
    print("  honest workers flagged: " + (", ".join(f"r{r} {w} {why}/{k}" for r, w, why, k in honest_flags) or "none"))
    last = max((v[0] for v in first.values()), default=None)
    print(f"  => {'OK' if ok else 'MISSED'} (latest first flag: round {last}, honest flags {len(honest_flags)})")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--adversaries", default=DEFAULT_ADVERSARIES)
    parser.add_argument("--within", type=int, default=3, help="rounds within which each adversary must be flagged")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    adversaries = [a for a in args.adversaries.split(",") if a]
    honest = args.workers - len(adversaries)
    roles = {f"w{i:02}": "honest" if i < honest else adversaries[i - honest] for i in range(args.workers)}
    results = [summarise(path, roles, args.within) for path in args.files]
    passed = sum(results)
    print(f"{passed}/{len(results)} runs: every adversary flagged within {args.within} rounds, no honest worker flagged")
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
