"""Acclaim ASF/AMC files (CMU motion capture): the skeleton (ASF) and its motion (AMC).

ASF sections: ``:units`` (``length L`` means one unit is ``0.0254 / L`` m; ``angle deg|rad``),
``:root`` (``order`` of the root's AMC values, ``axis`` order, ``position``, ``orientation``),
``:bonedata`` (``begin``/``end`` blocks with ``name``, ``direction``, ``length``, ``axis ax ay az
ORDER``, ``dof``, ``limits``) and ``:hierarchy`` (``parent child child ...`` lines). An AMC file
has header lines, then per frame a frame number line followed by ``bone v1 v2 ...`` lines.

A bone starts at its parent's tip and points along ``direction`` (world axes at rest) for
``length``. Its world rotation is ``parent @ C @ M @ C^-1``, where ``C`` comes from the bone's
``axis`` angles and ``M`` from its AMC values, both composed per the ORDER string with the last
letter outermost (``XYZ`` is ``Rz @ Ry @ Rx``). The root works alike with ``orientation`` as
``C``, its ``axis`` order and its ``order`` of AMC values. Everything is converted on load to
metres and the project's z-up world (vectors ``Y_UP_TO_Z_UP @ p``, rotations ``qR q qR^-1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import rotations as rot
from ..characters import Y_UP_TO_Z_UP
from ..errors import MotionFormatError
from ..motion import LoopMode, Motion
from ..skeleton import JointType, Skeleton
from .bvh import euler_chain_quat, quat_to_z_up

INCH_M = 0.0254
_ROT_DOFS = ("rx", "ry", "rz")
_DOFS = ("rx", "ry", "rz", "tx", "ty", "tz", "l")
_ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")
_REQUIRED_SECTIONS = ("root", "bonedata", "hierarchy")
_REQUIRED_BONE_KEYS = ("name", "direction", "length")

Line = tuple[int, list[str]]  # (1-based line number, tokens)


@dataclass
class AsfBone:
    """One ``:bonedata`` block, in ASF units and the file's y-up frame.

    Attributes:
        name: Bone name.
        direction: Bone direction at rest, world axes. Shape: ``(3,)``.
        length: Bone length, ASF length units.
        axis: ``axis`` angles in radians, one per world axis x, y, z. Shape: ``(3,)``.
        order: Composition order of ``axis`` and of the AMC values (``"XYZ"``).
        dof: The bone's AMC values in order, from ``rx ry rz tx ty tz l``.
        line: Line of the block's ``begin``.
    """

    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    order: str
    dof: tuple[str, ...]
    line: int


@dataclass
class AsfSkeleton:
    """A parsed ASF file.

    Attributes:
        path: Where it was read from.
        length_unit: Metres per ASF length unit (``0.0254 / L``).
        angle_scale: Radians per ASF angle unit (1 for ``rad``, pi/180 for ``deg``).
        root_order: The root's AMC values in order (``("TX", "TY", "TZ", "RX", "RY", "RZ")``).
        root_axis: Composition order of the root's rotation (``"XYZ"``).
        root_position: ``position``, ASF units. Shape: ``(3,)``.
        root_orientation: ``orientation`` in radians (x, y, z). Shape: ``(3,)``.
        bones: The bones by name, in file order.
        children: Child bone names of ``"root"`` and of every bone, from ``:hierarchy``.
    """

    path: Path
    length_unit: float
    angle_scale: float
    root_order: tuple[str, ...]
    root_axis: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    bones: dict[str, AsfBone]
    children: dict[str, list[str]] = field(default_factory=dict)

    def bone_order(self) -> list[str]:
        """Bone names depth-first from the root, so that parents precede children."""
        out: list[str] = []
        stack = list(reversed(self.children.get("root", [])))
        while stack:
            bone = stack.pop()
            out.append(bone)
            stack.extend(reversed(self.children.get(bone, [])))
        return out


# ------------------------------------------------------------------------------------ helpers
def _fail(path: Path, line: int | None, message: str) -> MotionFormatError:
    return MotionFormatError(path, message, line=line)


def _numbers(path: Path, line: int, words: list[str], what: str, count: int | None = None) -> np.ndarray:
    """``words`` as finite floats; ``count`` of them when given."""
    if count is not None and len(words) != count:
        raise _fail(path, line, f"{what} needs {count} numbers, got {len(words)}")
    try:
        values = np.array([float(w) for w in words])
    except ValueError:
        raise _fail(path, line, f"{what} must be numbers, got {' '.join(words)!r}") from None
    if not np.isfinite(values).all():
        raise _fail(path, line, f"{what} must be finite, got {' '.join(words)!r}")
    return values


def _order(path: Path, line: int, text: str, what: str) -> str:
    order = text.upper()
    if len(order) != 3 or sorted(order) != ["X", "Y", "Z"]:
        raise _fail(path, line, f"{what} order must be a permutation of XYZ, got {text!r}")
    return order


def _read_lines(path: Path) -> list[Line]:
    """Non-blank, non-comment lines as tokens with their numbers (any line ending)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise _fail(path, None, "file is empty")
    return [(n + 1, s.split()) for n, s in enumerate(text.splitlines()) if s.strip() and not s.lstrip().startswith("#")]


