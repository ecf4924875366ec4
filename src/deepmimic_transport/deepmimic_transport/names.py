"""ROS 2 names: validation, resolution against a node's namespace, remapping, and DDS topic names.

Every transport resolves names the same way, so a graph behaves alike in process, over DDS and
under rclpy:

- ``joint_states`` in namespace ``/robot`` -> ``/robot/joint_states``; ``/x`` stays ``/x``;
  ``~/x`` -> ``/<namespace>/<node>/x``;
- remappings ``{from: to}`` (both resolved the same way) then replace whole resolved names, as
  ``--ros-args -r from:=to`` does;
- on DDS (rmw_cyclonedds' conventions) topic ``/x`` is ``rt/x``; service ``/x`` is the pair
  ``rq/xRequest`` (requests) and ``rr/xReply`` (replies).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = r"[A-Za-z_][A-Za-z0-9_]*"
_FULL_NAME = re.compile(rf"^(/{_TOKEN})+$")
_NODE_NAME = re.compile(rf"^{_TOKEN}$")
_NAMESPACE = re.compile(rf"^/$|^(/{_TOKEN})+$")

TOPIC_PREFIX = "rt"
REQUEST_PREFIX = "rq"
REPLY_PREFIX = "rr"


def validate_node_name(name: str) -> str:
    """Return ``name`` if it is a valid node name (letters, digits, underscores; not starting with a digit)."""
    if not _NODE_NAME.match(name):
        raise ValueError(f"invalid node name {name!r}: use letters, digits and '_', not starting with a digit")
    return name


def normalize_namespace(namespace: str) -> str:
    """``/`` for an empty namespace, a leading ``/`` added otherwise; validated."""
    namespace = "/" + namespace.strip("/") if namespace not in ("", "/") else "/"
    if not _NAMESPACE.match(namespace):
        raise ValueError(f"invalid namespace {namespace!r}")
    return namespace


def join(namespace: str, name: str) -> str:
    """``namespace`` + ``/`` + ``name`` without doubled slashes."""
    return ("" if namespace == "/" else namespace) + "/" + name


def expand(name: str, namespace: str = "/", node_name: str = "") -> str:
    """The fully qualified form of a topic or service name.

    Args:
        name: Absolute (``/x``), relative (``x``) or private (``~/x``, ``~``).
        namespace: The node's namespace.
        node_name: The node's name (needed for private names).

    Returns:
        ``/a/b`` form.

    Raises:
        ValueError: The name is not a valid ROS name.
    """
    namespace = normalize_namespace(namespace)
    if name.startswith("~"):
        if not node_name:
            raise ValueError(f"private name {name!r} needs a node name")
        full = join(join(namespace, node_name), name[1:].lstrip("/")).rstrip("/")
    elif name.startswith("/"):
        full = name
    else:
        full = join(namespace, name)
    if not _FULL_NAME.match(full):
        raise ValueError(f"invalid topic or service name {name!r} (resolved to {full!r})")
    return full


def resolve(name: str, namespace: str = "/", node_name: str = "", remappings: Mapping[str, str] | None = None) -> str:
    """Expand ``name``, then apply the node's remappings (matched on expanded names)."""
    full = expand(name, namespace, node_name)
    for source, target in (remappings or {}).items():
        if expand(source, namespace, node_name) == full:
            return expand(target, namespace, node_name)
    return full


def dds_topic(full_name: str) -> str:
    """The DDS topic of ROS topic ``/x``: ``rt/x``."""
    return f"{TOPIC_PREFIX}{expand(full_name)}"


def dds_service_topics(full_name: str) -> tuple[str, str]:
    """The DDS topics of ROS service ``/x``: ``("rq/xRequest", "rr/xReply")``."""
    full_name = expand(full_name)
    return f"{REQUEST_PREFIX}{full_name}Request", f"{REPLY_PREFIX}{full_name}Reply"
