"""Reference motion node: the current reference frame on ``reference``, the whole clip on ``get_motion``.

Parameters (``config/deploy.yaml``, section ``reference_motion``):
``motion`` (bundled name or path, any format; retargeted when needed: the clip played first),
``clips`` (comma-separated: further clips the node may switch to, e.g. ``"run,jump"``; all are
loaded at start-up), ``character``, ``bone_map`` ("" = default), ``control_rate`` (Hz; 0: the
character's, 30 humanoid3d, 50 G1), ``frame_id``, ``anchor_switches`` (default true, see below).

Clip time counts from the node's start (its first frame is for time 0). Each frame is stamped
with the node's clock at the time it is for, so a consumer can align it with other stamps, and
carries the playing clip's name (``clip_name``). The computation is
``deepmimic_sim.reference.ReferenceClip`` (MotionLib + JointMapping).

Switching clips at run time: a ``std_msgs/String`` on ``select_clip`` naming one of the loaded
clips (``ros2 topic pub --once /select_clip std_msgs/msg/String "{data: run}"``). The new clip
starts from its beginning (clip time 0), published at once: the start is the one place every
clip can begin (a clip that does not loop, a jump or a backflip, only makes sense from it), and
phases of different clips do not correspond (walk at 0.3 is not a backflip at 0.3). The first
clip plays in its own coordinates, as in training. A clip switched to is anchored
(``deepmimic_sim.reference.ClipAnchor``): turned about z and shifted so that its start lies on the
reference's root position and heading at the switch, where the character is, instead of at the
clip's own origin metres away; frames carry the anchored root pose, from which the policy and
simulator nodes recover the anchor. ``anchor_switches: false`` plays every clip in its own
coordinates (the reference then jumps at a switch). The clip already playing is not restarted
(``ros2 topic pub`` repeats its message every second by default). An unknown name is refused
with one logged line naming the loaded clips.
"""

from __future__ import annotations

from deepmimic_transport.messages import builtin_interfaces, deepmimic_interfaces, std_msgs
from deepmimic_transport.node_main import pose_msg, run_node
from deepmimic_transport.parameters import comma_list

import deepmimic_transport as transport
from deepmimic_sim.model.controller import load_controller
from deepmimic_sim.reference import ClipAnchor, ReferenceClip, ReferenceSample


class ReferenceMotionNode:
    """Publishes the reference at the control rate and serves the clip."""

    def __init__(self, node: transport.Node) -> None:
        self.node = node
        motion = str(node.declare_parameter("motion", "walk"))
        others = comma_list(node.declare_parameter("clips", ""), "clips")
        character = node.declare_parameter("character", "humanoid3d")
        bone_map = node.declare_parameter("bone_map", "")
        rate = float(node.declare_parameter("control_rate", 0.0))
        self.frame_id = node.declare_parameter("frame_id", "world")
        self.anchor_switches = bool(node.declare_parameter("anchor_switches", True))
        self.anchor: ClipAnchor | None = None  # where the playing clip lies in the world (None: its own coordinates)
        # Every clip is loaded now: a switch costs no file read in the publishing timer.
        self.clips = {name: ReferenceClip(name, character, bone_map=bone_map or None)
                      for name in dict.fromkeys([motion, *others])}
        self.clip_name, self.clip = motion, self.clips[motion]
        rate = rate or load_controller(self.clip.character).control_hz
        self.switches = self.refused = 0
        self.publisher = node.create_publisher(deepmimic_interfaces.ReferenceFrame, "reference", "reliable")
        node.create_service(deepmimic_interfaces.GetMotion, "get_motion", self.on_get_motion)
        self.select_sub = node.create_subscription(std_msgs.String, "select_clip", self.on_select_clip, "reliable")
        self.start = node.now()
        self.published = 0
        self.publish_frame()
        self.timer = node.create_timer(1.0 / rate, self.publish_frame)
        node.get_logger().info(f"reference '{self.clip.name}' ({self.clip.duration:.2f} s, "
                               f"loop={self.clip.loop}) at {rate:g} Hz; clips: {', '.join(self.clips)}")

    def select(self, name: str) -> tuple[bool, str]:
        """Play clip ``name`` from its start (the playing clip goes on). Returns (success, what happened)."""
        if name not in self.clips:
            self.refused += 1
            message = f"select_clip: unknown clip {name!r}; loaded clips: {', '.join(self.clips)}"
            self.node.get_logger().warning(message)
            return False, message
        if name == self.clip_name:
            return True, f"already playing '{name}'"
        now = self.node.now()
        message = (f"select_clip: now playing '{name}' from its start "
                   f"(was '{self.clip_name}' at {now - self.start:.2f} s)")
        if self.anchor_switches:
            here = self.clip.sample(now - self.start, self.anchor)
            start = self.clips[name].sample(0.0)
            self.anchor = ClipAnchor.joining(start.root_pos, start.root_quat, here.root_pos, here.root_quat)
        self.clip_name, self.clip, self.start = name, self.clips[name], now
        self.switches += 1
        self.node.get_logger().info(message)
        self.publish_frame()
        return True, message

    def on_select_clip(self, msg) -> None:
        """A clip name on ``select_clip``."""
        self.select(msg.data.strip())

    def frame_msg(self, sample: ReferenceSample, stamp: float) -> deepmimic_interfaces.ReferenceFrame:
        """The ReferenceFrame of one sample."""
        msg = deepmimic_interfaces.ReferenceFrame(
            clip_name=self.clip_name, phase=sample.phase, clip_time=sample.clip_time,
            root_pose=pose_msg(sample.root_pos, sample.root_quat), joint_names=self.clip.hinge_names,
            joint_positions=sample.hinge_positions.tolist(), joint_velocities=sample.hinge_velocities.tolist())
        msg.header.stamp = builtin_interfaces.Time.from_seconds(stamp)
        msg.header.frame_id = self.frame_id
        return msg

    def publish_frame(self) -> None:
        """Publish the reference for now."""
        now = self.node.now()
        self.publisher.publish(self.frame_msg(self.clip.sample(now - self.start, self.anchor), now))
        self.published += 1

    def on_get_motion(self, request, response):
        """A loaded clip ("": the one playing), sampled at the requested rate (0: the clip's own), in its
        own coordinates (not anchored)."""
        clip = self.clip if request.clip_name in ("", self.clip.name) else self.clips.get(request.clip_name)
        if clip is None:
            response.message = f"this node serves {', '.join(repr(c) for c in self.clips)}, not '{request.clip_name}'"
            return response
        if request.sample_rate < 0:
            response.message = f"sample_rate must be >= 0, got {request.sample_rate}"
            return response
        rate, qpos, qvel, _ = clip.sampled(request.sample_rate)
        response.success, response.message = True, f"{len(qpos)} frames of '{clip.name}'"
        response.sample_rate, response.duration, response.loop = rate, clip.duration, clip.loop
        response.joint_names, response.num_frames = clip.hinge_names, len(qpos)
        response.root_poses = [pose_msg(q[:3], q[3:7]) for q in qpos]
        response.joint_positions = qpos[:, 7:].reshape(-1).tolist()
        response.joint_velocities = qvel[:, 6:].reshape(-1).tolist()
        return response


def main(args: list[str] | None = None) -> None:
    """Run the node: ``reference_motion_node [--transport dds|inprocess|rclpy] [--params deploy.yaml]``.

    The transport is ``--transport``, else ``$DEEPMIMIC_TRANSPORT``, else dds.
    """
    run_node("reference_motion", ReferenceMotionNode, args)


if __name__ == "__main__":
    main()
