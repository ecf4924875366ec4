"""One rank of the two-process tests (started by torchrun): train, then save this rank's networks.

Usage: ``torchrun --nproc-per-node 2 distributed_rank.py CONFIG RUN_DIR OUT_DIR ITERATIONS [local|remote]``

``local``: a ``DistributedTrainer`` on its own environment shard. ``remote``: a trainer node whose
environments live in a train-mode simulator node of its own (namespace ``/rank<r>``, seed ``r``),
composed in this process on the in-process bus (over DDS the same nodes run in separate processes).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch


def local(config: str, run_dir: str, iterations: int):
    from deepmimic_policy.config import load_experiment

    from deepmimic_policy import distributed

    rank = distributed.init("cpu", threads=1)
    trainer = distributed.DistributedTrainer(load_experiment(config), run_dir, rank)
    trainer.run(iterations)
    trainer.close()
    return trainer


def remote(config: str, run_dir: str, iterations: int):
    from deepmimic_policy.nodes.trainer_node import TrainerNode
    from deepmimic_sim.nodes.simulator_node import make_simulator
    from deepmimic_transport.inprocess import Bus

    import deepmimic_transport as transport

    rank, bus = int(os.environ["RANK"]), Bus()
    make_simulator(transport.create_node("simulator", backend="inprocess", bus=bus, namespace=f"/rank{rank}",
                                         parameters={"mode": "train", "config": config, "seed": rank}))
    node = TrainerNode(transport.create_node("trainer", backend="inprocess", bus=bus, parameters={
        "config": config, "run_dir": run_dir, "iterations": iterations, "threads_per_rank": 1}))
    node.run()
    return node.trainer


def main(config: str, run_dir: str, out_dir: str, iterations: str, mode: str = "local") -> None:
    from deepmimic_policy import distributed

    try:
        trainer = {"local": local, "remote": remote}[mode](config, run_dir, int(iterations))
        torch.save({"networks": trainer.alg.save(), "obs": trainer.env.obs, "num_envs": trainer.env.num_envs,
                    "total_envs": trainer.total_envs, "samples": trainer.samples},
                   Path(out_dir) / f"rank{trainer.rank.rank}.pt")
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:])
