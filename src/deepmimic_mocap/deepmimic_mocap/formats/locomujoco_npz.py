"""LocoMuJoCo motion files (``.npz``): joint angles of a MuJoCo robot, without its geometry.

Two layouts are read, both with ``allow_pickle=False`` (a pickled object array is refused with
an error, never unpickled):

``v0 per-joint`` (LocoMuJoCo 0.x datasets, e.g. ``02-constspeed_UnitreeG1.npz``)
    One 1-D array per joint, ``q_<joint>`` (position) and ``dq_<joint>`` (velocity), all of the
    same length; no frame rate is stored. The root is six joints of the model's ``pelvis`` body,
    defined in LocoMuJoCo's model files (``loco_mujoco/environments/data/unitree_g1/g1.xml`` and
    ``unitree_h1/h1.xml``, which agree), in this order:

    - ``pelvis_tx`` slides along world x, ``pelvis_tz`` along world **y**, ``pelvis_ty`` along
      world **z** (OpenSim names: y is up there; the MuJoCo model is z-up). All three are relative
      to the pelvis body's position in the model, ``(0, 0, h)``, so the root height is
      ``h + q_pelvis_ty``; ``h`` is 0.755 m for the Unitree G1 and 1.045 m for the H1 and is
      picked from the file name's last ``_`` part (``..._UnitreeG1``). For other robots ``h`` is
      0 (the height stays relative) unless ``pelvis_height`` is given.
    - ``pelvis_tilt`` (hinge about -y), ``pelvis_list`` (about x), ``pelvis_rotation`` (about
      z), applied in that order as MuJoCo composes the joints of one body:
      ``R = R(-y, tilt) @ R(x, list) @ R(z, rotation)``.

    The G1 sample confirms the axes: ``q_pelvis_ty`` bobs at the step rate about -0.03 m
    (pelvis 0.70-0.75 m high) while ``q_pelvis_tz`` drifts once per stride around 0.2 m.
    Its rate defaults to 500 Hz: LocoMuJoCo 0.x datasets are sampled at 500 Hz, and the file's
    own ``dq_`` arrays integrated at 1/500 s reproduce its ``q_`` arrays (``pelvis_tx``: 0.977 m
    over 499 intervals at a mean ``dq`` of 0.979 m/s).

``1.x trajectory`` (``loco_mujoco.trajectory.Trajectory.save``)
    ``qpos`` ``(T, nq)``, ``frequency`` and ``joint_names``; optional ``qvel``, ``jnt_type``
    (MuJoCo joint types), ``xpos``/``xquat`` and ``split_points`` (boundaries of concatenated
    trajectories). The first joint is a free joint: ``qpos[:, :3]`` is the root position and
    ``qpos[:, 3:7]`` its quaternion (w, x, y, z), both in MuJoCo's z-up world. Other joints are
    hinges (one value, radians) or, when ``jnt_type`` says so, balls (four values, w x y z).

Both give a joint-space skeleton (``has_geometry=False``): the root and one joint per source
joint, all children of the root, with zero offsets and placeholder axes ``(0, 0, 1)``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import rotations as rot
from ..errors import MotionFormatError
from ..motion import LoopMode, Motion
from ..skeleton import JointType, Skeleton

V0_DEFAULT_FPS = 500.0
V0_ROOT_JOINTS = ("pelvis_tx", "pelvis_tz", "pelvis_ty", "pelvis_tilt", "pelvis_list", "pelvis_rotation")
PELVIS_HEIGHTS = {"UnitreeG1": 0.755, "UnitreeH1": 1.045}  # pelvis body z in LocoMuJoCo's models

# MuJoCo's mjtJoint values, as stored in a trajectory's ``jnt_type``.
MJ_FREE, MJ_BALL, MJ_SLIDE, MJ_HINGE = 0, 1, 2, 3
_QPOS_WIDTH = {MJ_FREE: 7, MJ_BALL: 4, MJ_HINGE: 1, MJ_SLIDE: 1}


def load_locomujoco_npz(
    path: str | Path, fps: float | None = None, name: str | None = None, *,
    pelvis_height: float | None = None, trajectory: int = 0,
) -> Motion:
    """Read a LocoMuJoCo ``.npz`` (either layout) as a joint-space clip.

    Args:
        path: The ``.npz`` file.
        fps: Frame rate; overrides the file's ``frequency``. v0 files store none: 500 Hz.
        name: Clip name; the file name without extension by default.
        pelvis_height: v0 only: height of the model's pelvis body that ``q_pelvis_ty`` is
            relative to; by default known from the robot named in the file name, else 0.
        trajectory: 1.x only: which of the trajectories delimited by ``split_points`` to read.

    Raises:
        MotionFormatError: Not an npz archive, pickled arrays, missing arrays, arrays of
            different lengths, NaN or infinite values, or an unknown layout.
    """
    path = Path(path)
    with _open_npz(path) as data:
        keys = list(data.files)
        if "qpos" in keys:
            parts = _read_v1(path, data, fps, trajectory)
        elif any(k.startswith("q_") for k in keys):
            parts = _read_v0(path, data, fps, pelvis_height)
        else:
            raise MotionFormatError(path, "unknown LocoMuJoCo layout: neither 'qpos' (1.x trajectory) nor "
                                    f"'q_<joint>' arrays (v0); arrays: {', '.join(sorted(keys)) or 'none'}")
    skeleton = _joint_space_skeleton(path, parts.pop("skeleton_name"), parts.pop("joint_names"),
                                     parts.pop("joint_types"))
    rate = parts.pop("fps")
    frames = len(parts["root_pos"])
    return Motion(skeleton, np.arange(frames) / rate, parts.pop("root_pos"), parts.pop("root_quat"),
                  parts.pop("dof_pos"), LoopMode.NONE, name or path.stem, str(path),
                  {"format": "locomujoco", **parts})


# ------------------------------------------------------------------------------------ helpers
def _open_npz(path: Path) -> Any:
    """``np.load`` of an archive without pickle support; anything else is a format error."""
    if not zipfile.is_zipfile(path):
        raise MotionFormatError(path, "not a readable npz archive: not a zip file of .npy arrays")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise MotionFormatError(path, f"not a readable npz archive: {err}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise MotionFormatError(path, "a single .npy array, not an npz archive of named arrays")
    return data


def _array(path: Path, data: Any, key: str) -> np.ndarray:
    """One array of the archive; pickled object arrays are refused, not loaded."""
    try:
        return data[key]
    except ValueError as err:
        if "pickle" in str(err).lower() or "object" in str(err).lower():
            raise MotionFormatError(path, f"array '{key}' holds pickled Python objects, which are never "
                                    "unpickled (allow_pickle=False); store plain numeric arrays",
                                    field=key) from None
        raise MotionFormatError(path, f"array '{key}' cannot be read: {err}", field=key) from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise MotionFormatError(path, f"array '{key}' cannot be read: {err}", field=key) from None


def _numeric(path: Path, key: str, array: np.ndarray, ndim: int | None) -> np.ndarray:
    """``array`` as finite float64, frames first, or a format error naming ``key``.

    ``ndim`` is the required number of dimensions (``None``: any, at least one).
    """
    if array.dtype.kind not in "biuf":
        raise MotionFormatError(path, f"array '{key}' has dtype {array.dtype}, expected numbers", field=key)
    if (ndim is not None and array.ndim != ndim) or array.ndim == 0:
        want = {1: "(frames,)", 2: "(frames, values)"}.get(ndim or 0, "(frames, ...)")
        raise MotionFormatError(path, f"array '{key}' has shape {array.shape}, expected {want}", field=key)
    array = array.astype(np.float64)
    finite = np.isfinite(array).reshape(len(array), -1).all(axis=1)
    if not finite.all():
        raise MotionFormatError(path, f"array '{key}' holds NaN or infinite values",
                                frame=int(np.argmin(finite)), field=key)
    return array


def _check_lengths(path: Path, arrays: dict[str, np.ndarray]) -> int:
    """The common frame count of ``arrays``; the first array that differs is named."""
    ref_key = next(iter(arrays))
    num = len(arrays[ref_key])
    for key, array in arrays.items():
        if len(array) != num:
            raise MotionFormatError(path, f"array '{key}' has {len(array)} frames but '{ref_key}' has {num}; "
                                    "all arrays must have the same length", field=key)
    if num == 0:
        raise MotionFormatError(path, "the arrays hold no frames", field=ref_key)
    return num


def _rate(path: Path, fps: float | None, default: float | None) -> float:
    rate = fps if fps is not None else default
    if rate is None or not np.isfinite(rate) or rate <= 0:
        raise MotionFormatError(path, f"frame rate must be a positive number, got {rate!r}", field="frequency")
    return float(rate)


def _joint_space_skeleton(path: Path, skeleton_name: str, joint_names: list[str],
                          joint_types: list[JointType]) -> Skeleton:
    """Root plus one child of the root per joint; no offsets, placeholder axes."""
    num = len(joint_names) + 1
    axes = np.tile([0.0, 0.0, 1.0], (num, 1))
    axes[0] = 0.0
    try:
        return Skeleton(skeleton_name, ("root", *joint_names), np.array([-1] + [0] * (num - 1)),
                        (JointType.ROOT, *joint_types), np.zeros((num, 3)), axes, has_geometry=False)
    except ValueError as err:
        raise MotionFormatError(path, str(err), field="joint_names") from None


def _robot(path: Path) -> str | None:
    """Robot named by the file name's last ``_`` part (``02-constspeed_UnitreeG1``), if any."""
    stem = path.stem
    return stem.rsplit("_", 1)[1] if "_" in stem else None


