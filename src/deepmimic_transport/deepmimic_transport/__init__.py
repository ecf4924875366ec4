"""deepmimic_transport: one narrow node API over three transports, picked by name.

``create_node(name, backend=...)`` returns a :class:`~deepmimic_transport.interface.Node`:

- ``"inprocess"``: zero-copy, one process, deterministic executor (``inprocess.py``);
- ``"dds"``: Cyclone DDS with ROS 2's wire conventions, between processes and machines (``dds.py``);
- ``"rclpy"``: an ordinary ROS 2 node on ROS's own RMW (``rclpy_adapter.py``).

The backend is the argument, else ``$DEEPMIMIC_TRANSPORT``, else ``dds``; having rclpy installed
changes nothing (choose it with ``transport:=rclpy`` or ``DEEPMIMIC_TRANSPORT=rclpy``). No other
code chooses between transports.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import names, qos
from .interface import Client, Node, Publisher, Service, ServiceUnavailableError, Subscription, Timer
from .parameters import ParameterError, is_ros_layout, load_parameter_file, parameters_for_node
from .validation import InvalidMessageError

#: Backend name -> "module:class" (imported only when chosen, so rclpy is never imported needlessly).
BACKENDS = {
    "inprocess": "deepmimic_transport.inprocess:InProcessNode",
    "dds": "deepmimic_transport.dds:DdsNode",
    "rclpy": "deepmimic_transport.rclpy_adapter:RclpyNode",
}
ENV_BACKEND = "DEEPMIMIC_TRANSPORT"


def default_backend() -> str:
    """``$DEEPMIMIC_TRANSPORT``, else ``dds`` (also where rclpy is installed: rclpy is chosen, never assumed)."""
    return os.environ.get(ENV_BACKEND) or "dds"


def node_class(backend: str) -> type[Node]:
    """The Node class registered under ``backend``.

    Raises:
        ValueError: Unknown backend name.
        ImportError: The backend's dependencies are missing (the message says what to do).
    """
    try:
        module_name, class_name = BACKENDS[backend].split(":")
    except KeyError:
        raise ValueError(f"unknown transport {backend!r}; choose one of {', '.join(BACKENDS)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def node_parameters(parameters: Mapping[str, Any] | str | os.PathLike | None, full_name: str) -> dict[str, Any]:
    """Flat parameter overrides for one node from a file path, a ROS-layout mapping, or a flat mapping."""
    if parameters is None:
        return {}
    if isinstance(parameters, (str, os.PathLike)):
        parameters = load_parameter_file(Path(parameters))
    if is_ros_layout(parameters):
        return parameters_for_node(parameters, full_name)
    return dict(parameters)


def create_node(name: str, *, backend: str | None = None, namespace: str = "/",
                parameters: Mapping[str, Any] | str | os.PathLike | None = None,
                remappings: Mapping[str, str] | None = None, **options: Any) -> Node:
    """Create a node on the chosen transport.

    Args:
        name: Node name.
        backend: ``inprocess``, ``dds`` or ``rclpy``; None for :func:`default_backend`.
        namespace: Node namespace.
        parameters: A parameter YAML path or mapping in ROS 2's ``node: ros__parameters:`` layout,
            or a flat ``{name: value}`` mapping for this node.
        remappings: ``{from: to}`` name remappings.
        **options: Backend options (``bus=`` for inprocess, ``domain_id=`` for dds).

    Returns:
        The node.
    """
    cls = node_class(backend or default_backend())
    full_name = names.join(names.normalize_namespace(namespace), names.validate_node_name(name))
    return cls(name, namespace=namespace, parameters=node_parameters(parameters, full_name),
               remappings=remappings, **options)


__all__ = [
    "BACKENDS", "Client", "InvalidMessageError", "Node", "ParameterError", "Publisher", "Service",
    "ServiceUnavailableError", "Subscription", "Timer", "create_node", "default_backend", "node_class",
    "node_parameters", "qos",
]
