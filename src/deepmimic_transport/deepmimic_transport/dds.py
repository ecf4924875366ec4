"""Cyclone DDS transport speaking ROS 2's conventions (rmw_cyclonedds), for graphs without ROS 2.

A ROS 2 machine using rmw_cyclonedds_cpp on the same ``ROS_DOMAIN_ID`` sees these topics and
services as its own: topic ``/x`` is DDS topic ``rt/x`` of type ``pkg::msg::dds_::T_`` in plain
CDR, with ``typehash=RIHS01_...;`` in the endpoints' user data; services use ``rq/xRequest`` and
``rr/xReply`` with rmw_cyclonedds' request header (see ``dds_wire.py``). What is not done: the
``ros_discovery_info`` topic, so ROS 2 tools list our topics and services but not our node names.

One DomainParticipant per domain is shared by the nodes of a process (as rclpy does). Each node
has a waitset executor: ``spin_once`` fires due timers, then takes every received sample and
request and runs its callback in the calling thread. ``Client.call`` waits on its own reply reader,
so it works from inside a callback too (the server must be spun by another thread or process).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Mapping
from typing import Any

from cyclonedds.core import DDSException, GuardCondition, InstanceState, ReadCondition, SampleState, ViewState, WaitSet
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.internal import InvalidSample
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from . import names
from .dds_wire import (
    UINT64_MASK,
    client_service_id,
    dds_qos,
    domain_config,
    domain_id_from_env,
    prepare,
    service_wire_type,
    topic_user_data,
    unwrap,
    user_data_entries,
    wrap,
)
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
from .qos import SERVICES, QoSProfile
from .typehash import user_data

ANY_SAMPLE = SampleState.Any | ViewState.Any | InstanceState.Any
#: How long a server waits for a client's reply reader to be matched before answering anyway.
REPLY_MATCH_TIMEOUT_S = 0.5
_POLL_S = 0.005

_lock = threading.Lock()
_participants: dict[int, list[Any]] = {}  # domain id -> [participant, domain, users]
_csid_counter = itertools.count(1)


def _delete(entity: Any) -> None:
    """Delete a cyclonedds entity now rather than when Python collects it (idempotent)."""
    entity.__del__()


def _acquire_participant(domain_id: int) -> DomainParticipant:
    """The process's participant on ``domain_id``, created on first use."""
    with _lock:
        if domain_id not in _participants:
            # Fast DDS interoperability, then CYCLONEDDS_URI or ROS's "this machine only" settings.
            domain = Domain(domain_id, domain_config())
            _participants[domain_id] = [DomainParticipant(domain_id), domain, 0]
        record = _participants[domain_id]
        record[2] += 1
        return record[0]


def _release_participant(domain_id: int) -> None:
    """Drop one user of the domain's participant; the last one deletes it."""
    with _lock:
        record = _participants[domain_id]
        record[2] -= 1
        if record[2] == 0:
            del _participants[domain_id]
            _delete(record[0])
            _delete(record[1])


class DdsPublisher(Publisher):
    """A DataWriter on ``rt/<topic>``."""

    def __init__(self, node: DdsNode, msg_type: type, topic: str, qos: QoSProfile) -> None:
        """Create the writer."""
        super().__init__(msg_type, topic, qos)
        self.dds_topic = names.dds_topic(topic)
        self.writer = DataWriter(node.participant, node._topic(self.dds_topic, msg_type),
                                 dds_qos(qos, topic_user_data(msg_type)))

    def _publish(self, msg: Any) -> None:
        self.writer.write(prepare(msg))

    def get_subscription_count(self) -> int:
        """Matched DDS readers (in this process or elsewhere)."""
        return len(self.writer.get_matched_subscriptions())


def _take_each(reader: DataReader, on_error: Any) -> Any:
    """Yield received samples one by one; an undecodable one goes to ``on_error`` and is skipped."""
    while True:
        try:
            samples = reader.take(1)
        except DDSException:
            raise
        except Exception as error:
            on_error(f"undecodable sample ({type(error).__name__}: {error})")
            continue
        if not samples:
            return
        if not isinstance(samples[0], InvalidSample):  # lifecycle notices carry no data
            yield samples[0]


