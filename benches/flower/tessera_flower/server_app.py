"""The ServerApp: sample-weighted FedAvg over every client each round, and the test accuracy after each round.

The global model starts from the reference's initial weights (the first LeNet5 after `torch.manual_seed(seed)`),
and the test set is scored with the reference's `accuracy` (batches of 128). After every round the server appends
one JSON line to the run's `rounds-file`:

    {"round": r, "test_accuracy": percent, "round_s": s, "elapsed_s": s, "eval_s": s, "eval_total_s": s,
     "finished_at": unix time}

`elapsed_s` counts from the start of round 1 (after the initial evaluation); `round_s` includes the evaluation,
as the reference's round time does; `eval_s` is this round's test evaluation and `eval_total_s` the sum over
rounds 1 to r, so that the benchmark can leave its own testing out of Flower's time; `finished_at` lets the
launcher add its start-up time.
"""

import json
import time
from collections.abc import Iterable

import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from tessera_flower.task import Settings, load_reference

app = ServerApp()


class EveryClientFedAvg(FedAvg):
    """FedAvg on all `clients` nodes, failing the run when any of them does not answer.

    Flower's FedAvg averages whatever replies arrive; a round that silently lost a client would not be the round
    Tessera and the reference run.
    """

    def __init__(self, clients: int):
        super().__init__(
            fraction_train=1.0,
            # The reference evaluates only the global model, on the server; so does this run.
            fraction_evaluate=0.0,
            min_train_nodes=clients,
            min_available_nodes=clients,
        )

    def aggregate_train(self, server_round: int, replies: Iterable[Message]):
        replies = list(replies)
        failed = [reply for reply in replies if reply.has_error()]
        if failed or len(replies) < self.min_train_nodes:
            reasons = "; ".join(reply.error.reason for reply in failed)
            raise RuntimeError(
                f"round {server_round}: {len(replies) - len(failed)} of {self.min_train_nodes} clients answered"
                + (f" ({reasons})" if reasons else "")
            )
        return super().aggregate_train(server_round, replies)


class RoundLog:
    """Scores each global model on the test set and appends the round's line to the rounds file."""

    def __init__(self, settings: Settings):
        self.reference = load_reference(settings.reference)
        self.model = self.reference.LeNet5()
        self.images, self.labels = self.reference.load(settings.mnist_dir(self.reference), "test")
        self.path = settings.rounds_file
        self.first_round_started = self.round_started = 0.0
        self.eval_total = 0.0

    def __call__(self, server_round: int, arrays: ArrayRecord) -> MetricRecord:
        evaluation_started = time.perf_counter()
        self.model.load_state_dict(arrays.to_torch_state_dict())
        accuracy = 100 * self.reference.accuracy(self.model, self.images, self.labels)
        now = time.perf_counter()
        evaluation = now - evaluation_started
        if server_round == 0:
            print(f"round 0: test accuracy {accuracy:.2f}%", flush=True)
            self.first_round_started = self.round_started = now
        else:
            self.eval_total += evaluation
            line = {
                "round": server_round,
                "test_accuracy": round(accuracy, 2),
                "round_s": round(now - self.round_started, 3),
                "elapsed_s": round(now - self.first_round_started, 3),
                "eval_s": round(evaluation, 3),
                "eval_total_s": round(self.eval_total, 3),
                "finished_at": time.time(),
            }
            with open(self.path, "a", encoding="utf-8") as rounds:
                rounds.write(json.dumps(line) + "\n")
            self.round_started = now
        return MetricRecord({"test-accuracy": accuracy})


@app.main()
def main(grid: Grid, context: Context) -> None:
    settings = Settings.from_run_config(context.run_config)
    if not settings.rounds_file:
        raise ValueError("the run config names no `rounds-file`: start runs with benches/flower/run_flower.py")
    torch.set_num_threads(settings.server_threads)
    reference = load_reference(settings.reference)
    torch.manual_seed(settings.seed)
    initial = ArrayRecord(reference.LeNet5().state_dict())
    EveryClientFedAvg(settings.clients).start(
        grid=grid, initial_arrays=initial, num_rounds=settings.num_rounds, evaluate_fn=RoundLog(settings)
    )
