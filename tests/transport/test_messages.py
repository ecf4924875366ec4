"""Wire checks of every message and service type against the .msg/.srv texts and against rosbags.

(a) each Python definition has the fields of its ``.msg``/``.srv`` text, read by two independent
    parsers: rosbags' msg parser, and ROS's rosidl_adapter (the front end of ``colcon build``);
(b) the CDR bytes cyclonedds sends equal rosbags' serialisation of the same values, services
    included (with rmw_cyclonedds' request header in front);
(c) the RIHS01 hash we compute equals rosbags', ROS's generator's, and published Jazzy values.
"""

from __future__ import annotations

import dataclasses
import itertools
import struct

import numpy as np
import pytest

pytest.importorskip("cyclonedds", reason="cyclonedds is not installed: pip install cyclonedds")
pytest.importorskip("rosbags", reason="rosbags (the reference serialiser) is not installed: pip install rosbags")

from cyclonedds.idl import IdlStruct
from deepmimic_transport.dds_wire import decode, encode, service_wire_type, wrap
from deepmimic_transport.messages import MESSAGES, SERVICES, fields_of, ros_type_name
from deepmimic_transport.typehash import rihs01
from interface_texts import (
    STANDARD,
    message_texts,
    parse_with_rosbags,
    project_definitions,
    rosbags_fields,
    rosbags_store,
    rosidl_available,
    rosidl_fields,
    rosidl_hashes,
)
from rosbags.typesys import Stores, get_typestore

JAZZY = get_typestore(Stores.ROS2_JAZZY)  # rosbags' bundled definitions, untouched
DEFINITIONS = {**STANDARD, **project_definitions()}
TEXTS = message_texts(DEFINITIONS)
NUMPY_TYPES = {"bool": np.bool_, "byte": np.uint8, "int8": np.int8, "uint8": np.uint8, "int16": np.int16,
               "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32, "int64": np.int64, "uint64": np.uint64,
               "float32": np.float32, "float64": np.float64}
#: Hashes ROS 2 Jazzy reports for standard types (``ros2 topic info -v``), as published.
PUBLISHED_HASHES = {
    "builtin_interfaces/msg/Time": "RIHS01_b106235e25a4c5ed35098aa0a61a3ee9c9b18d197f398b0e4206cea9acf9c197",
    "std_msgs/msg/Header": "RIHS01_f49fb3ae2cf070f793645ff749683ac6b06203e41c891e17701b1cb597ce6a01",
    "std_msgs/msg/String": "RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18",
    "geometry_msgs/msg/Point": "RIHS01_6963084842a9b04494d6b2941d11444708d892da2f4b09843b9c43f42a7f6881",
    "geometry_msgs/msg/Quaternion": "RIHS01_8a765f66778c8ff7c8ab94afcc590a2ed5325a1d9a076ffff38fbce36f458684",
    "geometry_msgs/msg/Vector3": "RIHS01_cc12fe83e4c02719f1ce8070bfd14aecd40f75a96696a67a2a1f37f7dbb0765d",
    "geometry_msgs/msg/Pose": "RIHS01_d501954e9476cea2996984e812054b68026ae0bfae789d9a10b23daf35cc90fa",
    "geometry_msgs/msg/Twist": "RIHS01_9c45bf16fe0983d80e3cfe750d6835843d265a9a6c46bd2e609fcddde6fb8d2a",
    "geometry_msgs/msg/PoseWithCovariance": "RIHS01_9a7c0fd234b7f45c6098745ecccd773ca1085670e64107135397aee31c02e1bb",
    "geometry_msgs/msg/TwistWithCovariance": "RIHS01_49f574f033f095d8b6cd1beaca5ca7925e296e84af1716d16c89d38b059c8c18",
    "nav_msgs/msg/Odometry": "RIHS01_3cc97dc7fb7502f8714462c526d369e35b603cfc34d946e3f2eda2766dfec6e0",
}


