"""Checks of deepmimic_transport's rclpy transport against real rclpy, run by test_rclpy_adapter.py.

Runs in a loopback-only network namespace (netns.py) and prints one JSON object of observations;
the test makes the assertions.
"""

from __future__ import annotations

import json
import threading

import numpy as np
from deepmimic_transport.messages import deepmimic_interfaces, sensor_msgs
from deepmimic_transport.validation import InvalidMessageError

import deepmimic_transport as transport


def main() -> None:
    out: dict = {}
    a = transport.create_node("a", backend="rclpy", namespace="/robot", remappings={"js": "/joint_states"},
                              parameters={"gain": 2.0, "names": ["x", "y"]})
    b = transport.create_node("b", backend="rclpy")
    out["node_class"] = type(a).__name__
    out["parameters"] = [a.declare_parameter("gain", 1.0), a.declare_parameter("names", ["q"]),
                         a.declare_parameter("rate", 30.0), a.declare_parameter("joint_names", [])]
    got: dict[str, list] = {"js": [], "tr": [], "rf": []}

    def on_js(msg: sensor_msgs.JointState) -> None:
        if msg.name == ["bad"]:
            raise InvalidMessageError("name 'bad'")
        got["js"].append(msg)

    sub = b.create_subscription(sensor_msgs.JointState, "/joint_states", on_js, "reliable")
    b.create_subscription(deepmimic_interfaces.BatchedTransition, "/tr", got["tr"].append, "reliable")
    b.create_subscription(deepmimic_interfaces.ReferenceFrame, "/rf", got["rf"].append, "reliable")
    motions = []

    def on_get_motion(request, response):
        motions.append(request.clip_name)
        response.success, response.joint_names, response.joint_positions = True, ["h1", "h2"], [0.5, 0.25]
        return response

    b.create_service(deepmimic_interfaces.GetMotion, "/get_motion", on_get_motion)
    pub_js = a.create_publisher(sensor_msgs.JointState, "js", "reliable")  # remapped to /joint_states
    pub_tr = a.create_publisher(deepmimic_interfaces.BatchedTransition, "/tr", "reliable")
    pub_rf = a.create_publisher(deepmimic_interfaces.ReferenceFrame, "/rf", "reliable")
    observations = np.arange(6, dtype=np.float32).reshape(2, 3)
    for _ in range(200):  # until matched
        if pub_js.get_subscription_count() and pub_tr.get_subscription_count() and pub_rf.get_subscription_count():
            break
        b.spin_once(0.02)
    pub_js.publish(sensor_msgs.JointState(name=["bad"], position=[0.0]))
    for i in range(5):
        pub_js.publish(sensor_msgs.JointState(name=["a", "b"], position=np.array([1.0 * i, 2.0])))
    pub_tr.publish(deepmimic_interfaces.BatchedTransition(num_envs=2, observation_dim=3, observations=observations))
    pub_rf.publish(deepmimic_interfaces.ReferenceFrame(clip_name="walk", joint_positions=[1.0, 2.0]))
    ran = 0
    for _ in range(100):
        ran += b.spin_once(0.05)
        if len(got["js"]) == 5 and got["tr"] and got["rf"]:
            break
    out["spin_once_count"] = ran
    out["js"] = [m.position for m in got["js"]]
    out["dropped"] = sub.dropped
    out["tr_type"] = type(got["tr"][0].observations).__name__ if got["tr"] else None
    out["tr_values"] = got["tr"][0].observations.tolist() if got["tr"] else None
    out["rf"] = [got["rf"][0].clip_name, got["rf"][0].joint_positions] if got["rf"] else None

    # A client called from inside a timer callback of node a, while b is spun by another thread.
    stop = threading.Event()
    spinner = threading.Thread(target=lambda: [b.spin_once(0.05) for _ in iter(stop.is_set, True)])
    spinner.start()
    client = a.create_client(deepmimic_interfaces.GetMotion, "/get_motion")
    answers = []

    def on_timer() -> None:
        if not answers:
            answers.append(client.call(deepmimic_interfaces.GetMotion.Request(clip_name="walk"), timeout_s=10.0))

    a.create_timer(0.05, on_timer)
    a.spin(until=lambda: bool(answers), timeout_s=20.0)
    stop.set()
    spinner.join()
    out["service"] = [answers[0].success, answers[0].joint_names, answers[0].joint_positions] if answers else None
    out["served"] = motions
    a.shutdown()
    b.shutdown()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
