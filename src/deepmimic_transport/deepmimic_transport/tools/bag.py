"""``bag record``: topics from the DDS graph into a rosbag2 bag in MCAP storage.

rosbags' rosbag2 writer (storage plugin MCAP, metadata version 9 as ROS 2 Jazzy writes) does the
file format: ``OUT/metadata.yaml`` and ``OUT/OUT.mcap`` with one ``ros2msg`` schema per type, one
channel per topic (``cdr`` message encoding, offered QoS in the channel metadata) and CDR payloads.

Each payload is the received message serialised again as plain little-endian CDR without trailing
padding: byte for byte what rosbags' ``serialize_cdr`` gives for the same values (the transport's
tests check that equality for every type). Schemas are the ``.msg`` text derived from the message
classes with their nested types appended in ROS 2's concatenated form, and the RIHS01 hash from
``typehash.py``. Timestamps are receipt times (ns since the epoch), as ``ros2 bag record`` stamps them.

Crash safety: every ``flush_period_s`` (1 s) the pending chunk is closed and the file flushed to
the operating system, so a recorder killed at any moment (even SIGKILL) loses at most the last
second. SIGTERM ends a recording like Ctrl-C (summary and ``metadata.yaml`` written). A bag left
without its summary or ``metadata.yaml`` by a kill is repaired by ``reindex`` (``deepmimic bag
reindex BAG``, like ``ros2 bag reindex``): it streams the complete records (mcap's stream reader
needs no summary), stops at a torn last record, and rewrites the MCAP with its summary and
``metadata.yaml``; the damaged file is kept as ``BAG.mcap.orig``.
"""

from __future__ import annotations

import contextlib
import signal
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import create_node
from ..dds_wire import domain_id_from_env, prepare
from ..messages import MESSAGES, fields_of, ros_type_name
from ..typehash import rihs01
from .discovery import Endpoint, GraphObserver, TopicInfo, message_class, reader_qos

SEPARATOR = "=" * 80
#: rosbag2's "infinite" duration in offered QoS profiles.
_INFINITE = (2147483647, 4294967295)


def message_text(cls: type) -> str:
    """The ``.msg`` text of one class: ``type name`` per field (nested types as ``pkg/Type``)."""
    return "".join(f"{spec.msg_type()} {spec.name}\n" for spec in fields_of(cls))


def _nested_in_order(cls: type, seen: dict[str, type]) -> dict[str, type]:
    """Nested message classes depth first, in field order, each once (rosbag2's and rosbags' order)."""
    for spec in fields_of(cls):
        if "/" in spec.base_type and spec.base_type not in seen:
            nested = MESSAGES[spec.base_type]
            seen[spec.base_type] = nested
            _nested_in_order(nested, seen)
    return seen


def message_definition(cls: type) -> str:
    """The full definition rosbag2 stores for a type: its text, then each nested type's after a separator."""
    parts = [message_text(cls)]
    for nested in _nested_in_order(cls, {}).values():
        short = ros_type_name(nested).replace("/msg/", "/")
        parts.append(f"{SEPARATOR}\nMSG: {short}\n{message_text(nested)}")
    return "".join(parts)


def cdr_bytes(msg: Any) -> bytes:
    """Plain CDR of ``msg`` with its encapsulation header: what rosbags' ``serialize_cdr`` writes."""
    return prepare(msg).serialize(use_version_2=False)


def offered_qos(publishers: Sequence[Endpoint]) -> list[Any]:
    """rosbags QoS records of the publishers (what rosbag2 writes as ``offered_qos_profiles``)."""
    from cyclonedds.core import Policy
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    profiles = []
    for publisher in publishers:
        qos = publisher.qos
        history = qos[Policy.History] if qos is not None else None
        keep_all = history == Policy.History.KeepAll
        depth = 0 if keep_all or history is None else history.depth
        best_effort = qos is not None and qos[Policy.Reliability] == Policy.Reliability.BestEffort
        transient = qos is not None and qos[Policy.Durability] == Policy.Durability.TransientLocal
        infinite = QosTime(*_INFINITE)
        profiles.append(Qos(QosHistory.KEEP_ALL if keep_all else QosHistory.KEEP_LAST, depth,
                            QosReliability.BEST_EFFORT if best_effort else QosReliability.RELIABLE,
                            QosDurability.TRANSIENT_LOCAL if transient else QosDurability.VOLATILE,
                            infinite, infinite, QosLiveliness.AUTOMATIC, infinite, False))
    return profiles


