"""rclpy transport: the interface on an ordinary ROS 2 node, on ROS's own RMW (Fast DDS by default).

Tested against real rclpy (ROS 2 Kilted's PyPI wheels, which ``make setup`` installs) in
tests/ros2. It is kept thin: names are resolved and remapped by ``interface.Node`` exactly as for
the other transports and handed to rclpy fully qualified; messages are copied field by field
between the project's classes and rclpy's generated ones (same names and fields, checked by
``tests/transport/test_messages.py`` against the ``.msg`` files); QoS profiles map one to one.
Our own types (``deepmimic_interfaces``) must have been generated for rclpy: ``make setup`` does it
with ROS's rosidl generators (scripts/build_ros_interfaces.sh), as colcon does in a workspace.

Node code must log with one preformatted string (``logger.info(f"...")``): rclpy's loggers take
no %-style arguments.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

try:
    import rclpy
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node as RosNode
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy
    from rclpy.qos import QoSProfile as RosQoSProfile
except ImportError as error:  # pragma: no cover - only without the `ros` extra
    raise ImportError(
        "the 'rclpy' transport needs ROS 2's rclpy: pip install -e 'src/deepmimic_transport[ros]' "
        "(ROS 2 Kilted from PyPI; make setup does it) or source a ROS 2 installation; "
        "or use the 'dds' or 'inprocess' transport") from error

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

_helper_ids = itertools.count(1)


def _ros_module(package: str, kind: str) -> Any:
    """``pkg.msg`` / ``pkg.srv`` as rosidl generated it for rclpy (ImportError says how to build ours)."""
    try:
        return importlib.import_module(f"{package}.{kind}")
    except ImportError as error:
        hint = (" (build it: scripts/build_ros_interfaces.sh .venv, or colcon build in a ROS 2 workspace)"
                if package == "deepmimic_interfaces" else "")
        raise ImportError(f"rclpy has no {package}/{kind} types{hint}: {error}") from error


def _ros_class(cls: type) -> type:
    """rclpy's generated class for one of ours."""
    package, kind, name = ros_type_name(cls).split("/")
    if kind == "srv":
        service, _, part = name.rpartition("_")
        return getattr(getattr(_ros_module(package, kind), service), part)
    return getattr(_ros_module(package, kind), name)


def _ros_service(srv_type: ServiceType) -> type:
    """rclpy's generated service class for one of ours."""
    package, kind, name = srv_type.name.split("/")
    return getattr(_ros_module(package, kind), name)


def to_ros(msg: Any) -> Any:
    """Copy one of our messages into rclpy's class."""
    out = _ros_class(type(msg))()
    for spec in fields_of(type(msg)):
        value = getattr(msg, spec.name)
        if "/" in spec.base_type:
            value = to_ros(value) if spec.kind == "single" else [to_ros(item) for item in value]
        elif spec.kind != "single" and spec.base_type != "string":
            value = np.asarray(value).ravel() if isinstance(value, np.ndarray) else value
            if spec.base_type in ("byte", "uint8") and not isinstance(value, np.ndarray):
                value = bytes(value) if spec.base_type == "byte" else list(value)
        elif spec.kind != "single":
            value = list(value)
        setattr(out, spec.name, value)
    return out


def from_ros(ros_msg: Any, cls: type) -> Any:
    """Copy an rclpy message into our class ``cls``.

    Array fields become lists, except in the train-mode messages (``writes_numpy``), whose arrays
    arrive as NumPy arrays on every transport.
    """
    numpy_fields = getattr(cls, "__numpy_cdr__", False)
    values = {}
    for spec in fields_of(cls):
        value = getattr(ros_msg, spec.name)
        if "/" in spec.base_type:
            nested = MESSAGES[spec.base_type]
            value = from_ros(value, nested) if spec.kind == "single" else [from_ros(v, nested) for v in value]
        elif spec.kind != "single":
            if numpy_fields and spec.base_type != "string":
                value = np.asarray(value)
            elif isinstance(value, bytes):
                value = list(value)
            else:
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
            _ros_class(msg_type), topic, node.counted(lambda m: self.deliver(from_ros(m, msg_type))),
            to_ros_qos(qos))

    def get_publisher_count(self) -> int:
        """Matched publishers."""
        return self._sub.get_publisher_count() if hasattr(self._sub, "get_publisher_count") else -1


