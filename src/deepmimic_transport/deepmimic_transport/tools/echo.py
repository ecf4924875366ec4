"""``topic echo`` and ``topic hz``: subscribe to a topic with the type discovery reports.

The type comes from the publishers' DDS type name (``pkg::msg::dds_::T_``), mapped to our message
class through ``deepmimic_transport.messages.MESSAGES``; the reader's QoS is chosen to match every
publisher (``discovery.reader_qos``). Messages print as YAML in the order of their fields, each
followed by ``---``, as ``ros2 topic echo`` prints them.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from .. import create_node
from ..messages import is_message
from .discovery import GraphObserver, TopicInfo, message_class, reader_qos


class TopicNotFoundError(LookupError):
    """No publisher of the topic was discovered in time."""


def to_plain(value: Any) -> Any:
    """A message as nested dicts and lists of plain values, fields in declaration order."""
    if is_message(type(value)):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    return value


def to_yaml(msg: Any) -> str:
    """The YAML ``ros2 topic echo`` prints for ``msg`` (without the ``---`` line)."""
    return yaml.safe_dump(to_plain(msg), sort_keys=False, default_flow_style=False, allow_unicode=True,
                          width=1 << 20)


@dataclass
class Subscribed:
    """A live subscription the tools made: the node, the topic's info and its message class."""

    node: Any
    info: TopicInfo
    msg_type: type
    observer: GraphObserver

    def close(self) -> None:
        """Shut the node down and stop observing."""
        self.node.shutdown()
        self.observer.close()


def subscribe(topic: str, callback: Callable[[Any], None], *, timeout_s: float = 5.0, domain_id: int | None = None,
              node_name: str = "deepmimic_topic_tool", depth: int = 10) -> Subscribed:
    """Find ``topic``'s type by discovery and subscribe to it with a matching QoS.

    Raises:
        TopicNotFoundError: No publisher within ``timeout_s``.
        KeyError: The topic's type is not one of our message classes.
    """
    observer = GraphObserver(domain_id)
    try:
        info = observer.wait_for_topic(topic, timeout_s)
        if info is None:
            raise TopicNotFoundError(f"no publisher of {topic} found within {timeout_s:g} s "
                                     f"(ROS_DOMAIN_ID={observer.domain_id})")
        msg_type = message_class(info.type)
        node = create_node(node_name, backend="dds", domain_id=observer.domain_id)
        node.create_subscription(msg_type, info.name, callback, reader_qos(info.publishers, depth))
    except BaseException:
        observer.close()
        raise
    return Subscribed(node, info, msg_type, observer)


def _spin_until(node: Any, done: Callable[[], bool], duration_s: float | None) -> None:
    deadline = None if duration_s is None else time.monotonic() + duration_s
    while not done():
        remaining = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
        if remaining <= 0:
            return
        node.spin_once(remaining)


def echo(topic: str, *, count: int | None = None, duration_s: float | None = None, timeout_s: float = 5.0,
         out: Callable[[str], None] = print, domain_id: int | None = None) -> int:
    """Print messages of ``topic`` until ``count`` were printed, ``duration_s`` passed, or Ctrl-C.

    Returns:
        How many messages were printed.
    """
    printed = [0]

    def on_message(msg: Any) -> None:
        if count is not None and printed[0] >= count:
            return
        out(to_yaml(msg) + "---")
        printed[0] += 1

    subscribed = subscribe(topic, on_message, timeout_s=timeout_s, domain_id=domain_id)
    try:
        _spin_until(subscribed.node, lambda: count is not None and printed[0] >= count, duration_s)
    except KeyboardInterrupt:
        pass
    finally:
        subscribed.close()
    return printed[0]


@dataclass(frozen=True)
class RateStats:
    """Receipt-interval statistics over a window, as ``ros2 topic hz`` prints them."""

    rate: float
    min_s: float
    max_s: float
    std_s: float
    window: int

    def __str__(self) -> str:
        """``ros2 topic hz``'s two lines."""
        return (f"average rate: {self.rate:.3f}\n"
                f"\tmin: {self.min_s:.3f}s max: {self.max_s:.3f}s std dev: {self.std_s:.5f}s window: {self.window}")


class RateMeter:
    """Arrival times of the last ``window`` + 1 messages and the statistics of their intervals."""

    def __init__(self, window: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        """Keep ``window`` intervals (ros2 topic hz's default is 10000)."""
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.times: deque[float] = deque(maxlen=window + 1)
        self.clock = clock

    def tick(self, stamp: float | None = None) -> None:
        """Record one arrival (now, unless ``stamp`` is given)."""
        self.times.append(self.clock() if stamp is None else stamp)

    def stats(self) -> RateStats | None:
        """The statistics, or None before two arrivals."""
        if len(self.times) < 2:
            return None
        times = list(self.times)
        intervals = [b - a for a, b in itertools.pairwise(times)]
        mean = statistics.fmean(intervals)
        return RateStats(1.0 / mean if mean > 0 else math.inf, min(intervals), max(intervals),
                         statistics.pstdev(intervals), len(intervals))


def hz(topic: str, *, window: int = 10_000, duration_s: float | None = None, report_every_s: float = 1.0,
       timeout_s: float = 5.0, out: Callable[[str], None] = print, domain_id: int | None = None) -> RateStats | None:
    """Print ``topic``'s receive rate every ``report_every_s`` until ``duration_s`` passes or Ctrl-C.

    Returns:
        The last statistics (None when fewer than two messages arrived).
    """
    meter = RateMeter(window)
    subscribed = subscribe(topic, lambda _msg: meter.tick(), timeout_s=timeout_s, domain_id=domain_id,
                           node_name="deepmimic_topic_hz", depth=100)
    deadline = None if duration_s is None else time.monotonic() + duration_s
    next_report = time.monotonic() + report_every_s
    try:
        while deadline is None or time.monotonic() < deadline:
            subscribed.node.spin_once(0.02)
            if time.monotonic() >= next_report:
                next_report += report_every_s
                stats = meter.stats()
                out(str(stats) if stats else "no new messages")
    except KeyboardInterrupt:
        pass
    finally:
        subscribed.close()
    return meter.stats()
