"""Simulator node. Parameter ``mode``: ``deploy`` (below) or ``train`` (``train_simulator``).

Deploy mode: one real-time MuJoCo character driven like a robot.

Topics: publishes ``states`` (sensor_msgs/JointState: hinge names, positions, velocities, efforts
= actuator torques) and ``odom`` (nav_msgs/Odometry: root pose in ``frame_id``, twist in the root
frame ``child_frame_id``), both with the same stamp, every control step (convention:
``deepmimic_sim.robot_state``); subscribes ``commands`` (std_msgs/Float64MultiArray, PD targets in
rad, one per hinge in the order of the ``joint_names`` parameter = the model's hinge order, as
ros2_control's forward_command_controller). Wrong-sized or non-finite commands are dropped
(logged, counted). Every target passes the safety layer (``deepmimic_sim.command_safety``:
rate, torque and joint limits; absurd commands refused whole) before it reaches the physics;
parameters ``max_target_rate`` (rad/s) and ``torque_margin``. Service ``reset``
(deepmimic_interfaces/Reset; env 0 only). ``substeps`` 0 (default): the character's control
rate (humanoid3d 30 Hz, G1 50 Hz; ``backends.mujoco_model.control_substeps``).

With ``wait_for_command`` (default) the physics stands still after start-up and after ``reset``
until the first command arrives; the node keeps publishing that state every control period, so a
policy started later answers it and the first physics step already follows the policy (no race
between processes starting). With ``initial_state: reference`` the waiting character is also
kept in the pose of the latest ``reference`` frame (clip time carried to now), so the rollout
starts in step with the reference node, whenever each process came up; the frame's clip is used
when it is ``motion`` or one of ``clips`` (comma-separated, loaded at start-up: the clips the
reference node may switch to), else ``motion`` (logged once). After
``command_timeout`` s without a command the targets ramp over ``ramp_time`` s to the hold pose
(``hold_pose``: ``rest``, the model's standing pose, default; or ``timeout``, the pose measured
then) and hold it, logged (``deepmimic_sim.command_hold``).
"""

from __future__ import annotations

import numpy as np
import torch
from deepmimic_transport.messages import builtin_interfaces, deepmimic_interfaces, nav_msgs, sensor_msgs, std_msgs
from deepmimic_transport.node_main import pose_arrays, pose_msg, run_node
from deepmimic_transport.parameters import comma_list
from deepmimic_transport.validation import (
    InvalidMessageError,
    validate_reference_frame,
)

import deepmimic_transport as transport
from deepmimic_mocap import load_character

from ..backends import make_backend
from ..backends.mujoco_model import control_substeps, rest_qpos
from ..command_hold import CommandHold
from ..command_safety import COMMANDS_QOS, MAX_RATE, TORQUE_MARGIN, CommandSafety, SafetyLimits
from ..reference import ReferenceClip
from ..robot_state import root_arrays
from .train_simulator import TrainSimulatorNode


