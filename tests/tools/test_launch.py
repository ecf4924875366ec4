"""``deepmimic launch``: graph files as data, processes and composed runs, and the ros2 launch files.

The graph tests/tools/graphs/chat.yaml starts talker_node and listener_node (helpers beside these
tests), so nothing here depends on the project's real nodes.
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

pytest.importorskip("cyclonedds", reason="cyclonedds is not installed; DDS launch not tested")

from deepmimic.graph import GraphError, find_graph, load_graph, parse_assignments
from deepmimic_transport.tools.ros_args import parse_ros_args

HERE = Path(__file__).resolve().parent
CHAT = HERE / "graphs" / "chat.yaml"
REPO = HERE.parents[1]
TIMEOUT_S = 60


def launch(env: dict[str, str], *args: str, **kwargs) -> subprocess.Popen:
    """``deepmimic launch`` in a subprocess of its own."""
    return subprocess.Popen([sys.executable, "-m", "deepmimic.cli", "launch", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    try:
        out, _ = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        raise AssertionError(f"launch did not end:\n{out}") from None
    return process.returncode, out


def test_graph_specs_substitute_arguments_and_merge_parameters():
    graph = load_graph(CHAT, parse_assignments(["greeting:=bonjour", "expect:=7"]))
    talker, listener = graph.nodes
    assert (talker.name, talker.module, talker.package, talker.executable) == (
        "talker", "talker_node", "deepmimic_tools_tests", "talker_node")
    # /** then the node's section, then the graph's overrides (typed: 7 is an int).
    assert talker.parameters == {"rate": 30.0, "greeting": "bonjour", "fail_after": 0}
    assert listener.parameters == {"rate": 20.0, "expect": 7}
    assert listener.section == "listener_section" and listener.parameters_file == HERE / "graphs" / "params.yaml"
    assert talker.remappings == {"chatter": "/talk"} and listener.remappings == {"heard": "/talk"}
    assert (talker.robot, listener.robot, listener.required) == (False, True, True)
    argv = talker.argv("dds", "/tmp/p.yaml")
    assert argv[:4] == ["--transport", "dds", "--params", "/tmp/p.yaml"]
    ros = parse_ros_args(argv)
    assert (ros.node_name, ros.remappings, ros.params_files) == ("talker", {"chatter": "/talk"}, ["/tmp/p.yaml"])


def test_graph_errors(tmp_path):
    with pytest.raises(GraphError, match="unknown launch argument 'nope'"):
        load_graph(CHAT, {"nope": "1"})
    with pytest.raises(GraphError, match="name:=value"):
        parse_assignments(["clip=walk"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes:\n  - {name: a, package: p, executable: e, module: m, colour: red}\n")
    with pytest.raises(GraphError, match="unknown key"):
        load_graph(bad)
    bad.write_text("nodes:\n  - {name: a, package: p, executable: e, module: m, parameters: {x: $(arg y)}}\n")
    with pytest.raises(GraphError, match=r"\$\(arg y\)"):
        load_graph(bad)
    with pytest.raises(FileNotFoundError):
        find_graph("no_such_graph")


GRAPH_ARGUMENTS = {"deploy": {"character", "clip", "num_envs", "backend", "checkpoint", "simulate", "ros2_control",
                              "clips", "checkpoints", "switch_blend"},
                   "train": {"config", "num_envs", "backend", "iterations", "run_dir", "resume"}}
GRAPH_MODULES = {"deploy": {"deepmimic_sim.nodes.reference_motion_node", "deepmimic_sim.nodes.simulator_node",
                            "deepmimic_policy.nodes.policy_node", "deepmimic_sim.nodes.ros2_control_bridge_node"},
                 "train": {"deepmimic_sim.nodes.simulator_node", "deepmimic_policy.nodes.trainer_node"}}


@pytest.mark.parametrize("name", sorted(GRAPH_ARGUMENTS))
def test_project_graphs_parse(name):
    path = find_graph(name)
    assert path.resolve() == REPO / "config" / "graphs" / f"{name}.yaml"
    import yaml

    data = yaml.safe_load(path.read_text())
    assert set(data["arguments"]) == GRAPH_ARGUMENTS[name]
    assert {node["module"] for node in data["nodes"]} == GRAPH_MODULES[name]
    graph = load_graph(path, {"num_envs": "8"})
    off_by_default = {"ros2_control_bridge"}  # enabled by ros2_control:=true
    enabled = [node["name"] for node in data["nodes"] if node["name"] not in off_by_default]
    assert [n.name for n in graph.nodes] == enabled
    simulator = next(n for n in graph.nodes if n.name == "simulator")
    assert simulator.parameters["num_envs"] == 8
    assert simulator.parameters.get("mode", "deploy") == name


def test_deploy_graph_without_the_simulator_for_a_robot():
    graph = load_graph(find_graph("deploy"), {"simulate": "false"})
    assert [n.name for n in graph.nodes] == ["policy", "reference_motion"]
    with pytest.raises(GraphError, match="enabled must be true or false"):
        load_graph(find_graph("deploy"), {"simulate": "maybe"})


def test_deploy_graph_for_the_g1_behind_ros2_control():
    graph = load_graph(find_graph("deploy"), {"character": "g1", "simulate": "false", "ros2_control": "true"})
    bridge = next(n for n in graph.nodes if n.name == "ros2_control_bridge")
    assert [n.name for n in graph.nodes] == ["policy", "reference_motion", "ros2_control_bridge"]
    assert bridge.parameters_file == REPO / "config" / "robots" / "g1_ros2_control.yaml"
    assert bridge.parameters["character"] == "g1" and len(bridge.parameters["controller_joints"]) == 29
    reference = next(n for n in graph.nodes if n.name == "reference_motion")
    assert reference.parameters["character"] == "g1" and reference.parameters["control_rate"] == 0.0


def test_separate_processes_prefix_output_and_end_with_the_required_listener(loopback_dds):
    code, out = finish(launch(loopback_dds, str(CHAT), "greeting:=hey", "expect:=5"))
    assert code == 0, out
    assert "[talker] talker /talker publishing on /talk" in out
    assert "[listener] listener /listener on /talk" in out
    assert "[listener] heard: hey " in out
    assert "[listener] listener got 5" in out
    assert "[talker] talker sent" in out  # the talker was stopped cleanly (SIGINT) and said so


def test_a_dying_node_stops_the_graph_with_a_failure(loopback_dds):
    code, out = finish(launch(loopback_dds, str(CHAT), "expect:=0", "fail_after:=0.5"))
    assert code == 1, out
    assert "[talker] talker failing on purpose" in out
    assert "talker died (exit status 3)" in out
    assert "[listener] listener got" in out  # the listener was stopped and ended cleanly


def test_sigint_stops_every_node(loopback_dds):
    process = launch(loopback_dds, str(CHAT), "expect:=0")
    deadline = time.monotonic() + TIMEOUT_S
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "heard:" in line:
            break
    process.send_signal(signal.SIGINT)
    code, out = finish(process)
    out = "".join(lines) + out
    assert code == 0, out
    assert "SIGINT: stopping the graph" in out
    assert "[talker] talker sent" in out and "[listener] listener got" in out


def test_composed_runs_in_one_process_over_inprocess(loopback_dds):
    code, out = finish(launch(loopback_dds, str(CHAT), "--composed", "expect:=4"))
    assert code == 0, out
    assert "started talker (composed)" in out
    # In process nothing is lost, from the first message. Callbacks run in whichever node thread spins
    # the shared bus, so a callback's line may carry the other node's name.
    assert "] heard: hello 0" in out
    assert "[listener] listener got 4" in out


def test_composed_failure_is_non_zero(loopback_dds):
    code, out = finish(launch(loopback_dds, str(CHAT), "--composed", "expect:=0", "fail_after:=0.3"))
    assert code == 1, out
    assert "failed: exit status 3" in out  # in whichever node thread ran the talker's timer (shared bus)


# ros2 launch files, with stub launch / launch_ros modules ---------------------------------------
class _Recorder:
    def __init__(self, kind: str, calls: list) -> None:
        self.kind, self.calls = kind, calls

    def __call__(self, *args, **kwargs):
        record = types.SimpleNamespace(kind=self.kind, args=args, kwargs=kwargs)
        self.calls.append(record)
        return record


@pytest.fixture
def stub_launch(monkeypatch):
    """``launch`` and ``launch_ros`` modules that record what the launch files construct."""
    calls: list = []
    launch_mod, actions = types.ModuleType("launch"), types.ModuleType("launch.actions")
    launch_mod.LaunchDescription = _Recorder("LaunchDescription", calls)
    actions.DeclareLaunchArgument = _Recorder("DeclareLaunchArgument", calls)
    actions.OpaqueFunction = _Recorder("OpaqueFunction", calls)
    launch_mod.actions = actions
    ros_mod, ros_actions = types.ModuleType("launch_ros"), types.ModuleType("launch_ros.actions")
    ros_actions.Node = _Recorder("Node", calls)
    ros_mod.actions = ros_actions
    for name, module in {"launch": launch_mod, "launch.actions": actions, "launch_ros": ros_mod,
                         "launch_ros.actions": ros_actions}.items():
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def _load_launch_file(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_files_import_without_launch():
    for name in GRAPH_ARGUMENTS:
        module = _load_launch_file(REPO / "launch" / f"{name}.launch.py")
        assert callable(module.generate_launch_description)
        assert REPO / "config" / "graphs" / f"{name}.yaml" == module.GRAPH


@pytest.mark.parametrize("name", sorted(GRAPH_ARGUMENTS))
def test_launch_files_declare_the_graph_arguments(stub_launch, name):
    module = _load_launch_file(REPO / "launch" / f"{name}.launch.py")
    description = module.generate_launch_description()
    assert description.kind == "LaunchDescription"
    declared = [c for c in stub_launch if c.kind == "DeclareLaunchArgument"]
    assert {c.args[0] for c in declared} == GRAPH_ARGUMENTS[name]


def test_launch_nodes_equal_graph_specs(stub_launch, monkeypatch):
    """The launch file machinery on the chat graph: Node(...) calls equal graph.py's specs."""
    from deepmimic import graph as graph_module

    description = graph_module.launch_description(CHAT)
    declared = {c.args[0]: c.kwargs["default_value"] for c in stub_launch if c.kind == "DeclareLaunchArgument"}
    assert declared == {"greeting": "hello", "expect": "5", "fail_after": "0"}
    (opaque,) = [c for c in stub_launch if c.kind == "OpaqueFunction"]
    assert description.args[0][-1] is opaque
    context = types.SimpleNamespace(launch_configurations={**declared, "greeting": "salut", "other": "x"})
    nodes = opaque.kwargs["function"](context)
    specs = load_graph(CHAT, {"greeting": "salut", "expect": "5", "fail_after": "0"}).nodes
    assert [n.kind for n in nodes] == ["Node", "Node"]
    for node, spec in zip(nodes, specs, strict=True):
        assert node.kwargs["package"] == spec.package and node.kwargs["executable"] == spec.executable
        assert node.kwargs["name"] == spec.name and node.kwargs["namespace"] == spec.namespace
        assert node.kwargs["parameters"] == [spec.parameters]
        assert node.kwargs["remappings"] == list(spec.remappings.items())
    assert nodes[0].kwargs["parameters"] == [{"rate": 30.0, "greeting": "salut", "fail_after": 0}]
