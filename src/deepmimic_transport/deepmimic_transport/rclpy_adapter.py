"""rclpy transport: the interface on an ordinary ROS 2 node (used whenever ROS 2 is sourced).

UNTESTED: ROS 2 cannot be installed on the project's machines, so this module has never run. It
is kept thin on purpose: names are resolved and remapped by ``interface.Node`` exactly as for the
other transports and handed to rclpy fully qualified; messages are copied field by field between
the project's classes and rclpy's generated ones (same names, same fields, checked by
``tests/transport/test_messages.py`` against the ``.msg`` files); QoS profiles map one to one.

Node code must log with one preformatted string (``logger.info(f"...")``): rclpy's loggers take
no %-style arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

try:
    import rclpy
    from rclpy.node import Node as RosNode
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy
    from rclpy.qos import QoSProfile as RosQoSProfile
    from rosidl_runtime_py.utilities import get_message, get_service
except ImportError as error:  # pragma: no cover - the normal case on the project's machines
    raise ImportError(
        "the 'rclpy' transport needs ROS 2: source /opt/ros/<distro>/setup.bash (and build "
        "deepmimic_interfaces with colcon), or use the 'dds' or 'inprocess' transport") from error

from .interface import (
    Client,
    MessageCallback,
    Node,
    Publisher,
    Service,
    ServiceCallback,
    ServiceUnavailableError,
    Subscription,
)
from .messages import MESSAGES
from .messages.base import ServiceType, fields_of, ros_type_name
from .qos import Durability, History, QoSProfile, Reliability


def _ros_class(cls: type) -> type:
    """rclpy's generated class for one of ours."""
    package, kind, name = ros_type_name(cls).split("/")
    if kind == "srv":
        service, _, part = name.rpartition("_")
        return getattr(get_service(f"{package}/srv/{service}"), part)
    return get_message(f"{package}/msg/{name}")


def to_ros(msg: Any) -> Any:
    """Copy one of our messages into rclpy's class."""
    out = _ros_class(type(msg))()
    for spec in fields_of(type(msg)):
        value = getattr(msg, spec.name)
        if "/" in spec.base_type:
            value = to_ros(value) if spec.kind == "single" else [to_ros(item) for item in value]
        elif spec.kind != "single":
            value = list(value)
        setattr(out, spec.name, value)
    return out


def from_ros(ros_msg: Any, cls: type) -> Any:
    """Copy an rclpy message into our class ``cls``."""
    values = {}
    for spec in fields_of(cls):
        value = getattr(ros_msg, spec.name)
        if "/" in spec.base_type:
            nested = MESSAGES[spec.base_type]
            value = from_ros(value, nested) if spec.kind == "single" else [from_ros(v, nested) for v in value]
        elif spec.kind != "single":
            value = value.tolist() if hasattr(value, "tolist") else list(value)
        values[spec.name] = value
    return cls(**values)


def to_ros_qos(qos: QoSProfile) -> RosQoSProfile:
    """rclpy's QoSProfile for ours."""
    return RosQoSProfile(
        reliability=ReliabilityPolicy.RELIABLE if qos.reliability is Reliability.RELIABLE
        else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if qos.durability is Durability.TRANSIENT_LOCAL
        else DurabilityPolicy.VOLATILE,
        history=HistoryPolicy.KEEP_ALL if qos.history is History.KEEP_ALL else HistoryPolicy.KEEP_LAST,
        depth=qos.depth)


class RclpyPublisher(Publisher):
    """rclpy publisher."""

    def __init__(self, node: RclpyNode, msg_type: type, topic: str, qos: QoSProfile) -> None:
        """Create the rclpy publisher."""
        super().__init__(msg_type, topic, qos)
        self._pub = node.ros_node.create_publisher(_ros_class(msg_type), topic, to_ros_qos(qos))

    def _publish(self, msg: Any) -> None:
        self._pub.publish(to_ros(msg))

    def get_subscription_count(self) -> int:
        """Matched subscriptions."""
        return self._pub.get_subscription_count()


class RclpySubscription(Subscription):
    """rclpy subscription delivering our message classes."""

    def __init__(self, node: RclpyNode, msg_type: type, topic: str, callback: MessageCallback, qos: QoSProfile) -> None:
        """Create the rclpy subscription."""
        super().__init__(msg_type, topic, callback, qos, node._logger)
        self._sub = node.ros_node.create_subscription(
            _ros_class(msg_type), topic, lambda m: self.deliver(from_ros(m, msg_type)), to_ros_qos(qos))

    def get_publisher_count(self) -> int:
        """Matched publishers."""
        return self._sub.get_publisher_count() if hasattr(self._sub, "get_publisher_count") else -1


