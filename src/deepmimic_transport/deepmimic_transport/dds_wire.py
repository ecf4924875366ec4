"""What the DDS transport puts on the wire, following rmw_cyclonedds (ROS 2 Iron and later).

- Payloads: plain CDR (XCDR1), little endian, padded to 4 bytes; NumPy arrays in messages are
  turned into lists first (:func:`prepare`).
- QoS: :func:`dds_qos` maps a ``QoSProfile``; every endpoint offers XCDR1 only and carries
  ``typehash=RIHS01_...;`` in its user data.
- Services: a request is ``cdds_request_header_t {uint64 guid; int64 seq}`` followed by the
  request fields, in one CDR stream; the reply repeats the header. rmw_cyclonedds fills ``guid``
  with the client's request-writer instance handle and filters replies on it. The wire type is
  :func:`service_wire_type`: the payload's fields behind those two, under the payload's DDS name.
  Client and server endpoints also carry ``clientid=`` / ``serviceid=`` in their user data so a
  server can wait until the client's reply reader is matched before answering.
- Discovery on one machine: :func:`loopback_config` keeps Cyclone on 127.0.0.1 with unicast
  discovery, as ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` asks.
- Interoperability with ROS 2 on Fast DDS (rmw_fastrtps, ROS's default RMW): every domain gets
  :data:`INTEROP_CONFIG` in front of the user's configuration (:func:`domain_config`). Fast DDS 3
  sends XTypes type information for every endpoint. For any type with a sequence (JointState,
  Odometry, Float64MultiArray, ...) its TypeObjects leave the collection element's
  ``try_construct`` flags at 0, which XTypes 1.3 leaves undefined and Cyclone 11 rejects
  ("ddsi_xt_type_init_impl with invalid type object"): the endpoint is then never matched. Even
  with those objects accepted (Cyclone's ``AllowInvalidTryConstruct``), Fast DDS declares ROS's
  structs appendable while Cyclone's (and rmw_cyclonedds') are final, so the XTypes
  assignability check still refuses the match ("wr type not delimited"), although both encode the
  same plain CDR bytes. ``IgnoreTypeInformation`` for eProsima's vendor id makes Cyclone match
  Fast DDS endpoints by type name, as rmw_cyclonedds does for all peers (it sends no type
  information at all). The same configuration gives each participant a well-known unicast
  discovery port (``ParticipantIndex`` auto, as Fast DDS always does), so a ROS 2 process with
  ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``, which only probes those ports, finds ours even when
  our side runs with the defaults.
- Services do NOT interoperate with rmw_fastrtps (nor do rmw_cyclonedds' own: ros2/rmw_cyclonedds
  issue 184): Fast DDS carries the request id as the ``related_sample_identity`` inline QoS, which
  Cyclone's Python API can neither write nor read, instead of the header in the payload. Serve or
  call services from ROS 2 on Fast DDS with our nodes on the ``rclpy`` transport.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import typing
import uuid
from typing import Any

from cyclonedds.core import Policy, Qos
from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as idl
from cyclonedds.util import duration

from .messages.base import fields_of
from .messages.numpy_cdr import writes_numpy
from .qos import Durability, History, QoSProfile, Reliability
from .typehash import parse_user_data, user_data

#: Field names of the request header in front of every request and reply payload.
HEADER_FIELDS = ("cdds_request_guid", "cdds_request_seq")
#: How long a reliable writer may block on a full history before ``publish`` fails.
MAX_BLOCKING_S = 1.0
UINT64_MASK = (1 << 64) - 1


def domain_id_from_env() -> int:
    """``ROS_DOMAIN_ID`` (0 when unset), validated to ROS's range 0-232."""
    value = os.environ.get("ROS_DOMAIN_ID", "").strip() or "0"
    domain_id = int(value)
    if not 0 <= domain_id <= 232:
        raise ValueError(f"ROS_DOMAIN_ID must be in 0..232, got {domain_id}")
    return domain_id


