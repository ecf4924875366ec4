"""std_srvs: Trigger (mirrors ROS 2's std_srvs/srv/Trigger.srv), for argument-less commands."""

from dataclasses import dataclass

from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as idl

from .base import ServiceType, dds_type_name


@dataclass
class Trigger_Request(IdlStruct, typename=dds_type_name("std_srvs/srv/Trigger_Request")):  # noqa: N801
    """Empty request; ROS gives empty structures this one placeholder byte on the wire."""

    structure_needs_at_least_one_member: idl.uint8 = 0


@dataclass
class Trigger_Response(IdlStruct, typename=dds_type_name("std_srvs/srv/Trigger_Response")):  # noqa: N801
    """Whether the command succeeded, with a message for people."""

    success: bool = False
    message: str = ""


Trigger = ServiceType("std_srvs/srv/Trigger", Trigger_Request, Trigger_Response)
