"""The train graph: a train-mode simulator node and the trainer node, in process and over DDS.

The strongest check is equality: the same seeds give the same training, figure for figure, whether
the environments live in the trainer's process (``Trainer`` alone), in a simulator node on the same
bus, or in a simulator process reached over DDS.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from deepmimic_policy.config import load_experiment
from deepmimic_policy.nodes.policy_node import PolicyNode
from deepmimic_policy.nodes.trainer_node import TrainerNode
from deepmimic_policy.trainer import Trainer
from deepmimic_sim.nodes.simulator_node import make_simulator
from deepmimic_sim.nodes.train_simulator import TrainSimulatorNode
from deepmimic_transport.inprocess import Bus
from deepmimic_transport.messages import deepmimic_interfaces

import deepmimic_transport as transport

ROOT = Path(__file__).resolve().parents[2]
COMPARED = ("samples", "reward_per_step", "episodes", "terminations", "joint_rotation_error_rad", "loss/value")


@pytest.fixture(scope="module")
def small_experiment(tmp_path_factory) -> Path:
    """The walk experiment, shrunk: 6 environments, 8 steps per iteration, small networks."""
    path = tmp_path_factory.mktemp("experiment") / "small_walk.yaml"
    path.write_text(yaml.safe_dump({
        "base": str(ROOT / "config/humanoid3d_walk.yaml"),
        "env": {"num_envs": 6},
        "train": {"num_steps_per_env": 8, "save_interval": 1, "actor": {"hidden_dims": [32]},
                  "critic": {"hidden_dims": [32]}},
    }))
    return path


@pytest.fixture(scope="module")
def local_history(small_experiment, tmp_path_factory) -> list[dict]:
    """Two iterations with the environments in this process: what the graph must reproduce."""
    trainer = Trainer(load_experiment(small_experiment), tmp_path_factory.mktemp("local"))
    trainer.run(2)
    trainer.close()
    return _history(trainer.run_dir)


def _history(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def _assert_same_training(history: list[dict], expected: list[dict]) -> None:
    assert len(history) == len(expected)
    for got, want in zip(history, expected, strict=True):
        for key in COMPARED:
            assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-7), (key, got[key], want[key])


def _node(bus: Bus, name: str, **parameters) -> transport.Node:
    return transport.create_node(name, backend="inprocess", bus=bus, parameters=parameters)


def test_composed_train_graph_trains_like_the_local_trainer(small_experiment, local_history, tmp_path):
    bus = Bus()
    simulator = make_simulator(_node(bus, "simulator", mode="train", config=str(small_experiment)))
    assert isinstance(simulator, TrainSimulatorNode)
    trainer = TrainerNode(_node(bus, "trainer", config=str(small_experiment), run_dir=str(tmp_path / "run"),
                                iterations=2))
    trainer.run()
    _assert_same_training(_history(tmp_path / "run"), local_history)
    assert sorted(p.name for p in (tmp_path / "run").glob("model_*.pt")) == ["model_1.pt", "model_2.pt"]
    assert trainer.env.requests_resent == 0
    # A policy node that follows the trainer gets the latest checkpoint (latched) and loads it.
    policy = PolicyNode(_node(bus, "policy", checkpoint=str(tmp_path / "run/model_1.pt"), follow_checkpoints=True))
    assert policy.controller.policy.iteration == 1
    bus.spin_until_idle()
    assert policy.controller.policy.iteration == 2


def test_simulator_answers_each_request_once_and_survives_bad_ones(small_experiment):
    bus = Bus()
    simulator = TrainSimulatorNode(_node(bus, "simulator", config=str(small_experiment), num_envs=3))
    client = _node(bus, "client")
    replies = []
    client.create_subscription(deepmimic_interfaces.BatchedTransition, "transitions", replies.append, "reliable")
    actions = client.create_publisher(deepmimic_interfaces.BatchedAction, "actions", "reliable")
    dim = simulator.env.num_actions

    def send(step: int, **fields) -> None:
        actions.publish(deepmimic_interfaces.BatchedAction(step=step, **fields))
        bus.spin_until_idle()

    send(10, reset=True)
    assert [r.step for r in replies] == [10] and replies[0].action_dim == dim and replies[0].num_envs == 3
    send(11, num_envs=3, action_dim=dim, actions=np.zeros(3 * dim, np.float32))
    assert simulator.env.episode_steps.tolist() == [1, 1, 1]
    send(11, num_envs=3, action_dim=dim, actions=np.zeros(3 * dim, np.float32))  # a re-sent request
    assert [r.step for r in replies] == [10, 11, 11] and replies[2] is replies[1]
    assert simulator.env.episode_steps.tolist() == [1, 1, 1]  # answered again, not stepped again
    send(9, reset=True)  # older than the last answered: ignored
    send(12, num_envs=3, action_dim=dim - 1, actions=np.zeros(3 * (dim - 1), np.float32))  # wrong size
    assert simulator.actions_sub.dropped == 1 and len(replies) == 3
    nan_actions = np.full(3 * dim, np.nan, np.float32)
    send(12, num_envs=3, action_dim=dim, actions=nan_actions)  # NaN: zeroed by the environment, still a step
    assert [r.step for r in replies] == [10, 11, 11, 12] and np.isfinite(replies[-1].observations).all()
    assert list(replies[-1].metric_names) == ["joint_rotation_error_rad", "mpjpe_global_m", "mpjpe_root_relative_m",
                                              "root_position_error_m"]
    assert "reward/pose" in replies[-1].log_names


def test_trainer_side_waits_resends_and_survives_a_bad_reply(small_experiment):
    from deepmimic_policy.nodes.remote_env import RemoteImitationEnv
    from deepmimic_sim.envs.config import load_env_config

    cfg = load_env_config(small_experiment)
    with pytest.raises(TimeoutError, match="mode: train"):  # nobody answers
        RemoteImitationEnv(_node(Bus(), "lonely"), cfg, timeout_s=0.3, resend_s=0.1)
    # A stand-in simulator that answers the first request late, then with a wrong-sized reply
    # (dropped, logged), then properly.
    bus = Bus()
    responder = _node(bus, "responder")
    replies = responder.create_publisher(deepmimic_interfaces.BatchedTransition, "transitions", "reliable")
    seen = []

    def answer(msg):
        seen.append(msg.step)
        n = len(seen)
        if n == 1:
            return  # lost: the client re-sends after resend_s
        good = deepmimic_interfaces.BatchedTransition(step=msg.step, num_envs=2, observation_dim=3, action_dim=4,
                                                      control_dt=1 / 30, observations=[0.5] * 6, rewards=[0.0] * 2,
                                                      terminated=[False] * 2, truncated=[False] * 2)
        if n == 2:
            good.observations = [0.5] * 5  # wrong size: dropped by the client's subscription
        replies.publish(good)

    responder.create_subscription(deepmimic_interfaces.BatchedAction, "actions", answer, "reliable")
    env = RemoteImitationEnv(_node(bus, "trainer"), cfg, timeout_s=5.0, resend_s=0.05)
    assert (env.num_envs, env.num_obs, env.num_actions) == (2, 3, 4) and env.control_dt == pytest.approx(1 / 30)
    assert len(seen) == 3 and len(set(seen)) == 1  # one request, sent three times
    assert env.requests_resent == 2 and env._transitions_sub.dropped == 1
    torch.testing.assert_close(env.obs, torch.full((2, 3), 0.5))


def test_launch_train_composed_ends_when_the_trainer_is_done(small_experiment, tmp_path):
    command = [sys.executable, "-m", "deepmimic.cli", "launch", "train", "--composed", f"config:={small_experiment}",
               "iterations:=1", f"run_dir:={tmp_path / 'run'}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "[trainer] [INFO] [trainer]: done: 48 samples" in done.stdout, done.stdout[-3000:]
    assert (tmp_path / "run" / "model_1.pt").exists()
    assert len(_history(tmp_path / "run")) == 1


pytest.importorskip("cyclonedds", reason="cyclonedds is not installed; DDS not tested")


def test_train_graph_over_dds_trains_like_the_local_trainer(small_experiment, local_history, tmp_path, loopback_dds,
                                                            stop_process):
    params = tmp_path / "simulator.yaml"
    params.write_text(yaml.safe_dump({"simulator": {"ros__parameters": {"mode": "train",
                                                                        "config": str(small_experiment)}}}))
    simulator = subprocess.Popen([sys.executable, "-m", "deepmimic_sim.nodes.simulator_node", "--transport", "dds",
                                  "--params", str(params), "--seconds", "120"],
                                 env={**loopback_dds, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
    try:
        trainer = TrainerNode(transport.create_node("trainer", backend="dds", parameters={
            "config": str(small_experiment), "run_dir": str(tmp_path / "run"), "iterations": 2, "timeout": 90.0}))
        trainer.run()
        trainer.node.shutdown()
    finally:
        output = stop_process(simulator)
    assert "Traceback" not in output, output[-3000:]
    _assert_same_training(_history(tmp_path / "run"), local_history)