def _writer_class() -> Any:
    try:
        from rosbags.rosbag2 import StoragePlugin, Writer
    except ImportError as error:  # pragma: no cover - rosbags is a dependency of the tools
        raise ImportError("bag record needs rosbags (pip install rosbags)") from error
    return Writer, StoragePlugin


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Any:
    """SIGTERM raises KeyboardInterrupt (like Ctrl-C) while recording, in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def flush_to_disk(writer: Any) -> None:
    """Close the rosbags MCAP writer's pending chunk and flush the file: what is written survives a kill."""
    storage = writer.storage
    if storage.chunk.bio.tell():
        storage.close_chunk()
    storage.bio.flush()


def record(topics: Sequence[str], out: str | Path, *, duration_s: float | None = None, all_topics: bool = False,
           discovery_timeout_s: float = 5.0, stop: threading.Event | None = None, domain_id: int | None = None,
           log: Callable[[str], None] = lambda line: None, flush_period_s: float = 1.0) -> dict[str, int]:
    """Record ``topics`` (or every topic of a known type with ``all_topics``) into the bag ``out``.

    Recording stops after ``duration_s``, when ``stop`` is set, or on Ctrl-C or SIGTERM; the bag is
    closed (and ``metadata.yaml`` written) in every case. Messages are on disk within ``flush_period_s``.

    Args:
        topics: ROS topic names.
        out: The bag folder to create (must not exist).
        duration_s: Seconds to record after every topic was found; None for until stopped.
        all_topics: Record every topic discovered within ``discovery_timeout_s`` whose type we define.
        discovery_timeout_s: How long to wait for each topic's publisher.
        stop: An event that ends recording.
        domain_id: DDS domain (``ROS_DOMAIN_ID`` by default).
        log: Called with progress lines.
        flush_period_s: Seconds between two flushes of the pending chunk to the file.

    Returns:
        Messages written per topic.

    Raises:
        LookupError: A topic had no publisher within ``discovery_timeout_s``.
        KeyError: A topic's type is not one of our message classes.
    """
    writer_cls, storage = _writer_class()
    out = Path(out)
    domain_id = domain_id_from_env() if domain_id is None else domain_id
    with GraphObserver(domain_id) as observer:
        infos: list[TopicInfo] = []
        if all_topics:
            time.sleep(discovery_timeout_s)
            infos = [info for info in observer.graph().topics.values() if info.publishers and _known(info.type)]
        for topic in topics:
            info = observer.wait_for_topic(topic, discovery_timeout_s)
            if info is None:
                raise LookupError(f"no publisher of {topic} found within {discovery_timeout_s:g} s "
                                  f"(ROS_DOMAIN_ID={domain_id})")
            if info.name not in {known.name for known in infos}:
                infos.append(info)
        if not infos:
            raise LookupError("nothing to record")
        classes = {info.name: message_class(info.type) for info in infos}  # KeyError before the bag exists

        node = create_node("deepmimic_bag_recorder", backend="dds", domain_id=domain_id)
        writer = writer_cls(out, version=9, storage_plugin=storage.MCAP)
        writer.open()
        counts = {}
        try:
            lock = threading.Lock()
            for info in infos:
                cls = classes[info.name]
                connection = writer.add_connection(info.name, info.type, msgdef=message_definition(cls),
                                                   rihs01=rihs01(cls), serialization_format="cdr",
                                                   offered_qos_profiles=offered_qos(info.publishers))
                counts[info.name] = 0

                def on_message(msg: Any, connection: Any = connection, name: str = info.name) -> None:
                    stamp = time.time_ns()
                    with lock:
                        writer.write(connection, stamp, cdr_bytes(msg))
                        counts[name] += 1

                node.create_subscription(cls, info.name, on_message, reader_qos(info.publishers, depth=100))
                log(f"recording {info.name} [{info.type}]")
            deadline = None if duration_s is None else time.monotonic() + duration_s
            next_flush = time.monotonic() + flush_period_s
            try:
                with _sigterm_as_interrupt():
                    while not (stop is not None and stop.is_set()):
                        remaining = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
                        if remaining <= 0:
                            break
                        node.spin_once(remaining)
                        if time.monotonic() >= next_flush:
                            with lock:
                                flush_to_disk(writer)
                            next_flush = time.monotonic() + flush_period_s
                    node.spin_once(0.0)  # what already arrived
            except KeyboardInterrupt:
                pass
        finally:
            node.shutdown()
            writer.close()
    log(f"wrote {sum(counts.values())} messages to {out}")
    return counts


