"""Quality-of-service profiles as named constants, with ROS 2's meanings.

Only the policies the graph needs are modelled: reliability, durability, history and depth. Each
transport maps a :class:`QoSProfile` onto its own (DDS policies, rclpy's ``QoSProfile``, queue
sizes in process). A graph file names profiles by string (``"sensor_data"``); :func:`qos_profile`
resolves the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Reliability(str, Enum):
    """Whether lost samples are repaired (RELIABLE) or skipped (BEST_EFFORT)."""

    RELIABLE = "reliable"
    BEST_EFFORT = "best_effort"


class Durability(str, Enum):
    """Whether late subscribers get the last samples (TRANSIENT_LOCAL) or only new ones (VOLATILE)."""

    VOLATILE = "volatile"
    TRANSIENT_LOCAL = "transient_local"


class History(str, Enum):
    """Keep the last ``depth`` samples per reader/writer, or all of them."""

    KEEP_LAST = "keep_last"
    KEEP_ALL = "keep_all"


@dataclass(frozen=True)
class QoSProfile:
    """A set of QoS policies.

    Attributes:
        reliability: RELIABLE or BEST_EFFORT.
        durability: VOLATILE or TRANSIENT_LOCAL.
        history: KEEP_LAST or KEEP_ALL.
        depth: Queue length for KEEP_LAST (ignored for KEEP_ALL).
    """

    reliability: Reliability = Reliability.RELIABLE
    durability: Durability = Durability.VOLATILE
    history: History = History.KEEP_LAST
    depth: int = 10

    def __post_init__(self) -> None:
        """Reject a KEEP_LAST depth below 1."""
        if self.history is History.KEEP_LAST and self.depth < 1:
            raise ValueError(f"KEEP_LAST needs depth >= 1, got {self.depth}")


#: Sensor streams (joint states, odometry): newest data matters more than every sample.
#: ROS 2's ``qos_profile_sensor_data``: best effort, volatile, keep last 5.
SENSOR_DATA = QoSProfile(Reliability.BEST_EFFORT, Durability.VOLATILE, History.KEEP_LAST, 5)
#: Commands at the control rate (PD targets): only the newest sample is worth acting on.
LATEST = QoSProfile(Reliability.BEST_EFFORT, Durability.VOLATILE, History.KEEP_LAST, 1)
#: Every sample counts (train-mode transitions, reference frames): ROS 2's default profile.
RELIABLE = QoSProfile(Reliability.RELIABLE, Durability.VOLATILE, History.KEEP_LAST, 10)
#: Service requests and replies: ROS 2's ``qos_profile_services_default`` (reliable, volatile, keep last 10).
SERVICES = QoSProfile(Reliability.RELIABLE, Durability.VOLATILE, History.KEEP_LAST, 10)
#: State that late joiners need (the latest checkpoint path): reliable, transient local, keep last 1.
LATCHED = QoSProfile(Reliability.RELIABLE, Durability.TRANSIENT_LOCAL, History.KEEP_LAST, 1)

PROFILES: dict[str, QoSProfile] = {
    "sensor_data": SENSOR_DATA, "latest": LATEST, "reliable": RELIABLE, "services": SERVICES, "latched": LATCHED,
}


def qos_profile(profile: QoSProfile | str | None) -> QoSProfile:
    """A profile from a profile, a name in :data:`PROFILES`, or None (RELIABLE, ROS 2's default).

    Args:
        profile: What a caller or a graph file gave.

    Returns:
        The profile.

    Raises:
        ValueError: Unknown name.
    """
    if profile is None:
        return RELIABLE
    if isinstance(profile, QoSProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown QoS profile {profile!r}; known: {', '.join(PROFILES)}") from None
