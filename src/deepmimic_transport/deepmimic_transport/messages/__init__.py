"""Message and service definitions, one module per ROS package, plus a registry by ROS name.

Use them like rclpy's generated classes::

    from deepmimic_transport.messages import sensor_msgs, deepmimic_interfaces
    msg = sensor_msgs.JointState(name=["hip_x"], position=[0.1])
    request = deepmimic_interfaces.GetMotion.Request(clip_name="walk")

Arrays are Python lists on receipt; a publisher also accepts NumPy arrays (the DDS transport
converts them when it serialises). Received messages may be shared between subscribers in one
process (zero copy): treat them as read-only.
"""

from . import builtin_interfaces, deepmimic_interfaces, geometry_msgs, nav_msgs, sensor_msgs, std_msgs, std_srvs
from .base import FieldSpec, ServiceType, dds_type_name, fields_of, is_message, nested_classes, ros_type_name

_MODULES = (builtin_interfaces, std_msgs, geometry_msgs, sensor_msgs, nav_msgs, std_srvs, deepmimic_interfaces)

#: Every message class (services' request and response included), by ROS name ``pkg/msg/T``.
MESSAGES: dict[str, type] = {
    ros_type_name(obj): obj for module in _MODULES for obj in vars(module).values() if is_message(obj)
}
#: Every service type, by ROS name ``pkg/srv/T``.
SERVICES: dict[str, ServiceType] = {
    obj.name: obj for module in _MODULES for obj in vars(module).values() if isinstance(obj, ServiceType)
}


def get_message(ros_name: str) -> type:
    """The message class for ``pkg/msg/T`` (KeyError names the known ones when it is not defined)."""
    try:
        return MESSAGES[ros_name]
    except KeyError:
        raise KeyError(f"no message {ros_name!r}; defined: {', '.join(sorted(MESSAGES))}") from None


def get_service(ros_name: str) -> ServiceType:
    """The service type for ``pkg/srv/T``."""
    try:
        return SERVICES[ros_name]
    except KeyError:
        raise KeyError(f"no service {ros_name!r}; defined: {', '.join(sorted(SERVICES))}") from None


__all__ = [
    "MESSAGES", "SERVICES", "FieldSpec", "ServiceType", "builtin_interfaces", "dds_type_name", "deepmimic_interfaces",
    "fields_of", "geometry_msgs", "get_message", "get_service", "nav_msgs", "nested_classes", "ros_type_name",
    "sensor_msgs", "std_msgs", "std_srvs",
]
