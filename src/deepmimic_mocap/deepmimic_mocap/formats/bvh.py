"""Biovision BVH files (y-up, any length unit, Euler angles in degrees): read into a ``Motion``.

A BVH file is a ``HIERARCHY`` of nested ``ROOT``/``JOINT``/``End Site`` blocks, each with an
``OFFSET`` (position in the parent's frame at rest) and ``CHANNELS`` (which values each frame
line holds for that joint), then a ``MOTION`` block: ``Frames: N``, ``Frame Time: dt`` and one
line of channel values per frame. A joint's rotation is the product of its rotation channels in
the order listed: ``Zrotation Yrotation Xrotation`` means ``Rz @ Ry @ Rx``. Position channels
replace the matching ``OFFSET`` component (the root's trajectory); on non-root joints they cannot
be represented by the joint types of a ``Skeleton`` and are ignored (recorded in ``meta``).

Everything is converted on load to metres and to the project's z-up world: a vector ``p``
becomes ``Y_UP_TO_Z_UP @ p`` and a rotation ``q`` becomes ``qR q qR^-1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import rotations as rot
from ..characters import Y_UP_TO_Z_UP, Y_UP_TO_Z_UP_QUAT
from ..errors import MotionFormatError
from ..motion import LoopMode, Motion
from ..skeleton import JointType, Skeleton

CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CHANNEL_LOOKUP = {c.lower(): c for c in CHANNEL_NAMES}
# Candidate length units (metres per file unit) for ``length_unit="auto"``.
LENGTH_UNITS = {"m": 1.0, "cm": 0.01, "inch": 0.0254, "cmu_asf": 0.0254 / 0.45}
TARGET_HEIGHT_M = 1.7
_AXES = "XYZ"


@dataclass
class BvhJoint:
    """One ``ROOT``, ``JOINT`` or ``End Site`` block, in file units and the file's y-up frame.

    Attributes:
        name: Joint name; end sites are called ``<parent>_end``.
        parent: Index of the parent block, ``-1`` for the root.
        offset: ``OFFSET`` values. Shape: ``(3,)``.
        channels: Channel names in the order listed.
        channel_start: Column of the first channel in the frame block.
        line: Line of the block's ``ROOT``/``JOINT``/``End`` keyword.
        end_site: Whether the block is an ``End Site``.
    """

    name: str
    parent: int
    offset: np.ndarray | None = None
    channels: tuple[str, ...] = ()
    channel_start: int = 0
    line: int = 0
    end_site: bool = False

    @property
    def rotation_axes(self) -> str:
        """Axis letters of the rotation channels in listed order (``"ZYX"``)."""
        return "".join(c[0] for c in self.channels if c.endswith("rotation"))

    def columns(self, kind: str) -> list[int]:
        """Frame-block columns of the channels ending in ``kind`` (``"rotation"``/``"position"``)."""
        return [self.channel_start + i for i, c in enumerate(self.channels) if c.endswith(kind)]


@dataclass
class BvhFile:
    """A parsed BVH file before any unit or axis conversion.

    Attributes:
        path: Where it was read from.
        joints: The blocks in file order (parents precede children).
        frame_time: Seconds per frame.
        values: Raw channel values, file units and degrees. Shape: ``(F, num_channels)``.
        first_frame_line: Line number of the first frame line.
    """

    path: Path
    joints: list[BvhJoint]
    frame_time: float
    values: np.ndarray
    first_frame_line: int = 0


class _Tokens:
    """Whitespace-separated tokens of the hierarchy, each with its 1-based line number."""

    def __init__(self, lines: list[str], path: Path, end: tuple[int, str]) -> None:
        self.items = [(tok, n + 1) for n, line in enumerate(lines) for tok in line.split()]
        self.pos = 0
        self.path = path
        self.end_line, self.end_text = end  # where the hierarchy stops, and what stops it

    def fail(self, line: int, message: str) -> MotionFormatError:
        return MotionFormatError(self.path, message, line=line)

    def next(self, wanted: str) -> tuple[str, int]:
        """The next token; at the end of the hierarchy, an error saying what was ``wanted``."""
        if self.pos >= len(self.items):
            raise self.fail(self.end_line, f"reached {self.end_text}, expected {wanted}")
        self.pos += 1
        return self.items[self.pos - 1]

    def expect(self, keyword: str, wanted: str) -> int:
        """Consume ``keyword`` (case-insensitive) and return its line."""
        tok, line = self.next(wanted)
        if tok.upper() != keyword.upper():
            raise self.fail(line, f"expected {wanted}, got {tok!r}")
        return line

    def rest_of_line(self, line: int) -> list[str]:
        """Consume the remaining tokens on ``line``."""
        out = []
        while self.pos < len(self.items) and self.items[self.pos][1] == line:
            out.append(self.items[self.pos][0])
            self.pos += 1
        return out


def _read_offset(tokens: _Tokens, line: int, name: str) -> np.ndarray:
    values = tokens.rest_of_line(line)
    if len(values) != 3:
        raise tokens.fail(line, f"OFFSET of '{name}' needs 3 numbers, got {len(values)}")
    try:
        offset = np.array([float(v) for v in values])
    except ValueError:
        raise tokens.fail(line, f"OFFSET of '{name}' is not numeric: {' '.join(values)}") from None
    if not np.isfinite(offset).all():
        raise tokens.fail(line, f"OFFSET of '{name}' is NaN or infinite: {' '.join(values)}")
    return offset


def _read_channels(tokens: _Tokens, line: int, name: str) -> tuple[str, ...]:
    words = tokens.rest_of_line(line)
    if not words or not words[0].isdigit():
        raise tokens.fail(line, f"CHANNELS of '{name}' must start with a count, got {' '.join(words)!r}")
    count, names = int(words[0]), words[1:]
    if count != len(names):
        raise tokens.fail(line, f"CHANNELS of '{name}' says {count} but lists {len(names)} channel names")
    for channel in names:
        if channel.lower() not in _CHANNEL_LOOKUP:
            raise tokens.fail(line, f"unknown channel {channel!r} in '{name}'; channels: {', '.join(CHANNEL_NAMES)}")
    channels = tuple(_CHANNEL_LOOKUP[c.lower()] for c in names)
    if len(set(channels)) != len(channels):
        raise tokens.fail(line, f"CHANNELS of '{name}' lists a channel twice: {' '.join(names)}")
    return channels


def _joint_name(tokens: _Tokens, joints: list[BvhJoint], parent: int, line: int, end_site: bool) -> str:
    if not end_site:
        name, _ = tokens.next("a joint name")
        return name
    tokens.expect("Site", "'Site' after 'End'")
    base = f"{joints[parent].name}_end"
    taken = {j.name for j in joints}
    return base if base not in taken else next(f"{base}{k}" for k in range(2, 10_000) if f"{base}{k}" not in taken)


def _parse_block(tokens: _Tokens, joints: list[BvhJoint], parent: int, line: int, end_site: bool) -> None:
    """Parse one joint block (after its ``ROOT``/``JOINT``/``End`` keyword) and its children."""
    name = _joint_name(tokens, joints, parent, line, end_site)
    if any(j.name == name for j in joints):
        raise tokens.fail(line, f"joint name '{name}' is used twice")
    index = len(joints)
    joints.append(BvhJoint(name, parent, line=line, end_site=end_site))
    tokens.expect("{", f"'{{' opening '{name}'")
    while True:
        tok, tline = tokens.next(f"'}}' closing '{name}' (opened at line {line})")
        key = tok.upper()
        if key == "}":
            break
        if key == "OFFSET":
            joints[index].offset = _read_offset(tokens, tline, name)
        elif key == "CHANNELS" and not end_site:
            joints[index].channels = _read_channels(tokens, tline, name)
        elif key in ("JOINT", "END") and not end_site:
            _parse_block(tokens, joints, index, tline, key == "END")
        else:
            raise tokens.fail(tline, f"unexpected {tok!r} in '{name}' (opened at line {line}); missing '}}'?")
    if joints[index].offset is None:
        raise tokens.fail(line, f"'{name}' has no OFFSET")


def _parse_hierarchy(lines: list[str], path: Path, end: tuple[int, str]) -> list[BvhJoint]:
    """The joint blocks of ``lines``, the part of the file before ``end`` (``(line, what)``)."""
    tokens = _Tokens(lines, path, end)
    tokens.expect("HIERARCHY", "'HIERARCHY' at the start of the file")
    root_line = tokens.expect("ROOT", "'ROOT' after 'HIERARCHY'")
    joints: list[BvhJoint] = []
    _parse_block(tokens, joints, -1, root_line, False)
    if tokens.pos < len(tokens.items):
        tok, line = tokens.items[tokens.pos]
        hint = " (only one ROOT is supported)" if tok.upper() == "ROOT" else ""
        raise tokens.fail(line, f"expected 'MOTION' after the hierarchy, got {tok!r}{hint}")
    start = 0
    for joint in joints:
        joint.channel_start = start
        start += len(joint.channels)
    return joints


def _header_value(lines: list[str], index: int, label: str, path: Path) -> tuple[str, int]:
    """The value after ``label`` (``"Frames:"``) on the first non-blank line at or after ``index``."""
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index >= len(lines):
        raise MotionFormatError(path, f"the file ends here, expected '{label} ...'", line=len(lines))
    text = lines[index].strip()
    if not text.lower().startswith(label.lower()):
        raise MotionFormatError(path, f"expected '{label} ...', got {text[:40]!r}", line=index + 1)
    return text[len(label):].strip(), index


def _frame_header(lines: list[str], start: int, path: Path) -> tuple[int, int, float, int]:
    """``(frame count, its line, frame time, index of the line after 'Frame Time:')``."""
    text, idx = _header_value(lines, start, "Frames:", path)
    if not text.isdigit() or int(text) < 1:
        raise MotionFormatError(path, f"'Frames:' needs a positive whole number, got {text!r}", line=idx + 1)
    count, frames_idx = int(text), idx
    text, idx = _header_value(lines, frames_idx + 1, "Frame Time:", path)
    try:
        frame_time = float(text)
    except ValueError:
        frame_time = float("nan")
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise MotionFormatError(path, f"'Frame Time:' must be a positive number of seconds, got {text!r}",
                                line=idx + 1)
    return count, frames_idx + 1, frame_time, idx + 1


def _channel_label(joints: list[BvhJoint], column: int) -> str:
    for joint in joints:
        if joint.channel_start <= column < joint.channel_start + len(joint.channels):
            return f"{joint.name} {joint.channels[column - joint.channel_start]}"
    return f"column {column}"


def _bad_value_error(path: Path, rows: list[tuple[int, list[str]]], joints: list[BvhJoint]) -> MotionFormatError:
    """The error for the first value of ``rows`` that is not a finite number."""
    for line, words in rows:
        for col, word in enumerate(words):
            try:
                ok = np.isfinite(float(word))
            except ValueError:
                ok = False
            if not ok:
                return MotionFormatError(path, f"value {col + 1} ({_channel_label(joints, col)}) is {word!r}, "
                                         "not a finite number", line=line)
    return MotionFormatError(path, "a frame value is not a finite number")


def _frame_values(lines: list[str], start: int, header: tuple[int, int], joints: list[BvhJoint],
                  path: Path) -> np.ndarray:
    """The frame block as an array ``(F, num_channels)``; ``header`` is ``(count, its line)``."""
    count, count_line = header
    width = sum(len(j.channels) for j in joints)
    rows = [(n + 1, line.split()) for n, line in enumerate(lines[start:], start) if line.strip()]
    for line, words in rows:
        if len(words) != width:
            raise MotionFormatError(path, f"frame line has {len(words)} values, expected {width} "
                                    "(one per channel)", line=line)
    if len(rows) != count:
        span = f" (lines {rows[0][0]}-{rows[-1][0]})" if rows else ""
        raise MotionFormatError(path, f"'Frames: {count}' but {len(rows)} frame lines follow{span}",
                                line=count_line)
    try:
        values = np.array([w for _, words in rows for w in words], dtype=np.float64).reshape(count, width)
    except ValueError:
        raise _bad_value_error(path, rows, joints) from None
    if not np.isfinite(values).all():
        raise _bad_value_error(path, rows, joints)
    return values


def read_bvh_file(path: str | Path) -> BvhFile:
    """Parse a BVH file without converting anything (the raw channel values, in degrees).

    Raises:
        MotionFormatError: Any syntax or value problem, with the file and line.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if not any(line.strip() for line in lines):
        raise MotionFormatError(path, "file is empty")
    motion_idx = next((n for n, line in enumerate(lines) if line.strip().upper() == "MOTION"), None)
    end = (len(lines), "the end of the file") if motion_idx is None else (motion_idx + 1, "'MOTION'")
    joints = _parse_hierarchy(lines[:motion_idx], path, end)
    if motion_idx is None:
        raise MotionFormatError(path, "the file ends without a 'MOTION' section", line=len(lines))
    count, count_line, frame_time, first = _frame_header(lines, motion_idx + 1, path)
    values = _frame_values(lines, first, (count, count_line), joints, path)
    first_line = next(n + 1 for n in range(first, len(lines)) if lines[n].strip())
    return BvhFile(path, joints, frame_time, values, first_line)


