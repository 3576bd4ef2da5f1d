#!/usr/bin/env python3
"""FedAvg on MNIST with Flower, for the comparison with Tessera and plain PyTorch (benches/sim/fedavg_reference.py).

Runs the Flower app beside this script (tessera_flower/: the reference's LeNet, shards, training and evaluation)
on one of Flower's two engines, and appends one JSON line per round to --out:

    {"system": "flower-deployment" | "flower-simulation", "partition": ..., "alpha": ... (dirichlet only),
     "seed": ..., "clients": 10, "samples_per_client": ... (when capped), "round": r, "test_accuracy": percent,
     "round_s": ..., "elapsed_s": ..., "eval_s": ..., "eval_total_s": ..., "launch_s": ...}

`round_s` is the round's wall time including the server's test evaluation, `elapsed_s` the time since the server
started round 1, and `launch_s` the time since this script started, so Flower's start-up (SuperLink, SuperNodes,
Ray, building and shipping the app) is counted too.

  deployment  a SuperLink and one SuperNode process per client (each runs its ClientApp in a subprocess), as a
              real federation would run; all ten train at once, one thread each.
  simulation  a SuperLink in simulation mode: one process with Ray running the ClientApps, one CPU each, so at
              most --cores of them train at once.

Everything binds 127.0.0.1 on free ports; Flower's state and config live in a scratch folder (FLWR_HOME), never
in ~/.flwr; every process started here is stopped on exit, error or Ctrl-C. Installs Flower first
(benches/flower/setup.sh). Run it under `nice` on a shared machine.

Usage: benches/flower/run_flower.py --engine deployment|simulation [--partition iid|dirichlet] [--alpha 0.5]
           [--rounds 3] [--seed 0] [--holdout 1000] [--samples-per-client 0] --out results.jsonl

Examples:
  nice -n 10 benches/flower/run_flower.py --engine simulation --rounds 2 --samples-per-client 500 --out /tmp/f.jsonl
  nice -n 10 benches/flower/run_flower.py --engine deployment --rounds 3 --out benches/flower/results.jsonl
"""

import time

LAUNCHED = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

APP = Path(__file__).resolve().parent
ROOT = APP.parents[1]
VENV_BIN = ROOT / ".venv-flower" / "bin"
REFERENCE = ROOT / "benches" / "sim" / "fedavg_reference.py"
CONNECTION = "tessera-bench"


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--engine", choices=["deployment", "simulation"], required=True)
    parser.add_argument("--partition", choices=["iid", "dirichlet"], default="iid")
    parser.add_argument("--alpha", type=float, default=0.5, help="Dirichlet concentration (dirichlet only)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout", type=int, default=1000, help="last training samples kept out of the pool")
    parser.add_argument("--samples-per-client", type=int, default=0, help="cap each shard (0: whole shard)")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--client-threads", type=int, default=1, help="torch threads of each ClientApp")
    parser.add_argument("--server-threads", type=int, default=2, help="torch threads of the server's evaluation")
    parser.add_argument("--cores", type=int, default=2, help="simulation: CPUs Ray may use (one per ClientApp)")
    parser.add_argument("--mnist", type=Path, help="MNIST IDX folder (default: the reference's)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the whole run may take")
    parser.add_argument("--logs", type=Path, help="keep Flower's logs here (default: a scratch folder, removed "
                        "after a successful run)")
    parser.add_argument("--out", type=Path, required=True, help="JSON lines file the rounds are appended to")
    return parser.parse_args()


class Failure(Exception):
    pass


def free_ports(count: int) -> list:
    # All held open at once, so the kernel hands out distinct ports.
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


class Processes:
    """Every process the run starts, each in its own session so that stopping it also stops the ServerApp and
    ClientApp subprocesses Flower starts under it."""

    def __init__(self, env: dict, logs: Path):
        self.env, self.logs, self.running = env, logs, []

    def start(self, name: str, command: list) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                command, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append((name, process))
        return process

    def check_alive(self):
        for name, process in self.running:
            if process.poll() is not None and name != "log-stream":
                raise Failure(f"{name} exited with status {process.returncode}; see {self.logs / name}.log")

    def stop_all(self):
        for _, process in reversed(self.running):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process in reversed(self.running):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Flower's children may outlive a parent that exited on SIGTERM: the whole session goes.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


