"""The ros2_control bridge: name/order core (deepmimic_sim.joint_order), the node in process, and a
fake ros2_control robot in a separate process driven by bridge + policy over loopback DDS.

Run as a script (``python test_ros2_control_bridge.py --fake-robot SECONDS``) this file is that fake
robot: the simulator node wrapped by a driver that speaks ros2_control's topics (``joint_states`` in
shuffled robot names with an extra joint, ``forward_position_controller/commands`` in the
controller's order) and echoes each command it applies, in model order, on ``/fake_robot/applied``.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time

import pytest
from deepmimic_sim.joint_order import (
    JointOrderError,
    JointReorder,
    OdomPairing,
    command_indices,
    gather_indices,
    parse_joint_map,
    reorder,
)
from deepmimic_sim.nodes.ros2_control_bridge_node import Ros2ControlBridgeNode
from deepmimic_transport.inprocess import Bus, ManualClock
from deepmimic_transport.messages import builtin_interfaces, nav_msgs, sensor_msgs, std_msgs

import deepmimic_transport as transport

MODEL = ['chest_x', 'chest_y', 'chest_z', 'neck_x', 'neck_y', 'neck_z', 'right_shoulder_x', 'right_shoulder_y',
         'right_shoulder_z', 'right_elbow', 'left_shoulder_x', 'left_shoulder_y', 'left_shoulder_z', 'left_elbow',
         'right_hip_x', 'right_hip_y', 'right_hip_z', 'right_knee', 'right_ankle_x', 'right_ankle_y', 'right_ankle_z',
         'left_hip_x', 'left_hip_y', 'left_hip_z', 'left_knee', 'left_ankle_x', 'left_ankle_y', 'left_ankle_z']
ROBOT = {f"robot_{name}": name for name in MODEL}      # robot joint name -> model hinge name
JOINT_MAP = [f"{robot}:{model}" for robot, model in ROBOT.items()]
CONTROLLER = list(reversed(ROBOT))                    # the controller's joint order (robot names)
EXTRA = "gripper_finger"


def shuffled_robot_names(seed: int = 3) -> list[str]:
    names = [*ROBOT, EXTRA]
    random.Random(seed).shuffle(names)
    return names


# Core ---------------------------------------------------------------------------------------------
def test_model_order_is_the_hinge_order():
    from deepmimic_sim.model.character_mjcf import hinge_names

    from deepmimic_mocap import load_character

    assert hinge_names(load_character("humanoid3d")) == MODEL


def test_gather_reorders_by_name_and_ignores_extras():
    idx = gather_indices(["c", "x", "a", "b"], ["a", "b", "c"])
    assert idx.tolist() == [2, 3, 0]
    assert reorder([3.0, 9.0, 1.0, 2.0], idx) == [1.0, 2.0, 3.0]
    assert reorder([], idx) == []


@pytest.mark.parametrize("names, wanted, words", [
    (["a", "b"], ["a", "c"], "missing"),
    (["a", "a", "b"], ["a", "b"], "more than once"),
    (["a", "b"], ["a", "a"], "repeats"),
])
def test_gather_refuses_missing_and_doubled_names(names, wanted, words):
    with pytest.raises(JointOrderError, match=words):
        gather_indices(names, wanted)


def test_joint_map_parsing():
    assert parse_joint_map(["j1:chest_x", " j2 : chest_y "]) == {"j1": "chest_x", "j2": "chest_y"}
    assert parse_joint_map({"j1": "chest_x"}) == {"j1": "chest_x"}
    assert parse_joint_map([]) == {} == parse_joint_map(None)
    for bad in (["j1"], ["j1:a:b"], [":a"], ["j1:a", "j1:b"], ["j1:a", "j2:a"]):
        with pytest.raises(JointOrderError):
            parse_joint_map(bad)


def test_reorder_states_and_commands_round_trip():
    robot_names = shuffled_robot_names()
    values = {name: float(i) for i, name in enumerate(MODEL)} | {EXTRA: -1.0}
    positions = [values[ROBOT.get(n, n)] for n in robot_names]
    reorderer = JointReorder(MODEL, ROBOT)
    (model_positions,) = reorderer(robot_names, positions)
    assert model_positions == [values[n] for n in MODEL]
    assert reorderer.indices(robot_names) is reorderer.indices(list(robot_names))  # cached per order
    idx = command_indices(MODEL, CONTROLLER, ROBOT)
    controller_values = reorder(model_positions, idx)
    assert controller_values == [values[ROBOT[r]] for r in CONTROLLER]
    with pytest.raises(JointOrderError, match="controller_joints"):
        command_indices(MODEL, ["robot_chest_x", "no_such_joint"], ROBOT)


def test_odom_pairing_either_arrival_order_and_age():
    pairing = OdomPairing(max_age_s=0.1)
    assert pairing.on_states(1.0, "s1") is None
    assert pairing.on_odom("o1", 1.01) == ("o1", "s1")           # odometry second
    assert pairing.on_odom("o2", 1.03) is None
    assert pairing.on_odom("o3", 1.04) is None
    assert pairing.on_states(1.033, "s2") == ("o3", "s2")       # joint states second: newest odometry
    assert pairing.on_states(1.066, "s3") is None               # no fresh odometry: wait
    with pytest.raises(JointOrderError, match="max_odom_age"):
        pairing.on_odom("old", 0.5)


# Node, in process ---------------------------------------------------------------------------------
def _stamp(seconds: float) -> builtin_interfaces.Time:
    return builtin_interfaces.Time.from_seconds(seconds)


@pytest.fixture
def bridge():
    bus = Bus(clock=ManualClock())
    node = transport.create_node("ros2_control_bridge", backend="inprocess", bus=bus,
                                 parameters={"joint_map": JOINT_MAP, "controller_joints": CONTROLLER})
    wrapper = Ros2ControlBridgeNode(node)
    robot = transport.create_node("robot", backend="inprocess", bus=bus)
    got = {"states": [], "odom": [], "ctrl": []}
    robot.create_subscription(sensor_msgs.JointState, "/states", got["states"].append, "reliable")
    robot.create_subscription(nav_msgs.Odometry, "/odom", got["odom"].append, "reliable")
    robot.create_subscription(std_msgs.Float64MultiArray, "/forward_position_controller/commands",
                              got["ctrl"].append, "reliable")
    yield bus, wrapper, robot, got
    node.shutdown()
    robot.shutdown()


def test_joint_states_in_any_order_become_model_order(bridge):
    bus, wrapper, robot, got = bridge
    pub = robot.create_publisher(sensor_msgs.JointState, "/joint_states", "reliable")
    odom_pub = robot.create_publisher(nav_msgs.Odometry, "/robot_odom", "reliable")
    names = shuffled_robot_names()
    value = {n: float(i) for i, n in enumerate(MODEL)}
    msg = sensor_msgs.JointState(name=names, position=[value.get(ROBOT.get(n), 99.0) for n in names],
                                 velocity=[10 + value.get(ROBOT.get(n), 99.0) for n in names], effort=[])
    msg.header.stamp, msg.header.frame_id = _stamp(2.5), "base"
    pub.publish(msg)
    odom = nav_msgs.Odometry(child_frame_id="root")
    odom.header.stamp, odom.header.frame_id = _stamp(2.49), "world"
    odom.pose.pose.position.z = 0.9
    odom.twist.twist.linear.x = 1.5
    odom_pub.publish(odom)
    bus.spin_until_idle()
    assert len(got["states"]) == 1
    states = got["states"][0]
    assert list(states.name) == MODEL
    assert list(states.position) == [float(i) for i in range(len(MODEL))]
    assert list(states.velocity) == [10.0 + i for i in range(len(MODEL))] and list(states.effort) == []
    assert states.header.stamp.to_seconds() == 2.5 and states.header.frame_id == "base"
    # Odometry passes through unchanged but for the stamp, which is the joint states'.
    assert len(got["odom"]) == 1
    out = got["odom"][0]
    assert out.header.stamp.to_seconds() == states.header.stamp.to_seconds() and out.header.frame_id == "world"
    assert out.pose.pose.position.z == 0.9 and out.twist.twist.linear.x == 1.5 and out.child_frame_id == "root"
    assert wrapper.joint_states_sub.dropped == 0


def test_commands_go_out_in_the_controller_order(bridge):
    bus, wrapper, robot, got = bridge
    pub = robot.create_publisher(std_msgs.Float64MultiArray, "/commands", "latest")
    pub.publish(std_msgs.Float64MultiArray(data=[0.01 * i for i in range(len(MODEL))]))
    bus.spin_until_idle()
    assert len(got["ctrl"]) == 1
    assert list(got["ctrl"][0].data) == [0.01 * MODEL.index(ROBOT[r]) for r in CONTROLLER]
    assert got["ctrl"][0].data[0] == 0.01 * (len(MODEL) - 1)  # reversed order
    # Wrong size: dropped.
    pub.publish(std_msgs.Float64MultiArray(data=[0.0] * 5))
    bus.spin_until_idle()
    assert len(got["ctrl"]) == 1 and wrapper.commands_sub.dropped == 1


def test_commands_pass_the_safety_layer_and_stale_commands_ramp_to_the_pose(bridge, caplog):
    bus, wrapper, robot, got = bridge
    pub = robot.create_publisher(std_msgs.Float64MultiArray, "/commands", "latest")
    states = robot.create_publisher(sensor_msgs.JointState, "/joint_states", "reliable")
    names = shuffled_robot_names()

    def publish_states() -> None:
        msg = sensor_msgs.JointState(name=names, position=[0.0] * len(names), velocity=[0.0] * len(names))
        msg.header.stamp = _stamp(robot.now())
        states.publish(msg)

    publish_states()
    with caplog.at_level("WARNING"):
        for bad in ([1e9] * 28, [float("nan")] * 28):  # absurd and non-finite: dropped, nothing forwarded
            pub.publish(std_msgs.Float64MultiArray(data=bad))
            bus.spin_until_idle()
        assert got["ctrl"] == [] and wrapper.commands_sub.dropped == 2 and wrapper.safety.dropped == 2
        pub.publish(std_msgs.Float64MultiArray(data=[2.0] * 28))  # far from the measured pose: torque-clamped
        bus.spin_until_idle()
        out = dict(zip(CONTROLLER, got["ctrl"][-1].data, strict=True))
        limits = wrapper.safety.limits
        for robot_name, value in out.items():
            j = MODEL.index(ROBOT[robot_name])
            assert value == pytest.approx(min(2.0, limits.max_offset[j], limits.upper[j]))
        assert wrapper.safety.clamped["torque"] > 0
        # The command stream dies: after the timeout the bridge ramps to the measured pose (zeros) and holds it.
        sent = len(got["ctrl"])
        for _ in range(60):  # 2 s at 30 Hz, joint states keep coming
            bus.run_for(1.0 / 30.0)
            publish_states()
        assert len(got["ctrl"]) - sent >= 40
        assert max(abs(v) for v in got["ctrl"][-1].data) < 1e-9
    lines = [r.getMessage() for r in caplog.records]
    assert any("no command for 0.5 s" in line for line in lines), lines
    assert any("dropped" in line for line in lines), lines


def test_missing_joint_is_dropped_and_counted_and_the_node_keeps_running(bridge, caplog):
    bus, wrapper, robot, got = bridge
    pub = robot.create_publisher(sensor_msgs.JointState, "/joint_states", "reliable")
    names = [n for n in shuffled_robot_names() if n != "robot_left_knee"]
    with caplog.at_level("ERROR"):
        pub.publish(sensor_msgs.JointState(name=names, position=[0.0] * len(names)))
        bus.spin_until_idle()
    assert got["states"] == [] and wrapper.joint_states_sub.dropped == 1
    assert any("left_knee" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    full = shuffled_robot_names()
    pub.publish(sensor_msgs.JointState(name=full, position=[0.0] * len(full)))
    bus.spin_until_idle()
    assert len(got["states"]) == 1 and wrapper.joint_states_sub.dropped == 1


def test_defaults_are_model_order():
    node = transport.create_node("bridge_defaults", backend="inprocess", bus=Bus(clock=ManualClock()))
    wrapper = Ros2ControlBridgeNode(node)
    assert wrapper.controller_joints == MODEL and wrapper.command_index.tolist() == list(range(len(MODEL)))
    node.shutdown()


# A fake ros2_control robot process, driven over DDS ----------------------------------------------
class FakeRos2ControlDriver:
    """Wraps the simulator node's model-order topics in ros2_control's names and orders."""

    def __init__(self, node: transport.Node) -> None:
        self.node = node
        self.robot_names = shuffled_robot_names()
        self.joint_states = node.create_publisher(sensor_msgs.JointState, "/joint_states", "reliable")
        self.model_commands = node.create_publisher(std_msgs.Float64MultiArray, "/fake_robot/model_commands", "latest")
        self.applied = node.create_publisher(std_msgs.Float64MultiArray, "/fake_robot/applied", "reliable")
        node.create_subscription(sensor_msgs.JointState, "/fake_robot/model_states", self.on_model_states,
                                 "sensor_data")
        node.create_subscription(std_msgs.Float64MultiArray, "/forward_position_controller/commands",
                                 self.on_controller_commands, "reliable")
        self.received = 0

    def on_model_states(self, msg) -> None:
        rows = zip(msg.name, msg.position, msg.velocity, msg.effort, strict=True)
        by_name = {ROBOT_INV[n]: (p, v, e) for n, p, v, e in rows}
        by_name[EXTRA] = (0.01, 0.0, 0.0)
        out = sensor_msgs.JointState(header=msg.header, name=self.robot_names,
                                     position=[by_name[n][0] for n in self.robot_names],
                                     velocity=[by_name[n][1] for n in self.robot_names],
                                     effort=[by_name[n][2] for n in self.robot_names])
        self.joint_states.publish(out)

    def on_controller_commands(self, msg) -> None:
        value = dict(zip(CONTROLLER, msg.data, strict=True))
        model = std_msgs.Float64MultiArray(data=[value[ROBOT_INV[n]] for n in MODEL])
        self.model_commands.publish(model)
        self.applied.publish(model)
        self.received += 1


ROBOT_INV = {model: robot for robot, model in ROBOT.items()}


def fake_robot_main(seconds: float) -> None:
    import logging

    from deepmimic_sim.nodes.simulator_node import SimulatorNode

    logging.basicConfig(level=logging.INFO)
    sim = SimulatorNode(transport.create_node("simulator", backend="dds", remappings={
        "states": "/fake_robot/model_states", "commands": "/fake_robot/model_commands", "odom": "/robot_odom"}))
    driver = FakeRos2ControlDriver(transport.create_node("fake_ros2_control", backend="dds"))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sim.node.spin_once(0.002)
        driver.node.spin_once(0.002)
    print(f"FAKE_ROBOT commands={driver.received} hold={sim.hold.state}", flush=True)
    sim.node.shutdown()
    driver.node.shutdown()
    sim.backend.close()


ROBOT_SECONDS = 40.0


def test_bridge_and_policy_drive_a_fake_ros2_control_robot(tiny_checkpoint, loopback_dds, stop_process, spin_beside):
    pytest.importorskip("cyclonedds", reason="cyclonedds is not installed; DDS not tested")
    from deepmimic_policy.nodes.policy_node import PolicyNode
    from deepmimic_sim.nodes.reference_motion_node import ReferenceMotionNode

    robot = subprocess.Popen([sys.executable, __file__, "--fake-robot", str(ROBOT_SECONDS)],
                             env={**loopback_dds, "OMP_NUM_THREADS": "1"},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    nodes = []
    try:
        bridge = Ros2ControlBridgeNode(transport.create_node(
            "ros2_control_bridge", backend="dds", parameters={"joint_map": JOINT_MAP, "controller_joints": CONTROLLER}))
        reference = ReferenceMotionNode(transport.create_node("reference_motion", backend="dds"))
        policy = PolicyNode(transport.create_node("policy", backend="dds",
                                                  parameters={"checkpoint": str(tiny_checkpoint)}))
        watcher = transport.create_node("watcher", backend="dds")
        nodes = [bridge.node, reference.node, policy.node, watcher]
        states, sent, applied = [], [], []
        watcher.create_subscription(sensor_msgs.JointState, "/states", states.append, "sensor_data")
        watcher.create_subscription(std_msgs.Float64MultiArray, "/commands", sent.append, "sensor_data")
        watcher.create_subscription(std_msgs.Float64MultiArray, "/fake_robot/applied", applied.append, "reliable")

        def spin_all(seconds: float, until=lambda: False) -> bool:
            return spin_beside(nodes, robot, seconds, until)

        # The robot process starts (imports, model); its joint states reach the policy through the bridge.
        assert spin_all(30.0, lambda: len(applied) > 0), f"no exchange: robot exit {robot.poll()}"
        n_states, n_applied = len(states), len(applied)
        spin_all(2.0)  # the bounded exchange
        assert len(states) - n_states >= 5 and len(applied) - n_applied >= 5, (
            len(states) - n_states, len(applied) - n_applied)
        assert list(states[-1].name) == MODEL
        assert states[-1].position != states[n_states].position        # the robot's state changes
        # What the robot applied (back in model order) is exactly what the policy sent (best effort:
        # the watcher may miss a few of the policy's commands).
        sent_data = {tuple(m.data) for m in sent}
        assert sum(tuple(m.data) in sent_data for m in applied) >= len(applied) // 2 > 0
        # No state is malformed; on a loaded machine an odometry sample may arrive too late to pair
        # with its joint states (max_odom_age), and that pair is dropped: allow a few.
        assert bridge.joint_states_sub.dropped <= max(2, bridge.commands_sent // 10)
        assert policy.subscriptions["states"].dropped == 0
        assert bridge.commands_sent > 0 and bridge.odom_sent > 0
    finally:
        for node in nodes:
            node.shutdown()
        output = stop_process(robot)
    assert "Traceback" not in output, output[-3000:]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--fake-robot":
        fake_robot_main(float(sys.argv[2]))
    else:
        sys.exit("usage: test_ros2_control_bridge.py --fake-robot SECONDS")
