"""In-process transport: nodes composed in one process exchange message objects through a Bus.

Zero copy: a published object is handed as is to every subscription (treat received messages as
read-only). Deterministic: the bus is one executor for all its nodes; each ``spin_once`` fires
due timers, then delivers the messages that were pending when it started, in publication order.
With a :class:`ManualClock` time only moves when told to (``Bus.run_for``), which makes a composed
graph reproducible in tests and lets a training graph run as fast as the computer allows.

Service calls run the server's callback directly in the caller's thread (no queue, no copy).
QoS: KEEP_LAST depth bounds each subscription's queue (oldest dropped); TRANSIENT_LOCAL
publishers keep their last ``depth`` messages for subscriptions created later; reliability has no
effect in process.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from typing import Any

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
from .messages.base import ServiceType
from .qos import Durability, History, QoSProfile


class ManualClock:
    """A clock that only moves when told to (seconds as a float)."""

    def __init__(self, start: float = 0.0) -> None:
        """Start at ``start`` seconds."""
        self._now = start

    def __call__(self) -> float:
        """The current time."""
        return self._now

    def set(self, now: float) -> None:
        """Move to ``now`` (never backwards)."""
        if now < self._now:
            raise ValueError(f"a clock cannot go back from {self._now} to {now}")
        self._now = now


class Bus:
    """The shared medium and executor of a graph composed in one process."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        """Create an empty bus.

        Args:
            clock: Time source in seconds; ``time.monotonic`` by default, or a :class:`ManualClock`.
        """
        self.clock = clock or time.monotonic
        self._lock = threading.RLock()
        self._wakeup = threading.Condition(self._lock)
        self._sequence = itertools.count()
        self._types: dict[str, type] = {}
        self._subscriptions: dict[str, list[InProcessSubscription]] = defaultdict(list)
        self._publishers: dict[str, list[InProcessPublisher]] = defaultdict(list)
        self._services: dict[str, InProcessService] = {}
        self._nodes: list[InProcessNode] = []

    @property
    def manual(self) -> bool:
        """True when time is driven by a ManualClock (spin never waits)."""
        return isinstance(self.clock, ManualClock)

    # Registration (called by the endpoints) ------------------------------------------------------
    def check_type(self, topic: str, msg_type: type) -> None:
        """Bind ``topic`` to ``msg_type``, or raise TypeError if it already carries another type."""
        with self._lock:
            known = self._types.setdefault(topic, msg_type)
            if known is not msg_type:
                raise TypeError(f"topic {topic} carries {known.__name__}, not {msg_type.__name__}")

    def add(self, registry: dict, key: str, endpoint: Any) -> None:
        """Register an endpoint and wake waiting spinners and clients."""
        with self._wakeup:
            if registry is self._services:
                if key in self._services:
                    raise ValueError(f"service {key} already has a server")
                self._services[key] = endpoint
            else:
                registry[key].append(endpoint)
            self._wakeup.notify_all()

    def remove(self, endpoint: Any) -> None:
        """Unregister an endpoint (node shutdown)."""
        with self._lock:
            for registry in (self._subscriptions, self._publishers):
                for endpoints in registry.values():
                    if endpoint in endpoints:
                        endpoints.remove(endpoint)
            self._services = {k: v for k, v in self._services.items() if v is not endpoint}
            if endpoint in self._nodes:
                self._nodes.remove(endpoint)

    # Data flow -----------------------------------------------------------------------------------
    def publish(self, publisher: InProcessPublisher, msg: Any) -> None:
        """Queue ``msg`` for every subscription of the publisher's topic."""
        with self._wakeup:
            sequence = next(self._sequence)
            if publisher.history is not None:
                publisher.history.append((sequence, msg))
            for subscription in self._subscriptions[publisher.topic]:
                subscription.queue.append((sequence, msg))
            self._wakeup.notify_all()

    def latched(self, topic: str) -> list[tuple[int, Any]]:
        """Messages kept by the topic's transient-local publishers, oldest first."""
        with self._lock:
            kept = [item for p in self._publishers[topic] if p.history is not None for item in p.history]
        return sorted(kept, key=lambda item: item[0])

    def count(self, registry_name: str, topic: str) -> int:
        """Number of publishers or subscriptions on ``topic``."""
        with self._lock:
            registry = self._subscriptions if registry_name == "subscriptions" else self._publishers
            return len(registry[topic])

    def find_service(self, name: str, timeout_s: float) -> InProcessService | None:
        """The server of ``name``, waiting up to ``timeout_s`` (real clock only) for one to appear."""
        deadline = time.monotonic() + timeout_s
        with self._wakeup:
            while name not in self._services and not self.manual:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wakeup.wait(remaining)
            return self._services.get(name)

    # Execution -----------------------------------------------------------------------------------
    def _run_ready(self) -> int:
        """Fire due timers, then deliver the messages pending now, in publication order."""
        with self._lock:
            count = sum(node._run_due_timers() for node in list(self._nodes))
            pending = []
            for subscriptions in list(self._subscriptions.values()):
                for subscription in subscriptions:
                    while subscription.queue:
                        sequence, msg = subscription.queue.popleft()
                        pending.append((sequence, id(subscription), subscription, msg))
            pending.sort(key=lambda item: item[:2])
            for _, _, subscription, msg in pending:
                if not subscription.closed:
                    subscription.deliver(msg)
            return count + len(pending)

    def spin_once(self, timeout_s: float = 0.0) -> int:
        """Run what is ready; with a real clock and nothing ready, wait up to ``timeout_s`` first."""
        count = self._run_ready()
        if count or timeout_s <= 0 or self.manual:
            return count
        with self._wakeup:
            waits = [n._time_to_next_timer(timeout_s) for n in self._nodes]
            self._wakeup.wait(min(waits, default=timeout_s))
        return self._run_ready()

    def spin_until_idle(self, max_rounds: int = 1000) -> int:
        """``spin_once`` until nothing is left to run (chains of publish-in-callback included)."""
        total = 0
        for _ in range(max_rounds):
            count = self._run_ready()
            if not count:
                return total
            total += count
        raise RuntimeError(f"the graph is still busy after {max_rounds} rounds (a publish loop?)")

    def run_for(self, seconds: float) -> int:
        """Advance a ManualClock by ``seconds``, stopping at every timer deadline on the way.

        Returns:
            Number of callbacks run.
        """
        if not self.manual:
            raise RuntimeError("run_for needs a Bus(clock=ManualClock())")
        end = self.clock() + seconds
        total = 0
        while True:
            deadlines = [t.next_due for n in self._nodes for t in n._timers if not t.canceled]
            if not deadlines or min(deadlines) > end:
                break
            self.clock.set(max(self.clock(), min(deadlines)))
            total += self.spin_until_idle()
        self.clock.set(end)
        return total + self.spin_until_idle()


