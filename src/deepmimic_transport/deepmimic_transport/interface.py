"""The transport interface every node is written against: a narrow subset of rclpy's Node.

A node gets a :class:`Node` from ``deepmimic_transport.create_node`` and uses only this API, so the
same node runs in process, over Cyclone DDS, or as an rclpy node. What the implementations share
lives here: name resolution, parameters, logging, timers, the spin loop, and the policy for bad
messages (a callback that raises ``validation.InvalidMessageError`` drops that message; see
``validation.py``).

Callbacks run in the thread that calls ``spin_once``/``spin``, one at a time.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from . import names
from .messages.base import ServiceType
from .parameters import ParameterStore
from .qos import QoSProfile, qos_profile
from .validation import InvalidMessageError

MessageCallback = Callable[[Any], None]
#: ``callback(request, response) -> response``: fill the given default response and return it (rclpy's form).
ServiceCallback = Callable[[Any, Any], Any]


class ServiceUnavailableError(TimeoutError):
    """No server for a service answered within the timeout."""


def error_response(srv_type: ServiceType, reason: str) -> Any:
    """A default response, with ``message`` set to ``reason`` when the response has that field."""
    response = srv_type.Response()
    if hasattr(response, "message"):
        response.message = reason
    return response


class Publisher(ABC):
    """Sends messages of one type on one topic."""

    def __init__(self, msg_type: type, topic: str, qos: QoSProfile) -> None:
        """Record what the publisher carries; implementations create the endpoint."""
        self.msg_type, self.topic, self.qos = msg_type, topic, qos

    def publish(self, msg: Any) -> None:
        """Send ``msg`` (an instance of ``msg_type``) to every matched subscription."""
        if not isinstance(msg, self.msg_type):
            raise TypeError(f"{self.topic} carries {self.msg_type.__name__}, not {type(msg).__name__}")
        self._publish(msg)

    @abstractmethod
    def _publish(self, msg: Any) -> None:
        """Send a type-checked message."""

    @abstractmethod
    def get_subscription_count(self) -> int:
        """Number of subscriptions currently matched."""


class Subscription(ABC):
    """Receives messages of one type on one topic and hands them to a callback.

    Attributes:
        received: Messages handed to the callback.
        dropped: Messages dropped: undecodable, or the callback raised InvalidMessageError.
    """

    def __init__(self, msg_type: type, topic: str, callback: MessageCallback, qos: QoSProfile,
                 logger: logging.Logger) -> None:
        """Record what the subscription carries; implementations create the endpoint."""
        self.msg_type, self.topic, self.callback, self.qos = msg_type, topic, callback, qos
        self.received = 0
        self.dropped = 0
        self._logger = logger
        self._drop_logged_at = -float("inf")
        self._drops_unlogged = 0

    def deliver(self, msg: Any) -> None:
        """Run the callback on ``msg``; an InvalidMessageError from it drops the message (logged, counted)."""
        self.received += 1
        try:
            self.callback(msg)
        except InvalidMessageError as error:
            self.reject(f"invalid message: {error}")

    def reject(self, reason: str) -> None:
        """Count and log a message that could not be used (at most one line per second, with the count)."""
        self.dropped += 1
        self._drops_unlogged += 1
        now = time.monotonic()
        if now - self._drop_logged_at < 1.0:
            return
        self._logger.warning("%s: dropped %d message(s) since the last report (%d so far), the last: %s",
                             self.topic, self._drops_unlogged, self.dropped, reason)
        self._drop_logged_at, self._drops_unlogged = now, 0

    @abstractmethod
    def get_publisher_count(self) -> int:
        """Number of publishers currently matched."""


class Service:
    """Answers requests of one service type under one name."""

    def __init__(self, srv_type: ServiceType, name: str, callback: ServiceCallback, logger: logging.Logger) -> None:
        """Record what the service answers; implementations create the endpoints."""
        self.srv_type, self.name, self.callback = srv_type, name, callback
        self.handled = 0
        self.rejected = 0
        self._logger = logger

    def handle(self, request: Any) -> Any:
        """The response to ``request``; an InvalidMessageError from the callback becomes a default response."""
        self.handled += 1
        try:
            response = self.callback(request, self.srv_type.Response())
        except InvalidMessageError as error:
            self.rejected += 1
            self._logger.warning("%s: rejected a request: %s", self.name, error)
            return error_response(self.srv_type, f"invalid request: {error}")
        if not isinstance(response, self.srv_type.Response):
            raise TypeError(f"{self.name}: the callback returned {type(response).__name__}, "
                            f"not {self.srv_type.Response.__name__}")
        return response


class Client(ABC):
    """Calls one service."""

    def __init__(self, srv_type: ServiceType, name: str) -> None:
        """Record what the client calls; implementations create the endpoints."""
        self.srv_type, self.name = srv_type, name

    @abstractmethod
    def call(self, request: Any, timeout_s: float = 5.0) -> Any:
        """Send ``request`` and wait for its response.

        Raises:
            ServiceUnavailableError: No server matched within ``timeout_s``.
            TimeoutError: The server did not answer within ``timeout_s``.
        """

    @abstractmethod
    def wait_for_service(self, timeout_s: float = 5.0) -> bool:
        """Wait until a server is reachable; False when none is within ``timeout_s``."""


class Timer:
    """Calls a callback every ``period_s`` seconds of the node's clock, from the node's executor."""

    def __init__(self, period_s: float, callback: Callable[[], None], now: float) -> None:
        """Schedule the first call one period after ``now``."""
        if period_s <= 0:
            raise ValueError(f"timer period must be positive, got {period_s}")
        self.period_s, self.callback = period_s, callback
        self.next_due = now + period_s
        self.canceled = False

    def cancel(self) -> None:
        """Stop calling the callback."""
        self.canceled = True

    def fire_if_due(self, now: float) -> bool:
        """Call the callback if its time has come; late calls are not repeated to catch up."""
        if self.canceled or now < self.next_due:
            return False
        self.next_due += self.period_s
        if self.next_due <= now:  # more than a period late: skip the missed calls
            self.next_due = now + self.period_s
        self.callback()
        return True


class Node(ABC):
    """A node: named endpoints, timers, parameters and a logger, run by ``spin_once``/``spin``."""

    def __init__(self, name: str, namespace: str = "/", parameters: Mapping[str, Any] | None = None,
                 remappings: Mapping[str, str] | None = None) -> None:
        """Create the node.

        Args:
            name: Node name.
            namespace: Namespace for relative names.
            parameters: Flat parameter overrides for this node (``deepmimic_transport.create_node``
                extracts them from a ROS 2 parameter file).
            remappings: ``{from: to}`` topic/service name remappings.
        """
        self.name = names.validate_node_name(name)
        self.namespace = names.normalize_namespace(namespace)
        self.full_name = names.join(self.namespace, self.name)
        self.remappings = dict(remappings or {})
        self._parameters = ParameterStore(parameters)
        self._logger = logging.getLogger(self.full_name.strip("/").replace("/", "."))
        self._timers: list[Timer] = []
        self._shut_down = False

    # Names ---------------------------------------------------------------------------------------
    def resolve_name(self, name: str) -> str:
        """Fully qualified, remapped name of a topic or service."""
        return names.resolve(name, self.namespace, self.name, self.remappings)

    # Endpoints -----------------------------------------------------------------------------------
    @abstractmethod
    def create_publisher(self, msg_type: type, topic: str, qos: QoSProfile | str | None = None) -> Publisher:
        """A publisher of ``msg_type`` on ``topic`` (QoS: a profile or a name from ``qos.PROFILES``)."""

    @abstractmethod
    def create_subscription(self, msg_type: type, topic: str, callback: MessageCallback,
                            qos: QoSProfile | str | None = None) -> Subscription:
        """A subscription that calls ``callback(msg)`` from the executor."""

    @abstractmethod
    def create_service(self, srv_type: ServiceType, name: str, callback: ServiceCallback) -> Service:
        """A service answering with ``callback(request, response) -> response``."""

    @abstractmethod
    def create_client(self, srv_type: ServiceType, name: str) -> Client:
        """A client of service ``name``."""

    def create_timer(self, period_s: float, callback: Callable[[], None]) -> Timer:
        """A timer calling ``callback()`` every ``period_s`` seconds from the executor."""
        timer = Timer(period_s, callback, self.now())
        self._timers.append(timer)
        return timer

    # Parameters and logging ----------------------------------------------------------------------
    def declare_parameter(self, name: str, default: Any = None) -> Any:
        """Declare a parameter and return its value (the file's override, else ``default``)."""
        return self._parameters.declare(name, default)

    def get_parameter(self, name: str) -> Any:
        """The value of a declared parameter (ParameterError when undeclared)."""
        return self._parameters.get(name)

    def get_logger(self) -> logging.Logger:
        """The node's logger: ``debug``/``info``/``warning``/``error``, one formatted string per call.

        rclpy's loggers take no %-style arguments, so nodes format their messages themselves.
        """
        return self._logger

    # Execution -----------------------------------------------------------------------------------
    def now(self) -> float:
        """The node's clock in seconds: the system clock, as ROS time is without ``use_sim_time``.

        Header stamps are compared across processes and with ROS 2 nodes (the policy node places a
        driver's state in the reference clip by its stamp), so they must be on ROS's clock: a
        monotonic clock here put an rclpy driver's states ~1.7e9 s away from our reference frames.
        """
        return time.time()

    @abstractmethod
    def spin_once(self, timeout_s: float = 0.0) -> int:
        """Run what is ready (due timers, received messages, requests), waiting up to ``timeout_s``.

        Returns:
            Number of callbacks run.
        """

    def spin(self, until: Callable[[], bool] | None = None, timeout_s: float | None = None) -> bool:
        """Spin until ``until()`` is true, ``timeout_s`` passes, or the node shuts down.

        Returns:
            True when ``until`` became true (always False without one).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self._shut_down:
            if until is not None and until():
                return True
            remaining = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if remaining <= 0:
                return False
            self.spin_once(remaining)
        return False

    def shutdown(self) -> None:
        """Release the node's endpoints; the node cannot be used afterwards."""
        self._shut_down = True
        for timer in self._timers:
            timer.cancel()

    def _run_due_timers(self) -> int:
        """Fire every due timer; returns how many fired."""
        now = self.now()
        return sum(timer.fire_if_due(now) for timer in list(self._timers))

    def _time_to_next_timer(self, limit: float) -> float:
        """Seconds until the next timer is due, at most ``limit`` and at least 0."""
        pending = [t.next_due for t in self._timers if not t.canceled]
        return limit if not pending else max(0.0, min(limit, min(pending) - self.now()))

    def __enter__(self) -> Node:
        """Use the node in a ``with`` block; it shuts down at the end."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Shut the node down."""
        self.shutdown()

    @staticmethod
    def _qos(qos: QoSProfile | str | None) -> QoSProfile:
        """Resolve a QoS argument (see ``qos.qos_profile``)."""
        return qos_profile(qos)