class SimulatorNode:
    """Steps the simulation at the control rate with the held PD targets and publishes its state."""

    def __init__(self, node: transport.Node) -> None:
        self.node = node
        character = node.declare_parameter("character", "humanoid3d")
        self.initial_state = node.declare_parameter("initial_state", "reference")  # or "rest"
        motion = node.declare_parameter("motion", "walk")
        substeps = int(node.declare_parameter("substeps", 0)) or control_substeps(load_character(character))
        timeout = float(node.declare_parameter("command_timeout", 0.5))
        ramp = float(node.declare_parameter("ramp_time", 1.0))
        self.frame_id = node.declare_parameter("frame_id", "world")
        self.wait_for_command = bool(node.declare_parameter("wait_for_command", True))
        backend = node.declare_parameter("backend", "mujoco")
        self.backend = make_backend(backend, character=character, num_envs=1, substeps=substeps)
        self.hinge_names = list(self.backend.hinge_names)
        self.joint_names = list(node.declare_parameter("joint_names", self.hinge_names))
        if self.joint_names != self.hinge_names:
            raise ValueError(f"joint_names must be the model's hinges in order: {self.hinge_names}")
        self.child_frame_id = node.declare_parameter("child_frame_id", self.backend.body_names[0])
        if self.initial_state not in ("reference", "rest"):
            raise ValueError(f"initial_state must be 'reference' or 'rest', got {self.initial_state!r}")
        self.clip = ReferenceClip(motion, character) if self.initial_state == "reference" else None
        others = comma_list(node.declare_parameter("clips", ""), "clips")
        self.clips = {motion: self.clip, **{name: ReferenceClip(name, character) for name in others
                                            if name != motion and self.clip is not None}}
        self._unknown_clips: set[str] = set()
        hold_pose = node.declare_parameter("hold_pose", "rest")
        if hold_pose not in ("rest", "timeout"):
            raise ValueError(f"hold_pose must be 'rest' or 'timeout', got {hold_pose!r}")
        self.rest = rest_qpos(self.backend.model)  # standing pose (the G1's `home` keyframe)
        rest = self.rest[7:]
        self.hold = CommandHold(np.zeros(len(self.hinge_names)), node.now(), timeout, ramp,
                                rest if hold_pose == "rest" else None)
        self.safety = CommandSafety(SafetyLimits.from_model(
            self.backend.model, self.hinge_names, float(node.declare_parameter("max_target_rate", MAX_RATE)),
            float(node.declare_parameter("torque_margin", TORQUE_MARGIN))), min_dt=self.backend.control_dt)
        self._hold_state = self.hold.state
        self.states_pub = node.create_publisher(sensor_msgs.JointState, "states", "sensor_data")
        self.odom_pub = node.create_publisher(nav_msgs.Odometry, "odom", "sensor_data")
        self.commands_sub = node.create_subscription(std_msgs.Float64MultiArray, "commands", self.on_command,
                                                     COMMANDS_QOS)
        self.reference_frame = None
        if self.clip is not None:
            self.reference_sub = node.create_subscription(deepmimic_interfaces.ReferenceFrame, "reference",
                                                          self.on_reference, "reliable")
        node.create_service(deepmimic_interfaces.Reset, "reset", self.on_reset)
        self.steps = 0
        self.waiting = False
        self.last_targets = None
        self.reset_state()
        self.timer = node.create_timer(self.backend.control_dt, self.on_step)
        node.get_logger().info(f"simulating {character} at {1 / self.backend.control_dt:g} Hz, "
                               f"{len(self.hinge_names)} hinges, start: {self.initial_state}")

    def reset_state(self) -> None:
        """Put the character in its initial state, hold that pose, publish it.

        With ``initial_state: reference`` that is the reference's current frame once one has arrived
        (the clip's first frame before), so that a reset, like the start, begins the rollout in step
        with the reference node: the policy's first answer is for this very state and clip time.
        """
        if self.clip is not None:
            qpos, qvel = self._reference_state(self.node.now())
        else:
            qpos, qvel = self.rest[None].copy(), np.zeros((1, self.backend.model.nv))
        self.backend.reset(torch.zeros(1, dtype=torch.long), torch.from_numpy(qpos), torch.from_numpy(qvel))
        self.hold.reset(qpos[0, 7:], self.node.now())
        self.safety.reset(qpos[0, 7:], self.node.now())
        self.waiting = self.wait_for_command
        self.publish_state(self.node.now())

    def _reference_state(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """``qpos``/``qvel`` of the reference at ``now``, where the reference node plays its clip (anchored)."""
        clip, time = self._reference_clip(), self._reference_time(now)
        qpos, qvel = clip.state(time)
        frame = self.reference_frame
        if frame is not None and self.clips.get(frame.clip_name) is clip:
            position, orientation = pose_arrays(frame.root_pose)
            anchor = clip.anchor_of(frame.clip_time, np.array(position), np.array(orientation))
            if anchor is not None:
                qpos, qvel = anchor.state(qpos, qvel)
        return qpos, qvel

    def _reference_time(self, now: float) -> float:
        """The reference node's clip time at ``now`` (0 before its first frame)."""
        frame = self.reference_frame
        return 0.0 if frame is None else frame.clip_time + now - frame.header.stamp.to_seconds()

    def _reference_clip(self) -> ReferenceClip:
        """The clip of the latest reference frame (``motion`` before one, or for a clip not loaded here)."""
        name = None if self.reference_frame is None else self.reference_frame.clip_name
        if name is None or name in self.clips:
            return self.clips[name] if name is not None else self.clip
        if name not in self._unknown_clips:
            self._unknown_clips.add(name)
            self.node.get_logger().warning(f"reference clip '{name}' is not loaded here (clips: "
                                           f"{', '.join(self.clips)}): reset poses come from '{self.clip.name}'")
        return self.clip

    def on_reference(self, msg: deepmimic_interfaces.ReferenceFrame) -> None:
        """Keep the latest reference frame (used while waiting for the first command)."""
        validate_reference_frame(msg)
        self.reference_frame = msg

    def on_command(self, msg: std_msgs.Float64MultiArray) -> None:
        """Validate and hold a new command (InvalidMessageError: dropped by the transport)."""
        data = self.safety.command_targets(msg, len(self.joint_names))
        self.hold.command(data, self.node.now())
        if self.waiting:
            self.waiting = False
            self.node.get_logger().info("first command: stepping")

    def on_step(self) -> None:
        """One control step with the held (or ramped) targets, then publish."""
        now = self.node.now()
        if self.waiting:  # standing still until commanded; the state is published again for the policy
            if self.reference_frame is not None:  # ... in the reference's current pose
                qpos, qvel = self._reference_state(now)
                self.backend.reset(torch.zeros(1, dtype=torch.long), torch.from_numpy(qpos), torch.from_numpy(qvel))
            self.hold.reset(self.backend.qpos[0, 7:].double().cpu().numpy(), now)
            self.safety.reset(self.backend.qpos[0, 7:].double().cpu().numpy(), now)
            self.publish_state(now)
            return
        positions = self.backend.qpos[0, 7:].double().cpu().numpy()
        targets = self.safety(self.hold.targets(now, positions), positions, now)
        self._report(now)
        self.last_targets = targets
        self.backend.step(torch.from_numpy(targets)[None])
        self.steps += 1
        self.publish_state(now)

    def _report(self, now: float) -> None:
        """Log the safety layer's counts (throttled) and changes of the command stream's state."""
        line = self.safety.warning(now)
        if line:
            self.node.get_logger().warning(line)
        if self.hold.state != self._hold_state:
            self._hold_state = self.hold.state
            if self.hold.state == "timed_out":
                self.node.get_logger().warning(f"no command for {self.hold.timeout_s:g} s: ramping to the hold pose "
                                               f"over {self.hold.ramp_s:g} s")
            else:
                self.node.get_logger().info("commands are back: following them")

    def publish_state(self, now: float) -> None:
        """``states`` and ``odom`` of the current state, stamped ``now``."""
        qpos, qvel = (self.backend.qpos[0].double().cpu().numpy(), self.backend.qvel[0].double().cpu().numpy())
        stamp = builtin_interfaces.Time.from_seconds(now)
        states = sensor_msgs.JointState(name=self.joint_names, position=qpos[7:].tolist(),
                                        velocity=qvel[6:].tolist(),
                                        effort=self.backend.actuator_force[0].double().cpu().numpy().tolist())
        states.header.stamp, states.header.frame_id = stamp, self.frame_id
        root = root_arrays(qpos, qvel)
        odom = nav_msgs.Odometry(child_frame_id=self.child_frame_id)
        odom.header.stamp, odom.header.frame_id = stamp, self.frame_id
        odom.pose.pose = pose_msg(root.position, root.orientation)
        lin, ang = odom.twist.twist.linear, odom.twist.twist.angular
        lin.x, lin.y, lin.z = (float(v) for v in root.linear_velocity)
        ang.x, ang.y, ang.z = (float(v) for v in root.angular_velocity)
        self.states_pub.publish(states)
        self.odom_pub.publish(odom)

    def on_reset(self, request, response):
        """Reset the (single) environment to its initial state."""
        if any(int(i) != 0 for i in request.env_ids):
            raise InvalidMessageError(f"env_ids: this simulator has environment 0 only, got {list(request.env_ids)}")
        self.reset_state()
        response.success, response.message = True, f"reset to the {self.initial_state} state"
        return response


def make_simulator(node: transport.Node) -> SimulatorNode | TrainSimulatorNode:
    """The deploy-mode or train-mode simulator, by the ``mode`` parameter."""
    mode = node.declare_parameter("mode", "deploy")
    if mode not in ("deploy", "train"):
        raise ValueError(f"mode must be 'deploy' or 'train', got {mode!r}")
    return TrainSimulatorNode(node) if mode == "train" else SimulatorNode(node)


def main(args: list[str] | None = None) -> None:
    """Run the node: ``simulator_node [--transport dds|inprocess|rclpy] [--params deploy.yaml] [--seconds S]``."""
    run_node("simulator", make_simulator, args)


if __name__ == "__main__":
    main()