def rest_positions(joints: list[BvhJoint]) -> np.ndarray:
    """Joint positions with every rotation zero (offsets summed down the tree). Shape: ``(J, 3)``."""
    pos = np.zeros((len(joints), 3))
    for j, joint in enumerate(joints):
        pos[j] = joint.offset + (pos[joint.parent] if joint.parent >= 0 else 0.0)
    return pos


def choose_length_unit(height: float) -> tuple[str, float]:
    """The unit of ``LENGTH_UNITS`` that makes ``height`` closest to 1.7 m in log ratio."""
    if height <= 0:
        return "m", 1.0
    name = min(LENGTH_UNITS, key=lambda k: abs(np.log(height * LENGTH_UNITS[k] / TARGET_HEIGHT_M)))
    return name, LENGTH_UNITS[name]


def euler_chain_quat(angles: np.ndarray, axes: str) -> np.ndarray:
    """Quaternion of ``R(axes[0], a0) @ R(axes[1], a1) @ ...`` for zero to three axes.

    Args:
        angles: Radians, one column per letter of ``axes``. Shape: ``(F, len(axes))``.
        axes: Axis letters, leftmost outermost (``"ZYX"`` is ``Rz @ Ry @ Rx``).

    Returns:
        Unit quaternions. Shape: ``(F, 4)``.
    """
    padded = np.zeros((len(angles), 3))
    padded[:, : len(axes)] = angles
    # Padding with zero angles about any axis adds identities.
    order = (axes + "XXX")[:3] if axes else "XYZ"
    return rot.quat_from_euler(padded, order)


