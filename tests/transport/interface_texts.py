"""Interface definitions as text, and two independent parsers that read them (test helpers).

- ``STANDARD``: the ROS 2 (Jazzy) ``.msg``/``.srv`` text of every standard type the project uses,
  comments dropped. test_messages.py also checks these texts against rosbags' bundled Jazzy store.
- ``project_definitions()``: ``src/deepmimic_interfaces/msg/*.msg`` and ``srv/*.srv``, read from disk.
- ``rosbags_fields`` / ``rosidl_fields``: a definition's fields as ``(name, ".msg type")`` pairs,
  by rosbags' msg parser and by ROS's own rosidl_adapter (PyPI ``ros-rosidl-adapter``).
- ``rosidl_hashes``: RIHS01 hashes by ROS's generator (.msg -> .idl by rosidl_adapter, parsed by
  rosidl_parser, hashed by rosidl_generator_type_description), as ``colcon build`` computes them.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INTERFACES = REPO / "src" / "deepmimic_interfaces"
EMPTY_FIELD = ("structure_needs_at_least_one_member", "uint8")  # what ROS gives an empty structure

STANDARD = {
    "builtin_interfaces/msg/Time": "int32 sec\nuint32 nanosec\n",
    "builtin_interfaces/msg/Duration": "int32 sec\nuint32 nanosec\n",
    "std_msgs/msg/Header": "builtin_interfaces/Time stamp\nstring frame_id\n",
    "std_msgs/msg/String": "string data\n",
    "std_msgs/msg/MultiArrayDimension": "string label\nuint32 size\nuint32 stride\n",
    "std_msgs/msg/MultiArrayLayout": "MultiArrayDimension[] dim\nuint32 data_offset\n",
    "std_msgs/msg/Float64MultiArray": "MultiArrayLayout layout\nfloat64[] data\n",
    "geometry_msgs/msg/Point": "float64 x\nfloat64 y\nfloat64 z\n",
    "geometry_msgs/msg/Quaternion": "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n",
    "geometry_msgs/msg/Vector3": "float64 x\nfloat64 y\nfloat64 z\n",
    "geometry_msgs/msg/Pose": "Point position\nQuaternion orientation\n",
    "geometry_msgs/msg/Twist": "Vector3 linear\nVector3 angular\n",
    "geometry_msgs/msg/PoseWithCovariance": "Pose pose\nfloat64[36] covariance\n",
    "geometry_msgs/msg/TwistWithCovariance": "Twist twist\nfloat64[36] covariance\n",
    "sensor_msgs/msg/JointState": (
        "std_msgs/Header header\nstring[] name\nfloat64[] position\nfloat64[] velocity\nfloat64[] effort\n"),
    "nav_msgs/msg/Odometry": (
        "std_msgs/Header header\nstring child_frame_id\ngeometry_msgs/PoseWithCovariance pose\n"
        "geometry_msgs/TwistWithCovariance twist\n"),
    "std_srvs/srv/Trigger": "---\nbool success\nstring message\n",
}


def project_definitions() -> dict[str, str]:
    """``deepmimic_interfaces/msg/T`` or ``.../srv/T`` -> file text, for every file in the package."""
    found = {}
    for kind in ("msg", "srv"):
        for path in sorted((INTERFACES / kind).glob(f"*.{kind}")):
            found[f"deepmimic_interfaces/{kind}/{path.stem}"] = path.read_text(encoding="utf-8")
    return found


def message_texts(definitions: dict[str, str]) -> dict[str, str]:
    """Split services into their request and response messages: ``pkg/srv/T_Request`` -> text."""
    texts = {}
    for name, text in definitions.items():
        if "/srv/" in name:
            texts[name + "_Request"], texts[name + "_Response"] = re.split(r"^---[ \t]*$", text, flags=re.M)
        else:
            texts[name] = text
    return texts


# rosbags --------------------------------------------------------------------------------------
def rosbags_store():
    """rosbags' Jazzy type store with every definition above registered (standard ones already are)."""
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    for name, text in message_texts({**STANDARD, **project_definitions()}).items():
        if name not in store.fielddefs:
            store.register(rosbags_definitions(name, text))
    return store


def rosbags_definitions(ros_name: str, text: str) -> dict:
    """rosbags' parse of one message text, keyed by its ROS name.

    rosbags files ``pkg/srv/T_Request`` under ``pkg/srv/msg/T_Request``; the name enters the
    RIHS01 hash, so it is put back.
    """
    from rosbags.typesys import get_types_from_msg

    return {key.replace("/srv/msg/", "/srv/"): value for key, value in get_types_from_msg(text, ros_name).items()}


