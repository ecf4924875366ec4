"""std_msgs: Header, String and Float64MultiArray with its layout (mirrors ROS 2's std_msgs/msg/*.msg)."""

from dataclasses import dataclass, field

from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as idl

from .base import dds_type_name
from .builtin_interfaces import Time


@dataclass
class Header(IdlStruct, typename=dds_type_name("std_msgs/msg/Header")):
    """Timestamp and coordinate frame of the data that follows."""

    stamp: Time = field(default_factory=Time)
    frame_id: str = ""


@dataclass
class String(IdlStruct, typename=dds_type_name("std_msgs/msg/String")):
    """One string."""

    data: str = ""


@dataclass
class MultiArrayDimension(IdlStruct, typename=dds_type_name("std_msgs/msg/MultiArrayDimension")):
    """One dimension of a MultiArrayLayout: label, size, and stride (product of this and later sizes)."""

    label: str = ""
    size: idl.uint32 = 0
    stride: idl.uint32 = 0


@dataclass
class MultiArrayLayout(IdlStruct, typename=dds_type_name("std_msgs/msg/MultiArrayLayout")):
    """Shape of the flat data of a multi-array, outermost dimension first (row-major)."""

    dim: idl.sequence[MultiArrayDimension] = field(default_factory=list)
    data_offset: idl.uint32 = 0


@dataclass
class Float64MultiArray(IdlStruct, typename=dds_type_name("std_msgs/msg/Float64MultiArray")):
    """A row-major float64 array with its layout (e.g. PD targets of all environments)."""

    layout: MultiArrayLayout = field(default_factory=MultiArrayLayout)
    data: idl.sequence[idl.float64] = field(default_factory=list)
