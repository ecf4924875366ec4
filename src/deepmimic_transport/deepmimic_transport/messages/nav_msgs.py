"""nav_msgs: Odometry (mirrors ROS 2's nav_msgs/msg/Odometry.msg), used for the root (floating base)."""

from dataclasses import dataclass, field

from cyclonedds.idl import IdlStruct

from .base import dds_type_name
from .geometry_msgs import PoseWithCovariance, TwistWithCovariance
from .std_msgs import Header


@dataclass
class Odometry(IdlStruct, typename=dds_type_name("nav_msgs/msg/Odometry")):
    """Pose in ``header.frame_id`` and twist in ``child_frame_id`` of a moving body."""

    header: Header = field(default_factory=Header)
    child_frame_id: str = ""
    pose: PoseWithCovariance = field(default_factory=PoseWithCovariance)
    twist: TwistWithCovariance = field(default_factory=TwistWithCovariance)