def ordered_rotation(angles_xyz: np.ndarray, order: str) -> np.ndarray:
    """Rotation from angles about x, y, z composed per ``order``, last letter outermost.

    Args:
        angles_xyz: Radians about the x, y and z axes. Shape: ``(F, 3)``.
        order: ``"XYZ"`` gives ``Rz @ Ry @ Rx``.

    Returns:
        Quaternions. Shape: ``(F, 4)``.
    """
    outer_first = order[::-1]
    return euler_chain_quat(angles_xyz[:, ["XYZ".index(c) for c in outer_first]], outer_first)


# -------------------------------------------------------------------------------------- ASF
def _sections(path: Path, lines: list[Line]) -> dict[str, tuple[int, list[Line]]]:
    """``{keyword: (line of ':keyword', lines that follow)}``; values on the keyword line kept."""
    sections: dict[str, tuple[int, list[Line]]] = {}
    current: list[Line] | None = None
    for num, words in lines:
        if words[0].startswith(":"):
            key = words[0][1:].lower()
            if key in sections:
                raise _fail(path, num, f"section ':{key}' appears twice (first at line {sections[key][0]})")
            current = [(num, words[1:])] if len(words) > 1 else []
            sections[key] = (num, current)
        elif current is None:
            raise _fail(path, num, f"expected a ':section' keyword, got {words[0]!r}")
        else:
            current.append((num, words))
    last = lines[-1][0] if lines else 1
    for key in _REQUIRED_SECTIONS:
        if key not in sections:
            raise _fail(path, last, f"missing section ':{key}' (the file ends here)")
    return sections


def _units(path: Path, body: list[Line]) -> tuple[float, float]:
    """``(metres per length unit, radians per angle unit)`` from ``:units``."""
    length, angle = 1.0, np.pi / 180.0
    for num, words in body:
        key = words[0].lower()
        if key == "length":
            value = float(_numbers(path, num, words[1:], "length unit", 1)[0])
            if value <= 0:
                raise _fail(path, num, f"length unit must be positive, got {value}")
            length = INCH_M / value
        elif key == "angle":
            if len(words) != 2 or words[1].lower() not in ("deg", "rad"):
                raise _fail(path, num, f"angle unit must be 'deg' or 'rad', got {' '.join(words[1:])!r}")
            angle = np.pi / 180.0 if words[1].lower() == "deg" else 1.0
    return length, angle


RootDef = tuple[tuple[str, ...], str, np.ndarray, np.ndarray]


