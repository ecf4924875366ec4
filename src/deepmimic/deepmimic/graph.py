"""Launch graphs as data: ``config/graphs/NAME.yaml`` read into node specifications.

One YAML file describes a graph; ``deepmimic launch NAME`` (processes or composed) and
``ros2 launch deepmimic NAME.launch.py`` (launch_ros Node actions) both read it here, so the two
cannot disagree. The format::

    description: one line
    composed: false            # default of `deepmimic launch` (true: one process, inprocess transport)
    arguments:                 # launch arguments: `name:=value` on either command line
      clip: {default: walk, description: bundled clip name or motion file, check: motion}
                               # check: what the value must be, checked before any node starts
                               #   (deepmimic/launch_checks.py: motion, checkpoint, experiment, ...)
    parameters_file: ../deploy.yaml    # ROS 2 parameter YAML, relative to this file; $(arg ...) allowed
    nodes:
      - name: reference_motion           # node name (also the default parameter section)
        package: deepmimic_sim           # ROS package and console script (ros2 launch)
        executable: reference_motion_node
        module: deepmimic_sim.nodes.reference_motion_node   # `python -m` target with main(args=None)
        namespace: /                     # optional
        parameters_file: ../other.yaml   # optional, overrides the graph's
        section: reference_motion        # optional: the node's section of the parameter file
        parameters: {motion: $(arg clip)}   # optional overrides, after the file's section
        remappings: {reference: /reference} # optional, from: to
        robot: false                     # true: the node a real robot's driver replaces
        required: false                  # true: when it exits, the whole launch stops
        respawn: false                   # true: restart it when it exits (as launch_ros's Node respawn)
        respawn_delay: 1.0               # s to wait before that restart
        enabled: $(arg simulate)         # optional: false leaves the node out (e.g. the simulator
                                         #   when a robot driver provides its topics)

``$(arg NAME)`` is replaced by the argument's value anywhere in a string; a value that is exactly one
``$(arg NAME)`` takes the argument's YAML type (``64`` -> 64, ``true`` -> True). Unknown keys and
unknown arguments are errors. The parameters of a node are the file's ``/**`` and section entries
(``deepmimic_transport.parameters`` rules), then ``parameters`` on top, as one flat dict.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

GRAPH_KEYS = {"description", "composed", "arguments", "parameters_file", "nodes"}
NODE_KEYS = {"name", "package", "executable", "module", "namespace", "parameters_file", "section", "parameters",
             "remappings", "robot", "required", "enabled", "respawn", "respawn_delay"}
_ARG = re.compile(r"\$\(arg ([A-Za-z_][A-Za-z0-9_]*)\)")


class GraphError(ValueError):
    """A graph file that cannot be used (the message names the file and what is wrong)."""


@dataclass(frozen=True)
class Argument:
    """A launch argument."""

    name: str
    default: Any = None
    description: str = ""
    check: str = ""  # what the value must be (deepmimic.launch_checks.CHECKS), checked before nodes start


@dataclass
class NodeSpec:
    """One node of a graph, arguments substituted.

    Attributes:
        parameters: The node's parameters, flat (``a.b`` names), file section then overrides.
        parameters_file: The parameter file used (None without one).
    """

    name: str
    package: str
    executable: str
    module: str
    namespace: str = "/"
    parameters: dict[str, Any] = field(default_factory=dict)
    parameters_file: Path | None = None
    section: str = ""
    remappings: dict[str, str] = field(default_factory=dict)
    robot: bool = False
    required: bool = False
    respawn: bool = False
    respawn_delay: float = 1.0

    def argv(self, transport: str, params_path: str | Path | None) -> list[str]:
        """Arguments for the node's ``main``: transport, parameter file, then ``--ros-args`` (name, remaps)."""
        from deepmimic_transport.tools.ros_args import ros_args

        head = ["--transport", transport]
        if params_path is not None:
            head += ["--params", str(params_path)]
        files = [str(params_path)] if params_path is not None else []
        return head + ros_args(self.name, self.namespace, self.remappings, files)

    def parameter_file_data(self) -> dict[str, Any]:
        """The node's parameters as a ROS 2 parameter file for it alone (``/**`` entry)."""
        return {"/**": {"ros__parameters": dict(self.parameters)}}