class DdsSubscription(Subscription):
    """A DataReader on ``rt/<topic>`` with a read condition in the node's waitset."""

    def __init__(self, node: DdsNode, msg_type: type, topic: str, callback: MessageCallback, qos: QoSProfile) -> None:
        """Create the reader."""
        super().__init__(msg_type, topic, callback, qos, node.get_logger())
        self.dds_topic = names.dds_topic(topic)
        self.reader = DataReader(node.participant, node._topic(self.dds_topic, msg_type),
                                 dds_qos(qos, topic_user_data(msg_type)))
        self.condition = ReadCondition(self.reader, ANY_SAMPLE)

    def take_and_deliver(self) -> int:
        """Hand every received message to the callback; returns how many samples were taken."""
        count = 0
        for sample in _take_each(self.reader, self.reject):
            self.deliver(sample)
            count += 1
        return count

    def get_publisher_count(self) -> int:
        """Matched DDS writers."""
        return len(self.reader.get_matched_publications())


def _new_csid(node: DdsNode) -> str:
    return client_service_id(node.participant.get_guid(), next(_csid_counter))


class DdsService(Service):
    """A request reader on ``rq/<name>Request`` and a reply writer on ``rr/<name>Reply``."""

    def __init__(self, node: DdsNode, srv_type: ServiceType, name: str, callback: ServiceCallback) -> None:
        """Create the endpoints."""
        super().__init__(srv_type, name, callback, node.get_logger())
        request_topic, reply_topic = names.dds_service_topics(name)
        tag = f"serviceid={_new_csid(node)};"
        self.reader = DataReader(node.participant, node._topic(request_topic, service_wire_type(srv_type.Request)),
                                 dds_qos(SERVICES, user_data(srv_type.Request, tag)))
        self.writer = DataWriter(node.participant, node._topic(reply_topic, service_wire_type(srv_type.Response)),
                                 dds_qos(SERVICES, user_data(srv_type.Response, tag)))
        self.condition = ReadCondition(self.reader, ANY_SAMPLE)

    def take_and_answer(self) -> int:
        """Answer every received request; returns how many were taken."""
        count = 0
        for sample in _take_each(self.reader, lambda reason: self._logger.warning("%s: %s", self.name, reason)):
            guid, seq, request = unwrap(sample, self.srv_type.Request)
            response = self.handle(request)
            self._wait_for_reply_reader(sample.sample_info.publication_handle)
            self.writer.write(wrap(response, guid, seq))
            count += 1
        return count

    def _wait_for_reply_reader(self, request_writer: int) -> None:
        """Wait (briefly) until the calling client's reply reader is matched, as rmw_cyclonedds does."""
        writer_data = self.reader.get_matched_publication_data(request_writer)
        client = user_data_entries(writer_data.qos if writer_data else None).get("clientid")
        if client is None:
            return  # an unknown client: answer at once
        deadline = time.monotonic() + REPLY_MATCH_TIMEOUT_S
        while time.monotonic() < deadline:
            for handle in self.writer.get_matched_subscriptions():
                reader_data = self.writer.get_matched_subscription_data(handle)
                if user_data_entries(reader_data.qos if reader_data else None).get("clientid") == client:
                    return
            time.sleep(_POLL_S)
        self._logger.debug("%s: client %s not matched yet; replying anyway", self.name, client)


class DdsClient(Client):
    """A request writer and a reply reader; replies are matched on (guid, sequence number)."""

    def __init__(self, node: DdsNode, srv_type: ServiceType, name: str) -> None:
        """Create the endpoints."""
        super().__init__(srv_type, name)
        request_topic, reply_topic = names.dds_service_topics(name)
        tag = f"clientid={_new_csid(node)};"
        self.writer = DataWriter(node.participant, node._topic(request_topic, service_wire_type(srv_type.Request)),
                                 dds_qos(SERVICES, user_data(srv_type.Request, tag)))
        self.reader = DataReader(node.participant, node._topic(reply_topic, service_wire_type(srv_type.Response)),
                                 dds_qos(SERVICES, user_data(srv_type.Response, tag)))
        self.guid = self.writer.get_instance_handle() & UINT64_MASK  # rmw_cyclonedds: the writer's handle
        self._sequence = itertools.count(1)
        self._condition = ReadCondition(self.reader, ANY_SAMPLE)
        self._waitset = WaitSet(node.participant)
        self._waitset.attach(self._condition)

    def wait_for_service(self, timeout_s: float = 5.0) -> bool:
        """Wait until a server's request reader and reply writer are both matched."""
        deadline = time.monotonic() + timeout_s
        while not (self.writer.get_matched_subscriptions() and self.reader.get_matched_publications()):
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)
        return True

    def call(self, request: Any, timeout_s: float = 5.0) -> Any:
        """See ``Client.call``."""
        if not isinstance(request, self.srv_type.Request):
            raise TypeError(f"{self.name} takes {self.srv_type.Request.__name__}, not {type(request).__name__}")
        deadline = time.monotonic() + timeout_s
        if not self.wait_for_service(timeout_s):
            raise ServiceUnavailableError(f"no server for {self.name} within {timeout_s} s")
        seq = next(self._sequence)
        self.writer.write(wrap(request, self.guid, seq))
        while True:
            for sample in _take_each(self.reader, lambda reason: None):
                if sample.cdds_request_guid == self.guid and sample.cdds_request_seq == seq:
                    return unwrap(sample, self.srv_type.Response)[2]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: no response within {timeout_s} s")
            self._waitset.wait(int(remaining * 1e9))

    def close(self) -> None:
        """Delete the endpoints."""
        self._waitset.detach(self._condition)
        for entity in (self._waitset, self._condition, self.reader, self.writer):
            _delete(entity)


