"""DeepMimic character files: the skeleton plus the per-joint and per-body data a simulator needs.

DeepMimic writes characters y-up, facing +x. Everything is converted here, once, to the project's
z-up world (x forward, y left): a vector ``(x, y, z)`` becomes ``(x, -z, y)``, so DeepMimic's
revolute axis ``+z`` becomes ``-y`` and the right side (DeepMimic ``+z``) becomes ``-y``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import rotations as rot
from .assets import resolve_character
from .errors import MotionFormatError
from .json_file import read_json_object
from .robot_character import RobotSpec, load_robot_character
from .skeleton import JointType, Skeleton

# Rotation taking DeepMimic's y-up frame to our z-up frame: +90 degrees about x.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
Y_UP_TO_Z_UP_QUAT = np.array([np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0])

_JOINT_TYPES = {"none": JointType.ROOT, "spherical": JointType.SPHERICAL,
                "revolute": JointType.REVOLUTE, "fixed": JointType.FIXED}
_SHAPES = ("sphere", "box", "capsule")


@dataclass(frozen=True)
class BodyDef:
    """One rigid body attached to the joint of the same index.

    Attributes:
        name: Body name (the joint's name).
        shape: ``"sphere"``, ``"box"`` or ``"capsule"``.
        mass: Mass in kg.
        pos: Centre in the joint frame, metres (z-up). Shape: ``(3,)``.
        quat: Orientation in the joint frame (w, x, y, z), z-up. Shape: ``(4,)``.
        size: ``(radius,)`` for a sphere; half extents ``(x, y, z)`` for a box; ``(radius,
            half_length)`` for a capsule along the body's z axis (DeepMimic's y).
        fall_contact: Whether touching the ground with this body ends an episode.
        rgba: Colour.
    """

    name: str
    shape: str
    mass: float
    pos: np.ndarray
    quat: np.ndarray
    size: tuple[float, ...]
    fall_contact: bool
    rgba: tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class Character:
    """A DeepMimic character.

    Attributes:
        skeleton: Kinematic tree (z-up).
        bodies: One body per joint, by joint index (fixed end joints may have none: ``None``).
        limits: Joint limits per local axis ``(low, high)``, radians; spherical joints use all
            three axes, revolute only row 0 (about ``skeleton.axes``). Shape: ``(J, 3, 2)``.
        torque_limits: Maximum torque per joint, N m. Shape: ``(J,)``.
        end_effectors: Names of end-effector joints (hands and feet for humanoid3d).
        diff_weights: DeepMimic's per-joint weights for the pose and velocity errors. Shape: ``(J,)``.
        path: The file it came from.
        robot: For robot characters (a YAML file and an MJCF, ``robot_character``): the model,
            actuators, home pose and sole points; ``None`` for DeepMimic characters.
    """

    skeleton: Skeleton
    bodies: tuple[BodyDef | None, ...]
    limits: np.ndarray
    torque_limits: np.ndarray
    end_effectors: tuple[str, ...]
    diff_weights: np.ndarray
    path: Path
    robot: RobotSpec | None = None

    @property
    def body_names(self) -> tuple[str, ...]:
        """Model body of each skeleton joint: the joint's own name for DeepMimic characters."""
        return self.robot.body_names if self.robot is not None else self.skeleton.joint_names

    @property
    def name(self) -> str:
        """Character name, from the file name (``humanoid3d``)."""
        return self.skeleton.name

    @property
    def total_mass(self) -> float:
        """Sum of body masses, kg."""
        return float(sum(b.mass for b in self.bodies if b is not None))


def _field(entry: dict, key: str, path: Path, where: str) -> float:
    if key not in entry:
        raise MotionFormatError(path, f"missing '{key}'", field=where)
    value = entry[key]
    if not isinstance(value, (int, float)) or not np.isfinite(value):
        raise MotionFormatError(path, f"'{key}' must be a finite number, got {value!r}", field=where)
    return float(value)


def _attach_quat(entry: dict, path: Path, where: str) -> np.ndarray:
    """``AttachTheta{X,Y,Z}`` as a z-up quaternion.

    Read as ``Rz @ Ry @ Rx`` (x applied first). The shipped characters only rotate about one
    axis at a time (dog3d's neck and tail capsules), where every order gives the same result.
    """
    theta = np.array([_field(entry, f"AttachTheta{a}", path, where) for a in "ZYX"])
    q_y_up = rot.quat_from_euler(theta, "ZYX")
    return rot.quat_mul(rot.quat_mul(Y_UP_TO_Z_UP_QUAT, q_y_up), rot.quat_conj(Y_UP_TO_Z_UP_QUAT))


def _convert_limits(joint: dict, jtype: JointType) -> np.ndarray:
    lo = [float(joint.get(f"LimLow{i}", 0.0)) for i in range(3)]
    hi = [float(joint.get(f"LimHigh{i}", 0.0)) for i in range(3)]
    if jtype == JointType.SPHERICAL:
        # Axes (x, y, z) of DeepMimic become (x, z, -y): the limit about new y is minus old z's.
        return np.array([[lo[0], hi[0]], [-hi[2], -lo[2]], [lo[1], hi[1]]])
    return np.array([[lo[0], hi[0]], [0.0, 0.0], [0.0, 0.0]])


