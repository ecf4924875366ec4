"""Policy node: robot state + reference -> PD targets on ``commands``, once per control step.

Subscribes ``states`` (sensor_msgs/JointState) and ``odom`` (nav_msgs/Odometry) of the robot
(convention: ``deepmimic_sim.robot_state``) and ``reference`` (deepmimic_interfaces/ReferenceFrame).
When the states and odom of one stamp have both arrived (the robot's control rate drives the
node), it publishes ``commands`` (std_msgs/Float64MultiArray: PD targets in rad, in the hinge
order of ``states``). The reference's clip time is moved to the state's stamp. Malformed, NaN or
wrongly named messages are dropped (logged, counted). Services: ``compute_action`` (observations ->
actions, batched) and ``load_policy`` (swap checkpoints; a failing one leaves the old policy).

Parameters: ``checkpoint`` (required), ``device``, ``control_rate`` (Hz, as trained; 0, the
default: the checkpoint's own rate, e.g. 30 Hz humanoid3d, 50 Hz G1),
``follow_checkpoints`` (load each path the trainer node publishes on ``checkpoints``),
``clips`` (reference clips loaded at start-up; default the policy's training clips; another clip
named by the reference is loaded when it first appears),
``checkpoints`` (comma-separated ``clip=checkpoint`` pairs, e.g. ``"walk=policies/humanoid3d_walk.pt,
run=runs/run/model_500.pt"``: the single-clip policy for each clip, all loaded at start-up; one that
does not fit the main checkpoint's character, actions, observation size or control step stops the
node at start-up with one line).

``switch_blend`` (s, default 0): after a clip switch the policy's reference is the old clip, going
on, cross-faded into the new one over that time (``deepmimic_sim.reference.ClipBlend``), for a
policy trained so (``env.transitions.blend_s``, config/humanoid3d_transitions.yaml).

Clip switches (the reference node's ``select_clip``) are followed from the reference frames'
``clip_name``: the policy of the clip now playing acts (``PolicyController.policy_for``: the
``checkpoints`` entry, else ``checkpoint`` when trained on that clip; a clip-conditioned student
gets the one-hot of the new clip), and its reference bodies are placed where the reference node
anchored the new clip (``ReferenceClip.anchor_of`` the frame's root pose). A clip that no loaded
policy acts for is logged once and the node holds a pose (``deepmimic_sim.command_hold.CommandHold``,
then the safety layer): from the last safe targets (the measured pose if it never acted) it ramps
over ``ramp_time`` s (default 1) to ``hold_pose``: ``rest`` (default: the model's standing pose, as
the simulator's and the bridge's command timeouts) or ``last`` (those targets themselves), and
keeps publishing it every control step until the reference plays a clip with a policy.
Start it before the simulator (or call ``reset`` once it is up): then it answers the initial state
before the first physics step and the graph steps exactly the trajectory ``ImitationEnv`` would.

Safety layer (``deepmimic_sim.command_safety``, the one the simulator node and the bridge use):
every target is clamped to the joint limits (widened by ``limit_slack`` rad, default 0.3 as the
simulator's; 0: the limits themselves), its rate of change to ``max_target_rate`` rad/s and its
distance from the measured position to ``torque_margin`` x torque limit / kp; the counts are
logged at most once a second. Stale states: when no state has arrived for ``state_timeout`` s
(default 0.1), the node publishes the last safe targets again every control period (the robot
holds its pose instead of a downstream timeout ramping it), logged once; a fresh state ends the hold.
"""

from __future__ import annotations

import numpy as np
from deepmimic_sim.backends.mujoco_model import rest_qpos
from deepmimic_sim.command_hold import CommandHold
from deepmimic_sim.command_safety import LIMIT_SLACK, MAX_RATE, TORQUE_MARGIN, CommandSafety, SafetyLimits
from deepmimic_sim.reference import ClipBlend
from deepmimic_sim.robot_state import RootArrays, state_from_arrays
from deepmimic_transport.messages import deepmimic_interfaces, nav_msgs, sensor_msgs, std_msgs
from deepmimic_transport.node_main import pose_arrays, run_node
from deepmimic_transport.parameters import comma_mapping
from deepmimic_transport.validation import (
    InvalidMessageError,
    check_finite,
    check_length,
    validate_batch,
    validate_joint_state,
    validate_reference_frame,
)

