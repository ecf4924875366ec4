"""Reference motion node: the current reference frame on ``reference``, the whole clip on ``get_motion``.

Parameters (``config/deploy.yaml``, section ``reference_motion``):
``motion`` (bundled name or path, any format; retargeted when needed), ``character``,
``bone_map`` ("" = default), ``control_rate`` (Hz; 0: the character's, 30 humanoid3d, 50 G1), ``frame_id``.

Clip time counts from the node's start (its first frame is for time 0). Each frame is stamped
with the node's clock at the time it is for, so a consumer can align it with other stamps. The
computation is ``deepmimic_sim.reference.ReferenceClip`` (MotionLib + JointMapping).
"""

from __future__ import annotations

from deepmimic_sim.model.controller import load_controller
from deepmimic_sim.reference import ReferenceClip, ReferenceSample
from deepmimic_transport.messages import builtin_interfaces, deepmimic_interfaces

import deepmimic_transport as transport

from deepmimic_transport.node_main import pose_msg, run_node


class ReferenceMotionNode:
    """Publishes the reference at the control rate and serves the clip."""

    def __init__(self, node: transport.Node) -> None:
        self.node = node
        motion = node.declare_parameter("motion", "walk")
        character = node.declare_parameter("character", "humanoid3d")
        bone_map = node.declare_parameter("bone_map", "")
        rate = float(node.declare_parameter("control_rate", 0.0))
        self.frame_id = node.declare_parameter("frame_id", "world")
        self.clip = ReferenceClip(motion, character, bone_map=bone_map or None)
        rate = rate or load_controller(self.clip.character).control_hz
        self.clip_name = str(motion)
        self.publisher = node.create_publisher(deepmimic_interfaces.ReferenceFrame, "reference", "reliable")
        node.create_service(deepmimic_interfaces.GetMotion, "get_motion", self.on_get_motion)
        self.start = node.now()
        self.published = 0
        self.publish_frame()
        self.timer = node.create_timer(1.0 / rate, self.publish_frame)
        node.get_logger().info(f"reference '{self.clip.name}' ({self.clip.duration:.2f} s, "
                               f"loop={self.clip.loop}) at {rate:g} Hz")

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
        self.publisher.publish(self.frame_msg(self.clip.sample(now - self.start), now))
        self.published += 1

    def on_get_motion(self, request, response):
        """The loaded clip, sampled at the requested rate (0: the clip's own)."""
        if request.clip_name not in ("", self.clip_name, self.clip.name):
            response.message = f"this node serves '{self.clip_name}', not '{request.clip_name}'"
            return response
        if request.sample_rate < 0:
            response.message = f"sample_rate must be >= 0, got {request.sample_rate}"
            return response
        rate, qpos, qvel, _ = self.clip.sampled(request.sample_rate)
        response.success, response.message = True, f"{len(qpos)} frames of '{self.clip.name}'"
        response.sample_rate, response.duration, response.loop = rate, self.clip.duration, self.clip.loop
        response.joint_names, response.num_frames = self.clip.hinge_names, len(qpos)
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
