"""The simulator node as a separate "robot" process, the policy and reference nodes here, over loopback DDS."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("cyclonedds", reason="cyclonedds is not installed; DDS not tested")

from deepmimic_sim.nodes.reference_motion_node import ReferenceMotionNode
from deepmimic_policy.nodes.policy_node import PolicyNode
from deepmimic_transport.messages import sensor_msgs

import deepmimic_transport as transport

ROBOT_SECONDS = 25.0  # the robot process stops by itself


def test_policy_drives_a_simulator_process(tiny_checkpoint, loopback_dds, stop_process, spin_beside):
    robot = subprocess.Popen([sys.executable, "-m", "deepmimic_sim.nodes.simulator_node", "--transport", "dds",
                              "--seconds", str(ROBOT_SECONDS)], env={**loopback_dds, "OMP_NUM_THREADS": "1"},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    nodes = []
    try:
        reference = ReferenceMotionNode(transport.create_node("reference_motion", backend="dds"))
        policy = PolicyNode(transport.create_node("policy", backend="dds",
                                                  parameters={"checkpoint": str(tiny_checkpoint)}))
        watcher = transport.create_node("watcher", backend="dds")
        nodes = [reference.node, policy.node, watcher]
        states = []
        watcher.create_subscription(sensor_msgs.JointState, "/states", states.append, "sensor_data")

        def spin_all(seconds: float, until=lambda: False) -> bool:
            return spin_beside(nodes, robot, seconds, until)

        # The robot process starts (imports, model) and its states reach us.
        assert spin_all(20.0, lambda: policy.commands_sent > 0), f"no exchange: {robot.poll()}"
        sent, received = policy.commands_sent, len(states)
        # The exchange keeps going: the robot keeps publishing and the policy keeps answering.
        # (Rates are a benchmark's business, not a unit test's: a busy machine may halve them.)
        spin_all(10.0, lambda: len(states) - received >= 20 and policy.commands_sent - sent >= 20)
        assert len(states) - received >= 20 and policy.commands_sent - sent >= 20, (
            len(states) - received, policy.commands_sent - sent)
        assert states[-1].position != states[received].position
        assert policy.subscriptions["states"].dropped == 0
    finally:
        for node in nodes:
            node.shutdown()
        output = stop_process(robot)
    assert "Traceback" not in output, output[-3000:]
