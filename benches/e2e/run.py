#!/usr/bin/env python3
"""Time to accuracy, side by side: plain FedAvg in PyTorch, Flower (deployment and simulation engines), Tessera's
simulation and Tessera's whole stack, on the same work, in one run.

The work: LeNet (`lenet5-mnist-v1`) on MNIST, 10 workers, 59,000 training images cut into 10 shards (IID, or per
class Dirichlet(0.5)), each worker one local epoch a round of Adam (lr 1e-3, fresh each round, batch 64) from the
global model, the server taking the sample-weighted mean (Tessera: its scorer and robust aggregate), on this
machine's 2 cores: 2 threads for the systems that train in one process, 1 for each of the 10 workers of the
systems that run them as processes. Every system's global model is tested on MNIST's 10,000 test images after every
round; that testing is the benchmark's, not the system's, and is left out of its times.

For each system and partition it records, per round: the test accuracy, the loop time (from the federated loop's
start to the round's end, less the benchmark's testing) and the launch time (from starting the system, start-up
included). Writes OUT/results.jsonl (one line per system, partition and round), OUT/README.md (the tables) and
OUT/accuracy.svg (test accuracy against loop time).

Usage: run.py [--out docs/e2e] [--systems reference,flower-deployment,flower-simulation,sim,stack]
              [--partitions iid,dirichlet] [--rounds-iid 8] [--rounds-dirichlet 10] [--target-dir DIR]
Env: TESSERA_PYTHON (default .venv/bin/python).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

WORKERS = 10
VALIDATION = 1000
ALPHA = 0.5
SEED = 0
SAMPLES_PER_WORKER = (60_000 - VALIDATION) // WORKERS


def python():
    return os.environ.get("TESSERA_PYTHON", str(ROOT / ".venv" / "bin" / "python"))


def timed_lines(command, log, env=None):
    """Runs `command`, teeing its output to `log`; yields (seconds since launch, line) as lines come."""
    launched = time.perf_counter()
    with open(log, "w") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1
        )
        try:
            for line in process.stdout:
                sink.write(line)
                sink.flush()
                yield time.perf_counter() - launched, line.rstrip("\n")
        finally:
            # A stopped benchmark stops what it started: the demo and Flower's runner stop their own children on
            # a termination request, not on a kill.
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            process.wait()
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} exited with {process.returncode}; see {log}")


def reference(partition, rounds, logs):
    """benches/sim/fedavg_reference.py: its loop time is the sum of the rounds' training (its test runs after)."""
    command = [python(), "benches/sim/fedavg_reference.py", "--rounds", str(rounds), "--workers", str(WORKERS),
               "--partition", partition, "--alpha", str(ALPHA), "--seed", str(SEED), "--holdout", str(VALIDATION),
               "--threads", "2"]
    pattern = re.compile(r"^round (\d+): test accuracy ([\d.]+)% \(training ([\d.]+) s")
    loop = 0.0
    for launched, line in timed_lines(command, logs / f"reference-{partition}.log"):
        if match := pattern.match(line):
            loop += float(match[3])
            yield int(match[1]), float(match[2]), loop, launched


def sim(partition, rounds, logs, target):
    """tessera-sim, in process: its loop time is the sum of the rounds' training and scoring."""
    command = [str(target / "release" / "tessera-sim"), "--rounds", str(rounds), "--workers", str(WORKERS),
               "--threads", "2", "--adversaries", "honest", "--samples-per-worker", "60000",
               "--validation-samples", str(VALIDATION), "--seed", str(SEED), "--partition", partition,
               "--alpha", str(ALPHA)]
    pattern = re.compile(r"^round (\d+): test accuracy ([\d.]+)%.*\(training ([\d.]+) s, scoring ([\d.]+) s\)")
    loop = 0.0
    for launched, line in timed_lines(command, logs / f"sim-{partition}.log"):
        if match := pattern.match(line):
            loop += float(match[3]) + float(match[4])
            yield int(match[1]), float(match[2]), loop, launched