@pytest.fixture(scope="module")
def store():
    """rosbags' Jazzy store with our types and std_srvs registered from their texts."""
    return rosbags_store()


def test_every_definition_has_a_python_class_and_back():
    assert set(TEXTS) == set(MESSAGES), "a .msg/.srv text without a Python class, or the reverse"
    assert {name for name in DEFINITIONS if "/srv/" in name} == set(SERVICES)
    for srv in SERVICES.values():
        assert (srv.Request, srv.Response) == (MESSAGES[srv.name + "_Request"], MESSAGES[srv.name + "_Response"])


# (a) fields ------------------------------------------------------------------------------------
def _ours(name: str) -> list[tuple[str, str]]:
    return [(spec.name, spec.msg_type()) for spec in fields_of(MESSAGES[name])]


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_fields_match_text_by_rosbags_parser(name):
    assert _ours(name) == parse_with_rosbags(name, TEXTS[name])


@pytest.mark.skipif(not rosidl_available(), reason="ROS's rosidl tools are not installed (requirements-dev.txt)")
@pytest.mark.parametrize("name", sorted(TEXTS))
def test_fields_and_defaults_match_text_by_rosidl_parser(name):
    fields, defaults = rosidl_fields(name, TEXTS[name])
    assert _ours(name) == fields
    instance = MESSAGES[name]()
    for field, value in defaults.items():
        assert getattr(instance, field) == value, f"default of {field}"


@pytest.mark.parametrize("name", sorted(name for name in TEXTS if name in JAZZY.fielddefs))
def test_standard_texts_match_rosbags_bundled_jazzy_store(name):
    """The standard texts written in interface_texts.py are ROS's (rosbags ships Jazzy's definitions)."""
    assert rosbags_fields(JAZZY.fielddefs, name) == parse_with_rosbags(name, TEXTS[name])


# (b) bytes -------------------------------------------------------------------------------------
def _scalar(base: str, k: int):
    """A value of ROS type ``base`` that differs with ``k`` and survives float32."""
    if base == "string":
        return ["", "a", "héllo", "joint_name_x"][k % 4]
    if base == "bool":
        return k % 2 == 1
    if base.startswith("float"):
        return k * 0.75 - 3.5
    if base.startswith("uint") or base == "byte":
        return (k * 37) % 250
    return (k * 11) % 200 - 100


def _sample(cls: type, store, counter: itertools.count):
    """The same values as one of our messages and as a rosbags message."""
    ours, theirs = {}, {}
    for spec in fields_of(cls):
        size = spec.length if spec.kind == "array" else next(counter) % 4 if spec.kind == "sequence" else None
        nested = "/" in spec.base_type
        if nested:
            pairs = [_sample(MESSAGES[spec.base_type], store, counter) for _ in range(size or 1)]
            values = [p[0] for p in pairs], [p[1] for p in pairs]
        else:
            items = [_scalar(spec.base_type, next(counter)) for _ in range(size or 1)]
            array = items if spec.base_type == "string" else np.array(items, dtype=NUMPY_TYPES[spec.base_type])
            values = items, array
        if size is None:
            ours[spec.name], theirs[spec.name] = values[0][0], values[1][0]
        else:
            ours[spec.name], theirs[spec.name] = values
    return cls(**ours), store.types[ros_type_name(cls)](**theirs)


