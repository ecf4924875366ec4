"""Our Cyclone DDS nodes and an unmodified ROS 2 (rclpy on Fast DDS), both at their defaults.

Each test runs in a network namespace with only loopback (conftest.py, netns.py): ROS 2 and our
transport discover each other by multicast there, exactly as on a machine with its defaults.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import netns
from netns import DDS_ENVIRONMENT, report

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RATE_HZ = 30.0
HINGES = 28  # humanoid3d: spherical joints are three hinges each


def process(name: str, cmd: list[str], *, wait: bool = False, env: dict[str, str] | None = None) -> dict:
    """One process of a netns spec, with none of the DDS/ROS variables of the test's environment."""
    return {"name": name, "cmd": cmd, "wait": wait, "env": {"OMP_NUM_THREADS": "1", **(env or {})},
            "unset": list(DDS_ENVIRONMENT)}


def ros_peer(*args: str) -> list[str]:
    return [sys.executable, str(HERE / "ros_peer.py"), *args]



def no_fast_dds_type_propagation(tmp_path: Path) -> Path:
    """A Fast DDS profile that switches type propagation off (a ROS user's possible setting)."""
    profile = tmp_path / "no_type_propagation.xml"
    profile.write_text(
        '<?xml version="1.0" encoding="UTF-8" ?>\n<dds xmlns="http://www.eprosima.com"><profiles>'
        '<participant profile_name="no_type_propagation" is_default_profile="true"><rtps><propertiesPolicy>'
        "<properties><property><name>fastdds.type_propagation</name><value>disabled</value></property>"
        "</properties></propertiesPolicy></rtps></participant></profiles></dds>\n")
    return profile


def test_rclpy_hears_the_deploy_graph_at_30_hz(tmp_path):
    """`deepmimic launch deploy` (Cyclone, defaults) and three unmodified rclpy listeners beside it.

    One listener has ROS's defaults; one has ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST; one has Fast
    DDS's type propagation off. Each gets /states and /odom at 30 Hz (+-5 %), finite values, and the
    28 hinge names.
    """
    listen = ros_peer("listen", "--window", "5", "--timeout", "90")
    spec = [
        process("deploy", [sys.executable, "-m", "deepmimic.cli", "launch", "deploy"]),
        process("ros_defaults", listen, wait=True),
        process("ros_localhost", listen, wait=True, env={"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}),
        process("ros_no_type_propagation", listen, wait=True,
                env={"FASTDDS_DEFAULT_PROFILES_FILE": str(no_fast_dds_type_propagation(tmp_path))}),
    ]
    results = netns.run(spec, timeout=150.0, cwd=ROOT)
    deploy_output = results["deploy"]["output"]
    assert "Traceback" not in deploy_output and "invalid type object" not in deploy_output, deploy_output[-4000:]
    for name in ("ros_defaults", "ros_localhost", "ros_no_type_propagation"):
        got = report(results, name)
        for topic in ("states", "odom"):
            assert got[topic]["count"] > 0, f"{name}: no {topic}\n{deploy_output[-3000:]}"
            assert got[topic]["finite"], (name, topic)
            assert math.isclose(got[topic]["rate_hz"], RATE_HZ, rel_tol=0.05), (name, topic, got[topic])
        names = got["states"]["names"]
        assert len(names) == HINGES and len(set(names)) == HINGES and names[0].endswith("_x"), (name, names)


def test_our_node_and_rclpy_exchange_ros_types_both_ways():
    """An rclpy publisher of JointState, Odometry, String and Float64MultiArray is heard by our node,
    and our node's Float64MultiArray and String answers are heard by rclpy."""
    spec = [
        process("ours", [sys.executable, str(HERE / "our_peer.py"), "--seconds", "16"], wait=True),
        process("ros", ros_peer("publish", "--seconds", "12", "--rate", "30"), wait=True),
    ]
    results = netns.run(spec, timeout=60.0, cwd=ROOT)
    ours, ros = report(results, "ours"), report(results, "ros")
    for topic in ("states", "odom", "reference_text", "gains"):
        assert ours[topic]["count"] > 0.5 * ros["sent"], (topic, ours[topic]["count"], ros["sent"])
    assert len(ours["states"]["names"]) == HINGES and ours["states"]["names"][0] == "joint_0"
    assert ours["states"]["position"][1] - ours["states"]["position"][0] == 1.0
    assert (ours["odom"]["z"], ours["odom"]["w"]) == (0.9, 1.0)
    assert ours["reference_text"]["data"].startswith("hello ")
    assert ours["gains"]["data"][1:] == [2.0, 3.0]
    assert ros["commands"]["count"] > 0.5 * ros["sent"] and ros["commands"]["finite"], ros
    assert ros["status_text"]["count"] > 0.5 * ros["sent"] and ros["status_text"]["finite"], ros


def test_an_rclpy_publisher_switches_the_deploy_graph_clip():
    """`deepmimic launch deploy clips:=run` (Cyclone) and an unmodified rclpy process publishing
    std_msgs/String on /select_clip, as `ros2 topic pub` does: an unknown name is refused, run is
    played once (repeats do not restart it), and the walk-only policy holds the pose for it."""
    spec = [
        process("deploy", [sys.executable, "-m", "deepmimic.cli", "launch", "deploy", "clips:=run"]),
        process("ros", ros_peer("select", "--clips", "nonexistent,run", "--rate", "4", "--seconds", "3",
                                "--timeout", "90"), wait=True),
    ]
    results = netns.run(spec, timeout=150.0, cwd=ROOT)
    output = results["deploy"]["output"]
    got = report(results, "ros")
    assert "Traceback" not in output and got["sent"] >= 10, (got, output[-4000:])
    assert "select_clip: unknown clip 'nonexistent'; loaded clips: walk, run" in output, output[-4000:]
    assert output.count("now playing 'run' from its start") == 1, output[-4000:]
    assert output.count("no policy for clip 'run' (policies for: walk): holding the pose") == 1, output[-4000:]
    assert got["commands_while_selecting"] > 30, got  # held targets keep coming at the control rate


def test_every_deploy_node_on_rclpy_serves_an_unmodified_rclpy_client():
    """`deepmimic launch deploy transport:=rclpy`: all three nodes are rclpy nodes on Fast DDS. An
    rclpy process hears /states and /odom at 30 Hz and calls /get_motion and /reset
    (deepmimic_interfaces built with ROS's rosidl generators)."""
    spec = [
        process("deploy", [sys.executable, "-m", "deepmimic.cli", "launch", "deploy", "transport:=rclpy"]),
        process("ros", ros_peer("call", "--window", "5", "--timeout", "90"), wait=True),
    ]
    results = netns.run(spec, timeout=150.0, cwd=ROOT)
    deploy_output = results["deploy"]["output"]
    assert "Traceback" not in deploy_output, deploy_output[-4000:]
    got = report(results, "ros")
    for topic in ("states", "odom"):
        assert got[topic]["count"] > 0 and got[topic]["finite"], (topic, deploy_output[-3000:])
        assert math.isclose(got[topic]["rate_hz"], RATE_HZ, rel_tol=0.05), (topic, got[topic])
    assert len(got["states"]["names"]) == HINGES
    services = got["services"]
    assert services["get_motion"]["success"] and services["get_motion"]["joints"] == HINGES, services
    assert services["get_motion"]["frames"] > 10, services
    assert services["reset"]["success"], services
