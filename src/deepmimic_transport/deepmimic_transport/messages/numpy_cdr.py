"""Plain CDR (XCDR1, little endian) written with NumPy, for messages that carry large arrays.

cyclonedds' Python serialiser packs a sequence element by element (``struct.pack`` of a Python
list), so a train-mode BatchedTransition of 256 x 302 float32 costs ~20 ms to send, most of it
turning the array into a list and back into bytes. A message class decorated with
:func:`numpy_cdr` is written here instead: each primitive sequence is one ``ndarray.tobytes()``, and read back with one ``np.frombuffer`` (received messages of these
classes hold NumPy arrays, not lists). (A decorator, not a mixin base: cyclonedds reads every
base class as IDL inheritance.) The bytes are the same as cyclonedds' (and rosbags') for every
value, and decoding gives the same values, which tests/transport/test_messages.py checks for these
classes as for all others.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from cyclonedds.idl import IdlStruct
from cyclonedds.idl._support import Endianness

from .base import fields_of, nested_classes, ros_type_name

#: ROS primitive -> (NumPy dtype, struct format); the size is the CDR alignment (XCDR1: up to 8).
_PRIMITIVE = {"bool": ("?", "?"), "byte": ("u1", "B"), "uint8": ("u1", "B"), "int8": ("i1", "b"),
              "int16": ("<i2", "h"), "uint16": ("<u2", "H"), "int32": ("<i4", "i"), "uint32": ("<u4", "I"),
              "int64": ("<i8", "q"), "uint64": ("<u8", "Q"), "float32": ("<f4", "f"), "float64": ("<f8", "d")}
ENCAPSULATION = b"\x00\x01\x00\x00"  # CDR_LE


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0  # bytes after the encapsulation header (alignment is relative to it)

    def align(self, n: int) -> None:
        pad = -self.size % n
        if pad:
            self.put(b"\0" * pad)

    def put(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def string(self, text: str) -> None:
        data = text.encode("utf-8") + b"\0"
        self.align(4)
        self.put(struct.pack("<I", len(data)) + data)


def _write(writer: _Writer, msg: Any) -> None:
    for spec in fields_of(type(msg)):
        value = getattr(msg, spec.name)
        if "/" in spec.base_type:  # nested message(s)
            if spec.kind == "single":
                _write(writer, value)
                continue
            if spec.kind == "sequence":
                writer.align(4)
                writer.put(struct.pack("<I", len(value)))
            for item in value:
                _write(writer, item)
        elif spec.base_type == "string":
            items = [value] if spec.kind == "single" else value
            if spec.kind == "sequence":
                writer.align(4)
                writer.put(struct.pack("<I", len(items)))
            for item in items:
                writer.string(item)
        else:
            dtype, fmt = _PRIMITIVE[spec.base_type]
            size = np.dtype(dtype).itemsize
            if spec.kind == "single":
                writer.align(size)
                writer.put(struct.pack("<" + fmt, value))
                continue
            array = np.asarray(value, dtype=dtype)
            if spec.kind == "sequence":
                writer.align(4)
                writer.put(struct.pack("<I", array.size))
            if array.size:
                writer.align(size)
                writer.put(array.tobytes())


def plain_cdr(msg: Any) -> bytes:
    """``msg`` as XCDR1 little-endian bytes with the encapsulation header, as cyclonedds writes it."""
    writer = _Writer()
    _write(writer, msg)
    return ENCAPSULATION + b"".join(writer.parts)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 4  # after the encapsulation header; alignment counts from there

    def align(self, n: int) -> None:
        self.offset += -(self.offset - 4) % n

    def unpack(self, fmt: str, size: int) -> Any:
        self.align(size)
        (value,) = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += size
        return value

    def string(self) -> str:
        length = self.unpack("I", 4)
        text = self.data[self.offset:self.offset + length - 1].decode("utf-8")
        self.offset += length
        return text


def _read(reader: _Reader, cls: type) -> Any:
    values = {}
    for spec in fields_of(cls):
        count = spec.length if spec.kind == "array" else reader.unpack("I", 4) if spec.kind == "sequence" else None
        repeat = 1 if count is None else count  # a single field is read once; an empty sequence not at all
        if "/" in spec.base_type:
            nested = {ros_type_name(c): c for c in nested_classes(cls)}[spec.base_type]
            items = [_read(reader, nested) for _ in range(repeat)]
        elif spec.base_type == "string":
            items = [reader.string() for _ in range(repeat)]
        else:
            dtype, fmt = _PRIMITIVE[spec.base_type]
            size = np.dtype(dtype).itemsize
            if count is None:
                values[spec.name] = reader.unpack(fmt, size)
                continue
            if count:
                reader.align(size)
            array = np.frombuffer(reader.data, dtype=dtype, count=count, offset=reader.offset).copy()
            reader.offset += count * size
            values[spec.name] = array.astype(array.dtype.newbyteorder("="), copy=False)
            continue
        values[spec.name] = items[0] if count is None else items
    return cls(**values)


def read_plain_cdr(cls: type, data: bytes) -> Any:
    """The message of class ``cls`` in XCDR1 little-endian ``data`` (with its encapsulation header)."""
    return _read(_Reader(bytes(data)), cls)


def _deserialize(cls: type, data: bytes, has_header: bool = True, use_version_2: bool | None = None) -> Any:
    if has_header and bytes(data[:2]) == ENCAPSULATION[:2] and not use_version_2:
        return read_plain_cdr(cls, data)
    return IdlStruct.deserialize.__func__(cls, data, has_header=has_header, use_version_2=use_version_2)


def _serialize(self: Any, buffer: Any = None, endianness: Any = None, use_version_2: bool | None = None) -> bytes:
    """Plain little-endian CDR through NumPy; anything else (XCDR2, big endian) through cyclonedds."""
    if buffer is None and not use_version_2 and endianness in (None, Endianness.Little):
        return plain_cdr(self)
    return IdlStruct.serialize(self, buffer=buffer, endianness=endianness, use_version_2=use_version_2)


def numpy_cdr(cls: type) -> type:
    """Class decorator: ``cls`` (an IdlStruct message) is written with :func:`plain_cdr` and read with
    :func:`read_plain_cdr`; its primitive array fields may be NumPy arrays, and are after receipt."""
    cls.serialize = _serialize
    cls.deserialize = classmethod(_deserialize)
    cls.__numpy_cdr__ = True
    return cls


def writes_numpy(msg: Any) -> bool:
    """True when ``msg``'s class writes its own CDR from NumPy arrays (see :func:`numpy_cdr`)."""
    return getattr(type(msg), "__numpy_cdr__", False)