def _plain(value):
    """A message as nested dicts and lists (received train-mode messages hold NumPy arrays)."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    return value


def _padded(data: bytes) -> bytes:
    return bytes(data) + b"\0" * (-len(data) % 4)


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_cdr_bytes_equal_rosbags(name, store):
    for seed in range(3):
        ours, theirs = _sample(MESSAGES[name], store, itertools.count(seed))
        data = encode(ours)
        assert data[:4] == b"\x00\x01\x00\x00", "plain CDR, little endian (XCDR1)"
        assert data == _padded(store.serialize_cdr(theirs, name))
        assert _plain(decode(MESSAGES[name], data)) == _plain(ours)


@pytest.mark.parametrize("name", sorted(n for n in TEXTS if "/srv/" in n))
def test_service_wire_is_request_header_then_payload(name, store):
    ours, theirs = _sample(MESSAGES[name], store, itertools.count(1))
    guid, seq = 0x0123456789ABCDEF, 42
    header = struct.pack("<Qq", guid, seq)
    payload = bytes(store.serialize_cdr(theirs, name))[4:]  # rosbags' bytes without the encapsulation
    assert encode(wrap(ours, guid, seq)) == _padded(b"\x00\x01\x00\x00" + header + payload)
    wire = service_wire_type(MESSAGES[name])
    assert wire.__idl_typename__ == MESSAGES[name].__idl_typename__  # e.g. pkg::srv::dds_::T_Request_


@pytest.mark.parametrize("name", ["deepmimic_interfaces/msg/BatchedAction", "deepmimic_interfaces/msg/BatchedTransition"])
def test_numpy_cdr_writes_cyclonedds_bytes_from_arrays_and_lists(name, store):
    """The batched messages write and read their own CDR (numpy_cdr): cyclonedds' bytes and values."""
    from deepmimic_transport.messages.numpy_cdr import plain_cdr, read_plain_cdr, writes_numpy

    cls = MESSAGES[name]
    assert writes_numpy(cls())
    for seed in range(6):
        ours, _ = _sample(cls, store, itertools.count(seed))
        reference = IdlStruct.serialize(ours, use_version_2=False)  # cyclonedds' own writer
        assert plain_cdr(ours) == reference == ours.serialize(use_version_2=False)
        as_arrays = dataclasses.replace(ours, **{
            spec.name: np.asarray(getattr(ours, spec.name), dtype=NUMPY_TYPES[spec.base_type])
            for spec in fields_of(cls) if spec.kind != "single" and spec.base_type in NUMPY_TYPES})
        assert plain_cdr(as_arrays) == reference
        assert _plain(read_plain_cdr(cls, reference)) == _plain(ours)  # unpadded, as DDS may deliver it
        received = decode(cls, encode(as_arrays))
        assert _plain(received) == _plain(ours) == _plain(IdlStruct.deserialize.__func__(cls, reference))
        assert all(isinstance(getattr(received, spec.name), np.ndarray)
                   for spec in fields_of(cls) if spec.kind == "sequence" and spec.base_type in NUMPY_TYPES)


def test_numpy_arrays_are_sent_as_lists_without_touching_the_message():
    from deepmimic_transport.messages import sensor_msgs

    msg = sensor_msgs.JointState(name=["a", "b"], position=np.array([1.0, 2.0]), velocity=np.zeros(2, np.float32))
    assert decode(sensor_msgs.JointState, encode(msg)).position == [1.0, 2.0]
    assert isinstance(msg.position, np.ndarray)


# (c) hashes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(TEXTS))
def test_type_hash_equals_rosbags(name, store):
    assert rihs01(MESSAGES[name]) == store.hash_rihs01(name)


@pytest.mark.skipif(not rosidl_available(), reason="ROS's rosidl tools are not installed (requirements-dev.txt)")
def test_type_hashes_equal_ros_generator():
    expected = rosidl_hashes(DEFINITIONS)
    assert {name: rihs01(MESSAGES[name]) for name in expected} == expected


@pytest.mark.parametrize("name", sorted(PUBLISHED_HASHES))
def test_type_hash_equals_published_jazzy_value(name):
    assert rihs01(MESSAGES[name]) == PUBLISHED_HASHES[name]


def test_dataclass_field_defaults_are_independent():
    from deepmimic_transport.messages import nav_msgs

    first, second = nav_msgs.Odometry(), nav_msgs.Odometry()
    first.pose.covariance[0] = 1.0
    assert second.pose.covariance[0] == 0.0
    assert all(f.default_factory is not dataclasses.MISSING or f.default is not dataclasses.MISSING
               for f in dataclasses.fields(nav_msgs.Odometry))