def _root(path: Path, header: int, body: list[Line], angle: float) -> RootDef:
    """``(order, axis, position, orientation in radians)`` of ``:root``."""
    found: dict[str, Line] = {num_words[1][0].lower(): num_words for num_words in body}
    for key in ("order", "axis"):
        if key not in found:
            raise _fail(path, header, f"':root' has no '{key}'")
    num, words = found["order"]
    order = tuple(w.upper() for w in words[1:])
    bad = [w for w in order if w not in _ROOT_CHANNELS]
    if bad or len(set(order)) != len(order):
        raise _fail(path, num, f"root order must list distinct channels of {' '.join(_ROOT_CHANNELS)}, "
                    f"got {' '.join(words[1:])!r}")
    axis = _order(path, found["axis"][0], "".join(found["axis"][1][1:]), "root axis")
    vec = {k: _numbers(path, found[k][0], found[k][1][1:], f"root {k}", 3) if k in found else np.zeros(3)
           for k in ("position", "orientation")}
    return order, axis, vec["position"], vec["orientation"] * angle


def _bone_fields(path: Path, begin: int, rows: list[Line]) -> dict[str, Line]:
    fields: dict[str, Line] = {}
    for num, words in rows:
        if not words[0].startswith("("):  # limits continue on lines like "(-70.0 70.0)"
            fields[words[0].lower()] = (num, words[1:])
    for key in _REQUIRED_BONE_KEYS:
        if key not in fields:
            raise _fail(path, begin, f"bone block has no '{key}'")
    return fields


def _bone(path: Path, begin: int, rows: list[Line], angle: float) -> AsfBone:
    """One ``begin``/``end`` block of ``:bonedata``."""
    fields = _bone_fields(path, begin, rows)
    name = fields["name"][1][0] if fields["name"][1] else ""
    direction = _numbers(path, *fields["direction"], f"direction of '{name}'", 3)
    length = float(_numbers(path, *fields["length"], f"length of '{name}'", 1)[0])
    axis_line, axis_words = fields.get("axis", (begin, ["0", "0", "0", "XYZ"]))
    if len(axis_words) != 4:
        raise _fail(path, axis_line, f"axis of '{name}' needs 3 angles and an order, got {' '.join(axis_words)!r}")
    axis = _numbers(path, axis_line, axis_words[:3], f"axis of '{name}'", 3) * angle
    dof_line, dof_words = fields.get("dof", (begin, []))
    dof = tuple(w.lower() for w in dof_words)
    unknown = [w for w in dof if w not in _DOFS]
    if unknown or len(set(dof)) != len(dof):
        raise _fail(path, dof_line, f"dof of '{name}' must list distinct values of {' '.join(_DOFS)}, "
                    f"got {' '.join(dof_words)!r}")
    order = _order(path, axis_line, axis_words[3], f"axis of '{name}'")
    return AsfBone(name, direction, length, axis, order, dof, begin)


def _bonedata(path: Path, header: int, body: list[Line], angle: float) -> dict[str, AsfBone]:
    bones: dict[str, AsfBone] = {}
    begin: int | None = None
    rows: list[Line] = []
    for num, words in body:
        key = words[0].lower()
        if key == "begin":
            if begin is not None:
                raise _fail(path, num, f"'begin' before the 'end' of the bone opened at line {begin}")
            begin, rows = num, []
        elif key == "end":
            if begin is None:
                raise _fail(path, num, "'end' without 'begin'")
            bone = _bone(path, begin, rows, angle)
            if bone.name in bones or bone.name == "root":
                raise _fail(path, begin, f"bone name '{bone.name}' is used twice")
            bones[bone.name], begin = bone, None
        elif begin is None:
            raise _fail(path, num, f"expected 'begin', got {words[0]!r}")
        else:
            rows.append((num, words))
    if begin is not None:
        raise _fail(path, begin, "bone block has no 'end'")
    if not bones:
        raise _fail(path, header, "':bonedata' has no bones")
    return bones


def _hierarchy(path: Path, body: list[Line], bones: dict[str, AsfBone]) -> dict[str, list[str]]:
    children: dict[str, list[str]] = {}
    parent_of: dict[str, str] = {}
    for num, words in body:
        if words[0].lower() in ("begin", "end"):
            continue
        for name in words:
            if name != "root" and name not in bones:
                raise _fail(path, num, f"':hierarchy' names bone '{name}', which ':bonedata' does not define")
        for child in words[1:]:
            if child == "root" or child in parent_of:
                raise _fail(path, num, f"bone '{child}' already has a parent ('{parent_of.get(child, '-')}')")
            parent_of[child] = words[0]
        children.setdefault(words[0], []).extend(words[1:])
    return children