def reindex(bag: str | Path, log: Callable[[str], None] = lambda line: None) -> dict[str, int]:
    """Repair a bag a kill left without summary or ``metadata.yaml``; the messages per topic.

    The complete records of ``BAG/BAG.mcap`` are read in order without the summary; a torn last
    record ends the reading. They are written again, with summary and ``metadata.yaml``; the
    original file stays beside them as ``BAG.mcap.orig``.

    Raises:
        FileNotFoundError: No ``BAG/BAG.mcap``.
        ValueError: The file is not MCAP.
    """
    from mcap.exceptions import InvalidMagic, McapError
    from mcap.records import Channel, Message, Schema
    from mcap.stream_reader import StreamReader
    from rosbags.rosbag2.storage_mcap import parse_qos

    bag = Path(bag)
    source = bag / f"{bag.name}.mcap"
    if not source.is_file():
        raise FileNotFoundError(f"{bag}: no {source.name} to reindex")
    writer_cls, storage = _writer_class()
    counts: dict[str, int] = {}
    torn = False
    with tempfile.TemporaryDirectory(prefix=".reindex-", dir=bag.parent) as folder:
        target = Path(folder) / bag.name
        writer = writer_cls(target, version=9, storage_plugin=storage.MCAP)
        writer.open()
        schemas, connections = {}, {}
        try:
            with source.open("rb") as stream:
                try:
                    for rec in StreamReader(stream).records:
                        if isinstance(rec, Schema):
                            schemas[rec.id] = rec
                        elif isinstance(rec, Channel) and rec.id not in connections:
                            schema = schemas[rec.schema_id]
                            qos = parse_qos(rec.metadata.get("offered_qos_profiles", "")) \
                                if rec.metadata.get("offered_qos_profiles") else []
                            connections[rec.id] = writer.add_connection(
                                rec.topic, schema.name, msgdef=schema.data.decode(), rihs01=_rihs01_of(schema.name),
                                serialization_format=rec.message_encoding, offered_qos_profiles=qos)
                            counts[rec.topic] = 0
                        elif isinstance(rec, Message) and rec.channel_id in connections:
                            writer.write(connections[rec.channel_id], rec.log_time, rec.data)
                            counts[connections[rec.channel_id].topic] += 1
                except (McapError, EOFError, ValueError, struct.error) as error:
                    if isinstance(error, InvalidMagic):
                        raise ValueError(f"{source}: not a readable MCAP file ({error})") from None
                    if not schemas:
                        raise ValueError(f"{source}: no complete record to recover (killed before the first "
                                         "flush, within its first second?)") from None
                    torn = True
        finally:
            writer.close()
        original = source.with_name(source.name + ".orig")
        source.replace(original)
        (target / source.name).replace(source)
        (target / "metadata.yaml").replace(bag / "metadata.yaml")
    note = " (a torn last record was left out)" if torn else ""
    log(f"reindexed {bag}: {sum(counts.values())} messages{note}; the original is {original.name}")
    return counts


def _rihs01_of(ros_type: str) -> str | None:
    try:
        return rihs01(message_class(ros_type))
    except KeyError:
        return None


def _known(ros_type: str) -> bool:
    try:
        message_class(ros_type)
    except KeyError:
        return False
    return True


__all__ = ["cdr_bytes", "flush_to_disk", "message_definition", "message_text", "offered_qos", "record", "reindex"]
