"""ros2_control bridge node: a robot driven by ros2_control speaks our ``states``/``odom``/``commands``.

What a ros2_control robot offers and what the policy node expects differ only in names and orders:

- ``joint_states`` (sensor_msgs/JointState, joint_state_broadcaster): the robot's joint names in any
  order, maybe with joints the model does not have. The bridge republishes ``states`` with the
  model's hinge names in model order (positions, velocities, efforts reordered; header kept).
  A message that lacks a model joint (or names one twice) is dropped: logged as an error, counted in
  ``joint_states_sub.dropped``; the node keeps running.
- ``commands`` (std_msgs/Float64MultiArray, PD position targets in model order, from the policy
  node) -> ``<controller>/commands`` (std_msgs/Float64MultiArray, forward_command_controller, e.g.
  ``forward_position_controller``), in the order of the ``controller_joints`` parameter.
- ``robot_odom`` (nav_msgs/Odometry from the robot's state estimator) -> ``odom``: pose and twist
  passed through unchanged. A real robot needs a state estimator for the floating base (the
  bridge estimates nothing). With ``restamp_odom`` (default) each odometry is restamped with the
  joint-state stamp it is paired with (``joint_order.OdomPairing``), because the policy acts on
  ``states``/``odom`` pairs with equal stamps; without it odometry is passed through as received
  (for an estimator that already stamps with the joint states' stamp).

Parameters: ``character`` (humanoid3d), ``joint_names`` (model hinge order; default the
character's), ``controller`` (forward_position_controller), ``controller_joints`` (robot joint
names in the controller's order; default the model order, in robot names), ``joint_map``
(``["robot_joint:model_joint", ...]``; robot names not listed are taken as model names),
``restamp_odom`` (true), ``max_odom_age`` (s, 0.1), ``control_rate`` (Hz of the hold timer; 0:
the character's).

Every command passes the safety layer (``deepmimic_sim.command_safety``; parameters
``max_target_rate``, ``torque_margin``, ``limit_slack``: rad beyond the joint limits allowed, 0.3):
absurd ones are dropped, the others clamped to the joint limits, rate and torque (against joint
states at most ``max_state_age`` s old), counted and reported at most once a second. After
``command_timeout`` s without a command the bridge itself ramps the controller's targets over
``ramp_time`` s to the hold pose (``hold_pose``: ``rest``, the model's standing pose, default;
``timeout``: the measured pose) and holds it (``command_hold``), logged, instead of leaving the
controller on the last command.

The name logic is ``deepmimic_sim.joint_order``; this node only wires it to topics.
"""

from __future__ import annotations

import numpy as np
from deepmimic_transport.messages import nav_msgs, sensor_msgs, std_msgs
from deepmimic_transport.node_main import run_node
from deepmimic_transport.validation import (
    InvalidMessageError,
    validate_joint_state,
)

import deepmimic_transport as transport
from deepmimic_mocap import load_character

from ..backends.mujoco_model import load_model, rest_qpos
from ..command_hold import CommandHold
from ..command_safety import COMMANDS_QOS, LIMIT_SLACK, MAX_RATE, TORQUE_MARGIN, CommandSafety, SafetyLimits
from ..joint_order import JointOrderError, JointReorder, OdomPairing, command_indices, parse_joint_map, reorder
from ..model.controller import load_controller


