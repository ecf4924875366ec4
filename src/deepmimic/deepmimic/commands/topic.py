"""``deepmimic topic``: list, echo and measure the topics of the DDS graph (like ``ros2 topic``).

Works on ``ROS_DOMAIN_ID``; on one machine set ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` (or a
``CYCLONEDDS_URI``) as for the nodes.
"""

from __future__ import annotations

import argparse

from deepmimic.arg_types import non_negative_float, positive_float, positive_int, topic_name


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``topic list``, ``topic echo`` and ``topic hz``."""
    topic = subparsers.add_parser("topic", help="list, echo and measure DDS topics (like ros2 topic)")
    sub = topic.add_subparsers(dest="topic_command", required=True, metavar="ACTION")

    listing = sub.add_parser("list", help="topics with types and publisher/subscriber counts; services")
    listing.add_argument("--wait", type=positive_float, default=1.0, help="seconds to listen to discovery (default 1)")
    listing.add_argument("--no-services", action="store_true", help="topics only")
    listing.set_defaults(handler=run_list)

    echo = sub.add_parser("echo", help="print a topic's messages as YAML")
    echo.add_argument("topic", type=topic_name)
    echo.add_argument("--once", action="store_true", help="print one message and exit")
    echo.add_argument("--count", type=positive_int, help="print N messages and exit")
    echo.add_argument("--duration", type=positive_float, help="stop after this many seconds")
    echo.add_argument("--timeout", type=non_negative_float, default=5.0,
                    help="seconds to wait for a publisher (default 5)")
    echo.set_defaults(handler=run_echo)

    hz = sub.add_parser("hz", help="a topic's receive rate: average, min/max/std of intervals")
    hz.add_argument("topic", type=topic_name)
    hz.add_argument("--window", type=positive_int, default=10_000, help="intervals averaged over (default 10000)")
    hz.add_argument("--duration", type=positive_float, help="stop after this many seconds")
    hz.add_argument("--timeout", type=non_negative_float, default=5.0,
                    help="seconds to wait for a publisher (default 5)")
    hz.set_defaults(handler=run_hz)


def run_list(args: argparse.Namespace) -> int:
    """Print topics (name, type, publishers, subscribers) and services (name, type, servers, clients)."""
    from deepmimic_transport.tools.discovery import discover

    graph = discover(args.wait)
    for info in graph.topics.values():
        print(f"{info.name} [{', '.join(info.types)}] {len(info.publishers)} publisher(s), "
              f"{len(info.subscribers)} subscriber(s)")
    if not args.no_services:
        for service in graph.services.values():
            print(f"{service.name} [{', '.join(service.types)}] service: {service.servers} server(s), "
                  f"{service.clients} client(s)")
    return 0


def _tool_errors():
    from deepmimic_transport.tools.echo import TopicNotFoundError

    return (TopicNotFoundError,)


def run_echo(args: argparse.Namespace) -> int:
    """Print messages until --once/--count/--duration or Ctrl-C."""
    from deepmimic_transport.tools.echo import echo

    from deepmimic.cli import CommandError

    count = 1 if args.once else args.count
    try:
        echo(args.topic, count=count, duration_s=args.duration, timeout_s=args.timeout,
             out=lambda text: print(text, flush=True))
    except _tool_errors() as error:
        raise CommandError(str(error)) from error
    return 0


def run_hz(args: argparse.Namespace) -> int:
    """Print the rate every second until --duration or Ctrl-C."""
    from deepmimic_transport.tools.echo import hz

    from deepmimic.cli import CommandError

    try:
        hz(args.topic, window=args.window, duration_s=args.duration, timeout_s=args.timeout,
           out=lambda text: print(text, flush=True))
    except _tool_errors() as error:
        raise CommandError(str(error)) from error
    except ValueError as error:
        raise CommandError(str(error)) from error
    return 0