# ----------------------------------------------------------------------------------------- v0
def _read_v0(path: Path, data: Any, fps: float | None, pelvis_height: float | None) -> dict[str, Any]:
    """Per-joint ``q_``/``dq_`` arrays."""
    keys = [k for k in data.files if k.startswith(("q_", "dq_"))]
    names = [k[2:] for k in keys if k.startswith("q_")]
    missing = [f"q_{j}" for j in V0_ROOT_JOINTS if j not in names]
    if missing:
        raise MotionFormatError(path, f"missing root array(s) {', '.join(missing)} of the v0 layout "
                                "(pelvis_tx/ty/tz/tilt/list/rotation)", field=missing[0])
    orphans = [k for k in keys if k.startswith("dq_") and k[3:] not in names]
    if orphans:
        raise MotionFormatError(path, f"array '{orphans[0]}' has no matching 'q_{orphans[0][3:]}'", field=orphans[0])
    arrays = {k: _numeric(path, k, _array(path, data, k), 1) for k in keys}
    _check_lengths(path, arrays)
    q = {k[2:]: v for k, v in arrays.items() if k.startswith("q_")}
    robot = _robot(path)
    height = pelvis_height if pelvis_height is not None else PELVIS_HEIGHTS.get(robot or "", 0.0)
    joints = [n for n in names if n not in V0_ROOT_JOINTS]
    return {
        "root_pos": np.stack([q["pelvis_tx"], q["pelvis_tz"], q["pelvis_ty"] + height], axis=1),
        "root_quat": _v0_root_quat(q["pelvis_tilt"], q["pelvis_list"], q["pelvis_rotation"]),
        "dof_pos": np.stack([q[n] for n in joints], axis=1) if joints else np.zeros((len(q["pelvis_tx"]), 0)),
        "joint_names": joints, "joint_types": [JointType.REVOLUTE] * len(joints),
        "skeleton_name": robot if robot in PELVIS_HEIGHTS else "locomujoco",
        "fps": _rate(path, fps, V0_DEFAULT_FPS),
        "variant": "v0 per-joint",
        "fps_source": "argument" if fps is not None else "v0 default (LocoMuJoCo 0.x data is 500 Hz)",
        "robot": robot or "unknown",
        "pelvis_height_m": float(height),
        "velocity_arrays": sum(k.startswith("dq_") for k in keys),
    }