_DEFAULT_BUS: Bus | None = None


def default_bus() -> Bus:
    """The process-wide bus that nodes join when none is given."""
    global _DEFAULT_BUS
    if _DEFAULT_BUS is None:
        _DEFAULT_BUS = Bus()
    return _DEFAULT_BUS


class InProcessPublisher(Publisher):
    """Publishes onto the bus; keeps a history when TRANSIENT_LOCAL."""

    def __init__(self, bus: Bus, msg_type: type, topic: str, qos: QoSProfile) -> None:
        """Register on the bus."""
        super().__init__(msg_type, topic, qos)
        bus.check_type(topic, msg_type)
        self.bus = bus
        keep = None if qos.history is History.KEEP_ALL else qos.depth
        self.history = deque(maxlen=keep) if qos.durability is Durability.TRANSIENT_LOCAL else None
        bus.add(bus._publishers, topic, self)

    def _publish(self, msg: Any) -> None:
        self.bus.publish(self, msg)

    def get_subscription_count(self) -> int:
        """Subscriptions on this topic in the bus."""
        return self.bus.count("subscriptions", self.topic)


class InProcessSubscription(Subscription):
    """A queue on the bus, drained by the bus's executor."""

    def __init__(self, bus: Bus, msg_type: type, topic: str, callback: MessageCallback, qos: QoSProfile,
                 logger: Any) -> None:
        """Register on the bus; a TRANSIENT_LOCAL subscription receives the topic's kept messages."""
        super().__init__(msg_type, topic, callback, qos, logger)
        bus.check_type(topic, msg_type)
        self.bus = bus
        self.closed = False
        self.queue: deque[tuple[int, Any]] = deque(maxlen=None if qos.history is History.KEEP_ALL else qos.depth)
        if qos.durability is Durability.TRANSIENT_LOCAL:
            self.queue.extend(bus.latched(topic))
        bus.add(bus._subscriptions, topic, self)

    def get_publisher_count(self) -> int:
        """Publishers on this topic in the bus."""
        return self.bus.count("publishers", self.topic)


