"""A small test node for the launcher: std_msgs/String "GREETING N" on ``chatter`` at ``rate`` Hz.

Parameters: ``greeting`` ("hello"), ``rate`` (30.0), ``count`` (0 = forever), ``fail_after`` (seconds;
0 = never: then it exits with status 3, a dying node). Command line as the project's nodes:
``--transport``, ``--params``, ``--seconds`` and ``--ros-args -r __node:=NAME -r from:=to``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from deepmimic_transport.messages import std_msgs
from deepmimic_transport.tools.ros_args import parse_ros_args

import deepmimic_transport as transport


def make_node(default_name: str, args: list[str] | None) -> tuple[transport.Node, argparse.Namespace]:
    """The node the command line asks for (name, namespace, remappings, parameters, transport)."""
    argv = sys.argv[1:] if args is None else list(args)
    ros = parse_ros_args(argv)
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", default=None)
    parser.add_argument("--params", default=None)
    parser.add_argument("--seconds", type=float, default=30.0)
    options, _ = parser.parse_known_args(ros.rest)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [%(name)s]: %(message)s")
    node = transport.create_node(ros.node_name or default_name, backend=options.transport,
                                 namespace=ros.namespace or "/", parameters=options.params or
                                 (ros.params_files[0] if ros.params_files else None), remappings=ros.remappings)
    return node, options


def main(args: list[str] | None = None) -> None:
    node, options = make_node("talker", args)
    greeting = node.declare_parameter("greeting", "hello")
    rate = float(node.declare_parameter("rate", 30.0))
    count = int(node.declare_parameter("count", 0))
    fail_after = float(node.declare_parameter("fail_after", 0.0))
    publisher = node.create_publisher(std_msgs.String, "chatter", "reliable")
    sent = [0]
    start = node.now()

    def tick() -> None:
        if fail_after and node.now() - start >= fail_after:
            print("talker failing on purpose", flush=True)
            raise SystemExit(3)
        publisher.publish(std_msgs.String(data=f"{greeting} {sent[0]}"))
        sent[0] += 1

    node.create_timer(1.0 / rate, tick)
    print(f"talker {node.full_name} publishing on {node.resolve_name('chatter')}", flush=True)
    try:
        node.spin(until=lambda: bool(count) and sent[0] >= count, timeout_s=options.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        node.shutdown()
    print(f"talker sent {sent[0]}", flush=True)


if __name__ == "__main__":
    main()
