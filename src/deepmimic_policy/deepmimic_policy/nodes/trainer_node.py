"""Trainer node: PPO over a simulator node's batched environments, publishing its checkpoints.

The environments live in a simulator node started with ``mode: train``; this node reaches them
through ``RemoteImitationEnv`` (one BatchedAction out, one BatchedTransition back per control step)
and runs the same ``Trainer`` as ``deepmimic train``. Each checkpoint, once complete on disk, is
announced on ``checkpoints`` (std_msgs/String, latched), which a policy node with
``follow_checkpoints: true`` loads while it runs.

Parameters: ``config`` (experiment YAML, the same file the simulator node reads), ``run_dir``,
``iterations`` (0: the config's ``max_iterations``), ``resume`` (continue from the run folder's
newest checkpoint), ``seed``, ``timeout`` (s to wait for the simulator), ``threads_per_rank``.

Started by ``torchrun`` (several trainer ranks, see ``deepmimic_policy.distributed``), rank ``r``
trains on the simulator node in namespace ``/rank<r>`` (topics ``rank<r>/actions`` and
``rank<r>/transitions``); rank 0 alone writes the run folder and announces checkpoints.
"""

from __future__ import annotations

from pathlib import Path

from deepmimic_transport.messages import std_msgs
from deepmimic_transport.node_main import run_node

import deepmimic_transport as transport

from .. import distributed
from ..config import load_experiment, override
from ..trainer import Trainer
from .remote_env import RemoteImitationEnv


class TrainerNode:
    """Owns a Trainer whose environment is a remote simulator node; ``run`` trains."""

    def __init__(self, node: transport.Node) -> None:
        self.node = node
        config = node.declare_parameter("config", "config/humanoid3d_walk.yaml")
        run_dir = node.declare_parameter("run_dir", "") or str(Path("runs") / f"{Path(config).stem}_graph")
        cfg = load_experiment(config)
        self.cfg = override(cfg, {"train.seed": node.declare_parameter("seed", cfg.train.seed)}, where="seed")
        self.target = int(node.declare_parameter("iterations", 0)) or self.cfg.train.max_iterations
        resume = bool(node.declare_parameter("resume", False))
        timeout = float(node.declare_parameter("timeout", 60.0))
        self.checkpoints_pub = node.create_publisher(std_msgs.String, "checkpoints", "latched")
        log = node.get_logger()
        log.info(f"waiting for a train-mode simulator on 'actions'/'transitions' (up to {timeout:g} s)")
        threads = int(node.declare_parameter("threads_per_rank", 0)) or None
        self.rank = distributed.init("cpu", threads) if distributed.launched_by_torchrun() else distributed.RankInfo()
        prefix = f"rank{self.rank.rank}/" if self.rank.distributed else ""
        self.env = RemoteImitationEnv(node, self.cfg.env, timeout_s=timeout, prefix=prefix)
        if self.rank.distributed:
            self.trainer = distributed.DistributedTrainer(self.cfg, run_dir, self.rank, env=self.env, resume=resume)
        else:
            self.trainer = Trainer(self.cfg, run_dir, env=self.env, resume=resume)
        if resume and self.trainer.resume():
            log.info(f"resumed {run_dir} at iteration {self.trainer.iteration} ({self.trainer.samples} samples)")
        log.info(f"training {self.env.num_envs} remote environments to iteration {self.target}, run folder {run_dir}")

    def on_iteration(self, record: dict) -> None:
        """One log line per iteration (rank 0's, when there are several)."""
        if not self.rank.is_main:
            return
        parts = [f"it {record['iteration']}/{self.target}", f"{record['samples']} samples",
                 f"{record['samples_per_s']:.0f} samples/s", f"reward/step {record['reward_per_step']:.3f}"]
        if "episode_length_s" in record:
            parts.append(f"episode {record['episode_length_s']:.2f} s")
        if "joint_rotation_error_rad" in record:
            parts.append(f"joint error {record['joint_rotation_error_rad']:.3f} rad")
        self.node.get_logger().info(", ".join(parts))

    def on_checkpoint(self, path: Path) -> None:
        """Announce a complete checkpoint (rank 0 alone writes them)."""
        if not self.rank.is_main:
            return
        self.checkpoints_pub.publish(std_msgs.String(data=str(path)))
        self.node.get_logger().info(f"checkpoint {path}")

    def run(self) -> None:
        """Train to the target iteration (the iteration count bounds the run)."""
        try:
            self.trainer.run(self.target, on_iteration=self.on_iteration, on_checkpoint=self.on_checkpoint)
        finally:
            self.trainer.close()
            distributed.shutdown()
        self.node.get_logger().info(f"done: {self.trainer.samples} samples in {self.trainer.wall_s / 60:.1f} min, "
                                    f"{self.env.requests_resent} request(s) re-sent")


def main(args: list[str] | None = None) -> None:
    """Run the node: ``trainer_node [--transport dds|inprocess|rclpy] [--params train.yaml]``."""
    run_node("trainer", TrainerNode, args)


if __name__ == "__main__":
    main()