class InProcessService(Service):
    """A server registered on the bus by name."""


class InProcessClient(Client):
    """Calls the bus's server of a service directly."""

    def __init__(self, bus: Bus, srv_type: ServiceType, name: str) -> None:
        """Remember the bus; the server is looked up at call time."""
        super().__init__(srv_type, name)
        self.bus = bus

    def call(self, request: Any, timeout_s: float = 5.0) -> Any:
        """Run the server's callback on ``request`` and return its response."""
        if not isinstance(request, self.srv_type.Request):
            raise TypeError(f"{self.name} takes {self.srv_type.Request.__name__}, not {type(request).__name__}")
        service = self.bus.find_service(self.name, timeout_s)
        if service is None:
            raise ServiceUnavailableError(f"no server for {self.name} within {timeout_s} s")
        if service.srv_type != self.srv_type:
            raise TypeError(f"{self.name} is a {service.srv_type.name}, not a {self.srv_type.name}")
        return service.handle(request)

    def wait_for_service(self, timeout_s: float = 5.0) -> bool:
        """Whether the bus has (or gets within ``timeout_s``) a server of this name."""
        return self.bus.find_service(self.name, timeout_s) is not None


class InProcessNode(Node):
    """A node on a :class:`Bus`; spinning any node of the bus runs the whole bus."""

    def __init__(self, name: str, namespace: str = "/", parameters: Mapping[str, Any] | None = None,
                 remappings: Mapping[str, str] | None = None, bus: Bus | None = None) -> None:
        """Create the node on ``bus`` (the process-wide default bus when None)."""
        super().__init__(name, namespace, parameters, remappings)
        self.bus = bus or default_bus()
        self._endpoints: list[Any] = []
        with self.bus._lock:
            self.bus._nodes.append(self)

    def now(self) -> float:
        """The bus's clock."""
        return self.bus.clock()

    def _keep(self, endpoint: Any) -> Any:
        self._endpoints.append(endpoint)
        return endpoint

    def create_publisher(self, msg_type: type, topic: str, qos: QoSProfile | str | None = None) -> Publisher:
        """See ``Node.create_publisher``."""
        return self._keep(InProcessPublisher(self.bus, msg_type, self.resolve_name(topic), self._qos(qos)))

    def create_subscription(self, msg_type: type, topic: str, callback: MessageCallback,
                            qos: QoSProfile | str | None = None) -> Subscription:
        """See ``Node.create_subscription``."""
        return self._keep(InProcessSubscription(self.bus, msg_type, self.resolve_name(topic), callback,
                                                self._qos(qos), self._logger))

    def create_service(self, srv_type: ServiceType, name: str, callback: ServiceCallback) -> Service:
        """See ``Node.create_service``."""
        service = InProcessService(srv_type, self.resolve_name(name), callback, self._logger)
        self.bus.add(self.bus._services, service.name, service)
        return self._keep(service)

    def create_client(self, srv_type: ServiceType, name: str) -> Client:
        """See ``Node.create_client``."""
        return InProcessClient(self.bus, srv_type, self.resolve_name(name))

    def spin_once(self, timeout_s: float = 0.0) -> int:
        """Run the whole bus once (see ``Bus.spin_once``)."""
        return self.bus.spin_once(timeout_s)

    def shutdown(self) -> None:
        """Leave the bus."""
        super().shutdown()
        for endpoint in self._endpoints:
            if isinstance(endpoint, InProcessSubscription):
                endpoint.closed = True
            self.bus.remove(endpoint)
        self.bus.remove(self)
        self._endpoints.clear()
