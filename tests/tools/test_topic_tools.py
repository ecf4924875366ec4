"""``deepmimic topic list/echo/hz`` against a JointState publisher in another process (loopback DDS)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("cyclonedds", reason="cyclonedds is not installed; DDS tools not tested")

import yaml
from deepmimic.cli import main as cli
from deepmimic_transport.messages import sensor_msgs, std_msgs
from deepmimic_transport.tools import discovery
from deepmimic_transport.tools.echo import RateMeter, to_yaml

PUBLISHER = Path(__file__).resolve().parent / "joint_state_publisher.py"


@pytest.fixture
def publisher(loopback_dds):
    """The 30 Hz JointState publisher, running for 20 s at most; killed after the test."""
    process = subprocess.Popen([sys.executable, str(PUBLISHER), "--rate", "30", "--seconds", "20"], env=loopback_dds,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "publishing"
    yield process
    process.kill()
    process.communicate()


def test_list_shows_topic_type_counts_and_service(publisher, capsys):
    assert cli(["topic", "list", "--wait", "1.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "/joint_states [sensor_msgs/msg/JointState] 1 publisher(s), 0 subscriber(s)" in lines
    assert "/joint_state_publisher/stop [std_srvs/srv/Trigger] service: 1 server(s), 0 client(s)" in lines


def test_echo_once_prints_the_fields(publisher, capsys):
    assert cli(["topic", "echo", "/joint_states", "--once"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("---") and out.count("---") == 1
    msg = yaml.safe_load(out.rstrip().removesuffix("---"))
    assert list(msg) == ["header", "name", "position", "velocity", "effort"]
    assert msg["header"]["frame_id"] == "world" and set(msg["header"]["stamp"]) == {"sec", "nanosec"}
    assert msg["name"] == ["j0", "j1", "j2"]
    i = msg["position"][0]
    assert msg["position"] == [i, i + 0.5, i + 0.25] and msg["effort"] == []


def test_echo_count(publisher, capsys):
    assert cli(["topic", "echo", "joint_states", "--count", "3"]) == 0
    docs = [d for d in capsys.readouterr().out.split("---\n") if d.strip()]
    positions = [yaml.safe_load(d)["position"][0] for d in docs]
    assert len(positions) == 3 and positions == sorted(positions)


def test_hz_is_30_within_10_percent(publisher, capsys):
    assert cli(["topic", "hz", "/joint_states", "--duration", "3.2", "--window", "60"]) == 0
    reports = [line for line in capsys.readouterr().out.splitlines() if line.startswith("average rate:")]
    assert len(reports) >= 2
    rate = float(reports[-1].split(":")[1])
    assert rate == pytest.approx(30.0, rel=0.10)


def test_unknown_topic_is_a_one_line_error(capsys):
    assert cli(["topic", "echo", "/nobody", "--once", "--timeout", "0.5"]) == 2
    assert "no publisher of /nobody" in capsys.readouterr().err


def test_type_names_and_graph_grouping():
    assert discovery.ros_type_name("sensor_msgs::msg::dds_::JointState_") == "sensor_msgs/msg/JointState"
    assert discovery.ros_type_name("DDS::Other") == "DDS::Other"
    assert discovery.message_class("sensor_msgs/msg/JointState") is sensor_msgs.JointState
    with pytest.raises(KeyError, match="not defined"):
        discovery.message_class("foo_msgs/msg/Bar")
    import uuid

    def ep(kind, topic, dds_type):
        return discovery.Endpoint(kind, topic, dds_type, uuid.uuid4(), uuid.uuid4())

    graph = discovery.build_graph([
        ep("publication", "rt/a", "std_msgs::msg::dds_::String_"),
        ep("subscription", "rt/a", "std_msgs::msg::dds_::String_"),
        ep("subscription", "rt/a", "std_msgs::msg::dds_::String_"),
        ep("subscription", "rq/resetRequest", "std_srvs::srv::dds_::Trigger_Request_"),
        ep("publication", "rr/resetReply", "std_srvs::srv::dds_::Trigger_Response_"),
        ep("publication", "rq/resetRequest", "std_srvs::srv::dds_::Trigger_Request_"),
        ep("subscription", "rr/resetReply", "std_srvs::srv::dds_::Trigger_Response_"),
        ep("publication", "DCPSOther", "x"),
    ])
    assert list(graph.topics) == ["/a"]
    assert (graph.topics["/a"].type, len(graph.topics["/a"].publishers), len(graph.topics["/a"].subscribers)) == (
        "std_msgs/msg/String", 1, 2)
    service = graph.services["/reset"]
    assert (service.types, service.servers, service.clients) == (["std_srvs/srv/Trigger"], 1, 1)


def test_yaml_and_rate_meter():
    assert to_yaml(std_msgs.String(data="hi")) == "data: hi\n"
    meter = RateMeter(window=3)
    for t in (0.0, 0.1, 0.2, 0.3, 0.5):
        meter.tick(t)
    stats = meter.stats()
    assert stats.window == 3 and stats.max_s == pytest.approx(0.2) and stats.min_s == pytest.approx(0.1)
    assert stats.rate == pytest.approx(3 / 0.4)
    assert "average rate: 7.500" in str(stats)
    assert RateMeter().stats() is None

