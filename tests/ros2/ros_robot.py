"""A robot driver that is not ours: plain rclpy + MuJoCo, playing the robot for the policy node.

``python ros_robot.py MODEL_XML --seconds S``: a ROS 2 process (rclpy on Fast DDS, ROS's own
message types, deepmimic_interfaces as built for ROS 2) that runs its own MuJoCo physics of the
character and behaves like a robot driver: at 30 Hz it publishes sensor_msgs/JointState on /states
and nav_msgs/Odometry on /odom (same stamp), and applies the latest /commands
(std_msgs/Float64MultiArray of hinge position targets, held by the model's position actuators for
10 physics steps of 1/300 s). A command is applied when it arrives (physics advances one control
step at once; the next tick publishes the result), as in training, where the action of an
observation acts at once; a tick without a new command steps with the held targets. Until the
first command it holds the state of the latest /reference frame: its pose, joint velocities and
the root velocity differenced from the last two frames, as the simulator node's reference start
does (started at rest in mid-stride, the walk policy falls). Prints one JSON object: steps taken, commands heard, ticks that stepped with held targets
(no new command in that period; they include the ticks after the graph stops).

``--ros2-control CONFIG``: the same robot behind ros2_control, as its controller manager would
present it: joint_state_broadcaster's sensor_msgs/JointState on /joint_states (default QoS, joints
in alphabetical order, not the model's), the state estimator's nav_msgs/Odometry on /robot_odom,
and forward_position_controller's std_msgs/Float64MultiArray on
/forward_position_controller/commands (reliable, as forward_command_controller subscribes), whose
values are in the order of the controller's ``joints`` in CONFIG.
"""

from __future__ import annotations

import argparse
import json
import time

import mujoco
import numpy as np
import rclpy
import yaml
from nav_msgs.msg import Odometry
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from deepmimic_interfaces.msg import ReferenceFrame

SUBSTEPS = 10


