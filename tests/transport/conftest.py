"""Transport test setup: Cyclone DDS on loopback only, a fresh ROS_DOMAIN_ID per test.

Every test in this folder runs with ``CYCLONEDDS_URI`` set to a 127.0.0.1-only configuration
without multicast, so no DDS traffic leaves the machine, and with its own ``ROS_DOMAIN_ID`` (its
own ports) so tests and concurrent runs do not hear each other. Subprocesses inherit both.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the helper modules beside the tests (interface_texts, dds_peer)

# Domains 1-232 (ROS's range), starting from a per-process offset so that two runs at once rarely meet.
_DOMAINS = (1 + (os.getpid() * 37 + k) % 232 for k in itertools.count())


def _loopback_config() -> str:
    from deepmimic_transport.dds_wire import loopback_config

    return loopback_config()


@pytest.fixture(autouse=True)
def loopback_dds(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Loopback-only Cyclone configuration and a domain of the test's own; returns the environment."""
    monkeypatch.setenv("CYCLONEDDS_URI", _loopback_config())
    monkeypatch.setenv("ROS_DOMAIN_ID", str(next(_DOMAINS)))
    monkeypatch.delenv("DEEPMIMIC_TRANSPORT", raising=False)
    return dict(os.environ)
