"""deepmimic_transport's rclpy transport against real rclpy (ROS 2 Kilted, Fast DDS), in a loopback-only namespace."""

from __future__ import annotations

import sys
from pathlib import Path

import netns
from netns import DDS_ENVIRONMENT, report

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def test_rclpy_transport_topics_services_parameters_and_bad_messages():
    spec = [{"name": "checks", "cmd": [sys.executable, str(HERE / "adapter_checks.py")], "wait": True,
             "unset": list(DDS_ENVIRONMENT)}]
    got = report(netns.run(spec, timeout=120.0, cwd=ROOT), "checks")
    assert got["node_class"] == "RclpyNode"
    assert got["parameters"] == [2.0, ["x", "y"], 30.0, []]  # file overrides, then defaults
    # Remapped publisher reaches the subscriber; the bad message is dropped by the callback's error.
    assert got["js"] == [[float(i), 2.0] for i in range(5)] and got["dropped"] == 1
    assert got["spin_once_count"] >= 8  # 6 JointStates + transition + reference frame, in few calls
    assert got["tr_type"] == "ndarray" and got["tr_values"] == list(range(6))  # train-mode arrays as NumPy
    assert got["rf"] == ["walk", [1.0, 2.0]]
    assert got["service"] == [True, ["h1", "h2"], [0.5, 0.25]] and got["served"] == ["walk"]