def _rosbags_type(desc) -> str:
    """A rosbags field description as ``.msg`` type text."""
    from rosbags.interfaces import Nodetype

    kind, args = desc
    if kind == Nodetype.BASE:
        name, bound = args
        return f"{name}<={bound}" if bound else name
    if kind == Nodetype.NAME:
        return args.replace("/msg/", "/")
    element, count = args
    suffix = f"[{count}]" if kind == Nodetype.ARRAY else f"[<={count}]" if count else "[]"
    return _rosbags_type(element) + suffix


def rosbags_fields(fielddefs: dict, ros_name: str) -> list[tuple[str, str]]:
    """``(name, type)`` pairs of a type in rosbags' field definitions (``store.fielddefs``)."""
    fields = [(name, _rosbags_type(desc)) for name, desc in fielddefs[ros_name][1]]
    return fields or [EMPTY_FIELD]


def parse_with_rosbags(ros_name: str, text: str) -> list[tuple[str, str]]:
    """``(name, type)`` pairs of one message text, by rosbags' msg parser."""
    return rosbags_fields(rosbags_definitions(ros_name, text), ros_name)


# rosidl (ROS's own tools) ---------------------------------------------------------------------
def rosidl_available() -> bool:
    """Whether ROS's rosidl_adapter, rosidl_parser and type-description generator can be imported."""
    try:
        with warnings.catch_warnings():  # rosidl_parser's lark still imports sre_parse
            warnings.simplefilter("ignore", DeprecationWarning)
            import rosidl_adapter.parser  # noqa: F401
            import rosidl_generator_type_description  # noqa: F401
            import rosidl_parser.parser  # noqa: F401
    except ImportError:
        return False
    return True


def _rosidl_type(field_type) -> str:
    """A rosidl_adapter Type as ``.msg`` type text."""
    base = field_type.type if field_type.is_primitive_type() else f"{field_type.pkg_name}/{field_type.type}"
    if field_type.string_upper_bound:
        base += f"<={field_type.string_upper_bound}"
    if not field_type.is_array:
        return base
    if field_type.array_size is None:
        return base + "[]"
    return base + (f"[<={field_type.array_size}]" if field_type.is_upper_bound else f"[{field_type.array_size}]")


def rosidl_fields(ros_name: str, text: str) -> tuple[list[tuple[str, str]], dict[str, object]]:
    """``(name, type)`` pairs and default values of one message text, by rosidl_adapter."""
    from rosidl_adapter.parser import parse_message_string

    package, _, name = ros_name.split("/")
    spec = parse_message_string(package, name, text)
    fields = [(f.name, _rosidl_type(f.type)) for f in spec.fields] or [EMPTY_FIELD]
    defaults = {f.name: f.default_value for f in spec.fields if f.default_value is not None}
    return fields, defaults


def rosidl_hashes(definitions: dict[str, str]) -> dict[str, str]:
    """RIHS01 hash of every message (services: request and response) in ``definitions``, by ROS's tools."""
    from rosidl_adapter.msg import convert_msg_to_idl
    from rosidl_adapter.srv import convert_srv_to_idl
    from rosidl_generator_type_description import (
        add_msg,
        add_srv,
        calculate_type_hash,
        extract_full_type_description,
        serialize_individual_type_description,
    )
    from rosidl_parser.definition import IdlLocator, Message, Service
    from rosidl_parser.parser import parse_idl_file

    individual: dict = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        root = Path(tmp)
        for ros_name, text in definitions.items():
            package, kind, name = ros_name.split("/")
            source = root / "src" / package / kind / f"{name}.{kind}"
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_text(text, encoding="utf-8")
            out_dir = root / "idl" / package / kind
            out_dir.mkdir(parents=True, exist_ok=True)
            convert = convert_msg_to_idl if kind == "msg" else convert_srv_to_idl
            idl = convert(root / "src" / package, package, Path(kind) / source.name, out_dir)
            parsed = parse_idl_file(IdlLocator(root / "idl", Path(package) / kind / idl.name))
            for element in parsed.content.elements:
                if isinstance(element, Message):
                    add_msg(element, individual)
                elif isinstance(element, Service):
                    add_srv(element, individual)
    serialized = {k: serialize_individual_type_description(v.namespaced_type, v.members) for k, v in individual.items()}
    wanted = message_texts(definitions)
    return {k: calculate_type_hash(extract_full_type_description(k, serialized)) for k in wanted}