def read_asf(path: str | Path) -> AsfSkeleton:
    """Parse an ASF skeleton file.

    Raises:
        MotionFormatError: Missing sections, malformed bones, a hierarchy naming unknown bones,
            bones not reachable from the root; with file and line.
    """
    path = Path(path)
    sections = _sections(path, _read_lines(path))
    length, angle = _units(path, sections.get("units", (0, []))[1])
    root = _root(path, *sections["root"], angle)
    bones = _bonedata(path, *sections["bonedata"], angle)
    children = _hierarchy(path, sections["hierarchy"][1], bones)
    asf = AsfSkeleton(path, length, angle, *root, bones, children)
    reached = set(asf.bone_order())
    for bone in bones.values():
        if bone.name not in reached:
            raise _fail(path, bone.line, f"bone '{bone.name}' is not connected to the root in ':hierarchy'")
    return asf


def asf_skeleton(asf: AsfSkeleton, name: str) -> Skeleton:
    """The ``Skeleton``: root, one joint per bone at its parent's tip, ``<bone>_end`` at leaf tips."""
    names, parents, types, offsets = ["root"], [-1], [JointType.ROOT], [np.zeros(3)]
    index = {"root": 0}
    parent_of = {c: p for p, cs in asf.children.items() for c in cs}
    for bone_name in asf.bone_order():
        bone, parent = asf.bones[bone_name], parent_of[bone_name]
        index[bone_name] = len(names)
        names.append(bone_name)
        parents.append(index[parent])
        rotates = any(d in _ROT_DOFS for d in bone.dof)
        types.append(JointType.SPHERICAL if rotates else JointType.FIXED)
        offsets.append(np.zeros(3) if parent == "root" else asf.bones[parent].length * asf.bones[parent].direction)
        if not asf.children.get(bone_name):
            names.append(f"{bone_name}_end")
            parents.append(index[bone_name])
            types.append(JointType.FIXED)
            offsets.append(bone.length * bone.direction)
    offsets_m = np.array(offsets) * asf.length_unit @ Y_UP_TO_Z_UP.T
    return Skeleton(name, tuple(names), np.array(parents), tuple(types), offsets_m)


# -------------------------------------------------------------------------------------- AMC
@dataclass
class AmcData:
    """A parsed AMC file.

    Attributes:
        frame_numbers: The frame numbers as written (consecutive). Shape: ``(F,)``.
        values: Each bone's values per frame in its ``dof`` (root: ``order``) order, as written
            (degrees or radians). Shapes: ``(F, k)``.
        degrees: Whether the angles are degrees (``:DEGREES`` or the ASF's unit).
    """

    frame_numbers: np.ndarray
    values: dict[str, np.ndarray]
    degrees: bool


class _AmcReader:
    """Line-by-line state of an AMC parse: the current frame and the values read so far."""

    def __init__(self, path: Path, asf: AsfSkeleton) -> None:
        self.path = path
        self.width = {"root": len(asf.root_order), **{b.name: len(b.dof) for b in asf.bones.values()}}
        self.required = {"root", *(b.name for b in asf.bones.values() if b.dof)}
        self.values: dict[str, list[list[float]]] = {b: [] for b in self.width}
        self.frames: list[int] = []
        self.frame_line = 0
        self.seen: set[str] = set()
        self.degrees = asf.angle_scale != 1.0

    def header(self, num: int, words: list[str]) -> None:
        key = words[0].upper()
        if key in (":DEGREES", ":RADIANS"):
            self.degrees = key == ":DEGREES"

    def frame(self, num: int, number: int) -> None:
        self.finish_frame()
        if self.frames and number != self.frames[-1] + 1:
            raise _fail(self.path, num, f"frame number {number} follows {self.frames[-1]}; "
                        f"expected {self.frames[-1] + 1}")
        self.frames.append(number)
        self.frame_line, self.seen = num, set()

    def finish_frame(self) -> None:
        missing = sorted(self.required - self.seen)
        if self.frames and missing:
            raise _fail(self.path, self.frame_line, f"frame {self.frames[-1]} has no values for bone(s) "
                        f"{', '.join(missing)}")

    def bone(self, num: int, words: list[str]) -> None:
        name, raw = words[0], words[1:]
        if not self.frames:
            raise _fail(self.path, num, f"values for '{name}' before the first frame number")
        if name not in self.width:
            raise _fail(self.path, num, f"bone '{name}' is not in the skeleton (ASF); bones: {', '.join(self.width)}")
        if len(raw) != self.width[name]:
            raise _fail(self.path, num, f"bone '{name}' needs {self.width[name]} value(s), got {len(raw)}")
        if name in self.seen:
            raise _fail(self.path, num, f"bone '{name}' appears twice in frame {self.frames[-1]}")
        try:
            values = [float(w) for w in raw]
        except ValueError:
            values = [math.nan]
        if not all(map(math.isfinite, values)):
            _numbers(self.path, num, raw, f"values of '{name}'")  # raises with the details
        self.values[name].append(values)
        self.seen.add(name)