def flwr(env: dict, *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [str(VENV_BIN / "flwr"), *args], env=env, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise Failure(f"flwr {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def wait_until(ready, what: str, timeout: float, processes: Processes, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while not ready():
        processes.check_alive()
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def superlink_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def toml_value(value) -> str:
    # JSON's strings, integers and floats are TOML's too.
    return json.dumps(float(value) if isinstance(value, float) else value)


def run(args, scratch: Path, processes: Processes) -> list:
    env = processes.env
    port, *supernode_ports = free_ports(1 + args.clients)
    (scratch / "flwr-home").mkdir()
    (scratch / "flwr-home" / "config.toml").write_text(
        f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
        f'address = "127.0.0.1:{port}"\ninsecure = true\n'
    )
    rounds_file = scratch / "rounds.jsonl"
    run_config = scratch / "run-config.toml"
    run_config.write_text("".join(f"{key} = {toml_value(value)}\n" for key, value in {
        "reference": str(REFERENCE),
        "mnist": str(args.mnist.resolve()) if args.mnist else "",
        "rounds-file": str(rounds_file),
        "num-rounds": args.rounds,
        "clients": args.clients,
        "seed": args.seed,
        "partition": args.partition,
        "alpha": args.alpha,
        "holdout": args.holdout,
        "samples-per-client": args.samples_per_client,
        "client-threads": args.client_threads,
        "server-threads": args.server_threads,
    }.items()))

    # `uv sync` of the app's dependencies is on by default; here they are .venv-flower's, as installed. The state
    # stays in memory: in an SQLite file (--database) ten clients uploading at once hit "database is locked" and
    # the round loses a client.
    superlink = [str(VENV_BIN / "flower-superlink"), "--insecure", "--host", "127.0.0.1", "--port", str(port),
                 "--disable-runtime-dependency-installation"]
    if args.engine == "simulation":
        superlink.append("--simulation")
    processes.start("superlink", superlink)
    wait_until(lambda: superlink_healthy(port), "the SuperLink", 60, processes)

    federation = []
    if args.engine == "deployment":
        for client in range(args.clients):
            processes.start(f"supernode-{client}", [
                str(VENV_BIN / "flower-supernode"), "--insecure", "--superlink", f"127.0.0.1:{port}",
                "--host", "127.0.0.1", "--port", str(supernode_ports[client]),
                "--node-config", f"partition-id={client} num-partitions={args.clients}",
            ])

        # The strategy waits for every node at the start of round 1; without this wait round 1 would include the
        # SuperNodes' start-up, which launch_s already counts.
        def all_online():
            nodes = json.loads(flwr(env, "supernode", "ls", CONNECTION, "--format", "json"))["nodes"]
            return sum(node["status"] == "online" for node in nodes) >= args.clients

        wait_until(all_online, f"{args.clients} SuperNodes online", 120, processes, every=1)
    else:
        # One CPU per ClientApp and --cores CPUs for Ray: at most --cores clients train at once, each with
        # --client-threads torch threads, the thread budget Tessera's workers get.
        federation = ["--federation-config", " ".join([
            f"num-supernodes={args.clients}", "backend=\"ray\"", "client-resources-num-cpus=1",
            "client-resources-num-gpus=0.0", f"init-args-num-cpus={args.cores}", "init-args-num-gpus=0",
        ])]

    started = json.loads(flwr(env, "run", str(APP), CONNECTION, "--run-config", str(run_config),
                              *federation, "--format", "json"))
    run_id = started["run-id"]
    print(f"flower {args.engine}: run {run_id} started {time.time() - LAUNCHED:.1f} s after launch", flush=True)
    # The log stream ends when the run finishes, whatever way it finishes: that is the signal to stop waiting.
    stream = processes.start("log-stream", [str(VENV_BIN / "flwr"), "log", run_id, CONNECTION, "--stream"])

    records, seen = [], 0
    deadline = LAUNCHED + args.timeout

    def take_new_rounds():
        nonlocal seen
        if not rounds_file.exists():
            return
        lines = rounds_file.read_text().splitlines()
        for line in lines[seen:]:
            records.append(record(args, json.loads(line)))
            print(json.dumps(records[-1]), flush=True)
        seen = len(lines)

    while stream.poll() is None:
        processes.check_alive()
        take_new_rounds()
        if time.time() > deadline:
            raise Failure(f"the run took longer than --timeout {args.timeout:.0f} s")
        time.sleep(0.5)
    take_new_rounds()

    runs = json.loads(flwr(env, "ls", CONNECTION, "--run-id", run_id, "--format", "json"))["runs"]
    status = runs[0]["status"] if runs else "unknown"
    if status != "finished:completed" or len(records) != args.rounds:
        raise Failure(f"run {run_id} ended {status} after {len(records)} of {args.rounds} rounds; "
                      f"see {processes.logs / 'log-stream.log'}")
    return records


def record(args, server_line: dict) -> dict:
    line = {"system": f"flower-{args.engine}", "partition": args.partition}
    if args.partition == "dirichlet":
        line["alpha"] = args.alpha
    line.update(seed=args.seed, clients=args.clients)
    if args.samples_per_client:
        line["samples_per_client"] = args.samples_per_client
    keys = ("round", "test_accuracy", "round_s", "elapsed_s", "eval_s", "eval_total_s")
    line.update({key: server_line[key] for key in keys})
    line["launch_s"] = round(server_line["finished_at"] - LAUNCHED, 3)
    return line


def main():
    args = parse_args()
    subprocess.run([str(APP / "setup.sh")], check=True)
    # SIGTERM unwinds like Ctrl-C, through the `finally` that stops every process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    scratch = Path(tempfile.mkdtemp(prefix="tessera-flower-"))
    logs = args.logs or scratch
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        # SuperNodes start ClientApps with the `flwr-clientapp` found on PATH, the SuperLink its ServerApp likewise.
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        FLWR_HOME=str(scratch / "flwr-home"),
        FLWR_TELEMETRY_ENABLED="0",
        FLWR_DISABLE_UPDATE_CHECK="1",
        RAY_USAGE_STATS_ENABLED="0",
        RAY_TMPDIR=str(scratch / "ray"),
    )
    processes = Processes(env, logs)
    ok = False
    try:
        records = run(args, scratch, processes)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a", encoding="utf-8") as out:
            out.writelines(json.dumps(line) + "\n" for line in records)
        ok = True
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        processes.stop_all()
        if ok or args.logs:
            shutil.rmtree(scratch, ignore_errors=True)
        if not ok:
            print(f"Flower's logs are in {logs}", file=sys.stderr)
    print(f"flower {args.engine}: {time.time() - LAUNCHED:.1f} s from launch to every process stopped")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
