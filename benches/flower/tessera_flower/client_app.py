"""The ClientApp: one epoch on this node's shard, exactly as the reference trains a worker."""

import time

import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from tessera_flower.task import Settings, client_data, load_reference, local_order

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    settings = Settings.from_run_config(context.run_config)
    # Ten clients share two cores, one thread each, as Tessera's worker processes do.
    torch.set_num_threads(settings.client_threads)
    reference = load_reference(settings.reference)
    partition_id = int(context.node_config["partition-id"])
    images, labels = client_data(settings, partition_id, int(context.node_config["num-partitions"]))

    model = reference.LeNet5()
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    generator = local_order(settings.seed, int(msg.content["config"]["server-round"]), partition_id)
    started = time.perf_counter()
    reference.train_local(model, images, labels, settings.epochs, settings.batch, settings.lr, generator)
    metrics = MetricRecord({"num-examples": len(labels), "train-s": time.perf_counter() - started})
    return Message(content=RecordDict({"arrays": ArrayRecord(model.state_dict()), "metrics": metrics}), reply_to=msg)