def read_amc(path: str | Path, asf: AsfSkeleton) -> AmcData:
    """Parse an AMC file against its skeleton (bone names and value counts are checked).

    Raises:
        MotionFormatError: Unknown bones, wrong value counts, values that are not finite
            numbers, frame numbers that are not consecutive, missing bones; with file and line.
    """
    path = Path(path)
    reader = _AmcReader(path, asf)
    for num, words in _read_lines(path):
        if words[0].startswith(":"):
            reader.header(num, words)
        elif len(words) == 1 and words[0].isdigit():
            reader.frame(num, int(words[0]))
        else:
            reader.bone(num, words)
    reader.finish_frame()
    if not reader.frames:
        raise _fail(path, None, "no frames (no frame number lines)")
    count = len(reader.frames)
    values = {b: np.array(v, dtype=np.float64).reshape(count, reader.width[b]) if reader.width[b]
              else np.zeros((count, 0)) for b, v in reader.values.items()}
    return AmcData(np.array(reader.frames), values, reader.degrees)


def _dof_angles(values: np.ndarray, dof: tuple[str, ...], scale: float) -> np.ndarray:
    """Rotational values placed at x, y, z (missing ones 0), in radians. Shape: ``(F, 3)``."""
    angles = np.zeros((len(values), 3))
    for i, d in enumerate(dof):
        if d in _ROT_DOFS:
            angles[:, _ROT_DOFS.index(d)] = values[:, i] * scale
    return angles


def _conjugated(c_angles: np.ndarray, m_angles: np.ndarray, order: str) -> np.ndarray:
    """``C @ M @ C^-1`` in the z-up world. Shape: ``(F, 4)``."""
    c = np.broadcast_to(ordered_rotation(c_angles[None, :], order), (len(m_angles), 4))
    local = rot.quat_mul(rot.quat_mul(c, ordered_rotation(m_angles, order)), rot.quat_conj(c))
    return quat_to_z_up(local)


def _root_pose(asf: AsfSkeleton, amc: AmcData) -> tuple[np.ndarray, np.ndarray]:
    """Root position (metres, z-up) and rotation per frame."""
    values = amc.values["root"]
    scale = np.pi / 180.0 if amc.degrees else 1.0
    pos = np.tile(asf.root_position, (len(values), 1))
    angles = np.zeros((len(values), 3))
    for i, channel in enumerate(asf.root_order):
        target = pos if channel[0] == "T" else angles
        target[:, "XYZ".index(channel[1])] = values[:, i] * (1.0 if channel[0] == "T" else scale)
    quat = _conjugated(asf.root_orientation, angles, asf.root_axis)
    return pos * asf.length_unit @ Y_UP_TO_Z_UP.T, quat


