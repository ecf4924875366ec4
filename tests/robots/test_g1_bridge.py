"""The G1's ros2_control parameter file drives the bridge: 29 joints, controller order, any joint_states order."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from deepmimic_sim.nodes.ros2_control_bridge_node import Ros2ControlBridgeNode
from deepmimic_transport.inprocess import Bus, ManualClock
from deepmimic_transport.messages import sensor_msgs, std_msgs

import deepmimic_transport as transport

PARAMS = Path(__file__).resolve().parents[2] / "config" / "robots" / "g1_ros2_control.yaml"


def test_g1_bridge_params_reorder_states_and_commands():
    params = yaml.safe_load(PARAMS.read_text())
    bridge_params = params["ros2_control_bridge"]["ros__parameters"]
    controller_joints = params["forward_position_controller"]["ros__parameters"]["joints"]
    assert bridge_params["controller_joints"] == controller_joints and len(controller_joints) == 29
    bus = Bus(clock=ManualClock())
    node = transport.create_node("ros2_control_bridge", backend="inprocess", bus=bus, parameters=bridge_params)
    bridge = Ros2ControlBridgeNode(node)
    model = bridge.joint_names
    assert model[0] == "left_hip_pitch_joint" and model[-1] == "right_wrist_yaw_joint"
    robot = transport.create_node("robot", backend="inprocess", bus=bus)
    got = {"states": [], "ctrl": []}
    robot.create_subscription(sensor_msgs.JointState, "/states", got["states"].append, "reliable")
    robot.create_subscription(std_msgs.Float64MultiArray, "/forward_position_controller/commands",
                              got["ctrl"].append, "reliable")
    # joint_state_broadcaster: any order, plus joints the model lacks (hand joints)
    names = [*model, "left_hand_thumb_0_joint", "right_hand_index_1_joint"]
    random.Random(3).shuffle(names)
    # small, distinct values inside every joint's limits: the bridge's safety layer clamps commands
    value = {n: 0.001 * i for i, n in enumerate(model)}
    pub = robot.create_publisher(sensor_msgs.JointState, "/joint_states", "reliable")
    pub.publish(sensor_msgs.JointState(name=names, position=[value.get(n, -1.0) for n in names]))
    cmd = robot.create_publisher(std_msgs.Float64MultiArray, "/commands", "latest")
    cmd.publish(std_msgs.Float64MultiArray(data=[0.001 * i for i in range(29)]))  # = the measured pose
    bus.spin_until_idle()
    assert list(got["states"][0].name) == model
    assert list(got["states"][0].position) == [0.001 * i for i in range(29)]
    assert list(got["ctrl"][0].data) == pytest.approx([0.001 * model.index(j) for j in controller_joints])
    node.shutdown()
    robot.shutdown()
