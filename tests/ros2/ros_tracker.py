"""Watches a deploy graph from ROS 2 (plain rclpy): how well the robot tracks the reference.

``python ros_tracker.py --seconds 10``: from the first /commands on, for ``--seconds``, compares
each /states (sensor_msgs/JointState) with the latest /reference frame (deepmimic_interfaces,
as built for ROS 2), joint by joint name, and follows the root height in /odom. Prints one JSON
object: the mean absolute joint error (rad), the lowest root height (m), states counted.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import rclpy
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from deepmimic_interfaces.msg import ReferenceFrame


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    rclpy.init()
    node = Node("tracker")
    seen = {"reference": None, "start": None}
    errors, heights = [], []

    def on_states(msg: JointState) -> None:
        ref = seen["reference"]
        if seen["start"] is None or ref is None:
            return
        index = {name: i for i, name in enumerate(ref.joint_names)}
        ref_q = np.array([ref.joint_positions[index[name]] for name in msg.name])
        errors.append(float(np.mean(np.abs(np.asarray(msg.position) - ref_q))))

    def on_odom(msg: Odometry) -> None:
        if seen["start"] is not None:
            heights.append(msg.pose.pose.position.z)

    def on_command(_msg: Float64MultiArray) -> None:
        if seen["start"] is None:
            seen["start"] = time.monotonic()

    node.create_subscription(JointState, "/states", on_states, qos_profile_sensor_data)
    node.create_subscription(Odometry, "/odom", on_odom, qos_profile_sensor_data)
    node.create_subscription(ReferenceFrame, "/reference", lambda m: seen.__setitem__("reference", m), 10)
    node.create_subscription(Float64MultiArray, "/commands", on_command, qos_profile_sensor_data)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.01)
        if seen["start"] is not None and time.monotonic() > seen["start"] + args.seconds:
            break
    print(json.dumps({"states": len(errors), "mean_joint_error": float(np.mean(errors)) if errors else None,
                      "heights_1hz": heights[::30],
                      "min_root_height": min(heights) if heights else None}), flush=True)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