class RclpyClient(Client):
    """rclpy client on a helper node of its own, so that ``call`` can wait from inside a callback.

    ``call`` spins only the helper node's executor until the response arrives (as the dds
    transport's client waits on its own reply reader); the node's callbacks do not run meanwhile.
    """

    def __init__(self, node: RclpyNode, srv_type: ServiceType, name: str) -> None:
        """Create the helper node and the rclpy client."""
        super().__init__(srv_type, name)
        self._helper = RosNode(f"{node.name}_client_{next(_helper_ids)}", namespace=node.namespace,
                               start_parameter_services=False)
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self._helper)
        self._client = self._helper.create_client(_ros_service(srv_type), name)

    def wait_for_service(self, timeout_s: float = 5.0) -> bool:
        """rclpy's wait_for_service."""
        return self._client.wait_for_service(timeout_sec=timeout_s)

    def call(self, request: Any, timeout_s: float = 5.0) -> Any:
        """See ``Client.call``."""
        if not self.wait_for_service(timeout_s):
            raise ServiceUnavailableError(f"no server for {self.name} within {timeout_s} s")
        future = self._client.call_async(to_ros(request))
        self._executor.spin_until_future_complete(future, timeout_sec=timeout_s)
        if not future.done():
            raise TimeoutError(f"{self.name}: no response within {timeout_s} s")
        return from_ros(future.result(), self.srv_type.Response)

    def close(self) -> None:
        """Destroy the helper node."""
        self._executor.remove_node(self._helper)
        self._executor.shutdown()
        self._helper.destroy_node()


class RclpyNode(Node):
    """Our Node interface on an rclpy node with an executor of its own (rclpy is initialised on first use)."""

    def __init__(self, name: str, namespace: str = "/", parameters: Mapping[str, Any] | None = None,
                 remappings: Mapping[str, str] | None = None) -> None:
        """Create the rclpy node with ``parameters`` as its overrides."""
        super().__init__(name, namespace, parameters, remappings)
        if not rclpy.ok():
            rclpy.init(args=[])  # the command line's --ros-args were applied already (names, parameters)
        overrides = [Parameter(key, value=value) for key, value in (parameters or {}).items()]
        self.ros_node = RosNode(name, namespace=self.namespace, parameter_overrides=overrides)
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self.ros_node)
        self._callbacks_run = 0
        self._clients: list[RclpyClient] = []

    def counted(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """``callback`` counting its calls (what ``spin_once`` reports)."""
        def run(*args: Any) -> Any:
            self._callbacks_run += 1
            return callback(*args)
        return run

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
            _ros_service(srv_type), service.name,
            self.counted(lambda request, _response: to_ros(service.handle(from_ros(request, srv_type.Request)))))
        return service

    def create_client(self, srv_type: ServiceType, name: str) -> Client:
        """See ``Node.create_client``."""
        client = RclpyClient(self, srv_type, self.resolve_name(name))
        self._clients.append(client)
        return client

    def create_timer(self, period_s: float, callback: Callable[[], None]) -> Any:
        """An rclpy timer on the node's ROS clock (has ``cancel()``)."""
        if period_s <= 0:
            raise ValueError(f"timer period must be positive, got {period_s}")
        return self.ros_node.create_timer(period_s, self.counted(callback))

    def declare_parameter(self, name: str, default: Any = None) -> Any:
        """rclpy's declare_parameter (dynamically typed, as on our other transports); returns the value.

        An empty list default (whose type rclpy cannot infer) is declared without a value.
        """
        descriptor = ParameterDescriptor(dynamic_typing=True)
        value = None if isinstance(default, (list, tuple)) and not default else default
        declared = self.ros_node.declare_parameter(name, value, descriptor).value
        if declared is None and value is None and default is not None:
            return default
        return list(declared) if isinstance(declared, (list, tuple)) or hasattr(declared, "tolist") else declared

    def get_parameter(self, name: str) -> Any:
        """rclpy's get_parameter; returns the value."""
        value = self.ros_node.get_parameter(name).value
        return list(value) if isinstance(value, (list, tuple)) or hasattr(value, "tolist") else value

    def get_logger(self) -> Any:
        """rclpy's logger (one preformatted string per call)."""
        return self.ros_node.get_logger()

    def now(self) -> float:
        """The node's ROS clock in seconds (simulation time when use_sim_time is set)."""
        return self.ros_node.get_clock().now().nanoseconds * 1e-9

    def spin_once(self, timeout_s: float = 0.0) -> int:
        """Run what is ready (waiting up to ``timeout_s`` for the first callback); returns how many ran."""
        if self._shut_down:
            return 0
        before = self._callbacks_run
        self._executor.spin_once(timeout_sec=max(0.0, timeout_s))
        while True:  # rclpy runs one callback per spin_once: run the rest of what is ready
            ran = self._callbacks_run
            self._executor.spin_once(timeout_sec=0.0)
            if self._callbacks_run == ran:
                return self._callbacks_run - before

    def shutdown(self) -> None:
        """Destroy the rclpy node (and its clients' helper nodes)."""
        if self._shut_down:
            return
        super().shutdown()
        for client in self._clients:
            client.close()
        self._executor.remove_node(self.ros_node)
        self._executor.shutdown()
        self.ros_node.destroy_node()