def quat_to_z_up(quats: np.ndarray) -> np.ndarray:
    """Rotations of a y-up frame expressed in the z-up frame: ``qR q qR^-1``."""
    q_r = np.broadcast_to(Y_UP_TO_Z_UP_QUAT, quats.shape)
    return rot.quat_mul(rot.quat_mul(q_r, quats), rot.quat_conj(q_r))


def _resolve_unit(bvh: BvhFile, length_unit: str | float) -> tuple[str, float, bool]:
    """``(name, metres per unit, chosen automatically)``."""
    if isinstance(length_unit, str) and length_unit == "auto":
        height = float(np.ptp(rest_positions(bvh.joints)[:, 1]))
        return (*choose_length_unit(height), True)
    if isinstance(length_unit, str):
        if length_unit not in LENGTH_UNITS:
            raise ValueError(f"length_unit must be 'auto', a number or one of {', '.join(LENGTH_UNITS)}; "
                             f"got {length_unit!r}")
        return length_unit, LENGTH_UNITS[length_unit], False
    if not float(length_unit) > 0:
        raise ValueError(f"length_unit must be positive, got {length_unit}")
    return "custom", float(length_unit), False


def _joint_type(joint: BvhJoint, index: int) -> JointType:
    if index == 0:
        return JointType.ROOT
    return JointType.SPHERICAL if joint.rotation_axes and not joint.end_site else JointType.FIXED