def amc_to_motion(asf: AsfSkeleton, amc: AmcData, fps: float, name: str, source: Path) -> Motion:
    """Convert parsed ASF and AMC data to a ``Motion`` (see ``load_amc``)."""
    skeleton = asf_skeleton(asf, asf.path.stem)
    scale = np.pi / 180.0 if amc.degrees else 1.0
    count = len(amc.frame_numbers)
    dof_pos = np.zeros((count, skeleton.num_dof_pos))
    for j in skeleton.spherical_joints:
        bone = asf.bones[skeleton.joint_names[j]]
        m_angles = _dof_angles(amc.values[bone.name], bone.dof, scale)
        dof_pos[:, skeleton.dof_pos_slice(j)] = _conjugated(bone.axis, m_angles, bone.order)
    root_pos, root_quat = _root_pose(asf, amc)
    ignored = {b.name: [d for d in b.dof if d not in _ROT_DOFS] for b in asf.bones.values()}
    meta = {
        "format": "asf_amc", "asf": str(asf.path), "length_unit": asf.length_unit,
        "angle_unit": "deg" if amc.degrees else "rad", "fps": fps, "frames": count,
        "first_frame_number": int(amc.frame_numbers[0]), "root_order": " ".join(asf.root_order),
        "ignored_dofs": {k: v for k, v in ignored.items() if v},
    }
    return Motion(skeleton, np.arange(count) / fps, root_pos, root_quat, dof_pos, LoopMode.NONE, name,
                  str(source), meta)


def find_asf(amc_path: Path) -> Path:
    """The ASF beside an AMC: ``<stem before the first '_'>.asf``, ``<stem>.asf``, else the only one."""
    folder, stem = amc_path.parent, amc_path.stem
    tried = [f"{stem.split('_')[0]}.asf", f"{stem}.asf"]
    for candidate in tried:
        if (folder / candidate).is_file():
            return folder / candidate
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".asf" and p.is_file())
    if len(found) == 1:
        return found[0]
    raise _fail(amc_path, None, f"no skeleton file: looked for {' and '.join(tried)} beside it and found "
                f"{len(found)} other .asf files; pass asf=PATH")


def _skeleton_for(amc_path: Path, asf_path: Path) -> AsfSkeleton:
    """``read_asf``, with the AMC named in its errors (the user asked for the AMC)."""
    try:
        return read_asf(asf_path)
    except MotionFormatError as err:
        raise MotionFormatError(err.path, f"{err.message} (skeleton of {amc_path.name})", line=err.line) from None


def load_amc(path: str | Path, asf: str | Path | None = None, fps: float = 120.0, name: str | None = None) -> Motion:
    """Read an AMC motion with its ASF skeleton into a ``Motion`` (metres, z-up).

    The skeleton has a root, one joint per bone at the tip of its parent bone (spherical if the
    bone has a rotational dof, fixed otherwise), and a fixed joint ``<bone>_end`` at the tip of
    every leaf bone. Rest frames are world-aligned; a bone's local rotation is ``C M C^-1``.
    Translational dofs of bones (``tx ty tz l``) cannot be represented and are ignored (listed in
    ``meta["ignored_dofs"]``). The root's AMC translation replaces the ASF ``position``.

    Given an ``.asf`` file as ``path`` (and no ``asf``), returns the skeleton's rest pose as a
    one-frame clip, so a skeleton file can be checked or drawn on its own.

    Args:
        path: The ``.amc`` file.
        asf: The ``.asf`` file; when ``None``, ``<stem before the first '_'>.asf`` beside the AMC
            (``35_01.amc`` -> ``35.asf``), then ``<stem>.asf``, then the only ``.asf`` there.
        fps: Frame rate; AMC files do not store it (CMU captures at 120 Hz).
        name: Clip name; the AMC's stem when ``None``. The skeleton is named after the ASF.

    Raises:
        MotionFormatError: Problems in either file, with its name and line.
    """
    path = Path(path)
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if asf is None and path.suffix.lower() == ".asf":
        skeleton = read_asf(path)
        rest = AmcData(np.array([1]), {"root": np.zeros((1, len(skeleton.root_order)))} | {
            b.name: np.zeros((1, len(b.dof))) for b in skeleton.bones.values()}, True)
        return amc_to_motion(skeleton, rest, fps, name or path.stem, path)
    skeleton = _skeleton_for(path, Path(asf) if asf is not None else find_asf(path))
    return amc_to_motion(skeleton, read_amc(path, skeleton), fps, name or path.stem, path)
