"""The ``--ros-args`` part of a node's command line, as ``ros2 run``/``ros2 launch`` pass it.

``deepmimic launch`` starts every node as ``python -m MODULE --transport T --params FILE --ros-args
-r __node:=NAME -r __ns:=/NS -r from:=to ... --params-file FILE``; a node's ``main`` can read the
name, namespace, remappings and parameter files with :func:`parse_ros_args` and pass them to
``deepmimic_transport.create_node``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class RosArgs:
    """What ``--ros-args`` said (None/empty when it did not say it), and the arguments before it."""

    node_name: str | None = None
    namespace: str | None = None
    remappings: dict[str, str] = field(default_factory=dict)
    params_files: list[str] = field(default_factory=list)
    rest: list[str] = field(default_factory=list)


def parse_ros_args(argv: Sequence[str]) -> RosArgs:
    """Split ``argv`` at ``--ros-args`` (up to ``--``) and read ``-r``/``--remap`` and ``--params-file``."""
    args = list(argv)
    result = RosArgs()
    i = 0
    in_ros = False
    while i < len(args):
        arg = args[i]
        if arg == "--ros-args":
            in_ros = True
        elif in_ros and arg == "--":
            in_ros = False
        elif in_ros and arg in ("-r", "--remap") and i + 1 < len(args):
            source, _, target = args[i + 1].partition(":=")
            if source == "__node" or source == "__name":
                result.node_name = target
            elif source == "__ns":
                result.namespace = target
            else:
                result.remappings[source] = target
            i += 1
        elif in_ros and arg == "--params-file" and i + 1 < len(args):
            result.params_files.append(args[i + 1])
            i += 1
        elif not in_ros:
            result.rest.append(arg)
        i += 1
    return result


def ros_args(node_name: str, namespace: str = "/", remappings: dict[str, str] | None = None,
             params_files: Sequence[str] = ()) -> list[str]:
    """The ``--ros-args ...`` list for a node (the inverse of :func:`parse_ros_args`)."""
    out = ["--ros-args", "-r", f"__node:={node_name}"]
    if namespace not in ("", "/"):
        out += ["-r", f"__ns:={namespace}"]
    for source, target in (remappings or {}).items():
        out += ["-r", f"{source}:={target}"]
    for path in params_files:
        out += ["--params-file", str(path)]
    return out
