"""``deepmimic bag record|reindex``: DDS topics into a rosbag2 bag (MCAP storage), readable by ROS 2 tools;
repair a bag a kill left without summary or metadata.yaml."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``bag record``."""
    bag = subparsers.add_parser("bag", help="record DDS topics into a rosbag2 MCAP bag (like ros2 bag)")
    sub = bag.add_subparsers(dest="bag_command", required=True, metavar="ACTION")

    record = sub.add_parser("record", help="record topics until --duration or Ctrl-C")
    record.add_argument("topics", nargs="*", metavar="TOPIC")
    record.add_argument("-a", "--all", action="store_true", help="every discovered topic of a known type")
    record.add_argument("-o", "--output", required=True, help="bag folder to create (must not exist)")
    record.add_argument("--duration", type=float, help="seconds to record (default: until Ctrl-C)")
    record.add_argument("--timeout", type=float, default=5.0,
                        help="seconds to wait for each topic's publisher (default 5)")
    record.set_defaults(handler=run_record)

    reindex = sub.add_parser("reindex", help="repair a bag left without summary/metadata.yaml (like ros2 bag reindex)")
    reindex.add_argument("bag", metavar="BAG", help="the bag folder")
    reindex.set_defaults(handler=run_reindex)


def run_record(args: argparse.Namespace) -> int:
    """Record, then print the message counts."""
    from deepmimic_transport.tools.bag import record

    from deepmimic.cli import CommandError

    if not args.topics and not args.all:
        raise CommandError("name at least one TOPIC, or --all")
    try:
        counts = record(args.topics, args.output, duration_s=args.duration, all_topics=args.all,
                        discovery_timeout_s=args.timeout, log=lambda line: print(line, file=sys.stderr, flush=True))
    except (LookupError, FileExistsError) as error:
        if isinstance(error, KeyError):
            raise
        raise CommandError(str(error)) from error
    except Exception as error:
        if type(error).__name__ == "WriterError":  # rosbags: the bag exists already
            raise CommandError(str(error)) from error
        raise
    for topic, count in counts.items():
        print(f"{topic}: {count} messages")
    return 0


def run_reindex(args: argparse.Namespace) -> int:
    """Rewrite the bag's MCAP with its summary and metadata.yaml, then print the message counts."""
    from deepmimic_transport.tools.bag import reindex

    from deepmimic.cli import CommandError

    try:
        counts = reindex(args.bag, log=lambda line: print(line, file=sys.stderr, flush=True))
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from error
    for topic, count in counts.items():
        print(f"{topic}: {count} messages")
    return 0
