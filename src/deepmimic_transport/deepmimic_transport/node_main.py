"""What every node executable's ``main`` shares: the command line (ours and ROS 2's ``--ros-args``),
the transport choice, and spinning until interrupted; plus Pose <-> array helpers for the nodes."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from . import create_node
from .messages import geometry_msgs
from .tools.ros_args import parse_ros_args


def pose_msg(position: Sequence[float], quat_wxyz: Sequence[float]) -> geometry_msgs.Pose:
    """A geometry_msgs/Pose from a position and a ``(w, x, y, z)`` quaternion."""
    w, x, y, z = (float(v) for v in quat_wxyz)
    return geometry_msgs.Pose(position=geometry_msgs.Point(*(float(v) for v in position)),
                              orientation=geometry_msgs.Quaternion(x=x, y=y, z=z, w=w))


def pose_arrays(pose: geometry_msgs.Pose) -> tuple[list[float], list[float]]:
    """Position ``[x, y, z]`` and quaternion ``[w, x, y, z]`` of a geometry_msgs/Pose."""
    p, q = pose.position, pose.orientation
    return [p.x, p.y, p.z], [q.w, q.x, q.y, q.z]


def settle_garbage_collector() -> None:
    """Move everything built at start-up out of the garbage collector's sight (``gc.freeze``).

    A node process holds ~350k objects after importing torch and MuJoCo; a full collection walks
    them all and stalls the control loop 160-180 ms on this 2-core machine (long enough for the
    policy node to miss five 30 Hz states and a real robot to fall). Frozen, a full collection
    scans only what the loop allocated since.
    """
    gc.collect()
    gc.freeze()


def stop_on_sigint() -> Callable[[], bool]:
    """Make SIGINT (Ctrl-C, launch's stop) a request that the spin loop polls, not an exception.

    Raised as KeyboardInterrupt, SIGINT lands wherever the interpreter is, e.g. inside one of
    rclpy's ``Future.__del__`` ("Exception ignored in ...", a traceback in the node's log at every
    shutdown that happens to hit it). The spin loop wakes at least every 50 ms to look. Outside
    the main thread (no signal handlers there) Ctrl-C keeps its default behaviour.
    """
    requested = threading.Event()
    try:
        signal.signal(signal.SIGINT, lambda _signum, _frame: requested.set())
    except ValueError:  # not the main thread
        pass
    return requested.is_set


def run_node(name: str, cls: Callable[[Any], Any], args: list[str] | None = None) -> None:
    """Create node ``name`` on the chosen transport, wrap it in ``cls`` and spin until interrupted.

    An object with a ``run()`` method (the trainer) is run instead of spun: it drives its own loop,
    spinning the node as it needs, and the node ends when ``run`` returns (``--seconds`` does not
    apply to it).

    Command line: ``--transport inprocess|dds|rclpy`` (default: ``$DEEPMIMIC_TRANSPORT``, else
    dds), ``--params FILE``, ``--seconds S``, and ROS 2's
    ``--ros-args -r __node:=NAME -r __ns:=/NS -r from:=to --params-file FILE`` as launch passes them.
    """
    argv = sys.argv[1:] if args is None else list(args)
    ros = parse_ros_args(argv)
    parser = argparse.ArgumentParser(prog=f"{name}_node")
    parser.add_argument("--transport", default=None, help="inprocess, dds or rclpy")
    parser.add_argument("--params", "--params-file", dest="params", default=os.environ.get("DEEPMIMIC_PARAMS"),
                        help="ROS 2 parameter YAML (node: ros__parameters: layout)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    options, _ = parser.parse_known_args(ros.rest)
    params = options.params or (ros.params_files[0] if ros.params_files else None)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [%(name)s]: %(message)s")
    node = create_node(ros.node_name or name, backend=options.transport, namespace=ros.namespace or "/",
                       parameters=params, remappings=ros.remappings)
    try:
        app = cls(node)
        settle_garbage_collector()
        if hasattr(app, "run"):
            app.run()
        else:
            node.spin(until=stop_on_sigint(), timeout_s=options.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        node.shutdown()
