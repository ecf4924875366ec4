"""What every message definition shares: ROS names, field introspection and service types.

A message is a cyclonedds ``IdlStruct`` dataclass whose IDL type name is the ROS 2 DDS name
(``sensor_msgs::msg::dds_::JointState_``), written as
``class JointState(IdlStruct, typename=dds_type_name("sensor_msgs/msg/JointState"))``.
Everything else is derived from that one class:

- the ROS name (``sensor_msgs/msg/JointState``) from the IDL type name;
- the field list (:class:`FieldSpec`, the ``.msg`` view of each field) from the annotations, used
  by the RIHS01 type hash (``typehash.py``) and by the tests that compare it with the ``.msg`` text;
- the CDR bytes, by cyclonedds.

Field annotations must name ROS types explicitly (``types.float64``, ``types.uint32``, ``str``,
``bool``, ``types.sequence[...]``, ``types.array[..., N]``, another message class): a bare ``int``
or ``float`` is ambiguous and rejected by :func:`fields_of`.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass

from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as idl

# Primitive ROS types and the cyclonedds annotation name that carries each one.
PRIMITIVES = ("bool", "byte", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
              "float32", "float64", "string")


@dataclass(frozen=True)
class FieldSpec:
    """One field as a ``.msg`` file states it.

    Attributes:
        name: Field name.
        base_type: ``float64``, ``string``, ... or a message name ``pkg/msg/T``.
        kind: ``single``, ``array`` (fixed size ``T[N]``) or ``sequence`` (``T[]`` / ``T[<=N]``).
        length: Array size, or sequence bound (0 = unbounded).
        string_bound: N of ``string<=N`` (0 = unbounded).
    """

    name: str
    base_type: str
    kind: str = "single"
    length: int = 0
    string_bound: int = 0

    def msg_type(self) -> str:
        """The type as written in a ``.msg`` file, e.g. ``float64[36]`` or ``geometry_msgs/Pose[]``."""
        base = self.base_type.replace("/msg/", "/")
        if self.string_bound:
            base += f"<={self.string_bound}"
        if self.kind == "array":
            return f"{base}[{self.length}]"
        if self.kind == "sequence":
            return f"{base}[<={self.length}]" if self.length else f"{base}[]"
        return base


def is_message(cls: object) -> bool:
    """True for a message class (an ``IdlStruct`` subclass with a ROS DDS type name)."""
    return isinstance(cls, type) and issubclass(cls, IdlStruct) and "::dds_::" in getattr(cls, "__idl_typename__", "")


def ros_type_name(cls: type) -> str:
    """``sensor_msgs/msg/JointState`` for the class whose IDL name is ``sensor_msgs::msg::dds_::JointState_``."""
    package, kind, marker, name = cls.__idl_typename__.split("::")
    if marker != "dds_" or not name.endswith("_"):
        raise ValueError(f"{cls.__idl_typename__!r} is not a ROS 2 DDS type name (pkg::msg::dds_::T_)")
    return f"{package}/{kind}/{name[:-1]}"


def dds_type_name(ros_name: str) -> str:
    """``pkg::msg::dds_::T_`` for ``pkg/msg/T`` (rmw_cyclonedds' naming of ROS types on DDS)."""
    package, kind, name = ros_name.split("/")
    return f"{package}::{kind}::dds_::{name}_"


def _spec(name: str, annotation: object) -> FieldSpec:
    """The :class:`FieldSpec` of one annotated field."""
    if isinstance(annotation, type) and issubclass(annotation, IdlStruct):
        return FieldSpec(name, ros_type_name(annotation))
    if annotation is bool:
        return FieldSpec(name, "bool")
    if annotation is str:
        return FieldSpec(name, "string")
    if typing.get_origin(annotation) is typing.Annotated:
        _, meta = typing.get_args(annotation)[:2]
        if isinstance(meta, str) and meta in PRIMITIVES:
            return FieldSpec(name, meta)
        if isinstance(meta, idl.bounded_str):
            return FieldSpec(name, "string", string_bound=meta.max_length)
        if isinstance(meta, (idl.array, idl.sequence)):
            element = _spec(name, meta.subtype)
            if element.kind != "single":
                raise TypeError(f"field {name!r}: ROS has no nested arrays")
            if isinstance(meta, idl.array):
                return dataclasses.replace(element, kind="array", length=meta.length)
            return dataclasses.replace(element, kind="sequence", length=meta.max_length or 0)
    raise TypeError(f"field {name!r}: {annotation!r} is not a ROS type (use cyclonedds.idl.types.float64, ...)")


@functools.cache
def fields_of(cls: type) -> tuple[FieldSpec, ...]:
    """The fields of a message class, in declaration (= wire) order."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return tuple(_spec(f.name, hints[f.name]) for f in dataclasses.fields(cls))


@functools.cache
def nested_classes(cls: type) -> tuple[type, ...]:
    """The message classes that ``cls``'s fields use, directly or not (no duplicates, sorted by ROS name)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    found: dict[str, type] = {}
    for f in dataclasses.fields(cls):
        annotation = hints[f.name]
        if typing.get_origin(annotation) is typing.Annotated:
            meta = typing.get_args(annotation)[1]
            annotation = getattr(meta, "subtype", annotation)
        if is_message(annotation):
            found[ros_type_name(annotation)] = annotation
            found.update((ros_type_name(c), c) for c in nested_classes(annotation))
    return tuple(found[name] for name in sorted(found))


@dataclass(frozen=True)
class ServiceType:
    """A service: its ROS name and its request and response message classes.

    Used like rclpy's generated service classes: ``GetMotion.Request(...)``, ``GetMotion.Response()``.

    Attributes:
        name: ROS name, ``pkg/srv/T``.
        Request: Message class ``pkg/srv/T_Request``.
        Response: Message class ``pkg/srv/T_Response``.
    """

    name: str
    Request: type
    Response: type

    def __post_init__(self) -> None:
        """Check that the request and response names follow ``pkg/srv/T_Request`` / ``_Response``."""
        for cls, suffix in ((self.Request, "_Request"), (self.Response, "_Response")):
            if ros_type_name(cls) != self.name + suffix:
                raise ValueError(f"{ros_type_name(cls)} is not the {suffix[1:].lower()} of {self.name}")