@dataclass
class Graph:
    """A graph file read with its arguments substituted."""

    path: Path
    description: str
    composed: bool
    arguments: dict[str, Argument]
    values: dict[str, Any]
    nodes: list[NodeSpec]

    def __iter__(self) -> Iterator[NodeSpec]:
        """The node specs."""
        return iter(self.nodes)


def graphs_dirs() -> list[Path]:
    """Where named graphs are looked for: the repository's (or installed share's) ``config/graphs``."""
    here = Path(__file__).resolve().parent
    dirs = [here.parent / "config" / "graphs", here.parents[2] / "config" / "graphs"]
    try:  # a colcon install: share/deepmimic/config/graphs
        from ament_index_python.packages import get_package_share_directory

        dirs.append(Path(get_package_share_directory("deepmimic")) / "config" / "graphs")
    except Exception:
        pass
    return dirs


def find_graph(name_or_path: str | Path) -> Path:
    """The graph file for a name (``deploy``) or a path; FileNotFoundError lists where it looked."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"no graph file {path}")
        return path
    for folder in graphs_dirs():
        candidate = folder / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no graph {name_or_path!r} in {', '.join(str(d) for d in graphs_dirs())}")


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["clip:=run", ...]`` -> ``{"clip": "run"}`` (GraphError for anything else)."""
    values = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise GraphError(f"launch arguments are name:=value, got {item!r}")
        values[name] = value
    return values


def _typed(text: str) -> Any:
    """A command-line value as YAML reads it (``64`` -> 64); the text itself when YAML gives nothing else."""
    if text == "":
        return ""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None or isinstance(value, (dict, list)) else value


def substitute(value: Any, values: Mapping[str, Any], where: str = "") -> Any:
    """``value`` with every ``$(arg NAME)`` replaced, recursively through dicts and lists."""
    if isinstance(value, str):
        whole = _ARG.fullmatch(value)
        for name in _ARG.findall(value):
            if name not in values:
                raise GraphError(f"{where}: unknown launch argument $(arg {name})")
        if whole:
            found = values[whole.group(1)]
            return _typed(found) if isinstance(found, str) else found
        return _ARG.sub(lambda m: str(values[m.group(1)]), value)
    if isinstance(value, Mapping):
        return {substitute(k, values, where): substitute(v, values, where) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values, where) for v in value]
    return value


def _node_parameters(file: Path | None, section: str, namespace: str, where: str) -> dict[str, Any]:
    if file is None:
        return {}
    if not file.is_file():
        raise FileNotFoundError(f"{where}: parameter file {file} does not exist")
    from deepmimic_transport.names import join, normalize_namespace
    from deepmimic_transport.parameters import load_parameter_file, parameters_for_node

    return parameters_for_node(load_parameter_file(file), join(normalize_namespace(namespace), section))


