"""The train graph's throughput: PPO samples/s with the environments local, composed, or over DDS.

Usage: ``python bench/bench_train_graph.py [--num-envs 256] [--iterations 6] [--out bench/results/train_graph.json]``

Three runs of the same experiment (``--config``, default the walk) from the same seed, so they do
the same work step for step (tests/nodes/test_train_graph.py checks that their figures agree):

- ``local``: ``Trainer`` with the environments in its own process (``deepmimic train``);
- ``composed``: the train graph in one process: a train-mode simulator node and the trainer node on
  one in-process bus (``deepmimic launch train --composed``);
- ``dds``: the simulator node in its own process, the trainer node here, over loopback Cyclone DDS
  with a domain of the bench's own (``deepmimic launch train``);
- ``rclpy`` (with ``--rclpy``): the same two processes as rclpy nodes (ROS 2 Kilted, Fast DDS),
  discovery range LOCALHOST (``deepmimic launch train transport:=rclpy``).

Each run trains ``--iterations`` PPO iterations; the figure is the median samples/s of every
iteration after the first (which includes start-up and the normaliser warm-up). Runs alternate
``--repeats`` times so that a background load affects each alike. The goal (issue 5): DDS at least
0.9 of composed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model  # bench/machine.py (the script folder is on sys.path)

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _experiment(folder: Path, config: Path, num_envs: int) -> Path:
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump({"base": str(config.resolve()), "env": {"num_envs": num_envs},
                                    "train": {"save_interval": 1000}}))
    return path


def _samples_per_s(run_dir: Path) -> list[float]:
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    return [record["samples_per_s"] for record in history[1:]]


def run_local(experiment: Path, run_dir: Path, iterations: int) -> list[float]:
    from deepmimic_policy.config import load_experiment
    from deepmimic_policy.trainer import Trainer

    trainer = Trainer(load_experiment(experiment), run_dir)
    trainer.run(iterations)
    trainer.close()
    return _samples_per_s(run_dir)


def run_composed(experiment: Path, run_dir: Path, iterations: int) -> list[float]:
    from deepmimic_policy.nodes.trainer_node import TrainerNode
    from deepmimic_sim.nodes.train_simulator import TrainSimulatorNode
    from deepmimic_transport.inprocess import Bus

    import deepmimic_transport as transport

    bus = Bus()
    TrainSimulatorNode(transport.create_node("simulator", backend="inprocess", bus=bus,
                                             parameters={"config": str(experiment)}))
    trainer = TrainerNode(transport.create_node("trainer", backend="inprocess", bus=bus, parameters={
        "config": str(experiment), "run_dir": str(run_dir), "iterations": iterations}))
    trainer.run()
    return _samples_per_s(run_dir)


def run_dds(experiment: Path, run_dir: Path, iterations: int, folder: Path, backend: str = "dds") -> list[float]:
    """The simulator node in its own process, the trainer node here, both on ``backend`` (dds or rclpy)."""
    from deepmimic_policy.nodes.trainer_node import TrainerNode

    import deepmimic_transport as transport

    params = folder / "simulator.yaml"
    params.write_text(yaml.safe_dump({"simulator": {"ros__parameters": {"mode": "train", "config": str(experiment)}}}))
    simulator = subprocess.Popen([sys.executable, "-m", "deepmimic_sim.nodes.simulator_node", "--transport", backend,
                                  "--params", str(params)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        node = transport.create_node("trainer", backend=backend, parameters={
            "config": str(experiment), "run_dir": str(run_dir), "iterations": iterations, "timeout": 120.0})
        TrainerNode(node).run()
        node.shutdown()
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
    return _samples_per_s(run_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config/humanoid3d_walk.yaml")
    parser.add_argument("--num-envs", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/train_graph.json")
    parser.add_argument("--rclpy", action="store_true",
                        help="also both nodes on rclpy (ROS 2, Fast DDS; discovery range LOCALHOST)")
    args = parser.parse_args()

    from deepmimic_transport.dds_wire import loopback_config

    os.environ["CYCLONEDDS_URI"] = loopback_config()
    os.environ["ROS_DOMAIN_ID"] = str(1 + os.getpid() % 200)
    samples: dict[str, list[float]] = {"local": [], "composed": [], "dds": []}
    if args.rclpy:
        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        samples["rclpy"] = []
    with tempfile.TemporaryDirectory(prefix="bench_train_graph_") as tmp:
        folder = Path(tmp)
        experiment = _experiment(folder, args.config, args.num_envs)
        for repeat in range(args.repeats):
            for mode in samples:
                run_dir = folder / f"{mode}_{repeat}"
                start = time.perf_counter()
                if mode == "local":
                    figures = run_local(experiment, run_dir, args.iterations)
                elif mode == "composed":
                    figures = run_composed(experiment, run_dir, args.iterations)
                else:
                    figures = run_dds(experiment, run_dir, args.iterations, folder, mode)
                samples[mode] += figures
                print(f"{mode:9s} repeat {repeat}: {np.median(figures):8.0f} samples/s "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
    medians = {mode: float(np.median(values)) for mode, values in samples.items()}
    result = {
        "bench": "train_graph", "config": str(args.config.relative_to(ROOT)), "num_envs": args.num_envs,
        "iterations": args.iterations, "repeats": args.repeats,
        "samples_per_s_median": medians, "samples_per_s_all": samples,
        "dds_over_composed": medians["dds"] / medians["composed"],
        "composed_over_local": medians["composed"] / medians["local"],
        **({"rclpy_over_composed": medians["rclpy"] / medians["composed"]} if "rclpy" in medians else {}),
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
    }
    print()
    rclpy_head, rclpy_rule, rclpy_cells = ("", "", "")
    if "rclpy" in medians:
        rclpy_head, rclpy_rule = " rclpy processes | rclpy / composed |", "---|---|"
        rclpy_cells = f" {medians['rclpy']:.0f} | {result['rclpy_over_composed']:.2f} |"
    print("| environments | local | composed graph | DDS processes | DDS / composed |" + rclpy_head)
    print("|---|---|---|---|---|" + rclpy_rule)
    print(f"| {args.num_envs} | {medians['local']:.0f} | {medians['composed']:.0f} | {medians['dds']:.0f} "
          f"| {result['dds_over_composed']:.2f} |" + rclpy_cells)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
