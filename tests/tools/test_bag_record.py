"""``deepmimic bag record``: a rosbag2 MCAP bag that rosbags and the mcap library both read back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cyclonedds", reason="cyclonedds is not installed; DDS tools not tested")
pytest.importorskip("rosbags", reason="rosbags is not installed (requirements-dev.txt)")

import yaml
from deepmimic.cli import main as cli
from deepmimic_transport.messages import MESSAGES, deepmimic_interfaces, sensor_msgs
from deepmimic_transport.tools.bag import cdr_bytes, message_definition
from deepmimic_transport.typehash import rihs01
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

PUBLISHER = Path(__file__).resolve().parent / "joint_state_publisher.py"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from joint_state_publisher import joint_state  # noqa: E402


@pytest.fixture
def recorded(tmp_path, loopback_dds, capsys):
    """One second of the 30 Hz publisher, recorded by the CLI; (bag path, CLI output)."""
    process = subprocess.Popen([sys.executable, str(PUBLISHER), "--rate", "30", "--seconds", "20"], env=loopback_dds,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "publishing"
        bag = tmp_path / "bag"
        assert cli(["bag", "record", "/joint_states", "-o", str(bag), "--duration", "1"]) == 0
    finally:
        process.kill()
        process.communicate()
    return bag, capsys.readouterr().out


def test_bag_reads_back_with_rosbags_and_mcap(recorded):
    recorded, out = recorded
    printed = int(out.split("/joint_states:")[1].split()[0])
    assert 25 <= printed <= 35  # about 1 s at 30 Hz

    metadata = yaml.safe_load((recorded / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["storage_identifier"] == "mcap"
    assert metadata["message_count"] == printed
    (topic,) = metadata["topics_with_message_count"]
    assert topic["topic_metadata"]["name"] == "/joint_states"
    assert topic["topic_metadata"]["type"] == "sensor_msgs/msg/JointState"
    assert topic["topic_metadata"]["serialization_format"] == "cdr"
    assert topic["topic_metadata"]["type_description_hash"] == rihs01(sensor_msgs.JointState)

    # rosbags: deserialises to the values that were published, and its own serialiser gives our bytes.
    with AnyReader([recorded], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
        (connection,) = reader.connections
        raw = [(c, data) for c, _, data in reader.messages()]
        messages = [reader.deserialize(data, c.msgtype) for c, data in raw]
        store = reader.typestore
    assert len(messages) == printed
    first = int(messages[0].position[0])
    for k, msg in enumerate(messages):
        expected = joint_state(first + k, 30.0)
        assert list(msg.position) == expected.position and list(msg.velocity) == pytest.approx(expected.velocity)
        assert list(msg.name) == expected.name and msg.header.frame_id == "world"
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (expected.header.stamp.sec,
                                                                   expected.header.stamp.nanosec)
        assert bytes(raw[k][1]) == bytes(store.serialize_cdr(msg, connection.msgtype))

    # mcap: the same count, ros2msg schema, cdr encoding, and the bytes we serialise.
    from mcap.reader import make_reader

    (mcap_file,) = recorded.glob("*.mcap")
    with mcap_file.open("rb") as stream:
        reader = make_reader(stream)
        summary = reader.get_summary()
        items = list(reader.iter_messages())
    assert summary.statistics.message_count == printed == len(items)
    schema, channel, _ = items[0]
    assert (schema.name, schema.encoding) == ("sensor_msgs/msg/JointState", "ros2msg")
    assert schema.data.decode() == message_definition(sensor_msgs.JointState)
    assert (channel.topic, channel.message_encoding) == ("/joint_states", "cdr")
    assert [m.data for _, _, m in items] == [cdr_bytes(joint_state(first + k, 30.0)) for k in range(len(items))]


def test_cdr_bytes_and_definitions_are_rosbags():
    store = get_typestore(Stores.ROS2_JAZZY)
    msg = joint_state(7, 30.0)
    stamp = store.types["builtin_interfaces/msg/Time"](sec=msg.header.stamp.sec, nanosec=msg.header.stamp.nanosec)
    theirs = store.types["sensor_msgs/msg/JointState"](
        header=store.types["std_msgs/msg/Header"](stamp=stamp, frame_id="world"), name=msg.name,
        position=np.array(msg.position), velocity=np.array(msg.velocity), effort=np.array([], dtype=float))
    assert cdr_bytes(msg) == bytes(store.serialize_cdr(theirs, "sensor_msgs/msg/JointState"))
    assert message_definition(sensor_msgs.JointState) == store.generate_msgdef("sensor_msgs/msg/JointState",
                                                                               ros_version=2)[0]
    # Every type's definition parses with rosbags and gives our hash.
    from rosbags.typesys import get_types_from_msg

    for name in ("deepmimic_interfaces/msg/ReferenceFrame", "nav_msgs/msg/Odometry"):
        cls = MESSAGES[name]
        fresh = get_typestore(Stores.EMPTY)
        text = message_definition(cls)
        parts = text.split("=" * 80 + "\n")
        types = get_types_from_msg(parts[0], name)
        for part in parts[1:]:
            header, _, body = part.partition("\n")
            short = header.removeprefix("MSG: ")
            pkg, typ = short.split("/")
            types.update(get_types_from_msg(body, f"{pkg}/msg/{typ}"))
        fresh.register(types)
        assert fresh.hash_rihs01(name) == rihs01(cls)
    assert deepmimic_interfaces.ReferenceFrame is MESSAGES["deepmimic_interfaces/msg/ReferenceFrame"]


def test_missing_topic_and_existing_output_are_errors(tmp_path, capsys):
    assert cli(["bag", "record", "/nobody", "-o", str(tmp_path / "b"), "--timeout", "0.3"]) == 2
    assert "no publisher of /nobody" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
    assert cli(["bag", "record", "-o", str(tmp_path / "c")]) == 2