class Ros2ControlBridgeNode:
    """Renames and reorders between ros2_control's topics and the model-ordered graph topics."""

    def __init__(self, node: transport.Node) -> None:
        self.node = node
        character = node.declare_parameter("character", "humanoid3d")
        model, model_names = load_model(load_character(character), None)
        self.joint_names = list(node.declare_parameter("joint_names", model_names))
        if self.joint_names != model_names:
            raise ValueError(f"joint_names must be the model's hinges in order: {model_names}")
        self.controller = node.declare_parameter("controller", "forward_position_controller")
        self.joint_map = parse_joint_map(node.declare_parameter("joint_map", []))
        robot_name = {model: robot for robot, model in self.joint_map.items()}
        default_controller = [robot_name.get(name, name) for name in self.joint_names]
        self.controller_joints = list(node.declare_parameter("controller_joints", default_controller))
        self.command_index = command_indices(self.joint_names, self.controller_joints, self.joint_map)
        self.restamp_odom = bool(node.declare_parameter("restamp_odom", True))
        self.pairing = OdomPairing(float(node.declare_parameter("max_odom_age", 0.1)))
        self.reorder_states = JointReorder(self.joint_names, self.joint_map, "joint_states")
        self._last_error = ""
        self.states_sent = self.commands_sent = self.odom_sent = 0
        rate = float(node.declare_parameter("control_rate", 0.0))
        rate = rate or load_controller(load_character(character)).control_hz
        self.safety = CommandSafety(SafetyLimits.from_model(
            model, model_names, max_rate=float(node.declare_parameter("max_target_rate", MAX_RATE)),
            torque_margin=float(node.declare_parameter("torque_margin", TORQUE_MARGIN)),
            limit_slack=float(node.declare_parameter("limit_slack", LIMIT_SLACK))), min_dt=1.0 / rate)
        self.hold: CommandHold | None = None  # created by the first command
        hold_pose = node.declare_parameter("hold_pose", "rest")
        if hold_pose not in ("rest", "timeout"):
            raise ValueError(f"hold_pose must be 'rest' or 'timeout', got {hold_pose!r}")
        self.hold_pose = rest_qpos(model)[7:] if hold_pose == "rest" else None  # standing (the G1's `home`)
        self.command_timeout = float(node.declare_parameter("command_timeout", 0.5))
        self.ramp_time = float(node.declare_parameter("ramp_time", 1.0))
        self.max_state_age = float(node.declare_parameter("max_state_age", 0.1))
        self.positions: np.ndarray | None = None
        self._positions_time = -np.inf

        self.states_pub = node.create_publisher(sensor_msgs.JointState, "states", "sensor_data")
        self.odom_pub = node.create_publisher(nav_msgs.Odometry, "odom", "sensor_data")
        # forward_command_controller subscribes with the system default QoS (reliable): match it.
        self.controller_pub = node.create_publisher(std_msgs.Float64MultiArray, f"{self.controller}/commands",
                                                    "reliable")
        self.joint_states_sub = node.create_subscription(sensor_msgs.JointState, "joint_states",
                                                         self.on_joint_states, "sensor_data")
        self.robot_odom_sub = node.create_subscription(nav_msgs.Odometry, "robot_odom", self.on_robot_odom,
                                                       "sensor_data")
        self.commands_sub = node.create_subscription(std_msgs.Float64MultiArray, "commands", self.on_commands,
                                                     COMMANDS_QOS)
        # Stale commands: the controller would hold the last one for ever; ramp to the pose instead.
        self.hold_timer = node.create_timer(1.0 / rate, self.on_hold_timer)
        unsent = sorted(set(self.joint_names) - {self.joint_names[i] for i in self.command_index})
        if unsent:
            node.get_logger().warning(f"controller_joints leave {len(unsent)} model joint(s) uncommanded: {unsent}")
        node.get_logger().info(f"bridging {len(self.joint_names)} {character} hinges: joint_states -> states, "
                               f"commands -> {self.controller}/commands ({len(self.controller_joints)} joints)")

    def _drop(self, error: Exception) -> None:
        """Log an error (once per distinct reason) and drop the message through the transport."""
        reason = str(error)
        if reason != self._last_error:
            self.node.get_logger().error(f"dropping a message: {reason}")
            self._last_error = reason
        raise InvalidMessageError(reason) from error

    def on_joint_states(self, msg: sensor_msgs.JointState) -> None:
        """Republish the joint states in model order; then odometry paired with their stamp."""
        validate_joint_state(msg)
        try:
            position, velocity, effort = self.reorder_states(msg.name, msg.position, msg.velocity, msg.effort)
        except JointOrderError as error:
            self._drop(error)
        states = sensor_msgs.JointState(header=msg.header, name=list(self.joint_names), position=position,
                                        velocity=velocity, effort=effort)
        self.states_pub.publish(states)
        self.states_sent += 1
        self.positions, self._positions_time = np.asarray(position, dtype=np.float64), self.node.now()
        if self.restamp_odom:
            self._publish_pair(lambda: self.pairing.on_states(msg.header.stamp.to_seconds(), msg.header.stamp))

    def on_robot_odom(self, msg: nav_msgs.Odometry) -> None:
        """Pass the estimator's odometry on (restamped to the paired joint states when ``restamp_odom``)."""
        if not self.restamp_odom:
            self.odom_pub.publish(msg)
            self.odom_sent += 1
            return
        self._publish_pair(lambda: self.pairing.on_odom(msg, msg.header.stamp.to_seconds()))

    def _publish_pair(self, step) -> None:
        """Run a pairing step and publish the odometry it releases, stamped like its joint states."""
        try:
            paired = step()
        except JointOrderError as error:
            self._drop(error)
        if paired is None:
            return
        odom, stamp = paired
        out = nav_msgs.Odometry(child_frame_id=odom.child_frame_id, pose=odom.pose, twist=odom.twist)
        out.header.stamp, out.header.frame_id = stamp, odom.header.frame_id
        self.odom_pub.publish(out)
        self.odom_sent += 1

    def on_commands(self, msg: std_msgs.Float64MultiArray) -> None:
        """Model-order PD targets -> the controller's order on ``<controller>/commands``."""
        try:
            data = self.safety.command_targets(msg, len(self.joint_names))
        except InvalidMessageError:
            self._report()
            raise
        now = self.node.now()
        if self.hold is None:
            self.hold = CommandHold(data, now, self.command_timeout, self.ramp_time, self.hold_pose)
        elif self.hold.state == "timed_out":
            self.node.get_logger().info("commands are back: forwarding them")
        self.hold.command(data, now)
        self._send(data, now)

    def _fresh_positions(self, now: float) -> np.ndarray | None:
        """The newest joint positions (model order) when they are at most ``max_state_age`` s old."""
        return self.positions if now - self._positions_time <= self.max_state_age else None

    def _send(self, targets: np.ndarray, now: float) -> None:
        """Model-order targets through the safety layer to ``<controller>/commands``."""
        safe = self.safety(targets, self._fresh_positions(now), now)
        self._report()
        data = reorder(safe.tolist(), self.command_index)
        out = std_msgs.Float64MultiArray(data=data)
        out.layout.dim = [std_msgs.MultiArrayDimension(label="joints", size=len(data), stride=len(data))]
        self.controller_pub.publish(out)
        self.commands_sent += 1

    def _report(self) -> None:
        line = self.safety.warning(self.node.now())
        if line:
            self.node.get_logger().warning(line)

    def on_hold_timer(self) -> None:
        """After ``command_timeout`` s without a command, ramp the targets to the measured pose and hold it."""
        if self.hold is None:
            return
        now = self.node.now()
        was = self.hold.state
        positions = self._fresh_positions(now)
        if not self.hold.stale(now):
            return
        if positions is None:  # no fresh joint state: the newest one, else the last command
            positions = self.positions if self.positions is not None else self.hold.last_command
        targets = self.hold.targets(now, positions)
        if was == "commanded":
            self.node.get_logger().warning(f"no command for {self.hold.timeout_s:g} s: ramping to the hold "
                                           f"pose over {self.hold.ramp_s:g} s and holding it")
        self._send(targets, now)


def main(args: list[str] | None = None) -> None:
    """Run the node: ``ros2_control_bridge_node [--transport dds|inprocess|rclpy] [--params deploy.yaml]``."""
    run_node("ros2_control_bridge", Ros2ControlBridgeNode, args)


if __name__ == "__main__":
    main()
