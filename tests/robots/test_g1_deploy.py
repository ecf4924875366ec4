"""The deploy graph of config/graphs/deploy.yaml with ``character:=g1``, in one process on a manual clock:
with the simulator (50 Hz), and with ``simulate:=false ros2_control:=true`` through the ros2_control
bridge (config/robots/g1_ros2_control.yaml) against a stand-in G1 driver."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from deepmimic.graph import find_graph, load_graph
from deepmimic_policy.nodes.policy_node import PolicyNode
from deepmimic_sim.command_safety import LIMIT_SLACK
from deepmimic_sim.nodes.reference_motion_node import ReferenceMotionNode
from deepmimic_sim.nodes.ros2_control_bridge_node import Ros2ControlBridgeNode
from deepmimic_sim.nodes.simulator_node import SimulatorNode, make_simulator
from deepmimic_transport.inprocess import Bus, ManualClock
from deepmimic_transport.messages import deepmimic_interfaces, nav_msgs, sensor_msgs, std_msgs

import deepmimic_transport as transport

ROOT = Path(__file__).resolve().parents[2]
NODE_CLASSES = {"deepmimic_policy.nodes.policy_node": PolicyNode,
                "deepmimic_sim.nodes.reference_motion_node": ReferenceMotionNode,
                "deepmimic_sim.nodes.simulator_node": make_simulator,
                "deepmimic_sim.nodes.ros2_control_bridge_node": Ros2ControlBridgeNode}
HANDS = ["left_hand_thumb_0_joint", "right_hand_index_1_joint"]  # joints the driver has and the model lacks


@pytest.fixture(scope="module")
def g1_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained G1 walk policy (config/g1_walk.yaml, one PPO iteration on 2 environments)."""
    run_dir = tmp_path_factory.mktemp("g1_run")
    command = [sys.executable, "-m", "deepmimic.cli", "train", "--config", str(ROOT / "config/g1_walk.yaml"),
               "--iterations", "1", "--num-envs", "2", "--run-dir", str(run_dir), "--no-eval"]
    subprocess.run(command, check=True, capture_output=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return run_dir / "model_1.pt"


def start_graph(bus: Bus, checkpoint: Path, **arguments: str) -> dict:
    """The graph's nodes, parameters as `deepmimic launch deploy` would pass them, on ``bus``."""
    graph = load_graph(find_graph("deploy"), {"character": "g1", "clip": "g1_walk", "checkpoint": str(checkpoint),
                                              **arguments})
    return {spec.name: NODE_CLASSES[spec.module](transport.create_node(
        spec.name, backend="inprocess", bus=bus, parameters=spec.parameters, remappings=spec.remappings))
        for spec in graph.nodes}


def listen(bus: Bus, topic: str, msg_type) -> list:
    received = []
    node = transport.create_node(f"listen_{topic.strip('/').replace('/', '_')}", backend="inprocess", bus=bus)
    node.create_subscription(msg_type, topic, received.append, "reliable")
    return received


def joint_limits(policy: PolicyNode, slack: float) -> tuple[np.ndarray, np.ndarray]:
    model = policy.controller.kinematics.model
    ranges = np.array([model.joint(name).range for name in policy.names])
    return ranges[:, 0] - slack - 1e-9, ranges[:, 1] + slack + 1e-9


def test_g1_deploy_graph_runs_the_simulator_at_50_hz(g1_checkpoint):
    bus = Bus(clock=ManualClock())
    nodes = start_graph(bus, g1_checkpoint)
    assert set(nodes) == {"policy", "reference_motion", "simulator"}
    simulator, policy = nodes["simulator"], nodes["policy"]
    states = listen(bus, "/states", sensor_msgs.JointState)
    commands = listen(bus, "/commands", std_msgs.Float64MultiArray)
    try:
        assert simulator.backend.control_dt == pytest.approx(0.02)  # 50 Hz from g1.yaml, not 30
        assert policy.controller.control_dt == pytest.approx(0.02)  # as trained
        bus.run_for(2.0)
        assert 95 <= simulator.steps <= 100 and len(states) >= 95 and len(commands) >= 95
        assert list(states[-1].name) == policy.names and len(policy.names) == 29
        assert states[-1].position != states[0].position
        data = np.array([c.data for c in commands])
        low, high = joint_limits(policy, slack=LIMIT_SLACK)  # the policy node's default
        assert ((data >= low) & (data <= high)).all()
        assert np.abs(np.diff(data, axis=0)).max() <= policy.safety.limits.max_rate * 0.02 + 1e-9
        assert simulator.safety.dropped == 0 and policy.subscriptions["states"].dropped == 0
    finally:
        for wrapper in nodes.values():
            wrapper.node.shutdown()
        simulator.backend.close()


def test_trained_g1_walks_10_s_in_the_deploy_graph():
    """The committed G1 policy (policies/g1_walk.pt) in the deploy graph: its simulator, at 50 Hz,
    through the policy node's safety layer, stays up for 10 s and tracks the clip."""
    bus = Bus(clock=ManualClock())
    nodes = start_graph(bus, ROOT / "policies" / "g1_walk.pt")
    odom = listen(bus, "/odom", nav_msgs.Odometry)
    states = listen(bus, "/states", sensor_msgs.JointState)
    references = listen(bus, "/reference", deepmimic_interfaces.ReferenceFrame)
    try:
        bus.run_for(10.0)
        heights = np.array([m.pose.pose.position.z for m in odom])
        assert len(heights) >= 0.95 * 500 and heights.min() > 0.6, heights.min()  # the pelvis walks at ~0.75 m
        reference = {r.header.stamp.to_seconds(): np.asarray(r.joint_positions) for r in references}
        errors = [np.abs(np.asarray(m.position) - reference[m.header.stamp.to_seconds()]).mean()
                  for m in states[50:] if m.header.stamp.to_seconds() in reference]
        assert len(errors) > 100 and np.mean(errors) < 0.15, (len(errors), np.mean(errors))
    finally:
        for wrapper in nodes.values():
            wrapper.node.shutdown()
        nodes["simulator"].backend.close()


class StandInG1Driver:
    """A G1 behind ros2_control: the simulator node's physics, with the driver's topics and orders.

    Publishes ``/joint_states`` (shuffled, with hand joints the model lacks) and ``/robot_odom``;
    takes ``/forward_position_controller/commands`` in the controller's joint order.
    """

    def __init__(self, bus: Bus, controller_joints: list[str]) -> None:
        self.sim = SimulatorNode(transport.create_node("g1_driver", backend="inprocess", bus=bus, parameters={
            "character": "g1", "motion": "g1_walk"}, remappings={
            "states": "/g1_driver/states", "odom": "/robot_odom", "commands": "/g1_driver/commands"}))
        node = self.node = transport.create_node("g1_ros2_control", backend="inprocess", bus=bus)
        self.controller_joints = controller_joints
        self.names = [*self.sim.hinge_names, *HANDS]
        random.Random(4).shuffle(self.names)
        self.joint_states = node.create_publisher(sensor_msgs.JointState, "/joint_states", "sensor_data")
        self.model_commands = node.create_publisher(std_msgs.Float64MultiArray, "/g1_driver/commands", "latest")
        node.create_subscription(sensor_msgs.JointState, "/g1_driver/states", self.on_states, "sensor_data")
        node.create_subscription(std_msgs.Float64MultiArray, "/forward_position_controller/commands",
                                 self.on_commands, "reliable")
        self.applied: list[np.ndarray] = []

    def on_states(self, msg) -> None:
        value = {n: (p, v, e) for n, p, v, e in zip(msg.name, msg.position, msg.velocity, msg.effort, strict=True)}
        value.update({hand: (0.1, 0.0, 0.0) for hand in HANDS})
        self.joint_states.publish(sensor_msgs.JointState(
            header=msg.header, name=self.names, position=[value[n][0] for n in self.names],
            velocity=[value[n][1] for n in self.names], effort=[value[n][2] for n in self.names]))

    def on_commands(self, msg) -> None:
        by_name = dict(zip(self.controller_joints, msg.data, strict=True))
        targets = [by_name[n] for n in self.sim.hinge_names]
        self.applied.append(np.array(targets))
        self.model_commands.publish(std_msgs.Float64MultiArray(data=targets))

    def shutdown(self) -> None:
        self.node.shutdown()
        self.sim.node.shutdown()
        self.sim.backend.close()


def test_g1_deploy_graph_through_the_ros2_control_bridge(g1_checkpoint):
    bus = Bus(clock=ManualClock())
    nodes = start_graph(bus, g1_checkpoint, simulate="false", ros2_control="true")
    assert set(nodes) == {"policy", "reference_motion", "ros2_control_bridge"}
    bridge, policy = nodes["ros2_control_bridge"], nodes["policy"]
    assert bridge.controller_joints[0] == "left_hip_pitch_joint" and len(bridge.controller_joints) == 29
    driver = StandInG1Driver(bus, bridge.controller_joints)
    states = listen(bus, "/states", sensor_msgs.JointState)
    odom = listen(bus, "/odom", nav_msgs.Odometry)
    try:
        bus.run_for(2.0)
        assert len(states) >= 95 and len(odom) >= 95 and len(driver.applied) >= 90, (
            len(states), len(odom), len(driver.applied))
        assert list(states[-1].name) == policy.names  # model order, hand joints gone
        assert states[-1].position != states[0].position and driver.sim.steps >= 90
        applied = np.array(driver.applied)
        low, high = joint_limits(policy, slack=0.0)  # g1_ros2_control.yaml: limit_slack 0
        assert ((applied >= low) & (applied <= high)).all()
        assert bridge.joint_states_sub.dropped == 0 and policy.subscriptions["states"].dropped == 0
        assert policy.commands_sent >= 95 and bridge.commands_sent >= 95 and policy.held_steps == 0
    finally:
        for wrapper in nodes.values():
            wrapper.node.shutdown()
        driver.shutdown()
