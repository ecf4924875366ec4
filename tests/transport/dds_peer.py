"""A separate DDS process for the transport tests: publishes, echoes or serves, then prints a JSON line.

Run as ``python dds_peer.py publish|echo|serve`` with ``CYCLONEDDS_URI`` and ``ROS_DOMAIN_ID`` set by
the test. Every mode stops by itself (``--timeout``) so a failing test never leaves it behind.

- ``publish``: once the echo's subscription is matched, JointState on /joint_states at 30 Hz;
  message ``i`` has positions ``[i, i + 0.5, i + 0.25]``; indices in ``--bad`` are malformed
  (5: too few positions; others: a NaN).
- ``echo``: validates each JointState (``validate_joint_state``) and republishes the good ones on
  /joint_states_echo; bad ones are dropped by the executor and counted.
- ``serve``: ``/compute_action`` (actions = 2 x observations, validated), ``/reset`` and
  ``/shutdown`` (std_srvs/Trigger, ends the process).
"""

from __future__ import annotations

import argparse
import json
import math
import time

from deepmimic_transport.messages import builtin_interfaces, deepmimic_interfaces, sensor_msgs, std_srvs
from deepmimic_transport.validation import validate_batch, validate_joint_state

import deepmimic_transport as transport

JOINTS = ["j0", "j1", "j2"]


def joint_state(i: int, bad: set[int]) -> sensor_msgs.JointState:
    """Message ``i`` of the stream (malformed when ``i`` is in ``bad``)."""
    position = [float(i), i + 0.5, i + 0.25]
    if i in bad:
        position = position[:2] if i == 5 else [math.nan, *position[1:]]
    msg = sensor_msgs.JointState(name=list(JOINTS), position=position, velocity=[0.1 * i] * 3)
    msg.header.stamp = builtin_interfaces.Time.from_seconds(i / 30.0)
    msg.header.frame_id = "world"
    return msg


def publish(args: argparse.Namespace) -> dict:
    node = transport.create_node("joint_state_publisher", backend="dds")
    publisher = node.create_publisher(sensor_msgs.JointState, "/joint_states", "reliable")
    if not node.spin(until=lambda: publisher.get_subscription_count() > 0, timeout_s=args.timeout):
        return {"error": "no subscriber"}
    bad = {int(i) for i in args.bad.split(",") if i}
    start = time.monotonic()
    for i in range(args.count):
        time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
        publisher.publish(joint_state(i, bad))
    publisher.writer.wait_for_acks(int(5e9))  # reliable: let the echo have everything before leaving
    node.shutdown()
    return {"published": args.count, "seconds": round(time.monotonic() - start, 3)}


def echo(args: argparse.Namespace) -> dict:
    node = transport.create_node("echo", backend="dds")
    out = node.create_publisher(sensor_msgs.JointState, "/joint_states_echo", "reliable")

    def on_state(msg: sensor_msgs.JointState) -> None:
        validate_joint_state(msg, expected_names=JOINTS)
        out.publish(msg)

    subscription = node.create_subscription(sensor_msgs.JointState, "/joint_states", on_state, "reliable")
    node.spin(until=lambda: subscription.received >= args.count, timeout_s=args.timeout)
    out.writer.wait_for_acks(int(5e9))
    result = {"received": subscription.received, "dropped": subscription.dropped}
    node.shutdown()
    return result


def serve(args: argparse.Namespace) -> dict:
    node = transport.create_node("policy", backend="dds")
    done = []

    def compute_action(request, response):
        observations = validate_batch("observations", request.observations, request.num_envs,
                                      request.observation_dim)
        response.actions = (2 * observations).ravel().tolist()
        response.action_dim, response.success = request.observation_dim, True
        return response

    def reset(request, response):
        response.success, response.message = True, f"reset {len(request.env_ids) or 'all'}"
        return response

    def shutdown(_request, response):
        done.append(True)
        response.success, response.message = True, "bye"
        return response

    node.create_service(deepmimic_interfaces.ComputeAction, "/compute_action", compute_action)
    node.create_service(deepmimic_interfaces.Reset, "reset", reset)
    service = node.create_service(std_srvs.Trigger, "/shutdown", shutdown)
    node.spin(until=lambda: bool(done), timeout_s=args.timeout)
    time.sleep(0.3)  # let the last reply go out
    result = {"handled": service.handled, "stopped": bool(done)}
    node.shutdown()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["publish", "echo", "serve"])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--bad", default="")
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    print(json.dumps({"publish": publish, "echo": echo, "serve": serve}[args.mode](args)), flush=True)


if __name__ == "__main__":
    main()