def localhost_only_from_env(environ: typing.Mapping[str, str] | None = None) -> bool:
    """Whether ROS's environment asks for discovery on this machine only."""
    environ = os.environ if environ is None else environ
    return (environ.get("ROS_LOCALHOST_ONLY") == "1"
            or environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "").upper() in ("LOCALHOST", "OFF"))


#: eProsima's RTPS vendor id (Fast DDS), whose type information Cyclone is told to ignore.
FAST_DDS_VENDOR_ID = "1.15"
#: Participants per machine and domain that get a well-known discovery port (Cyclone's default is 9).
MAX_PARTICIPANT_INDEX = 100
#: Configuration every domain of ours starts from (the user's ``CYCLONEDDS_URI`` comes after it and wins).
INTEROP_CONFIG = ('<CycloneDDS><Domain Id="any"><Compatibility>'
                  f"<IgnoreTypeInformation>{FAST_DDS_VENDOR_ID}</IgnoreTypeInformation>"
                  "</Compatibility><Discovery><ParticipantIndex>auto</ParticipantIndex>"
                  f"<MaxAutoParticipantIndex>{MAX_PARTICIPANT_INDEX}</MaxAutoParticipantIndex>"
                  "</Discovery></Domain></CycloneDDS>")


def domain_config(environ: typing.Mapping[str, str] | None = None) -> str:
    """The Cyclone configuration of our domains: :data:`INTEROP_CONFIG`, then the user's or ROS's choice.

    After the interoperability settings comes ``CYCLONEDDS_URI`` when set (files or XML, as
    Cyclone reads it), else :func:`loopback_config` when ROS's environment asks for this machine
    only, else nothing more (Cyclone's defaults). Cyclone applies the parts in order, so a user's
    file can still override the interoperability settings.

    Args:
        environ: The environment to read (``os.environ`` when None).

    Returns:
        A configuration string for ``cyclonedds.domain.Domain``.
    """
    environ = os.environ if environ is None else environ
    parts = [INTEROP_CONFIG]
    if environ.get("CYCLONEDDS_URI", "").strip():
        parts.append(environ["CYCLONEDDS_URI"])
    elif localhost_only_from_env(environ):
        parts.append(loopback_config())
    return ",".join(parts)


def loopback_config(max_participants: int = 32) -> str:
    """Cyclone DDS XML configuration: 127.0.0.1 only, no multicast, unicast discovery of local participants.

    Args:
        max_participants: How many participants on this machine discovery probes for (one port each).

    Returns:
        The XML text (for ``CYCLONEDDS_URI`` or ``cyclonedds.domain.Domain``).
    """
    return ('<CycloneDDS><Domain Id="any"><General><Interfaces><NetworkInterface address="127.0.0.1"/>'
            "</Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery>"
            f"<ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>{max_participants}"
            '</MaxAutoParticipantIndex><Peers><Peer address="127.0.0.1"/></Peers></Discovery></Domain></CycloneDDS>')


def dds_qos(profile: QoSProfile, data: bytes) -> Qos:
    """Cyclone QoS for an endpoint: the profile's policies, XCDR1, and ``data`` as user data."""
    if profile.reliability is Reliability.RELIABLE:
        reliability = Policy.Reliability.Reliable(max_blocking_time=duration(seconds=MAX_BLOCKING_S))
    else:
        reliability = Policy.Reliability.BestEffort
    durability = (Policy.Durability.TransientLocal if profile.durability is Durability.TRANSIENT_LOCAL
                  else Policy.Durability.Volatile)
    history = (Policy.History.KeepAll if profile.history is History.KEEP_ALL
               else Policy.History.KeepLast(depth=profile.depth))
    return Qos(reliability, durability, history, Policy.DataRepresentation(use_cdrv0_representation=True),
               Policy.Userdata(data=data))


def topic_user_data(msg_type: type) -> bytes:
    """User data of a topic endpoint: ``typehash=RIHS01_...;``."""
    return user_data(msg_type)