def rotate_inverse(quat_wxyz: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``vector`` (world) in the frame of ``quat_wxyz``."""
    out = np.empty(3)
    conj = quat_wxyz * np.array([1.0, -1.0, -1.0, -1.0])
    mujoco.mju_rotVecQuat(out, vector, conj)
    return out


class Robot:
    def __init__(self, node: Node, model_xml: str, ros2_control: str | None = None) -> None:
        self.node = node
        self.model = mujoco.MjModel.from_xml_path(model_xml)
        self.data = mujoco.MjData(self.model)
        self.names = [self.model.joint(i).name for i in range(self.model.njnt)
                      if self.model.jnt_type[i] == mujoco.mjtJoint.mjJNT_HINGE]
        self.published = np.arange(len(self.names))  # model hinge index of each published joint
        self.commanded = np.arange(len(self.names))  # model hinge index of each command value
        if ros2_control is None:
            self.states_pub = node.create_publisher(JointState, "/states", qos_profile_sensor_data)
            self.odom_pub = node.create_publisher(Odometry, "/odom", qos_profile_sensor_data)
            # Best effort, as the policy publishes them (a reliable reader would not match).
            node.create_subscription(Float64MultiArray, "/commands", self.on_command, qos_profile_sensor_data)
        else:
            with open(ros2_control) as f:
                joints = yaml.safe_load(f)["forward_position_controller"]["ros__parameters"]["joints"]
            self.commanded = np.array([self.names.index(name) for name in joints])
            self.published = np.argsort(self.names)  # alphabetical
            self.states_pub = node.create_publisher(JointState, "/joint_states", 10)
            self.odom_pub = node.create_publisher(Odometry, "/robot_odom", 10)
            node.create_subscription(Float64MultiArray, "/forward_position_controller/commands", self.on_command, 10)
        node.create_subscription(ReferenceFrame, "/reference", self.on_reference, 10)
        self.targets = None
        self.stepped = False  # physics advanced since the last published state
        self.reference = self.previous_reference = None
        self.steps = self.commands = self.held = 0
        node.create_timer(self.model.opt.timestep * SUBSTEPS, self.on_tick)

    def on_reference(self, msg: ReferenceFrame) -> None:
        self.previous_reference, self.reference = self.reference, msg

    def root_velocity(self) -> np.ndarray | None:
        """The reference root's velocity (MuJoCo's free joint: world linear, body angular), by finite
        differences of the last two /reference frames (None before two of one clip have arrived). A
        walk policy started at rest in mid-stride falls: it was trained from the clip's moving states."""
        velocity = np.zeros(6)
        new, old = self.reference, self.previous_reference
        if old is None or old.clip_name != new.clip_name:
            return None
        dt = new.clip_time - old.clip_time
        if not 0.0 < dt < 0.2:
            return None
        position = lambda f: np.array([f.root_pose.position.x, f.root_pose.position.y, f.root_pose.position.z])
        quat = lambda f: np.array([f.root_pose.orientation.w, f.root_pose.orientation.x,
                                   f.root_pose.orientation.y, f.root_pose.orientation.z])
        velocity[:3] = (position(new) - position(old)) / dt
        mujoco.mju_subQuat(velocity[3:], quat(new), quat(old))  # in the old frame's axes
        velocity[3:] /= dt
        return velocity

    def on_command(self, msg: Float64MultiArray) -> None:
        if len(msg.data) == len(self.names) and np.all(np.isfinite(msg.data)):
            self.targets = np.empty(len(self.names))
            self.targets[self.commanded] = msg.data
            self.commands += 1
            if not self.stepped:
                self.step()

    def step(self) -> None:
        self.data.ctrl[:] = self.targets
        for _ in range(SUBSTEPS):
            mujoco.mj_step(self.model, self.data)
        self.steps += 1
        self.stepped = True

    def on_tick(self) -> None:
        if self.targets is None:
            # Silent until put in the reference's state (two frames give the root velocity), as a
            # robot is placed before it is handed to a policy: states of MuJoCo's default pose would
            # draw a first command, and a rollout from a pose the policy never saw.
            velocity = self.root_velocity()
            if velocity is None:
                return
            ref = self.reference
            p, q = ref.root_pose.position, ref.root_pose.orientation
            self.data.qpos[:7] = [p.x, p.y, p.z, q.w, q.x, q.y, q.z]
            self.data.qpos[7:] = ref.joint_positions
            self.data.qvel[:6] = velocity
            self.data.qvel[6:] = ref.joint_velocities
            mujoco.mj_forward(self.model, self.data)
        elif not self.stepped:  # no new command this period: hold the last targets
            self.step()
            self.held += 1
        self.publish()
        self.stepped = False

    def publish(self) -> None:
        stamp = self.node.get_clock().now().to_msg()
        qpos, qvel = self.data.qpos, self.data.qvel
        order = self.published
        states = JointState(name=[self.names[i] for i in order], position=qpos[7:][order].tolist(),
                            velocity=qvel[6:][order].tolist(), effort=self.data.actuator_force[order].tolist())
        states.header.stamp, states.header.frame_id = stamp, "world"
        odom = Odometry(child_frame_id="root")
        odom.header.stamp, odom.header.frame_id = stamp, "world"
        pose = odom.pose.pose
        pose.position.x, pose.position.y, pose.position.z = (float(v) for v in qpos[:3])
        pose.orientation.w, pose.orientation.x, pose.orientation.y, pose.orientation.z = (float(v) for v in qpos[3:7])
        lin = rotate_inverse(qpos[3:7] / np.linalg.norm(qpos[3:7]), qvel[:3])
        twist = odom.twist.twist
        twist.linear.x, twist.linear.y, twist.linear.z = (float(v) for v in lin)
        twist.angular.x, twist.angular.y, twist.angular.z = (float(v) for v in qvel[3:6])
        self.states_pub.publish(states)
        self.odom_pub.publish(odom)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_xml")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--ros2-control", default=None, help="the robot's ros2_control YAML: speak its topics")
    args = parser.parse_args()
    rclpy.init()
    node = Node("robot_driver")
    robot = Robot(node, args.model_xml, args.ros2_control)
    deadline = time.monotonic() + args.seconds
    try:
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.01)
    except (KeyboardInterrupt, ExternalShutdownException):  # stopped by the test once the tracker is done
        pass
    print(json.dumps({"steps": robot.steps, "commands": robot.commands, "held": robot.held, "hinges": len(robot.names)}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
