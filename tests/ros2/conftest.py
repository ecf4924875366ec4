"""ROS 2 interop tests: real rclpy (ROS 2 Kilted wheels, Fast DDS) beside our nodes.

Each test runs its processes with ROS's and Cyclone's defaults inside a network namespace that
has only loopback (``netns.py``), so nothing leaves the machine and no other run is heard.
rclpy comes from ``make setup`` (the ``ros`` extra); these tests are skipped only outside CI
when it or ``unshare`` is missing, and fail in CI instead.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import netns  # noqa: E402


def _missing() -> str | None:
    if importlib.util.find_spec("rclpy") is None:
        return "rclpy is not installed (make setup installs ROS 2 Kilted's wheels)"
    if netns.unshare_prefix() is None:
        return "unshare/ip are missing: cannot keep ROS 2's multicast discovery on loopback"
    return None


@pytest.fixture(autouse=True)
def ros2_available() -> None:
    """Skip without rclpy or unshare on a developer's machine; fail in CI, which must run these tests."""
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the ROS 2 tests: {reason}")
        pytest.skip(reason)
