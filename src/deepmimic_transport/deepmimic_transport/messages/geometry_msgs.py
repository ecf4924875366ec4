"""geometry_msgs: Point, Quaternion, Vector3, Pose, Twist and their covariance variants.

Mirrors ROS 2's geometry_msgs/msg/*.msg. Note the ROS quaternion order is (x, y, z, w) with w = 1
by default; the project's rotation code uses (w, x, y, z), so convert at the message boundary.
"""

from dataclasses import dataclass, field

from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as idl

from .base import dds_type_name


def _zeros36() -> list[float]:
    return [0.0] * 36


@dataclass
class Point(IdlStruct, typename=dds_type_name("geometry_msgs/msg/Point")):
    """A position in free space (m)."""

    x: idl.float64 = 0.0
    y: idl.float64 = 0.0
    z: idl.float64 = 0.0


@dataclass
class Quaternion(IdlStruct, typename=dds_type_name("geometry_msgs/msg/Quaternion")):
    """An orientation, (x, y, z, w); the identity by default."""

    x: idl.float64 = 0.0
    y: idl.float64 = 0.0
    z: idl.float64 = 0.0
    w: idl.float64 = 1.0


@dataclass
class Vector3(IdlStruct, typename=dds_type_name("geometry_msgs/msg/Vector3")):
    """A free vector (a direction, a velocity, ...)."""

    x: idl.float64 = 0.0
    y: idl.float64 = 0.0
    z: idl.float64 = 0.0


@dataclass
class Pose(IdlStruct, typename=dds_type_name("geometry_msgs/msg/Pose")):
    """Position and orientation."""

    position: Point = field(default_factory=Point)
    orientation: Quaternion = field(default_factory=Quaternion)


@dataclass
class Twist(IdlStruct, typename=dds_type_name("geometry_msgs/msg/Twist")):
    """Linear (m/s) and angular (rad/s) velocity."""

    linear: Vector3 = field(default_factory=Vector3)
    angular: Vector3 = field(default_factory=Vector3)


@dataclass
class PoseWithCovariance(IdlStruct, typename=dds_type_name("geometry_msgs/msg/PoseWithCovariance")):
    """A pose with its 6x6 row-major covariance (x, y, z, rot x, rot y, rot z)."""

    pose: Pose = field(default_factory=Pose)
    covariance: idl.array[idl.float64, 36] = field(default_factory=_zeros36)


@dataclass
class TwistWithCovariance(IdlStruct, typename=dds_type_name("geometry_msgs/msg/TwistWithCovariance")):
    """A twist with its 6x6 row-major covariance."""

    twist: Twist = field(default_factory=Twist)
    covariance: idl.array[idl.float64, 36] = field(default_factory=_zeros36)