def load_graph(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Graph:
    """Read a graph file, substitute the arguments (defaults, then ``overrides``) and build the node specs.

    Raises:
        GraphError: Bad structure, unknown keys or arguments.
        FileNotFoundError: The graph or a parameter file is missing.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise GraphError(f"{path}: not YAML ({error})") from None
    if not isinstance(data, dict):
        raise GraphError(f"{path}: a graph file is a mapping")
    unknown = set(data) - GRAPH_KEYS
    if unknown:
        raise GraphError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(GRAPH_KEYS))}")

    arguments = {}
    for name, spec in (data.get("arguments") or {}).items():
        spec = spec if isinstance(spec, dict) else {"default": spec}
        arguments[name] = Argument(name, spec.get("default"), str(spec.get("description", "")),
                                   str(spec.get("check", "")))
    values: dict[str, Any] = {name: arg.default for name, arg in arguments.items()}
    for name, value in (overrides or {}).items():
        if name not in arguments:
            raise GraphError(f"{path}: unknown launch argument {name!r}; known: {', '.join(arguments) or 'none'}")
        values[name] = value

    graph_file = substitute(data.get("parameters_file"), values, str(path))
    nodes = []
    for index, raw in enumerate(data.get("nodes") or []):
        where = f"{path}: nodes[{index}]"
        if not isinstance(raw, dict):
            raise GraphError(f"{where}: a node is a mapping")
        unknown = set(raw) - NODE_KEYS
        if unknown:
            raise GraphError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(NODE_KEYS))}")
        missing = [key for key in ("name", "package", "executable", "module") if not raw.get(key)]
        if missing:
            raise GraphError(f"{where}: missing {', '.join(missing)}")
        node = substitute(raw, values, where)
        enabled = node.get("enabled", True)
        if not isinstance(enabled, bool):
            raise GraphError(f"{where}: enabled must be true or false, got {enabled!r}")
        if not enabled:
            continue
        respawn, delay = node.get("respawn", False), node.get("respawn_delay", 1.0)
        if not isinstance(respawn, bool):
            raise GraphError(f"{where}: respawn must be true or false, got {respawn!r}")
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not delay >= 0:
            raise GraphError(f"{where}: respawn_delay must be a number of seconds >= 0, got {delay!r}")
        if respawn and node.get("required", False):
            raise GraphError(f"{where}: a node cannot be both required and respawn")
        file_text = node.get("parameters_file", graph_file)
        file = (path.parent / file_text).resolve() if file_text else None
        namespace = node.get("namespace") or "/"
        section = node.get("section") or node["name"]
        parameters = _node_parameters(file, section, namespace, where)
        from deepmimic_transport.parameters import _flatten

        parameters.update(_flatten(node.get("parameters") or {}))
        nodes.append(NodeSpec(
            name=node["name"], package=node["package"], executable=node["executable"], module=node["module"],
            namespace=namespace, parameters=parameters, parameters_file=file, section=section,
            remappings={str(k): str(v) for k, v in (node.get("remappings") or {}).items()},
            robot=bool(node.get("robot", False)), required=bool(node.get("required", False)),
            respawn=respawn, respawn_delay=float(delay)))
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise GraphError(f"{path}: node names must be unique, got {names}")
    return Graph(path, str(data.get("description", "")), bool(data.get("composed", False)), arguments, values, nodes)


# ros2 launch ------------------------------------------------------------------------------------
def launch_node_actions(path: str | Path, configurations: Mapping[str, Any]) -> list[Any]:
    """launch_ros ``Node`` actions for the graph, with launch configurations as argument values."""
    from launch_ros.actions import Node

    graph = load_graph(path, {k: v for k, v in configurations.items() if k in _argument_names(path)})
    return [Node(package=spec.package, executable=spec.executable, name=spec.name, namespace=spec.namespace,
                 parameters=[dict(spec.parameters)], remappings=list(spec.remappings.items()), output="screen",
                 respawn=spec.respawn, respawn_delay=spec.respawn_delay)
            for spec in graph.nodes]


def _argument_names(path: str | Path) -> set[str]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return set(data.get("arguments") or {})


def launch_description(path: str | Path) -> Any:
    """A launch ``LaunchDescription``: one DeclareLaunchArgument per argument, then the nodes (OpaqueFunction)."""
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    from launch import LaunchDescription

    graph = load_graph(path)
    declared = [DeclareLaunchArgument(arg.name, default_value="" if arg.default is None else str(arg.default),
                                      description=arg.description) for arg in graph.arguments.values()]
    return LaunchDescription([
        *declared,
        OpaqueFunction(function=lambda context, *_, **__: launch_node_actions(path, context.launch_configurations)),
    ])
