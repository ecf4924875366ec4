"""Tools test setup: Cyclone DDS on loopback only and a ROS_DOMAIN_ID of each test's own.

As in tests/transport: ``CYCLONEDDS_URI`` is a 127.0.0.1-only configuration without multicast, so
nothing leaves the machine; subprocesses inherit it and the domain. The helper nodes beside the
tests (talker_node, listener_node, joint_state_publisher) are importable (``sys.path``) and, for
subprocesses, on ``PYTHONPATH``.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# Domains 1-232, offset from tests/transport's sequence so that both folders rarely share one.
_DOMAINS = (1 + (os.getpid() * 37 + 116 + k) % 232 for k in itertools.count())


@pytest.fixture(autouse=True)
def loopback_dds(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Loopback-only Cyclone configuration, the test's own domain, helpers on PYTHONPATH; the environment."""
    from deepmimic_transport.dds_wire import loopback_config

    monkeypatch.setenv("CYCLONEDDS_URI", loopback_config())
    monkeypatch.setenv("ROS_DOMAIN_ID", str(next(_DOMAINS)))
    monkeypatch.delenv("DEEPMIMIC_TRANSPORT", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    return dict(os.environ)