def _skeleton(bvh: BvhFile, unit: float, name: str) -> Skeleton:
    joints = bvh.joints
    offsets = np.array([j.offset for j in joints]) * unit @ Y_UP_TO_Z_UP.T
    offsets[0] = 0.0  # the root's offset is part of its trajectory
    return Skeleton(name, tuple(j.name for j in joints), np.array([j.parent for j in joints]),
                    tuple(_joint_type(j, i) for i, j in enumerate(joints)), offsets)


def _joint_rotation(bvh: BvhFile, joint: BvhJoint) -> np.ndarray:
    """Local rotation of ``joint`` in every frame, z-up. Shape: ``(F, 4)``."""
    angles = np.radians(bvh.values[:, joint.columns("rotation")])
    return quat_to_z_up(euler_chain_quat(angles, joint.rotation_axes))


def _positions(bvh: BvhFile, joint: BvhJoint) -> np.ndarray:
    """``OFFSET`` with the position channels put in, file units, y-up. Shape: ``(F, 3)``."""
    pos = np.tile(joint.offset, (len(bvh.values), 1))
    names = [c for c in joint.channels if c.endswith("position")]
    for col, channel in zip(joint.columns("position"), names, strict=True):
        pos[:, _AXES.index(channel[0])] = bvh.values[:, col]
    return pos


