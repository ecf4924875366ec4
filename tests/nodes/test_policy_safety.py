"""The policy node's safety layer (deepmimic_sim.command_safety), with a real policy node on a manual
clock: bad states are dropped, wild ones give clamped and rate-limited targets, stale ones a held pose."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from deepmimic_policy.nodes.policy_node import PolicyNode
from deepmimic_sim.nodes.reference_motion_node import ReferenceMotionNode
from deepmimic_sim.reference import ReferenceClip
from deepmimic_sim.robot_state import root_arrays
from deepmimic_transport.inprocess import Bus, ManualClock
from deepmimic_transport.messages import builtin_interfaces, nav_msgs, sensor_msgs, std_msgs
from deepmimic_transport.node_main import pose_msg

import deepmimic_transport as transport

DT = 1.0 / 30.0
MAX_RATE = 3.0  # rad/s: small, so that the limit binds


class Robot:
    """Publishes a state (joint states + odometry with one stamp) of the walk clip, or a given one."""

    def __init__(self, bus: Bus, names: list[str]) -> None:
        self.node = transport.create_node("robot", backend="inprocess", bus=bus)
        self.names, self.clip = names, ReferenceClip("walk")
        self.states = self.node.create_publisher(sensor_msgs.JointState, "/states", "sensor_data")
        self.odom = self.node.create_publisher(nav_msgs.Odometry, "/odom", "sensor_data")
        self.commands: list[np.ndarray] = []
        self.node.create_subscription(std_msgs.Float64MultiArray, "/commands",
                                      lambda m: self.commands.append(np.array(m.data)), "reliable")

    def publish(self, hinges: np.ndarray | None = None) -> None:
        now = self.node.now()
        qpos, qvel = (a[0] for a in self.clip.state(now))
        if hinges is not None:
            qpos[7:] = hinges
        stamp = builtin_interfaces.Time.from_seconds(now)
        states = sensor_msgs.JointState(name=self.names, position=qpos[7:].tolist(), velocity=qvel[6:].tolist())
        states.header.stamp = stamp
        root = root_arrays(qpos, qvel)
        odom = nav_msgs.Odometry()
        odom.header.stamp, odom.pose.pose = stamp, pose_msg(root.position, root.orientation)
        self.odom.publish(odom)
        self.states.publish(states)


@pytest.fixture
def graph(tiny_checkpoint):
    bus = Bus(clock=ManualClock())
    policy = PolicyNode(transport.create_node("policy", backend="inprocess", bus=bus, parameters={
        "checkpoint": str(tiny_checkpoint), "max_target_rate": MAX_RATE, "limit_slack": 0.0, "state_timeout": 0.1,
        # The torque clamp (targets near the measured pose) comes after the rate limit: a jump of the
        # measured pose moves the targets with it. Off here, so that rate and joint limits are seen alone.
        "torque_margin": 1e6}))
    reference = ReferenceMotionNode(transport.create_node("reference_motion", backend="inprocess", bus=bus))
    robot = Robot(bus, policy.names)
    yield bus, policy, robot
    for node in (policy.node, reference.node, robot.node):
        node.shutdown()


def run(bus: Bus, robot: Robot, steps: int, hinges: np.ndarray | None = None) -> None:
    for _ in range(steps):
        robot.publish(hinges)
        bus.run_for(DT)


@pytest.fixture
def overreaching_checkpoint(tiny_checkpoint, tmp_path) -> Path:
    """The tiny policy with its output bias at +-5: every action clips to +-1.5, the largest residual
    (0.375 rad from the reference), knees pushed straight (+) and elbows (-) beyond their limits."""
    import torch
    from deepmimic_sim.model.character_mjcf import hinge_names

    from deepmimic_mocap import load_character

    data = torch.load(tiny_checkpoint, weights_only=True)
    last = [k for k in data["actor_state_dict"] if k.startswith("mlp.") and k.endswith(".bias")][-1]
    signs = [-1.0 if "elbow" in name else 1.0 for name in hinge_names(load_character("humanoid3d"))]
    data["actor_state_dict"][last] = 5.0 * torch.tensor(signs)
    path = tmp_path / "overreaching.pt"
    torch.save(data, path)
    return path


def test_a_policy_beyond_the_joint_limits_moves_at_the_rate_limit_and_stops_at_the_limits(
        graph, overreaching_checkpoint):
    bus, policy, robot = graph
    run(bus, robot, 5)
    assert policy.load(str(overreaching_checkpoint))[0]
    sent = len(robot.commands)
    run(bus, robot, 60)  # 2 s of the walk
    commands = np.array(robot.commands)
    limits = policy.safety.limits
    assert np.abs(np.diff(commands[sent - 1:], axis=0)).max() <= MAX_RATE * DT + 1e-9
    assert ((commands >= limits.lower) & (commands <= limits.upper)).all()
    knees = [i for i, name in enumerate(policy.names) if "knee" in name]
    assert (commands[:, knees] == 0.0).any(axis=0).all()  # held at the knee limit (straight), not beyond
    assert policy.safety.clamped["joint_limit"] > 0 and policy.safety.clamped["rate"] > 0


def test_bad_and_wild_states_give_no_or_safe_targets(graph):
    bus, policy, robot = graph
    run(bus, robot, 5)
    sent = len(robot.commands)
    assert sent >= 5
    nan = np.zeros(len(policy.names))
    nan[3] = math.nan
    run(bus, robot, 2, nan)  # non-finite: dropped, no command acts on it (and 2 steps are not yet stale)
    assert policy.subscriptions["states"].dropped == 2 and len(robot.commands) == sent
    limits = policy.safety.limits
    run(bus, robot, 10, np.full(len(policy.names), 3.0))  # finite but far beyond the joint limits
    commands = np.array(robot.commands)
    assert ((commands >= limits.lower - 1e-12) & (commands <= limits.upper + 1e-12)).all()
    model = policy.controller.kinematics.model
    limited = model.jnt_limited[[model.joint(n).id for n in policy.names]].astype(bool)
    ranges = np.array([model.joint(n).range for n in policy.names])
    np.testing.assert_array_equal(limits.upper[limited], ranges[limited, 1])  # limit_slack 0: the limits themselves
    wild = commands[sent:]
    assert len(wild) == 10 and np.abs(np.diff(wild, axis=0)).max() <= MAX_RATE * DT + 1e-9  # one step apart
    assert np.abs(wild[0] - commands[sent - 1]).max() <= 3 * MAX_RATE * DT + 1e-9  # three steps after the last act
    assert policy.held_steps == 0 and policy.safety.clamped["rate"] > 0


def test_stale_states_hold_the_last_targets_then_resume(graph, caplog):
    bus, policy, robot = graph
    run(bus, robot, 10)
    last = robot.commands[-1].copy()
    with caplog.at_level("INFO"):
        count = len(robot.commands)
        bus.run_for(0.5)  # no state for 0.5 s
        held = robot.commands[count:]
        assert len(held) >= 10 and policy.holding and policy.held_steps == len(held)
        assert all(np.array_equal(c, last) for c in held)  # the pose is held, not ramped or dropped
        run(bus, robot, 5)
        assert not policy.holding and not np.array_equal(robot.commands[-1], last)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("holding the last targets" in line for line in lines) == 1, lines
    assert any("states are back" in line for line in lines), lines
