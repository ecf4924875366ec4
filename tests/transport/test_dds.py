"""The DDS transport between real processes on loopback, and what it shows on the wire.

Every test has its own ROS_DOMAIN_ID and a 127.0.0.1-only Cyclone configuration (conftest.py);
subprocesses stop by themselves and are killed if they outlive their timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("cyclonedds", reason="cyclonedds is not installed (pip install cyclonedds); DDS not tested")

from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication, BuiltinTopicDcpsSubscription
from cyclonedds.core import Policy
from cyclonedds.domain import DomainParticipant
from deepmimic_transport.dds_wire import INTEROP_CONFIG, domain_config, loopback_config, user_data_entries
from deepmimic_transport.messages import deepmimic_interfaces, sensor_msgs, std_srvs
from deepmimic_transport.typehash import rihs01

import deepmimic_transport as transport
from deepmimic_transport import dds

PEER = Path(__file__).resolve().parent / "dds_peer.py"
TIMEOUT_S = 20.0


def start_peer(env: dict[str, str], *args: str) -> subprocess.Popen:
    """Start dds_peer.py in its own process with the test's DDS environment."""
    return subprocess.Popen([sys.executable, str(PEER), *args, "--timeout", str(TIMEOUT_S)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> dict:
    """The peer's JSON result (killing it if it does not end in time)."""
    try:
        out, err = process.communicate(timeout=TIMEOUT_S + 10)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    assert process.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def node():
    """A DDS node in the test process."""
    with transport.create_node("checker", backend="dds") as dds_node:
        yield dds_node


def test_joint_states_across_three_processes_with_bad_messages_dropped(node, loopback_dds):
    """publisher process -> echo process (validates) -> this process: values and order kept, bad ones dropped."""
    received = []
    subscription = node.create_subscription(sensor_msgs.JointState, "/joint_states_echo", received.append, "reliable")
    echo = start_peer(loopback_dds, "echo", "--count", "30")
    publisher = None
    try:
        assert node.spin(until=lambda: subscription.get_publisher_count() > 0, timeout_s=TIMEOUT_S), "echo not seen"
        publisher = start_peer(loopback_dds, "publish", "--count", "30", "--rate", "30", "--bad", "5,7")
        node.spin(until=lambda: len(received) >= 28, timeout_s=TIMEOUT_S)
        published, echoed = finish(publisher), finish(echo)
    finally:
        for process in (echo, publisher):
            if process is not None and process.poll() is None:
                process.kill()
    good = [i for i in range(30) if i not in (5, 7)]
    assert [msg.position for msg in received] == [[float(i), i + 0.5, i + 0.25] for i in good]
    assert [msg.header.stamp.to_seconds() for msg in received] == pytest.approx([i / 30 for i in good])
    assert all(msg.name == ["j0", "j1", "j2"] and msg.header.frame_id == "world" for msg in received)
    assert echoed == {"received": 30, "dropped": 2}
    assert published["published"] == 30
    assert published["seconds"] == pytest.approx(29 / 30, abs=0.3)  # paced at 30 Hz


def test_services_across_processes(node, loopback_dds):
    server = start_peer(loopback_dds, "serve")
    try:
        compute = node.create_client(deepmimic_interfaces.ComputeAction, "/compute_action")
        request = deepmimic_interfaces.ComputeAction.Request(num_envs=2, observation_dim=3,
                                                             observations=[0.5, 1.0, 1.5, -1.0, 0.0, 2.0])
        response = compute.call(request, timeout_s=TIMEOUT_S)
        assert response.success and response.action_dim == 3
        assert response.actions == [1.0, 2.0, 3.0, -2.0, 0.0, 4.0]
        for k in range(3):  # consecutive calls are told apart by sequence number
            request.observations[0] = float(k)
            assert compute.call(request, timeout_s=5.0).actions[0] == 2.0 * k

        bad = compute.call(deepmimic_interfaces.ComputeAction.Request(num_envs=2, observation_dim=3,
                                                                      observations=[1.0]), timeout_s=5.0)
        assert not bad.success and "invalid request" in bad.message  # validated by the server, no crash

        reset = node.create_client(deepmimic_interfaces.Reset, "reset")
        assert reset.call(deepmimic_interfaces.Reset.Request(env_ids=[0, 2]), timeout_s=5.0).message == "reset 2"
        stop = node.create_client(std_srvs.Trigger, "/shutdown").call(std_srvs.Trigger.Request(), timeout_s=5.0)
        assert stop.success
        assert finish(server) == {"handled": 1, "stopped": True}
    finally:
        if server.poll() is None:
            server.kill()


def test_call_without_server_fails_within_its_timeout(node):
    client = node.create_client(deepmimic_interfaces.LoadPolicy, "/load_policy")
    start = time.monotonic()
    with pytest.raises(transport.ServiceUnavailableError):
        client.call(deepmimic_interfaces.LoadPolicy.Request(path="x.pt"), timeout_s=0.3)
    assert time.monotonic() - start < 2.0


def _discover(reader: BuiltinDataReader, topic: str, timeout_s: float = 10.0):
    """The first endpoint on ``topic`` that builtin-topic discovery reports."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for endpoint in reader.read(N=256):  # read, not take: other topics are looked up later
            if getattr(endpoint, "topic_name", None) == topic:
                return endpoint
        time.sleep(0.02)
    raise AssertionError(f"{topic} not discovered")


def test_names_types_and_type_hashes_on_the_wire(node):
    """What another DDS participant (a ROS 2 tool, say) sees of our endpoints."""
    node.create_publisher(sensor_msgs.JointState, "joint_states", "sensor_data")
    node.create_subscription(deepmimic_interfaces.ReferenceFrame, "/reference", lambda msg: None, "reliable")
    node.create_service(deepmimic_interfaces.GetMotion, "/get_motion", lambda request, response: response)

    observer = DomainParticipant(node.domain_id)  # a separate participant, as another process would be
    publications = BuiltinDataReader(observer, BuiltinTopicDcpsPublication)
    subscriptions = BuiltinDataReader(observer, BuiltinTopicDcpsSubscription)

    writer = _discover(publications, "rt/joint_states")
    assert writer.type_name == "sensor_msgs::msg::dds_::JointState_"
    assert user_data_entries(writer.qos) == {"typehash": rihs01(sensor_msgs.JointState)}
    assert writer.qos[Policy.Userdata].data.startswith(b"typehash=RIHS01_")
    assert writer.qos[Policy.Reliability] == Policy.Reliability.BestEffort
    assert writer.qos[Policy.History] == Policy.History.KeepLast(depth=5)
    assert writer.qos[Policy.DataRepresentation].use_cdrv0_representation  # plain CDR

    reader = _discover(subscriptions, "rt/reference")
    assert reader.type_name == "deepmimic_interfaces::msg::dds_::ReferenceFrame_"
    assert user_data_entries(reader.qos)["typehash"] == rihs01(deepmimic_interfaces.ReferenceFrame)

    requests = _discover(subscriptions, "rq/get_motionRequest")
    replies = _discover(publications, "rr/get_motionReply")
    assert requests.type_name == "deepmimic_interfaces::srv::dds_::GetMotion_Request_"
    assert replies.type_name == "deepmimic_interfaces::srv::dds_::GetMotion_Response_"
    request_data, reply_data = user_data_entries(requests.qos), user_data_entries(replies.qos)
    assert request_data["typehash"] == rihs01(deepmimic_interfaces.GetMotion.Request)
    assert reply_data["typehash"] == rihs01(deepmimic_interfaces.GetMotion.Response)
    assert request_data["serviceid"] == reply_data["serviceid"]  # rmw_cyclonedds pairs them this way
    assert requests.qos[Policy.Reliability] == Policy.Reliability.Reliable(max_blocking_time=requests.qos[
        Policy.Reliability].max_blocking_time)


def test_domain_configuration_puts_fast_dds_interop_first_then_the_users_or_loopback():
    """Every domain starts from INTEROP_CONFIG; CYCLONEDDS_URI, else ROS's localhost range, comes after it."""
    assert "<IgnoreTypeInformation>1.15</IgnoreTypeInformation>" in INTEROP_CONFIG  # eProsima's vendor id
    assert domain_config({}) == INTEROP_CONFIG
    assert domain_config({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}) == f"{INTEROP_CONFIG},{loopback_config()}"
    assert domain_config({"ROS_LOCALHOST_ONLY": "1"}) == f"{INTEROP_CONFIG},{loopback_config()}"
    user = "file:///etc/cyclone.xml"
    assert domain_config({"CYCLONEDDS_URI": user, "ROS_LOCALHOST_ONLY": "1"}) == f"{INTEROP_CONFIG},{user}"


def test_the_process_domain_is_created_with_the_composed_configuration(monkeypatch):
    """The participant's domain gets domain_config(): here the tests' loopback CYCLONEDDS_URI behind INTEROP_CONFIG.

    Cyclone itself is given the loopback configuration, so nothing leaves the machine.
    """
    created = []
    real_domain = dds.Domain
    monkeypatch.setattr(dds, "Domain", lambda domain_id, config: created.append((domain_id, config))
                        or real_domain(domain_id, config))
    with transport.create_node("local", backend="dds") as local:
        assert created == [(local.domain_id, f"{INTEROP_CONFIG},{loopback_config()}")]


def test_node_clock_is_ros_time(node, loopback_dds):
    """Header stamps are ROS time (the system clock, as rclpy's), so an rclpy driver's stamps and
    ours compare: the policy node places a state in the reference clip by its stamp."""
    before, now, after = time.time(), node.now(), time.time()
    assert before <= now <= after
