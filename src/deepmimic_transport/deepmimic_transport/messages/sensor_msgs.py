"""sensor_msgs: JointState (mirrors ROS 2's sensor_msgs/msg/JointState.msg).

The project publishes one entry per simulated hinge (spherical joints are three hinges named
``<joint>_x/_y/_z``), in the order of the MuJoCo model; see the README's conventions.
"""

from dataclasses import dataclass, field

from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as idl

from .base import dds_type_name
from .std_msgs import Header


@dataclass
class JointState(IdlStruct, typename=dds_type_name("sensor_msgs/msg/JointState")):
    """Positions (rad), velocities (rad/s) and efforts (N m) of named joints; unused arrays are empty."""

    header: Header = field(default_factory=Header)
    name: idl.sequence[str] = field(default_factory=list)
    position: idl.sequence[idl.float64] = field(default_factory=list)
    velocity: idl.sequence[idl.float64] = field(default_factory=list)
    effort: idl.sequence[idl.float64] = field(default_factory=list)