def _ignored_positions(bvh: BvhFile) -> dict[str, dict]:
    """Position channels of non-root joints, which a ``Skeleton`` cannot represent."""
    out = {}
    for joint in bvh.joints[1:]:
        if joint.columns("position"):
            moved = np.abs(_positions(bvh, joint) - joint.offset).max()
            out[joint.name] = {"channels": [c for c in joint.channels if c.endswith("position")],
                               "differs_from_offset": bool(moved > 1e-6 * max(1.0, np.abs(joint.offset).max()))}
    return out


def bvh_to_motion(bvh: BvhFile, length_unit: str | float = "auto", name: str | None = None) -> Motion:
    """Convert a parsed file to a ``Motion`` in metres and the z-up world (see ``load_bvh``)."""
    unit_name, unit, auto = _resolve_unit(bvh, length_unit)
    name = name or bvh.path.stem
    skeleton = _skeleton(bvh, unit, name)
    dof_pos = np.zeros((len(bvh.values), skeleton.num_dof_pos))
    for j in skeleton.spherical_joints:
        dof_pos[:, skeleton.dof_pos_slice(j)] = _joint_rotation(bvh, bvh.joints[j])
    root = bvh.joints[0]
    root_pos = _positions(bvh, root) * unit @ Y_UP_TO_Z_UP.T
    height = float(np.ptp(rest_positions(bvh.joints)[:, 1])) * unit
    meta = {
        "format": "bvh", "length_unit": unit, "length_unit_name": unit_name, "length_unit_auto": auto,
        "rest_height_m": height, "frame_time": bvh.frame_time, "frames": len(bvh.values),
        "channels": {j.name: " ".join(j.channels) for j in bvh.joints if j.channels},
        "ignored_position_channels": _ignored_positions(bvh),
    }
    return Motion(skeleton, np.arange(len(bvh.values)) * bvh.frame_time, root_pos, _joint_rotation(bvh, root),
                  dof_pos, LoopMode.NONE, name, str(bvh.path), meta)


def load_bvh(path: str | Path, length_unit: str | float = "auto", name: str | None = None) -> Motion:
    """Read a BVH file into a ``Motion`` (metres, z-up, every frame kept).

    The skeleton has the ``ROOT`` as joint 0, one spherical joint per ``JOINT`` with rotation
    channels (fixed without), and a fixed joint ``<parent>_end`` per ``End Site``. Rest frames are
    aligned with the world, as in BVH. Every frame is kept: in the CMU "MotionBuilder-friendly"
    conversions (e.g. ``cmu/02_01.bvh``) frame 0 is a rest T-pose that precedes the capture;
    drop it yourself if you do not want it.

    Args:
        path: The ``.bvh`` file.
        length_unit: Metres per file unit (a number), a name from ``LENGTH_UNITS`` (``"m"``,
            ``"cm"``, ``"inch"``, ``"cmu_asf"`` = 0.0254/0.45 m), or ``"auto"``: the named unit that
            makes the rest-pose height (all rotations zero) closest to 1.7 m in log ratio.
        name: Clip and skeleton name; the file's stem when ``None``.

    Returns:
        The clip; ``meta`` holds the unit chosen, the frame time, each joint's channels and any
        ignored position channels of non-root joints.

    Raises:
        MotionFormatError: Syntax errors (braces, keywords, unknown channels, channel counts),
            wrong frame counts or sizes, values that are not finite numbers; with file and line.
    """
    return bvh_to_motion(read_bvh_file(path), length_unit, name)