def _parse_joints(joints: list, path: Path) -> tuple[Skeleton, np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]:
    names, parents, types, offsets, axes = [], [], [], [], []
    limits, torques, effectors, weights, rest = [], [], [], [], []
    for i, joint in enumerate(joints):
        where = f"Skeleton.Joints[{i}]"
        if not isinstance(joint, dict):
            raise MotionFormatError(path, "joint entry must be an object", field=where)
        name = str(joint.get("Name", f"joint{i}"))
        jtype_name = joint.get("Type")
        if jtype_name not in _JOINT_TYPES:
            raise MotionFormatError(path, f"joint type {jtype_name!r} is not one of "
                                    f"{sorted(_JOINT_TYPES)}", field=f"{where}.Type")
        jtype = _JOINT_TYPES[jtype_name]
        offset = np.array([_field(joint, f"Attach{a}", path, where) for a in "XYZ"])
        names.append(name)
        parents.append(int(joint.get("Parent", -1)))
        types.append(jtype)
        offsets.append(Y_UP_TO_Z_UP @ offset)
        axes.append(Y_UP_TO_Z_UP @ np.array([0.0, 0.0, 1.0]) if jtype == JointType.REVOLUTE else np.zeros(3))
        limits.append(_convert_limits(joint, jtype))
        torques.append(float(joint.get("TorqueLim", 0.0)))
        weights.append(float(joint.get("DiffWeight", 0.0)))
        if joint.get("IsEndEffector", 0):
            effectors.append(name)
        rest.append(_attach_quat(joint, path, where))
    skeleton = Skeleton(path.stem, tuple(names), np.array(parents), tuple(types), np.array(offsets), np.array(axes),
                        np.array(rest))
    return skeleton, np.array(limits), np.array(torques), tuple(effectors), np.array(weights)


def _parse_body(body: dict, index: int, path: Path) -> BodyDef:
    where = f"BodyDefs[{index}]"
    shape = body.get("Shape")
    if shape not in _SHAPES:
        raise MotionFormatError(path, f"shape {shape!r} is not one of {_SHAPES}", field=f"{where}.Shape")
    params = [_field(body, f"Param{i}", path, where) for i in range(3)]
    if shape == "sphere":
        size: tuple[float, ...] = (0.5 * params[0],)
    elif shape == "box":  # full extents along DeepMimic (x, y, z) -> half extents along (x, -z, y)
        size = (0.5 * params[0], 0.5 * params[2], 0.5 * params[1])
    else:  # capsule: diameter, then the cylinder's height along DeepMimic y (our z)
        size = (0.5 * params[0], 0.5 * params[1])
    pos = Y_UP_TO_Z_UP @ np.array([_field(body, f"Attach{a}", path, where) for a in "XYZ"])
    rgba = tuple(float(body.get(f"Color{c}", 1.0)) for c in "RGBA")
    return BodyDef(str(body.get("Name", f"body{index}")), shape, _field(body, "Mass", path, where), pos,
                   _attach_quat(body, path, where), size, bool(body.get("EnableFallContact", 0)), rgba)  # type: ignore[arg-type]


def load_character(name_or_path: str | Path) -> Character:
    """Load a character by path or by name (``"humanoid3d"``, ``"dog3d"``, ``"g1"``).

    DeepMimic character files (``.txt``, JSON) and robot characters (``.yaml`` naming an MJCF,
    see ``robot_character``) give the same :class:`Character`.

    Raises:
        MotionFormatError: The file is not valid JSON or misses required fields.
    """
    path = resolve_character(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return load_robot_character(path)
    data, _ = read_json_object(path, "'Skeleton'")
    skeleton_def = data.get("Skeleton")
    joints = skeleton_def.get("Joints") if isinstance(skeleton_def, dict) else None
    if not isinstance(joints, list) or not joints:
        raise MotionFormatError(path, "no joints", field="Skeleton.Joints")
    try:
        skeleton, limits, torques, effectors, weights = _parse_joints(joints, path)
    except ValueError as err:
        if isinstance(err, MotionFormatError):
            raise
        raise MotionFormatError(path, str(err), field="Skeleton.Joints") from None
    bodies: list[BodyDef | None] = [None] * skeleton.num_joints
    for i, body in enumerate(data.get("BodyDefs", [])):
        body_def = _parse_body(body, i, path)
        index = int(body.get("ID", i))
        if not 0 <= index < skeleton.num_joints:
            raise MotionFormatError(path, f"body ID {index} names no joint", field=f"BodyDefs[{i}].ID")
        bodies[index] = body_def
    return Character(skeleton, tuple(bodies), limits, torques, effectors, weights, path)
