"""A separate DDS process for the tools tests: sensor_msgs/JointState on /joint_states at a fixed rate.

Message ``i`` has positions ``[i, i + 0.5, i + 0.25]``, velocities ``[0.1 i] * 3``, frame ``world``
and stamp ``i / rate``. It also serves ``/joint_state_publisher/stop`` (std_srvs/Trigger) so that
``topic list`` has a service to show. It stops by itself after ``--seconds``.
"""

from __future__ import annotations

import argparse
import time

from deepmimic_transport.messages import builtin_interfaces, sensor_msgs, std_srvs

import deepmimic_transport as transport

JOINTS = ["j0", "j1", "j2"]


def joint_state(i: int, rate: float) -> sensor_msgs.JointState:
    """Message ``i`` of the stream."""
    msg = sensor_msgs.JointState(name=list(JOINTS), position=[float(i), i + 0.5, i + 0.25], velocity=[0.1 * i] * 3)
    msg.header.stamp = builtin_interfaces.Time.from_seconds(i / rate)
    msg.header.frame_id = "world"
    return msg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--qos", default="reliable")
    args = parser.parse_args()
    node = transport.create_node("joint_state_publisher", backend="dds")
    publisher = node.create_publisher(sensor_msgs.JointState, "/joint_states", args.qos)
    stopped = []

    def stop(_request, response):
        stopped.append(True)
        response.success = True
        return response

    node.create_service(std_srvs.Trigger, "~/stop", stop)
    start = time.monotonic()
    i = 0
    print("publishing", flush=True)
    while time.monotonic() - start < args.seconds and not stopped:
        publisher.publish(joint_state(i, args.rate))
        i += 1
        # Sleep to the next tick, answering service calls meanwhile.
        while time.monotonic() < start + i / args.rate:
            node.spin_once(max(0.0, min(0.005, start + i / args.rate - time.monotonic())))
    node.shutdown()


if __name__ == "__main__":
    main()