def _v0_root_quat(tilt: np.ndarray, list_: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """``R(-y, tilt) @ R(x, list) @ R(z, rotation)``, the pelvis hinges in model order."""
    def about(axis: tuple[float, float, float], angle: np.ndarray) -> np.ndarray:
        return rot.quat_from_axis_angle(np.broadcast_to(np.array(axis), (len(angle), 3)), angle)

    return rot.quat_mul(rot.quat_mul(about((0.0, -1.0, 0.0), tilt), about((1.0, 0.0, 0.0), list_)),
                        about((0.0, 0.0, 1.0), rotation))


# ----------------------------------------------------------------------------------------- 1.x
def _read_v1(path: Path, data: Any, fps: float | None, trajectory: int) -> dict[str, Any]:
    """A LocoMuJoCo 1.x ``Trajectory``: free-joint root, then hinge (or ball) joints."""
    for key in ("joint_names",) + (("frequency",) if fps is None else ()):
        if key not in data.files:
            raise MotionFormatError(path, f"missing array '{key}' of the 1.x trajectory layout", field=key)
    qpos = _numeric(path, "qpos", _array(path, data, "qpos"), 2)
    names = _joint_names(path, _array(path, data, "joint_names"))
    types = _joint_types(path, data, names, qpos.shape[1])
    arrays = {"qpos": qpos}
    for key in ("qvel", "xpos", "xquat"):
        if key in data.files:
            arrays[key] = _numeric(path, key, _array(path, data, key), 2 if key == "qvel" else None)
    _check_lengths(path, arrays)
    start, stop, count = _split(path, data, len(qpos), trajectory)
    qpos = qpos[start:stop]
    frequency = None if "frequency" not in data.files else _scalar(path, "frequency", _array(path, data, "frequency"))
    return {
        "root_pos": qpos[:, :3], "root_quat": qpos[:, 3:7], "dof_pos": qpos[:, 7:],
        "joint_names": names[1:],
        "joint_types": [JointType.SPHERICAL if t == MJ_BALL else JointType.REVOLUTE for t in types[1:]],
        "skeleton_name": "locomujoco",
        "fps": _rate(path, fps, frequency),
        "variant": "1.x trajectory",
        "fps_source": "argument" if fps is not None else "file 'frequency'",
        "root_joint": names[0],
        "trajectory": trajectory, "trajectories": count,
        "velocity_arrays": int("qvel" in arrays),
    }


def _joint_names(path: Path, array: np.ndarray) -> list[str]:
    if array.dtype.kind not in "US" or array.ndim != 1 or len(array) == 0:
        raise MotionFormatError(path, f"'joint_names' must be a 1-D array of strings, got dtype {array.dtype} "
                                f"shape {array.shape}", field="joint_names")
    return [v.decode() if isinstance(v, bytes) else str(v) for v in array.tolist()]


def _scalar(path: Path, key: str, array: np.ndarray) -> float:
    if array.dtype.kind not in "biuf" or array.size != 1:
        raise MotionFormatError(path, f"'{key}' must be one number, got dtype {array.dtype} shape {array.shape}",
                                field=key)
    return float(array.reshape(()))


def _joint_types(path: Path, data: Any, names: list[str], nq: int) -> list[int]:
    """MuJoCo type of each joint: from ``jnt_type``, else free root plus hinges."""
    if "jnt_type" in data.files:
        raw = _array(path, data, "jnt_type")
        if raw.dtype.kind not in "iu" or raw.shape != (len(names),):
            raise MotionFormatError(path, f"'jnt_type' has dtype {raw.dtype} shape {raw.shape}, expected "
                                    f"{len(names)} integers (one per joint name)", field="jnt_type")
        types = [int(t) for t in raw]
    else:
        types = [MJ_FREE] + [MJ_HINGE] * (len(names) - 1)
    if types[0] != MJ_FREE:
        raise MotionFormatError(path, f"unknown layout: the first joint '{names[0]}' is not a free joint "
                                f"(MuJoCo type {types[0]})", field="jnt_type")
    for name, jtype in zip(names[1:], types[1:], strict=True):
        if jtype not in (MJ_HINGE, MJ_BALL):
            kind = {MJ_FREE: "a second free", MJ_SLIDE: "a slide"}.get(jtype, f"type {jtype}")
            raise MotionFormatError(path, f"unknown layout: joint '{name}' is {kind} joint; only hinge and ball "
                                    "joints may follow the free root joint", field="jnt_type")
    width = sum(_QPOS_WIDTH[t] for t in types)
    if width != nq:
        raise MotionFormatError(path, f"'qpos' has {nq} columns but its {len(names)} joints need {width} "
                                "(free root 7, hinge 1, ball 4)", field="qpos")
    return types


def _split(path: Path, data: Any, num: int, trajectory: int) -> tuple[int, int, int]:
    """Frame range of trajectory ``trajectory`` and the number of trajectories."""
    if "split_points" not in data.files:
        bounds = np.array([0, num])
    else:
        bounds = _array(path, data, "split_points")
        if bounds.dtype.kind not in "iu" or bounds.ndim != 1 or len(bounds) < 2 or bounds[0] != 0 \
                or bounds[-1] != num or (np.diff(bounds) <= 0).any():
            raise MotionFormatError(path, f"'split_points' must increase from 0 to {num} (the qpos length), got "
                                    f"{bounds.tolist() if bounds.size < 20 else bounds.shape}", field="split_points")
    count = len(bounds) - 1
    if not 0 <= trajectory < count:
        raise MotionFormatError(path, f"trajectory {trajectory} requested, the file holds {count}",
                                field="split_points")
    return int(bounds[trajectory]), int(bounds[trajectory + 1]), count
