"""RIHS01 type hashes (REP-2011) of message classes, as ROS 2 (Iron and later) computes them.

The hash is the SHA-256 of a JSON text: the type's description (its name and fields) followed by
the descriptions of every type it refers to, sorted by name. Each field is
``{"name", "type": {"type_id", "capacity", "string_capacity", "nested_type_name"}}``; default
values are left out of the hash. ``type_id`` is the field's base type code (type_description_
interfaces/msg/FieldType) plus 48 for a fixed array, 96 for a bounded sequence and 144 for an
unbounded one. The JSON uses ``", "`` and ``": "`` separators, in declaration order.

rmw_cyclonedds puts ``typehash=RIHS01_<hex>;`` in the user data QoS of every writer and reader
(for a service: the request message's hash on ``rq/...`` and the response's on ``rr/...``).
The tests check this module against rosbags and against ROS's own generator
(rosidl_generator_type_description).
"""

from __future__ import annotations

import functools
import hashlib
import json

from .messages.base import FieldSpec, fields_of, nested_classes, ros_type_name

#: type_description_interfaces/msg/FieldType codes of the base types.
FIELD_TYPE_IDS = {
    "nested": 1, "int8": 2, "uint8": 3, "int16": 4, "uint16": 5, "int32": 6, "uint32": 7, "int64": 8,
    "uint64": 9, "float32": 10, "float64": 11, "char": 13, "bool": 15, "byte": 16, "string": 17,
    "bounded_string": 21,
}
ARRAY_OFFSET = 48
BOUNDED_SEQUENCE_OFFSET = 96
UNBOUNDED_SEQUENCE_OFFSET = 144


def _field_type(spec: FieldSpec) -> dict:
    """The ``FieldType`` dictionary of one field."""
    nested = "/" in spec.base_type
    if nested:
        base = FIELD_TYPE_IDS["nested"]
    elif spec.base_type == "string" and spec.string_bound:
        base = FIELD_TYPE_IDS["bounded_string"]
    else:
        base = FIELD_TYPE_IDS[spec.base_type]
    if spec.kind == "array":
        base += ARRAY_OFFSET
    elif spec.kind == "sequence":
        base += BOUNDED_SEQUENCE_OFFSET if spec.length else UNBOUNDED_SEQUENCE_OFFSET
    return {
        "type_id": base,
        "capacity": spec.length,
        "string_capacity": spec.string_bound,
        "nested_type_name": spec.base_type if nested else "",
    }


def individual_type_description(cls: type) -> dict:
    """``IndividualTypeDescription`` of one class, without default values (the hashed form)."""
    return {
        "type_name": ros_type_name(cls),
        "fields": [{"name": spec.name, "type": _field_type(spec)} for spec in fields_of(cls)],
    }


def type_description(cls: type) -> dict:
    """``TypeDescription``: the class and every type it refers to, the latter sorted by name."""
    return {
        "type_description": individual_type_description(cls),
        "referenced_type_descriptions": [individual_type_description(c) for c in nested_classes(cls)],
    }


@functools.cache
def rihs01(cls: type) -> str:
    """``RIHS01_<64 hex digits>``: the REP-2011 hash of a message class.

    Args:
        cls: A message class (see ``deepmimic_transport.messages``).

    Returns:
        The hash string, as ``ros2 topic info -v`` prints it.
    """
    text = json.dumps(type_description(cls), separators=(", ", ": "), ensure_ascii=True, allow_nan=False)
    return "RIHS01_" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def user_data(cls: type, prefix: str = "") -> bytes:
    """User data QoS for an endpoint of type ``cls``: ``<prefix>typehash=RIHS01_...;`` as rmw_cyclonedds writes it.

    Args:
        cls: Message class carried by the endpoint.
        prefix: Entries before the hash, each ``key=value;`` (``clientid=...;`` for services).

    Returns:
        The bytes to set as the endpoint's user data.
    """
    return f"{prefix}typehash={rihs01(cls)};".encode("ascii")


def parse_user_data(data: bytes) -> dict[str, str]:
    """The ``key=value;`` entries of a user data QoS (rmw's convention), as a dictionary."""
    entries = {}
    for item in data.decode("utf-8", "replace").split(";"):
        key, sep, value = item.partition("=")
        if sep:
            entries[key.strip()] = value
    return entries