class DdsNode(Node):
    """A node on Cyclone DDS, domain ``ROS_DOMAIN_ID`` unless told otherwise."""

    def __init__(self, name: str, namespace: str = "/", parameters: Mapping[str, Any] | None = None,
                 remappings: Mapping[str, str] | None = None, domain_id: int | None = None) -> None:
        """Create the node and join the process's participant on the domain."""
        super().__init__(name, namespace, parameters, remappings)
        self.domain_id = domain_id_from_env() if domain_id is None else domain_id
        self.participant = _acquire_participant(self.domain_id)
        self._topics: dict[str, Topic] = {}
        self._readers: list[DdsSubscription | DdsService] = []
        self._writers: list[DdsPublisher] = []
        self._clients: list[DdsClient] = []
        self._waitset = WaitSet(self.participant)
        self._guard = GuardCondition(self.participant)  # wakes a waiting spin on shutdown
        self._waitset.attach(self._guard)

    def _topic(self, dds_name: str, data_type: type) -> Topic:
        """The node's Topic entity for ``dds_name`` (one per name)."""
        if dds_name not in self._topics:
            self._topics[dds_name] = Topic(self.participant, dds_name, data_type)
        return self._topics[dds_name]

    def create_publisher(self, msg_type: type, topic: str, qos: QoSProfile | str | None = None) -> Publisher:
        """See ``Node.create_publisher``."""
        publisher = DdsPublisher(self, msg_type, self.resolve_name(topic), self._qos(qos))
        self._writers.append(publisher)
        return publisher

    def create_subscription(self, msg_type: type, topic: str, callback: MessageCallback,
                            qos: QoSProfile | str | None = None) -> Subscription:
        """See ``Node.create_subscription``."""
        subscription = DdsSubscription(self, msg_type, self.resolve_name(topic), callback, self._qos(qos))
        self._attach(subscription)
        return subscription

    def create_service(self, srv_type: ServiceType, name: str, callback: ServiceCallback) -> Service:
        """See ``Node.create_service``."""
        service = DdsService(self, srv_type, self.resolve_name(name), callback)
        self._attach(service)
        return service

    def create_client(self, srv_type: ServiceType, name: str) -> Client:
        """See ``Node.create_client``."""
        client = DdsClient(self, srv_type, self.resolve_name(name))
        self._clients.append(client)
        return client

    def _attach(self, endpoint: DdsSubscription | DdsService) -> None:
        self._readers.append(endpoint)
        self._waitset.attach(endpoint.condition)

    def _drain(self) -> int:
        """Run the callbacks of everything received."""
        count = 0
        for endpoint in list(self._readers):
            if isinstance(endpoint, DdsSubscription):
                count += endpoint.take_and_deliver()
            else:
                count += endpoint.take_and_answer()
        return count

    def spin_once(self, timeout_s: float = 0.0) -> int:
        """See ``Node.spin_once``."""
        if self._shut_down:
            return 0
        count = self._run_due_timers() + self._drain()
        if count or timeout_s <= 0:
            return count
        wait_s = self._time_to_next_timer(timeout_s)
        if wait_s > 0:
            self._waitset.wait(int(wait_s * 1e9))
        if self._shut_down:
            return 0
        return self._run_due_timers() + self._drain()

    def shutdown(self) -> None:
        """Delete the node's entities and leave the participant."""
        if self._shut_down:
            return
        super().shutdown()
        self._guard.set(True)
        for client in self._clients:
            client.close()
        for endpoint in self._readers:
            self._waitset.detach(endpoint.condition)
            _delete(endpoint.condition)
            _delete(endpoint.reader)
            if isinstance(endpoint, DdsService):
                _delete(endpoint.writer)
        for publisher in self._writers:
            _delete(publisher.writer)
        self._waitset.detach(self._guard)
        for entity in (self._waitset, self._guard, *self._topics.values()):
            _delete(entity)
        self._readers, self._writers, self._clients, self._topics = [], [], [], {}
        _release_participant(self.domain_id)