import deepmimic_transport as transport

from ..checkpoint import CheckpointError
from ..controller import PolicyController, reference_time, trained_clips


class PolicyNode:
    """Wires a PolicyController to the robot's topics and the policy services."""

    def __init__(self, node: transport.Node) -> None:
        self.node = node
        checkpoint = node.declare_parameter("checkpoint", "")
        device = node.declare_parameter("device", "cpu")
        rate = float(node.declare_parameter("control_rate", 0.0))
        if not checkpoint:
            raise ValueError("parameter 'checkpoint' is required (a model_<it>.pt file)")
        checkpoints = comma_mapping(node.declare_parameter("checkpoints", ""), "checkpoints")
        self.controller = PolicyController(checkpoint, device, 1.0 / rate if rate > 0 else None, checkpoints)
        # Load the reference clips now, not in the first callback (a first answer seconds late).
        # Every clip a loaded policy acts for is loaded too: a clip switch reads no file in the control loop.
        for clip in dict.fromkeys([*node.declare_parameter("clips", trained_clips(self.controller.policy)),
                                   *self.controller.served_clips()]):
            self.controller.clip(clip)
        self.acting_clip: str | None = None  # the clip of the latest action (a switch is logged once)
        self.unserved_steps = 0  # control steps held because no policy acts for the reference's clip
        self.acted_with = None  # the checkpoint of the latest command (None: held, or none yet)
        self.names = self.controller.hinge_names
        self.states = self.odom = self.reference = None
        self.anchor = None  # where the reference's clip plays (ClipAnchor; None: its own coordinates)
        self.switch_blend = float(node.declare_parameter("switch_blend", 0.0))
        if self.switch_blend < 0:
            raise ValueError(f"switch_blend must be >= 0 s, got {self.switch_blend}")
        self.blend: ClipBlend | None = None  # the reference across the latest clip switch, while it lasts
        self.acted_stamp = None
        self.commands_sent = self.held_steps = 0
        self.safety = CommandSafety(SafetyLimits.from_model(
            self.controller.kinematics.model, self.names, float(node.declare_parameter("max_target_rate", MAX_RATE)),
            float(node.declare_parameter("torque_margin", TORQUE_MARGIN)),
            float(node.declare_parameter("limit_slack", LIMIT_SLACK))), min_dt=self.controller.control_dt)
        self.state_timeout = float(node.declare_parameter("state_timeout", 0.1))
        if self.state_timeout <= 0:
            raise ValueError(f"state_timeout must be > 0 s, got {self.state_timeout}")
        self.state_time: float | None = None  # when the newest state arrived (this node's clock)
        hold_pose = node.declare_parameter("hold_pose", "rest")
        if hold_pose not in ("rest", "last"):
            raise ValueError(f"hold_pose must be 'rest' or 'last', got {hold_pose!r}")
        self.hold_pose = rest_qpos(self.controller.kinematics.model)[7:] if hold_pose == "rest" else None
        self.ramp_time = float(node.declare_parameter("ramp_time", 1.0))
        if self.ramp_time < 0:
            raise ValueError(f"ramp_time must be >= 0 s, got {self.ramp_time}")
        self.clip_hold: CommandHold | None = None  # while no policy acts for the reference's clip
        self.holding = False
        self.commands_pub = node.create_publisher(std_msgs.Float64MultiArray, "commands", "latest")
        self.subscriptions = {
            "states": node.create_subscription(sensor_msgs.JointState, "states", self.on_states, "sensor_data"),
            "odom": node.create_subscription(nav_msgs.Odometry, "odom", self.on_odom, "sensor_data"),
            "reference": node.create_subscription(deepmimic_interfaces.ReferenceFrame, "reference",
                                                  self.on_reference, "reliable"),
        }
        node.create_service(deepmimic_interfaces.ComputeAction, "compute_action", self.on_compute_action)
        node.create_service(deepmimic_interfaces.LoadPolicy, "load_policy", self.on_load_policy)
        if node.declare_parameter("follow_checkpoints", False):
            self.subscriptions["checkpoints"] = node.create_subscription(std_msgs.String, "checkpoints",
                                                                         self.on_checkpoint, "latched")
        self.watchdog = node.create_timer(self.controller.control_dt, self.on_watchdog)
        node.get_logger().info(f"policy {checkpoint} (iteration {self.controller.policy.iteration}) at "
                               f"{1 / self.controller.control_dt:g} Hz; policies for clips: "
                               f"{', '.join(self.controller.served_clips())}")

    def on_reference(self, msg) -> None:
        """Keep the latest reference frame and where its clip plays (its anchor, from the root pose);
        at a clip switch, start the blend from the old clip (``switch_blend``)."""
        validate_reference_frame(msg, expected_names=self.names)
        previous, old_anchor = self.reference, self.anchor
        self.anchor = None
        if self.controller.policy_for(msg.clip_name) is not None:
            position, orientation = pose_arrays(msg.root_pose)
            self.anchor = self.controller.clip(msg.clip_name).anchor_of(msg.clip_time, np.array(position),
                                                                        np.array(orientation))
        if previous is not None and previous.clip_name != msg.clip_name:
            self.blend = self._switch_blend(previous, old_anchor, msg)
        self.reference = msg

    def _switch_blend(self, previous, old_anchor, msg) -> ClipBlend | None:
        """The blend from ``previous``'s clip into ``msg``'s (None: blending off, or a clip without policy)."""
        acting = [self.controller.policy_for(clip) for clip in (previous.clip_name, msg.clip_name)]
        if self.switch_blend <= 0 or None in acting:
            return None
        # The new clip's time counts from the switch; the old clip had moved on until then.
        switch_stamp = msg.header.stamp.to_seconds() - msg.clip_time
        old_time = reference_time(previous.clip_time, previous.header.stamp.to_seconds(), switch_stamp)
        return ClipBlend(self.controller.clip(previous.clip_name), old_anchor, old_time,
                         self.controller.clip(msg.clip_name), self.anchor, self.switch_blend)

    def on_states(self, msg) -> None:
        """Keep the joint states; act when the odometry of the same stamp is there."""
        validate_joint_state(msg, expected_names=self.names)
        check_length("velocity", msg.velocity, len(self.names))
        self.states, self.state_time = msg, self.node.now()
        if self.holding:
            self.holding = False
            self.node.get_logger().info("states are back: acting on them")
        self.act()

    def on_odom(self, msg) -> None:
        """Keep the root odometry; act when the joint states of the same stamp are there."""
        pose, twist = msg.pose.pose, msg.twist.twist
        position, orientation = pose_arrays(pose)
        check_finite("odom", [*position, *orientation, twist.linear.x, twist.linear.y, twist.linear.z,
                              twist.angular.x, twist.angular.y, twist.angular.z])
        self.odom = msg
        self.act()

    def act(self) -> None:
        """Publish the targets for the newest complete (states, odom) pair, once per stamp."""
        if self.states is None or self.odom is None or self.reference is None:
            return
        stamp = self.states.header.stamp.to_seconds()
        if stamp != self.odom.header.stamp.to_seconds() or stamp == self.acted_stamp:
            return
        self.acted_stamp = stamp
        twist = self.odom.twist.twist
        position, orientation = pose_arrays(self.odom.pose.pose)
        root = RootArrays(np.array(position), np.array(orientation),
                          np.array([twist.linear.x, twist.linear.y, twist.linear.z]),
                          np.array([twist.angular.x, twist.angular.y, twist.angular.z]))
        qpos, qvel = state_from_arrays(root, np.asarray(self.states.position), np.asarray(self.states.velocity))
        ref = self.reference
        now = self.node.now()
        policy = self.follow(ref.clip_name)
        if policy is None:
            self.publish(self.safety(self.hold_targets(qpos[7:], now), qpos[7:], now))
            self.unserved_steps += 1
            self.acted_with = None
            return
        self.clip_hold = None
        ref_time = reference_time(ref.clip_time, ref.header.stamp.to_seconds(), stamp)
        if self.blend is not None and self.blend.over(ref_time):
            self.blend = None
        targets = self.controller.targets(qpos, qvel, ref.clip_name, ref_time, self.anchor, self.blend)
        self.acted_with = policy.path
        self.publish(self.safety(targets, qpos[7:], now))
        line = self.safety.warning(now)
        if line:
            self.node.get_logger().warning(line)

    def hold_targets(self, positions: np.ndarray, now: float) -> np.ndarray:
        """Targets while no policy acts: a ramp from the last safe targets (else ``positions``) to the hold pose."""
        if self.clip_hold is None:
            start = self.safety.previous if self.safety.previous is not None else positions
            pose = start if self.hold_pose is None else self.hold_pose
            self.clip_hold = CommandHold(start, now, ramp_s=self.ramp_time, hold_pose=pose)
            self.clip_hold.time_out(now, positions)
        return self.clip_hold.targets(now, positions)

    def follow(self, clip_name: str):
        """The policy for the reference's clip (None: none, hold); a change of clip is logged once."""
        policy = self.controller.policy_for(clip_name)
        if clip_name != self.acting_clip:
            self.acting_clip = clip_name
            if policy is None:
                self.node.get_logger().warning(f"no policy for clip '{clip_name}' (policies for: "
                                               f"{', '.join(self.controller.served_clips())}): holding the pose")
            else:
                self.node.get_logger().info(f"clip '{clip_name}': acting with {policy.path}")
        return policy

    def publish(self, targets: np.ndarray) -> None:
        """Publish PD targets on ``commands``."""
        msg = std_msgs.Float64MultiArray(data=targets.tolist())
        msg.layout.dim = [std_msgs.MultiArrayDimension(label="joints", size=len(targets), stride=len(targets))]
        self.commands_pub.publish(msg)
        self.commands_sent += 1

    def on_watchdog(self) -> None:
        """Stale states (none for ``state_timeout`` s): hold the pose, i.e. send the last safe targets again."""
        if self.state_time is None or self.safety.previous is None:
            return
        now = self.node.now()
        if now - self.state_time <= self.state_timeout:
            return
        if not self.holding:
            self.holding = True
            self.node.get_logger().warning(f"no state for {now - self.state_time:.2f} s: holding the last targets")
        self.publish(self.safety.previous)
        self.held_steps += 1

    def on_compute_action(self, request, response):
        """Actions for a batch of observations (InvalidMessageError: a failure response)."""
        if request.observation_dim != self.controller.policy.obs_dim:
            raise InvalidMessageError(f"observation_dim: {request.observation_dim}, the policy expects "
                                      f"{self.controller.policy.obs_dim}")
        obs = validate_batch("observations", request.observations, request.num_envs, request.observation_dim)
        actions = self.controller.act_batch(obs)
        response.success, response.action_dim = True, actions.shape[1]
        response.actions = actions.reshape(-1).tolist()
        return response

    def load(self, path: str) -> tuple[bool, str]:
        """Swap the checkpoint; on failure keep the old one. Returns (success, what happened)."""
        try:
            policy = self.controller.load(path)
        except (CheckpointError, OSError, ValueError) as error:
            self.node.get_logger().error(f"load_policy: kept the current policy: {error}")
            return False, str(error)
        message = f"loaded {path} (iteration {policy.iteration})"
        self.node.get_logger().info(message)
        return True, message

    def on_load_policy(self, request, response):
        """Swap the checkpoint; on failure keep the old one and say why."""
        response.success, response.message = self.load(request.path)
        return response

    def on_checkpoint(self, msg) -> None:
        """A new checkpoint from the trainer node."""
        self.load(msg.data)


def main(args: list[str] | None = None) -> None:
    """Run the node: ``policy_node [--transport dds|inprocess|rclpy] [--params deploy.yaml] [--seconds S]``."""
    run_node("policy", PolicyNode, args)


if __name__ == "__main__":
    main()
