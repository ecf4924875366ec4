"""What is on a DDS domain, in ROS 2 terms, read from Cyclone's builtin discovery topics.

- DDS topic ``rt/x`` of type ``pkg::msg::dds_::T_`` is ROS topic ``/x`` of type ``pkg/msg/T``;
- a reader on ``rq/xRequest`` is a server of service ``/x`` (type ``pkg/srv/T`` from
  ``pkg::srv::dds_::T_Request_``), a writer there is a client; ``rr/xReply`` is the reply side;
- anything else on the domain (Cyclone's own topics, non-ROS applications) is left out.

:class:`GraphObserver` joins the domain with the process's shared participant (so the same
``CYCLONEDDS_URI``/loopback rules apply as for nodes) and, by default, hides that participant's own
endpoints: the tool's echo subscription is not counted among a topic's subscribers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication, BuiltinTopicDcpsSubscription
from cyclonedds.core import InstanceState, Policy, ReadCondition, SampleState, ViewState

from .. import dds, names
from ..dds_wire import domain_id_from_env
from ..messages import MESSAGES
from ..qos import Durability, History, QoSProfile, Reliability

#: Reading all discovery samples at once: more endpoints than any graph of ours has.
_MAX_SAMPLES = 100_000


def ros_type_name(dds_type: str) -> str:
    """``pkg/msg/T`` for ``pkg::msg::dds_::T_``; other names are returned unchanged."""
    parts = dds_type.split("::")
    if len(parts) == 4 and parts[2] == "dds_" and parts[3].endswith("_"):
        return f"{parts[0]}/{parts[1]}/{parts[3][:-1]}"
    return dds_type


def message_class(ros_type: str) -> type:
    """Our message class for ``pkg/msg/T`` (KeyError with a readable message when we do not define it)."""
    try:
        return MESSAGES[ros_type]
    except KeyError:
        raise KeyError(f"message type {ros_type} is not defined in deepmimic_transport.messages") from None


@dataclass(frozen=True)
class Endpoint:
    """One discovered DDS reader or writer.

    Attributes:
        kind: ``publication`` (a writer) or ``subscription`` (a reader).
        dds_topic: The DDS topic name (``rt/x``, ``rq/xRequest``, ...).
        dds_type: The DDS type name (``pkg::msg::dds_::T_``).
        participant: The GUID of the participant the endpoint belongs to.
        qos: Its Cyclone QoS.
    """

    kind: str
    dds_topic: str
    dds_type: str
    participant: uuid.UUID
    key: uuid.UUID
    qos: Any = None


@dataclass
class TopicInfo:
    """A ROS topic: name, type(s) and who uses it."""

    name: str
    types: list[str] = field(default_factory=list)
    publishers: list[Endpoint] = field(default_factory=list)
    subscribers: list[Endpoint] = field(default_factory=list)

    @property
    def type(self) -> str:
        """The topic's type (the first one when endpoints disagree)."""
        return self.types[0] if self.types else ""


@dataclass
class ServiceInfo:
    """A ROS service: name, type(s), servers and clients."""

    name: str
    types: list[str] = field(default_factory=list)
    servers: int = 0
    clients: int = 0


@dataclass
class Graph:
    """Topics and services found on a domain, sorted by name."""

    topics: dict[str, TopicInfo] = field(default_factory=dict)
    services: dict[str, ServiceInfo] = field(default_factory=dict)


def _add_type(types: list[str], name: str) -> None:
    if name not in types:
        types.append(name)