def client_service_id(participant_guid: uuid.UUID, counter: int) -> str:
    """A client/service id as rmw_cyclonedds writes it: the participant's GUID prefix and a counter.

    Twelve bytes of prefix and the counter as four big-endian bytes, in hex, separated by dots,
    the first byte right-aligned to two characters.
    """
    data = participant_guid.bytes[:12] + (counter & 0xFFFFFFFF).to_bytes(4, "big")
    return f"{data[0]:>2x}" + "".join(f".{b:x}" for b in data[1:])


def user_data_entries(qos: Qos | None) -> dict[str, str]:
    """The ``key=value;`` entries of an endpoint's user data (empty when it has none)."""
    policy = qos[Policy.Userdata] if qos is not None else None
    return parse_user_data(policy.data) if policy is not None else {}


def prepare(msg: Any) -> Any:
    """``msg`` with NumPy arrays (and other sequences) in array fields turned into lists.

    The message is returned as is when nothing needs converting, or when it writes its own CDR
    from NumPy arrays (``messages.numpy_cdr``); otherwise a shallow copy is changed,
    never the caller's object.
    """
    if writes_numpy(msg):
        return msg
    changes = {}
    for spec in fields_of(type(msg)):
        value = getattr(msg, spec.name)
        if "/" in spec.base_type:
            if spec.kind == "single":
                new = prepare(value)
            else:
                items = [prepare(item) for item in value]
                unchanged = isinstance(value, list) and all(a is b for a, b in zip(items, value, strict=True))
                new = value if unchanged else items
        elif spec.kind != "single" and not isinstance(value, list):
            new = value.tolist() if hasattr(value, "tolist") else list(value)
        else:
            continue
        if new is not value:
            changes[spec.name] = new
    if not changes:
        return msg
    out = copy.copy(msg)
    for name, value in changes.items():
        setattr(out, name, value)
    return out


def encode(msg: Any) -> bytes:
    """The CDR bytes a DataWriter sends for ``msg``: encapsulation header, XCDR1 payload, padding to 4."""
    data = prepare(msg).serialize(use_version_2=False)
    return data + b"\0" * (-len(data) % 4)


def decode(msg_type: type, data: bytes) -> Any:
    """The message of type ``msg_type`` in CDR ``data`` (with its encapsulation header)."""
    return msg_type.deserialize(data, has_header=True)


@functools.cache
def service_wire_type(payload_type: type) -> type:
    """The DDS type of a request or reply: header fields, then the payload's fields, same DDS name.

    Args:
        payload_type: A service's Request or Response class.

    Returns:
        A dataclass ``IdlStruct`` whose CDR is ``guid, seq, payload...`` as rmw_cyclonedds sends it.
    """
    hints = typing.get_type_hints(payload_type, include_extras=True)
    fields: list[tuple[str, Any, Any]] = [
        (HEADER_FIELDS[0], idl.uint64, dataclasses.field(default=0)),
        (HEADER_FIELDS[1], idl.int64, dataclasses.field(default=0)),
    ]
    for f in dataclasses.fields(payload_type):
        if f.name in HEADER_FIELDS:
            raise TypeError(f"{payload_type.__name__}.{f.name} clashes with the request header")
        fields.append((f.name, hints[f.name], dataclasses.field(default=f.default, default_factory=f.default_factory)))
    namespace = {"__idl_typename__": payload_type.__idl_typename__,
                 "__doc__": f"{payload_type.__name__} behind rmw_cyclonedds' request header (wire type)."}
    return dataclasses.make_dataclass(payload_type.__name__ + "Wire", fields, bases=(IdlStruct,), namespace=namespace)


def wrap(payload: Any, guid: int, seq: int) -> Any:
    """The wire sample carrying ``payload`` with header ``(guid, seq)``."""
    payload = prepare(payload)
    values = {f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)}
    return service_wire_type(type(payload))(guid & UINT64_MASK, seq, **values)


def unwrap(sample: Any, payload_type: type) -> tuple[int, int, Any]:
    """``(guid, seq, payload)`` from a wire sample."""
    values = {f.name: getattr(sample, f.name) for f in dataclasses.fields(payload_type)}
    return sample.cdds_request_guid, sample.cdds_request_seq, payload_type(**values)
