"""Node parameters from YAML in ROS 2's layout, declared with a default as rclpy does.

A parameter file is what ``ros2 run ... --ros-args --params-file f.yaml`` reads::

    /**:                      # every node
      ros__parameters:
        use_sim_time: false
    policy_node:              # one node (its name, or /namespace/name)
      ros__parameters:
        control_rate: 30.0
        checkpoint:
          path: runs/walk/model_300.pt   # nested keys become "checkpoint.path"

Node keys may also be nested by namespace (``robot: {policy_node: {ros__parameters: ...}}``) and
may use ``*`` (one name token) and ``**`` (any number). Wildcard entries apply first, then the
node's own entries override them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROS_PARAMETERS = "ros__parameters"


class ParameterError(KeyError):
    """An undeclared, doubly declared or wrongly typed parameter."""

    def __str__(self) -> str:
        """The message without KeyError's quotes."""
        return str(self.args[0]) if self.args else ""


def load_parameter_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a parameter YAML file (ROS 2 layout) as a dictionary."""
    with Path(path).open(encoding="utf-8") as stream:
        data = yaml.safe_load(stream) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a parameter file holds a mapping of node names")
    return data


def is_ros_layout(data: Mapping[str, Any]) -> bool:
    """True when ``data`` has ``ros__parameters`` sections (rather than being flat name: value pairs)."""
    return any(key == ROS_PARAMETERS or (isinstance(value, Mapping) and is_ros_layout(value))
               for key, value in data.items())


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dictionaries as dotted names: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _sections(data: Mapping[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """(node pattern, flat parameters) for every ``ros__parameters`` section, in file order."""
    found = []
    for key, value in data.items():
        if key == ROS_PARAMETERS:
            found.append((path or "/", _flatten(value or {})))
        elif isinstance(value, Mapping):
            found.extend(_sections(value, path + "/" + str(key).strip("/")))
    return found


def _pattern(node_pattern: str) -> re.Pattern[str]:
    """Regular expression of a node key with ROS wildcards (``*`` one token, ``**`` any tokens)."""
    tokens = node_pattern.strip("/").split("/")
    parts = ["(/[^/]+)*" if t == "**" else "/[^/]+" if t == "*" else "/" + re.escape(t) for t in tokens]
    return re.compile("^" + "".join(parts) + "$")


def parameters_for_node(data: Mapping[str, Any], node_full_name: str) -> dict[str, Any]:
    """The flat parameters that apply to one node, wildcard sections first.

    Args:
        data: Parameter file contents (ROS 2 layout).
        node_full_name: ``/namespace/name`` of the node.

    Returns:
        ``{"dotted.name": value}``.
    """
    wildcard: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for pattern, values in _sections(data):
        if _pattern(pattern).match(node_full_name):
            (wildcard if "*" in pattern else own).update(values)
    return {**wildcard, **own}


class ParameterStore:
    """Declared parameters of one node: overrides from the file, defaults from the code."""

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        """Create the store.

        Args:
            overrides: Flat ``{"dotted.name": value}`` values that win over declared defaults.
        """
        self._overrides = dict(overrides or {})
        self._values: dict[str, Any] = {}

    def declare(self, name: str, default: Any = None) -> Any:
        """Declare ``name``; its value is the override if there is one, else ``default``.

        An override must have the default's type (an int is accepted for a float), as rclpy
        enforces once a parameter is declared with a typed default.

        Raises:
            ParameterError: Declared twice, or the override's type differs from the default's.
        """
        if name in self._values:
            raise ParameterError(f"parameter {name!r} is already declared")
        value = self._overrides.get(name, default)
        if default is not None and value is not default:
            if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            elif type(value) is not type(default):
                raise ParameterError(f"parameter {name!r}: expected {type(default).__name__}, "
                                     f"got {type(value).__name__} ({value!r})")
        self._values[name] = value
        return value

    def get(self, name: str) -> Any:
        """The value of a declared parameter.

        Raises:
            ParameterError: Not declared (rclpy raises ParameterNotDeclaredException).
        """
        try:
            return self._values[name]
        except KeyError:
            raise ParameterError(f"parameter {name!r} is not declared") from None

    def has(self, name: str) -> bool:
        """Whether ``name`` is declared."""
        return name in self._values

    def undeclared_overrides(self) -> list[str]:
        """Override names the node never declared (likely typos in the parameter file)."""
        return sorted(set(self._overrides) - set(self._values))


def comma_list(text: str, name: str) -> list[str]:
    """A string parameter of comma-separated names (``"walk,run"``) as a list; "" is the empty list.

    Raises:
        ValueError: Not a string, or an empty item (``"walk,,run"``); the message names the parameter.
    """
    if not isinstance(text, str):
        raise ValueError(f"parameter {name!r}: expected comma-separated names, got {text!r}")
    if not text.strip():
        return []
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise ValueError(f"parameter {name!r}: empty name in {text!r}")
    return items


def comma_mapping(text: str, name: str) -> dict[str, str]:
    """A string parameter of ``key=value`` pairs (``"walk=a.pt,run=b.pt"``) as a dict; "" is empty.

    Raises:
        ValueError: An item without ``=``, an empty key or value, or a key given twice (one line).
    """
    mapping: dict[str, str] = {}
    for item in comma_list(text, name):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or not value:
            raise ValueError(f"parameter {name!r}: expected key=value, got {item!r}")
        if key in mapping:
            raise ValueError(f"parameter {name!r}: {key!r} given twice")
        mapping[key] = value
    return mapping
