"""Name resolution, DDS names, QoS profile names, and ROS 2 parameter files."""

from __future__ import annotations

import pytest
from deepmimic_transport.parameters import ParameterError, ParameterStore, is_ros_layout, parameters_for_node
from deepmimic_transport.qos import LATEST, PROFILES, SENSOR_DATA, SERVICES, Durability, Reliability, qos_profile

from deepmimic_transport import names


@pytest.mark.parametrize(("name", "namespace", "expected"), [
    ("joint_states", "/", "/joint_states"),
    ("joint_states", "robot", "/robot/joint_states"),
    ("/joint_states", "/robot", "/joint_states"),
    ("~/debug", "/robot", "/robot/node/debug"),
    ("~", "/", "/node"),
    ("sim/states", "/a/b", "/a/b/sim/states"),
])
def test_expand(name, namespace, expected):
    assert names.expand(name, namespace, "node") == expected


@pytest.mark.parametrize("bad", ["", "/", "a//b", "1abc", "a b", "/x/", "a-b"])
def test_invalid_names_are_refused(bad):
    with pytest.raises(ValueError):
        names.expand(bad, "/", "node")


def test_remapping_matches_expanded_names():
    remap = {"states": "/sim/states", "/commands": "cmd"}
    assert names.resolve("states", "/robot", "n", remap) == "/sim/states"
    assert names.resolve("/robot/states", "/robot", "n", remap) == "/sim/states"
    assert names.resolve("/commands", "/robot", "n", remap) == "/robot/cmd"
    assert names.resolve("other", "/robot", "n", remap) == "/robot/other"


def test_dds_names_follow_rmw_cyclonedds():
    assert names.dds_topic("/joint_states") == "rt/joint_states"
    assert names.dds_topic("/robot/joint_states") == "rt/robot/joint_states"
    assert names.dds_service_topics("/get_motion") == ("rq/get_motionRequest", "rr/get_motionReply")


def test_node_name_and_namespace_validation():
    assert names.validate_node_name("policy_node") == "policy_node"
    assert names.normalize_namespace("") == "/" and names.normalize_namespace("robot/") == "/robot"
    for bad in ("policy-node", "0node", "a/b"):
        with pytest.raises(ValueError):
            names.validate_node_name(bad)


def test_qos_profiles():
    assert SENSOR_DATA.reliability is Reliability.BEST_EFFORT and SENSOR_DATA.depth == 5
    assert LATEST.depth == 1 and SERVICES.reliability is Reliability.RELIABLE
    assert SERVICES.durability is Durability.VOLATILE and SERVICES.depth == 10
    assert qos_profile("sensor_data") is SENSOR_DATA and qos_profile(None) is PROFILES["reliable"]
    with pytest.raises(ValueError, match="unknown QoS"):
        qos_profile("fast")


FILE = {
    "/**": {"ros__parameters": {"use_sim_time": True, "rate": 30.0}},
    "policy": {"ros__parameters": {"rate": 50.0, "model": {"hidden": [256, 128], "activation": "elu"}}},
    "robot": {"sim": {"ros__parameters": {"substeps": 10}}},
    "/robot/*": {"ros__parameters": {"frame": "world"}},
}


def test_parameters_for_node_wildcards_then_own_values():
    assert is_ros_layout(FILE) and not is_ros_layout({"rate": 1})
    assert parameters_for_node(FILE, "/policy") == {
        "use_sim_time": True, "rate": 50.0, "model.hidden": [256, 128], "model.activation": "elu"}
    assert parameters_for_node(FILE, "/robot/sim") == {
        "use_sim_time": True, "rate": 30.0, "frame": "world", "substeps": 10}
    assert parameters_for_node(FILE, "/other") == {"use_sim_time": True, "rate": 30.0}


def test_parameter_store_types_like_rclpy():
    store = ParameterStore({"rate": 30, "name": 3, "flag": True})
    assert store.declare("rate", 10.0) == 30.0 and isinstance(store.get("rate"), float)
    with pytest.raises(ParameterError, match="expected str"):
        store.declare("name", "walk")
    with pytest.raises(ParameterError, match="already declared"):
        store.declare("rate", 1.0)
    with pytest.raises(ParameterError, match="expected float"):
        ParameterStore({"gain": True}).declare("gain", 1.0)  # a bool is not a number here
    assert store.undeclared_overrides() == ["flag", "name"]
