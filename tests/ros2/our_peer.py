"""This project's side of the ROS 2 interop tests: a node on our transport (Cyclone DDS by default).

``python our_peer.py --seconds S``: subscribe to what ``ros_peer.py publish`` sends (/states,
/odom, /reference_text, /gains) with our message classes, answer each /states with a /commands
(std_msgs/Float64MultiArray) and a /status_text (std_msgs/String), and print one JSON object:
per topic, the count of messages and the last one's content.
"""

from __future__ import annotations

import argparse
import json

from deepmimic_transport.messages import nav_msgs, sensor_msgs, std_msgs

import deepmimic_transport as transport


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--transport", default=None)
    args = parser.parse_args()
    node = transport.create_node("our_peer", backend=args.transport)
    heard: dict[str, list] = {"states": [], "odom": [], "reference_text": [], "gains": []}
    commands = node.create_publisher(std_msgs.Float64MultiArray, "/commands", "reliable")
    status = node.create_publisher(std_msgs.String, "/status_text", "reliable")

    def on_states(msg: sensor_msgs.JointState) -> None:
        heard["states"].append(msg)
        commands.publish(std_msgs.Float64MultiArray(data=[-p for p in msg.position]))
        status.publish(std_msgs.String(data=f"ours {len(heard['states'])}"))

    node.create_subscription(sensor_msgs.JointState, "/states", on_states, "sensor_data")
    node.create_subscription(nav_msgs.Odometry, "/odom", heard["odom"].append, "sensor_data")
    node.create_subscription(std_msgs.String, "/reference_text", heard["reference_text"].append, "reliable")
    node.create_subscription(std_msgs.Float64MultiArray, "/gains", heard["gains"].append, "reliable")
    node.spin(timeout_s=args.seconds)
    node.shutdown()
    last = {name: msgs[-1] for name, msgs in heard.items() if msgs}
    report = {name: {"count": len(msgs)} for name, msgs in heard.items()}
    if "states" in last:
        report["states"].update(names=list(last["states"].name), position=list(last["states"].position))
    if "odom" in last:
        report["odom"].update(z=last["odom"].pose.pose.position.z, w=last["odom"].pose.pose.orientation.w)
    if "reference_text" in last:
        report["reference_text"]["data"] = last["reference_text"].data
    if "gains" in last:
        report["gains"]["data"] = list(last["gains"].data)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
