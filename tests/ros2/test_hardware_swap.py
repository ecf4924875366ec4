"""The hardware swap with a real ROS 2 driver: an rclpy robot stand-in driven by our Cyclone policy node."""

from __future__ import annotations

import sys
from pathlib import Path

import netns
from netns import DDS_ENVIRONMENT, report

import deepmimic_sim

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MODEL_XML = Path(deepmimic_sim.__file__).resolve().parent / "assets" / "humanoid3d.xml"
SECONDS = 10.0


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def run(graph: list[str], robot: bool, robot_args: tuple[str, ...] = ()) -> dict:
    env = {"OMP_NUM_THREADS": "1"}
    spec = [{"name": "graph", "cmd": python("-m", "deepmimic.cli", "launch", "deploy", *graph), "env": env,
             "unset": list(DDS_ENVIRONMENT)},
            {"name": "tracker", "cmd": python(str(HERE / "ros_tracker.py"), "--seconds", str(SECONDS)),
             "wait": True, "env": env, "unset": list(DDS_ENVIRONMENT)}]
    if robot:
        spec.append({"name": "robot", "cmd": python(str(HERE / "ros_robot.py"), str(MODEL_XML), "--seconds",
                                                    str(SECONDS + 40), *robot_args), "env": env, "unset": list(DDS_ENVIRONMENT)})
    results = netns.run(spec, timeout=150.0, cwd=ROOT)
    assert "Traceback" not in results["graph"]["output"], results["graph"]["output"][-4000:]
    tracked = report(results, "tracker")
    tracked["robot_output"] = results.get("robot", {}).get("output", "")
    tracked["graph_log"] = [line for line in results["graph"]["output"].splitlines()
                            if "WARN" in line or "ERROR" in line][-20:]  # shown when an assertion fails
    return tracked


def run_standing(graph: list[str], robot_args: tuple[str, ...] = ()) -> tuple[dict, list[dict]]:
    """``run`` with the stand-in, once more if the robot fell: it is a real-time process, and a
    machine busy with other work can take control periods from it (README, "A robot driver of
    yours"). Returns the last run and the fallen ones (a second fall fails the test)."""
    fallen = []
    for _ in range(2):
        got = run(graph, robot=True, robot_args=robot_args)
        if got["min_root_height"] is not None and got["min_root_height"] > 0.6:
            break
        fallen.append(got)
    return got, fallen


def summary(got: dict) -> str:
    """What an assertion message shows of a run: figures, the robot's counts, the graph's warnings."""
    keys = ("states", "mean_joint_error", "min_root_height", "heights_1hz")
    return "\n".join([str({k: got.get(k) for k in keys}), got.get("robot_output", "").strip()[-300:],
                      *got.get("graph_log", [])])


def test_policy_node_drives_an_rclpy_robot_driver():
    """simulate:=false: our Cyclone policy and reference nodes drive an rclpy robot (own MuJoCo) at 30 Hz.

    The robot hears a command for (nearly) every state it publishes and steps its physics with
    them; it stays up for the 10 s (root never below 0.6 m; the walk's root is at 0.82-0.87 m) and
    tracks the reference as well as the same graph with our own simulator node, run just before
    (mean joint error at most 10 % above it, plus 0.005 rad for run-to-run noise). A fall is run
    again once (``run_standing``).
    """
    ours = run([], robot=False)
    got, fallen = run_standing(["simulate:=false"])
    assert got["states"] >= 0.8 * 30 * SECONDS, summary(got)
    robot = report({"robot": {"returncode": 0, "output": got["robot_output"]}}, "robot")
    assert robot["hinges"] == 28 and robot["commands"] >= 0.8 * 30 * SECONDS, robot
    assert robot["steps"] >= robot["commands"] - 1, robot
    assert ours["min_root_height"] > 0.6, summary(ours)
    assert got["min_root_height"] > 0.6, "\n".join(map(summary, fallen)) + "\nours: " + summary(ours)
    assert got["mean_joint_error"] <= 1.1 * ours["mean_joint_error"] + 0.005, summary(got) + "\nours: " + summary(ours)


def test_policy_node_drives_an_rclpy_ros2_control_driver_through_the_bridge():
    """simulate:=false ros2_control:=true: the same rclpy robot, speaking ros2_control's topics.

    It publishes /joint_states in alphabetical order and /robot_odom, and takes
    /forward_position_controller/commands (reliable) in the controller's joint order of
    config/robots/humanoid3d_ros2_control.yaml (legs first): two orders that are not the model's, so
    a reordering mistake in the bridge would throw the walk at once. It walks the 10 s (a fall is
    run again once).
    """
    config = ROOT / "config" / "robots" / "humanoid3d_ros2_control.yaml"
    got, fallen = run_standing(["simulate:=false", "ros2_control:=true"], ("--ros2-control", str(config)))
    assert got["states"] >= 0.8 * 30 * SECONDS, summary(got)
    robot = report({"robot": {"returncode": 0, "output": got["robot_output"]}}, "robot")
    assert robot["hinges"] == 28 and robot["commands"] >= 0.8 * 30 * SECONDS, robot
    assert got["min_root_height"] > 0.6, "\n".join(map(summary, fallen))
    assert got["mean_joint_error"] < 0.06, summary(got)


def test_mixed_graph_rclpy_simulator_node_with_cyclone_policy_and_reference():
    """Our simulator node on rclpy (Fast DDS) with our policy and reference nodes on Cyclone DDS."""
    env = {"OMP_NUM_THREADS": "1"}
    spec = [{"name": "graph", "cmd": python("-m", "deepmimic.cli", "launch", "deploy", "simulate:=false"),
             "env": env, "unset": list(DDS_ENVIRONMENT)},
            {"name": "simulator", "cmd": python("-m", "deepmimic_sim.nodes.simulator_node", "--transport", "rclpy",
                                                "--params", str(ROOT / "config" / "deploy.yaml")),
             "env": env, "unset": list(DDS_ENVIRONMENT)},
            {"name": "tracker", "cmd": python(str(HERE / "ros_tracker.py"), "--seconds", str(SECONDS)),
             "wait": True, "env": env, "unset": list(DDS_ENVIRONMENT)}]
    results = netns.run(spec, timeout=150.0, cwd=ROOT)
    for name in ("graph", "simulator"):
        assert "Traceback" not in results[name]["output"], results[name]["output"][-4000:]
    assert "first command: stepping" in results["simulator"]["output"], results["simulator"]["output"][-3000:]
    got = report(results, "tracker")
    assert got["states"] >= 0.8 * 30 * SECONDS and got["mean_joint_error"] < 1.0, got
