"""An unmodified ROS 2 process: plain rclpy and ROS's own message types, nothing of this project.

Run as ``python ros_peer.py MODE [options]`` with ROS 2's defaults (rmw_fastrtps_cpp, no profile
file); prints one JSON object on stdout. Modes:

- ``listen``: subscribe to /states (sensor_msgs/JointState) and /odom (nav_msgs/Odometry) with
  ROS's sensor-data QoS, and report, per topic, how many messages came, their receive rate over
  ``--window`` seconds after the first one, whether every value was finite, and the joint names.
- ``publish``: play a robot driver that is not one: publish /states, /odom, /reference_text
  (std_msgs/String) and /gains (std_msgs/Float64MultiArray) at ``--rate`` Hz for ``--seconds``, and
  count the /commands (std_msgs/Float64MultiArray) and /status_text (std_msgs/String) it hears.
- ``select``: wait until /commands (the policy acts) has come for a second, then publish each of ``--clips``
  (std_msgs/String on /select_clip, as ``ros2 topic pub`` does) in turn at ``--rate`` Hz for
  ``--seconds``, counting the /commands heard meanwhile.
- ``call``: ``listen``, then call the deploy graph's services /get_motion and /reset
  (deepmimic_interfaces, as built for ROS 2 by scripts/build_ros_interfaces.sh) and report the answers.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import rclpy
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String


def finite(values) -> bool:
    return all(math.isfinite(v) for v in values)


class Listener:
    """Receive times and checks of one topic."""

    def __init__(self, check) -> None:
        self.times: list[float] = []
        self.finite = True
        self.check = check
        self.last = None

    def __call__(self, msg) -> None:
        self.times.append(time.monotonic())
        self.finite = self.finite and self.check(msg)
        self.last = msg

    def report(self, window: float) -> dict:
        if not self.times:
            return {"count": 0}
        start = self.times[0] + 1.0  # leave out the first second (start-up, discovery)
        inside = [t for t in self.times if start <= t <= start + window]
        rate = (len(inside) - 1) / (inside[-1] - inside[0]) if len(inside) > 2 else 0.0
        return {"count": len(self.times), "rate_hz": rate, "finite": self.finite}


def joint_state_ok(msg: JointState) -> bool:
    return finite(msg.position) and finite(msg.velocity) and finite(msg.effort) and len(msg.name) == len(msg.position)


def odom_ok(msg: Odometry) -> bool:
    p, q, v = msg.pose.pose.position, msg.pose.pose.orientation, msg.twist.twist.linear
    return finite([p.x, p.y, p.z, q.x, q.y, q.z, q.w, v.x, v.y, v.z])


def listen(node: Node, args: argparse.Namespace) -> dict:
    states, odom = Listener(joint_state_ok), Listener(odom_ok)
    node.create_subscription(JointState, "/states", states, qos_profile_sensor_data)
    node.create_subscription(Odometry, "/odom", odom, qos_profile_sensor_data)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.01)
        if states.times and odom.times and time.monotonic() > max(states.times[0], odom.times[0]) + 1.0 + args.window:
            break
    report = {"states": states.report(args.window), "odom": odom.report(args.window)}
    if states.last is not None:
        report["states"]["names"] = list(states.last.name)
    return report


def publish(node: Node, args: argparse.Namespace) -> dict:
    names = [f"joint_{i}" for i in range(args.joints)]
    pubs = {"states": node.create_publisher(JointState, "/states", qos_profile_sensor_data),
            "odom": node.create_publisher(Odometry, "/odom", qos_profile_sensor_data),
            "text": node.create_publisher(String, "/reference_text", 10),
            "gains": node.create_publisher(Float64MultiArray, "/gains", 10)}
    commands = Listener(lambda msg: finite(msg.data))
    node.create_subscription(Float64MultiArray, "/commands", commands, 10)
    texts = Listener(lambda msg: msg.data.startswith("ours "))
    node.create_subscription(String, "/status_text", texts, 10)
    sent = 0

    def tick() -> None:
        nonlocal sent
        stamp = node.get_clock().now().to_msg()
        js = JointState(name=names, position=[0.01 * sent + i for i in range(args.joints)],
                        velocity=[0.0] * args.joints, effort=[0.0] * args.joints)
        js.header.stamp = stamp
        od = Odometry(child_frame_id="root")
        od.header.stamp, od.header.frame_id = stamp, "world"
        od.pose.pose.position.z, od.pose.pose.orientation.w = 0.9, 1.0
        pubs["states"].publish(js)
        pubs["odom"].publish(od)
        pubs["text"].publish(String(data=f"hello {sent}"))
        pubs["gains"].publish(Float64MultiArray(data=[float(sent), 2.0, 3.0]))
        sent += 1

    node.create_timer(1.0 / args.rate, tick)
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.01)
    return {"sent": sent, "commands": commands.report(args.seconds), "status_text": texts.report(args.seconds)}


def select(node: Node, args: argparse.Namespace) -> dict:
    states, commands = Listener(joint_state_ok), Listener(lambda msg: finite(msg.data))
    node.create_subscription(JointState, "/states", states, qos_profile_sensor_data)
    node.create_subscription(Float64MultiArray, "/commands", commands, qos_profile_sensor_data)
    publisher = node.create_publisher(String, "/select_clip", 10)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and not (commands.times and time.monotonic() > commands.times[0] + 1.0):
        rclpy.spin_once(node, timeout_sec=0.01)
    clips, sent = args.clips.split(","), 0
    before = len(commands.times)
    end = time.monotonic() + args.seconds
    while commands.times and time.monotonic() < end:
        publisher.publish(String(data=clips[sent % len(clips)]))
        sent += 1
        tick = time.monotonic() + 1.0 / args.rate
        while time.monotonic() < tick:
            rclpy.spin_once(node, timeout_sec=0.01)
    return {"sent": sent, "states": len(states.times), "commands_while_selecting": len(commands.times) - before}


def call(node: Node, args: argparse.Namespace) -> dict:
    from deepmimic_interfaces.srv import GetMotion, Reset

    report = listen(node, args)
    answers = {}
    for name, srv_type, request in (("get_motion", GetMotion, GetMotion.Request(clip_name="walk")),
                                    ("reset", Reset, Reset.Request())):
        client = node.create_client(srv_type, f"/{name}")
        if not client.wait_for_service(timeout_sec=20.0):
            answers[name] = {"available": False}
            continue
        future = client.call_async(request)
        rclpy.spin_until_future_complete(node, future, timeout_sec=20.0)
        response = future.result()
        answers[name] = {"available": True, "success": bool(response.success) if response else None}
        if name == "get_motion" and response is not None:
            answers[name].update(joints=len(response.joint_names), frames=int(response.num_frames))
    report["services"] = answers
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["listen", "publish", "call", "select"])
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--joints", type=int, default=28)
    parser.add_argument("--clips", default="run")
    args = parser.parse_args()
    rclpy.init()
    node = Node("ros_peer")
    try:
        report = {"listen": listen, "publish": publish, "call": call, "select": select}[args.mode](node, args)
    finally:
        node.destroy_node()
        rclpy.shutdown()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