class RclpyClient(Client):
    """rclpy client; ``call`` spins the node until the response arrives."""

    def __init__(self, node: RclpyNode, srv_type: ServiceType, name: str) -> None:
        """Create the rclpy client."""
        super().__init__(srv_type, name)
        self._node = node
        self._client = node.ros_node.create_client(get_service(srv_type.name), name)

    def wait_for_service(self, timeout_s: float = 5.0) -> bool:
        """rclpy's wait_for_service."""
        return self._client.wait_for_service(timeout_sec=timeout_s)

    def call(self, request: Any, timeout_s: float = 5.0) -> Any:
        """See ``Client.call``."""
        if not self.wait_for_service(timeout_s):
            raise ServiceUnavailableError(f"no server for {self.name} within {timeout_s} s")
        future = self._client.call_async(to_ros(request))
        rclpy.spin_until_future_complete(self._node.ros_node, future, timeout_sec=timeout_s)
        if not future.done():
            raise TimeoutError(f"{self.name}: no response within {timeout_s} s")
        return from_ros(future.result(), self.srv_type.Response)


class RclpyNode(Node):
    """Our Node interface on an rclpy node (rclpy is initialised on first use)."""

    def __init__(self, name: str, namespace: str = "/", parameters: Mapping[str, Any] | None = None,
                 remappings: Mapping[str, str] | None = None) -> None:
        """Create the rclpy node with ``parameters`` as its overrides."""
        super().__init__(name, namespace, parameters, remappings)
        if not rclpy.ok():
            rclpy.init()
        overrides = [Parameter(key, value=value) for key, value in (parameters or {}).items()]
        self.ros_node = RosNode(name, namespace=self.namespace, parameter_overrides=overrides)

    def create_publisher(self, msg_type: type, topic: str, qos: QoSProfile | str | None = None) -> Publisher:
        """See ``Node.create_publisher``."""
        return RclpyPublisher(self, msg_type, self.resolve_name(topic), self._qos(qos))

    def create_subscription(self, msg_type: type, topic: str, callback: MessageCallback,
                            qos: QoSProfile | str | None = None) -> Subscription:
        """See ``Node.create_subscription``."""
        return RclpySubscription(self, msg_type, self.resolve_name(topic), callback, self._qos(qos))

    def create_service(self, srv_type: ServiceType, name: str, callback: ServiceCallback) -> Service:
        """See ``Node.create_service``."""
        service = Service(srv_type, self.resolve_name(name), callback, self._logger)
        service._server = self.ros_node.create_service(  # keep a reference
            get_service(srv_type.name), service.name,
            lambda request, _response: to_ros(service.handle(from_ros(request, srv_type.Request))))
        return service

    def create_client(self, srv_type: ServiceType, name: str) -> Client:
        """See ``Node.create_client``."""
        return RclpyClient(self, srv_type, self.resolve_name(name))

    def create_timer(self, period_s: float, callback: Callable[[], None]) -> Any:
        """An rclpy timer (has ``cancel()``)."""
        return self.ros_node.create_timer(period_s, callback)

    def declare_parameter(self, name: str, default: Any = None) -> Any:
        """rclpy's declare_parameter; returns the value."""
        return self.ros_node.declare_parameter(name, default).value

    def get_parameter(self, name: str) -> Any:
        """rclpy's get_parameter; returns the value."""
        return self.ros_node.get_parameter(name).value

    def get_logger(self) -> Any:
        """rclpy's logger (one preformatted string per call)."""
        return self.ros_node.get_logger()

    def now(self) -> float:
        """The node's ROS clock in seconds (simulation time when use_sim_time is set)."""
        return self.ros_node.get_clock().now().nanoseconds * 1e-9

    def spin_once(self, timeout_s: float = 0.0) -> int:
        """One rclpy executor step (rclpy does not report how many callbacks ran: returns 0)."""
        rclpy.spin_once(self.ros_node, timeout_sec=timeout_s)
        return 0

    def shutdown(self) -> None:
        """Destroy the rclpy node."""
        super().shutdown()
        self.ros_node.destroy_node()