def build_graph(endpoints: Iterable[Endpoint]) -> Graph:
    """Group DDS endpoints into ROS topics and services (pure; see the module docstring for the rules)."""
    graph = Graph()
    for endpoint in endpoints:
        prefix, _, rest = endpoint.dds_topic.partition("/")
        if not rest:
            continue
        ros_name, ros_type = "/" + rest, ros_type_name(endpoint.dds_type)
        if prefix == names.TOPIC_PREFIX:
            topic = graph.topics.setdefault(ros_name, TopicInfo(ros_name))
            _add_type(topic.types, ros_type)
            (topic.publishers if endpoint.kind == "publication" else topic.subscribers).append(endpoint)
        elif prefix == names.REQUEST_PREFIX and ros_name.endswith("Request"):
            service = graph.services.setdefault(ros_name[: -len("Request")], ServiceInfo(ros_name[: -len("Request")]))
            if ros_type.endswith("_Request"):
                _add_type(service.types, ros_type[: -len("_Request")])
            if endpoint.kind == "subscription":
                service.servers += 1
            else:
                service.clients += 1
        elif prefix == names.REPLY_PREFIX and ros_name.endswith("Reply"):
            service = graph.services.setdefault(ros_name[: -len("Reply")], ServiceInfo(ros_name[: -len("Reply")]))
            if ros_type.endswith("_Response"):
                _add_type(service.types, ros_type[: -len("_Response")])
    graph.topics = dict(sorted(graph.topics.items()))
    graph.services = dict(sorted(graph.services.items()))
    return graph


def reader_qos(publishers: Iterable[Endpoint], depth: int = 10) -> QoSProfile:
    """The QoS a reader should use to hear every publisher, as ``ros2 topic echo`` chooses it.

    Best effort if any publisher is best effort (a reliable reader would not match it), transient
    local only if all of them are; keep last ``depth``.
    """
    publishers = list(publishers)
    best_effort = any(p.qos is not None and p.qos[Policy.Reliability] == Policy.Reliability.BestEffort
                      for p in publishers)
    transient = bool(publishers) and all(
        p.qos is not None and p.qos[Policy.Durability] == Policy.Durability.TransientLocal for p in publishers)
    return QoSProfile(Reliability.BEST_EFFORT if best_effort else Reliability.RELIABLE,
                      Durability.TRANSIENT_LOCAL if transient else Durability.VOLATILE, History.KEEP_LAST, depth)


class GraphObserver:
    """Watches a domain's discovery data. Use as a context manager, or call :meth:`close`."""

    def __init__(self, domain_id: int | None = None, include_own: bool = False) -> None:
        """Join the domain (``ROS_DOMAIN_ID`` by default) with the process's shared participant."""
        self.domain_id = domain_id_from_env() if domain_id is None else domain_id
        self.include_own = include_own
        self.participant = dds._acquire_participant(self.domain_id)
        self._own = self.participant.guid
        self._readers = {
            "publication": BuiltinDataReader(self.participant, BuiltinTopicDcpsPublication),
            "subscription": BuiltinDataReader(self.participant, BuiltinTopicDcpsSubscription),
        }
        self._alive = {kind: ReadCondition(reader, SampleState.Any | ViewState.Any | InstanceState.Alive)
                       for kind, reader in self._readers.items()}
        self._closed = False

    def endpoints(self) -> list[Endpoint]:
        """Every live endpoint discovered so far."""
        found = []
        for kind, reader in self._readers.items():
            for sample in reader.read(N=_MAX_SAMPLES, condition=self._alive[kind]):
                topic = getattr(sample, "topic_name", None)
                if topic is None:
                    continue
                if not self.include_own and sample.participant_key == self._own:
                    continue
                found.append(Endpoint(kind, topic, sample.type_name, sample.participant_key, sample.key, sample.qos))
        return found

    def graph(self) -> Graph:
        """The topics and services discovered so far."""
        return build_graph(self.endpoints())

    def wait_for_topic(self, topic: str, timeout_s: float = 5.0, publishers: bool = True) -> TopicInfo | None:
        """The topic once discovered (with a publisher unless ``publishers`` is False); None after ``timeout_s``."""
        name = names.expand(topic)
        deadline = time.monotonic() + timeout_s
        while True:
            info = self.graph().topics.get(name)
            if info is not None and info.types and (info.publishers or not publishers):
                return info
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def close(self) -> None:
        """Delete the discovery readers and leave the participant."""
        if self._closed:
            return
        self._closed = True
        for entity in (*self._alive.values(), *self._readers.values()):
            dds._delete(entity)
        dds._release_participant(self.domain_id)

    def __enter__(self) -> GraphObserver:
        """Use in a ``with`` block."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close."""
        self.close()


def discover(wait_s: float = 1.0, domain_id: int | None = None) -> Graph:
    """The graph after listening to discovery for ``wait_s`` seconds."""
    with GraphObserver(domain_id) as observer:
        time.sleep(wait_s)
        return observer.graph()
