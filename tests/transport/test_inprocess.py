"""The in-process transport: zero-copy delivery, deterministic order, QoS queues, services, timers."""

from __future__ import annotations

import math

import pytest
from deepmimic_transport.inprocess import Bus, ManualClock
from deepmimic_transport.messages import deepmimic_interfaces, sensor_msgs, std_msgs
from deepmimic_transport.qos import LATCHED, QoSProfile
from deepmimic_transport.validation import validate_joint_state

import deepmimic_transport as transport


@pytest.fixture
def bus() -> Bus:
    """A bus of the test's own with a manual clock."""
    return Bus(clock=ManualClock())


def make(bus: Bus, name: str, **kwargs) -> transport.Node:
    return transport.create_node(name, backend="inprocess", bus=bus, **kwargs)


def state(i: float, names=("a", "b")) -> sensor_msgs.JointState:
    return sensor_msgs.JointState(name=list(names), position=[i] * len(names))


def test_publish_subscribe_zero_copy_in_order(bus):
    talker, listener = make(bus, "talker"), make(bus, "listener")
    first, second = [], []
    listener.create_subscription(sensor_msgs.JointState, "/joint_states", first.append)
    listener.create_subscription(sensor_msgs.JointState, "joint_states", second.append)  # same name, relative
    publisher = talker.create_publisher(sensor_msgs.JointState, "joint_states")
    messages = [state(i) for i in range(5)]
    for msg in messages:
        publisher.publish(msg)
    assert first == [] and publisher.get_subscription_count() == 2  # nothing before spinning
    assert talker.spin_once() == 10
    assert len(first) == len(second) == 5
    assert all(a is b is c for a, b, c in zip(first, second, messages, strict=True))


def test_messages_published_in_callbacks_wait_for_the_next_round(bus):
    node = make(bus, "relay")
    out = node.create_publisher(std_msgs.String, "out")
    final = []
    node.create_subscription(std_msgs.String, "in", lambda msg: out.publish(std_msgs.String(msg.data + "!")))
    node.create_subscription(std_msgs.String, "out", final.append)
    node.create_publisher(std_msgs.String, "in").publish(std_msgs.String("hi"))
    assert node.spin_once() == 1 and final == []
    assert bus.spin_until_idle() == 1 and final[0].data == "hi!"


def test_keep_last_depth_drops_oldest(bus):
    node = make(bus, "n")
    got = []
    node.create_subscription(std_msgs.String, "t", got.append, QoSProfile(depth=2))
    publisher = node.create_publisher(std_msgs.String, "t")
    for k in range(5):
        publisher.publish(std_msgs.String(str(k)))
    node.spin_once()
    assert [m.data for m in got] == ["3", "4"]


def test_transient_local_reaches_late_subscriber(bus):
    node = make(bus, "n")
    node.create_publisher(std_msgs.String, "checkpoint", LATCHED).publish(std_msgs.String("model_1.pt"))
    got = []
    node.create_subscription(std_msgs.String, "checkpoint", got.append, LATCHED)
    node.spin_once()
    assert [m.data for m in got] == ["model_1.pt"]


def test_type_mismatch_and_wrong_message_are_refused(bus):
    node = make(bus, "n")
    publisher = node.create_publisher(std_msgs.String, "t")
    with pytest.raises(TypeError, match="carries String"):
        node.create_subscription(sensor_msgs.JointState, "t", print)
    with pytest.raises(TypeError):
        publisher.publish(sensor_msgs.JointState())


def test_invalid_messages_are_dropped_and_bugs_are_not(bus):
    node = make(bus, "n")
    good = []
    subscription = node.create_subscription(
        sensor_msgs.JointState, "s", lambda m: (validate_joint_state(m, ["a", "b"]), good.append(m)))
    publisher = node.create_publisher(sensor_msgs.JointState, "s")
    for msg in (state(1), sensor_msgs.JointState(name=["a", "b"], position=[1.0]), state(math.nan), state(2)):
        publisher.publish(msg)
    node.spin_once()
    assert [m.position[0] for m in good] == [1, 2]
    assert (subscription.received, subscription.dropped) == (4, 2)

    node.create_subscription(std_msgs.String, "bug", lambda m: 1 / 0)
    node.create_publisher(std_msgs.String, "bug").publish(std_msgs.String())
    with pytest.raises(ZeroDivisionError):
        node.spin_once()


def test_services_call_the_server_directly(bus):
    server, caller = make(bus, "server"), make(bus, "caller", namespace="/robot")

    def reset(request, response):
        if 99 in request.env_ids:
            raise transport.InvalidMessageError("no environment 99")
        response.success, response.message = True, f"{len(request.env_ids)}"
        return response

    server.create_service(deepmimic_interfaces.Reset, "/robot/reset", reset)
    client = caller.create_client(deepmimic_interfaces.Reset, "reset")  # resolves to /robot/reset
    assert client.wait_for_service(0.0)
    assert client.call(deepmimic_interfaces.Reset.Request(env_ids=[1, 2])).message == "2"
    refused = client.call(deepmimic_interfaces.Reset.Request(env_ids=[99]))
    assert not refused.success and "no environment 99" in refused.message
    with pytest.raises(transport.ServiceUnavailableError):
        caller.create_client(deepmimic_interfaces.Reset, "/other").call(deepmimic_interfaces.Reset.Request(), 0.05)
    with pytest.raises(TypeError):
        caller.create_client(deepmimic_interfaces.LoadPolicy, "reset").call(deepmimic_interfaces.LoadPolicy.Request())


def test_timers_follow_the_manual_clock(bus):
    node = make(bus, "sim")
    ticks, seen = [], []
    publisher = node.create_publisher(std_msgs.String, "tick")
    node.create_timer(1 / 30, lambda: (ticks.append(node.now()), publisher.publish(std_msgs.String())))
    node.create_subscription(std_msgs.String, "tick", lambda m: seen.append(node.now()))
    slow = node.create_timer(0.5, lambda: None)
    bus.run_for(1.0)
    assert len(ticks) == 30 and ticks == pytest.approx([k / 30 for k in range(1, 31)])
    assert seen == ticks  # each message is handled at the time it was sent
    slow.cancel()
    assert node.now() == pytest.approx(1.0)


def test_parameters_from_ros_layout_and_remappings(bus, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("/**:\n  ros__parameters:\n    rate: 30\n    mode: train\n"
                      "policy:\n  ros__parameters:\n    mode: deploy\n    checkpoint:\n      path: m.pt\n")
    node = make(bus, "policy", parameters=params, remappings={"states": "/sim/states"})
    assert node.declare_parameter("rate", 10.0) == 30.0  # an int is accepted for a float
    assert node.declare_parameter("mode", "x") == "deploy"
    assert node.declare_parameter("checkpoint.path") == "m.pt"
    assert node.declare_parameter("missing", 1) == 1 and node.get_parameter("missing") == 1
    with pytest.raises(transport.ParameterError):
        node.get_parameter("undeclared")
    assert node.create_publisher(std_msgs.String, "states").topic == "/sim/states"
    assert node.resolve_name("~/debug") == "/policy/debug"


def test_shutdown_leaves_the_bus(bus):
    talker, listener = make(bus, "talker"), make(bus, "listener")
    got = []
    listener.create_subscription(std_msgs.String, "t", got.append)
    publisher = talker.create_publisher(std_msgs.String, "t")
    publisher.publish(std_msgs.String("before"))
    listener.shutdown()
    talker.spin_once()
    assert got == [] and publisher.get_subscription_count() == 0
