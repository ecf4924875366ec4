"""builtin_interfaces: Time and Duration (mirrors ROS 2's builtin_interfaces/msg/*.msg)."""

from dataclasses import dataclass

from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as idl

from .base import dds_type_name


@dataclass
class Time(IdlStruct, typename=dds_type_name("builtin_interfaces/msg/Time")):
    """A point in time: seconds and nanoseconds since the epoch of the clock in use."""

    sec: idl.int32 = 0
    nanosec: idl.uint32 = 0

    @classmethod
    def from_seconds(cls, seconds: float) -> "Time":
        """The Time ``seconds`` after the epoch (rounded to the nearest nanosecond)."""
        total = round(seconds * 1e9)
        return cls(sec=total // 1_000_000_000, nanosec=total % 1_000_000_000)

    def to_seconds(self) -> float:
        """Seconds since the epoch as a float."""
        return self.sec + self.nanosec * 1e-9


@dataclass
class Duration(IdlStruct, typename=dds_type_name("builtin_interfaces/msg/Duration")):
    """A span of time: seconds and nanoseconds."""

    sec: idl.int32 = 0
    nanosec: idl.uint32 = 0