def stack(partition, rounds, logs, target):
    """The whole stack (`tessera-demo`, release build): coordinator, 10 worker processes, anvil, IPFS, SQLite. The
    loop starts at round 1's start on chain (a block time: whole seconds) and each round ends when its finalize is
    recorded; the test accuracy is measured by the demo after the run, outside the loop."""
    with tempfile.TemporaryDirectory(prefix="tessera-e2e-") as scratch:
        report_path = Path(scratch) / "report.json"
        command = [str(target / "release" / "tessera-demo"), "--exit", "--rounds", str(rounds),
                   "--honest", str(WORKERS), "--samples-per-worker", str(SAMPLES_PER_WORKER),
                   "--partition", partition, "--alpha", str(ALPHA), "--red-team", "none",
                   "--validation-samples", str(VALIDATION), "--report", str(report_path)]
        launched_at = time.time()
        for _ in timed_lines(command, logs / f"stack-{partition}.log"):
            pass
        rows = json.loads(report_path.read_text())["rounds"]
    loop_start = rows[0]["started_at_ms"]
    for row in rows:
        yield (row["round"], 100 * row["test_accuracy"], (row["finalized_at_ms"] - loop_start) / 1000,
               row["finalized_at_ms"] / 1000 - launched_at, row)


def flower(engine, partition, rounds, logs):
    """Flower's deployment engine (SuperLink, 10 SuperNodes, `flwr run`) or its simulation engine."""
    with tempfile.TemporaryDirectory(prefix="tessera-flower-") as scratch:
        out = Path(scratch) / "rounds.jsonl"
        command = [python(), "benches/flower/run_flower.py", "--engine", engine, "--partition", partition,
                   "--alpha", str(ALPHA), "--rounds", str(rounds), "--seed", str(SEED), "--holdout", str(VALIDATION),
                   "--out", str(out)]
        for _ in timed_lines(command, logs / f"flower-{engine}-{partition}.log"):
            pass
        rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    for row in rows:
        loop = row["elapsed_s"] - row.get("eval_total_s", 0.0)
        yield row["round"], row["test_accuracy"], loop, row["launch_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "e2e")
    parser.add_argument("--systems", default=",".join(report.SYSTEMS))
    parser.add_argument("--partitions", default="iid,dirichlet")
    parser.add_argument("--rounds-iid", type=int, default=8)
    parser.add_argument("--rounds-dirichlet", type=int, default=10)
    parser.add_argument("--target-dir", type=Path, default=Path(os.environ.get(
        "CARGO_TARGET_DIR", Path.home() / ".cache" / "tessera" / "target")))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    logs = args.out / "logs"
    logs.mkdir(exist_ok=True)
    results = args.out / "results.jsonl"
    machine = report.machine()
    print(f"machine: {machine}")
    with open(results, "w") as sink:
        for partition in args.partitions.split(","):
            rounds = args.rounds_iid if partition == "iid" else args.rounds_dirichlet
            for system in args.systems.split(","):
                runs = {
                    "reference": lambda: reference(partition, rounds, logs),
                    "flower-deployment": lambda: flower("deployment", partition, rounds, logs),
                    "flower-simulation": lambda: flower("simulation", partition, rounds, logs),
                    "sim": lambda: sim(partition, rounds, logs, args.target_dir),
                    "stack": lambda: stack(partition, rounds, logs, args.target_dir),
                }
                print(f"{partition}: {system} ({rounds} rounds)...", flush=True)
                for number, accuracy, loop, launched, *detail in runs[system]():
                    row = {"system": system, "partition": partition, "round": number, "test_accuracy": accuracy,
                           "loop_s": round(loop, 2), "launch_s": round(launched, 2), "machine": machine}
                    if detail:
                        row["stack"] = {k: v for k, v in detail[0].items() if k.endswith("_ms")}
                    print(f"  round {number}: {accuracy:.2f}% after {loop:.1f} s (launch {launched:.1f} s)", flush=True)
                    sink.write(json.dumps(row) + "\n")
                    sink.flush()
    report.write(results, args.out)
    print(f"wrote {args.out / 'README.md'} and {args.out / 'accuracy.svg'}")


if __name__ == "__main__":
    main()
