"""The clip model every loader returns and every consumer reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from . import rotations as rot
from .errors import MotionFormatError
from .kinematics import forward_kinematics_dof
from .skeleton import JointType, Skeleton

_NORM_EPS = 1e-6


class LoopMode(str, Enum):
    """What happens after the last frame."""

    WRAP = "wrap"  # the clip repeats; the last frame is the first of the next cycle
    NONE = "none"  # the clip holds its last frame


@dataclass(frozen=True, eq=False)
class Motion:
    """A motion clip for one skeleton, in metres, seconds and the z-up world.

    Attributes:
        skeleton: The skeleton the poses belong to.
        frame_times: Time of each frame from 0, strictly increasing. Shape: ``(F,)``.
        root_pos: Root position, world. Shape: ``(F, 3)``.
        root_quat: Root orientation (w, x, y, z), world. Shape: ``(F, 4)``.
        dof_pos: Packed non-root joint poses (see ``skeleton``). Shape: ``(F, num_dof_pos)``.
        loop: ``wrap`` or ``none``.
        name: Clip name (``humanoid3d_walk``).
        source: Where it came from (a path, or a description).
        meta: Extra facts from the loader (units chosen, channel orders), for ``motion info``.
    """

    skeleton: Skeleton
    frame_times: np.ndarray
    root_pos: np.ndarray
    root_quat: np.ndarray
    dof_pos: np.ndarray
    loop: LoopMode = LoopMode.NONE
    name: str = ""
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "loop", LoopMode(self.loop))
        for key in ("frame_times", "root_pos", "root_quat", "dof_pos"):
            object.__setattr__(self, key, np.asarray(getattr(self, key), dtype=np.float64))
        self._validate()
        object.__setattr__(self, "root_quat", rot.quat_normalize(self.root_quat))
        sph = self.skeleton.spherical_joints
        if len(sph):
            dof = self.dof_pos.copy()
            idx = np.concatenate([np.arange(self.skeleton.dof_pos_slice(j).start,
                                            self.skeleton.dof_pos_slice(j).stop) for j in sph])
            dof[:, idx] = rot.quat_normalize(dof[:, idx].reshape(len(dof), -1, 4)).reshape(len(dof), -1)
            object.__setattr__(self, "dof_pos", dof)

    def _fail(self, message: str, frame: int | None = None, fld: str | None = None) -> None:
        raise MotionFormatError(self.source or self.name or None, message, frame=frame, field=fld)

    def _validate(self) -> None:
        num = len(self.frame_times)
        if num == 0:
            self._fail("the clip has no frames")
        shapes = {"frame_times": (num,), "root_pos": (num, 3), "root_quat": (num, 4),
                  "dof_pos": (num, self.skeleton.num_dof_pos)}
        for key, shape in shapes.items():
            if getattr(self, key).shape != shape:
                self._fail(f"has shape {getattr(self, key).shape}, expected {shape}", fld=key)
            finite = np.isfinite(getattr(self, key)).reshape(num, -1).all(axis=1)
            if not finite.all():
                self._fail("value is NaN or infinite", frame=int(np.argmin(finite)), fld=key)
        if num > 1 and not (np.diff(self.frame_times) > 0).all():
            self._fail("frame times must increase", frame=int(np.argmin(np.diff(self.frame_times) > 0)) + 1,
                       fld="frame_times")
        self._check_quat_norms(self.root_quat, "root_quat")
        for j in self.skeleton.spherical_joints:
            sl = self.skeleton.dof_pos_slice(j)
            self._check_quat_norms(self.dof_pos[:, sl], self.skeleton.joint_names[j])

    def _check_quat_norms(self, quats: np.ndarray, name: str) -> None:
        norms = np.linalg.norm(quats, axis=-1)
        if (norms < _NORM_EPS).any():
            self._fail("zero-length quaternion", frame=int(np.argmax(norms < _NORM_EPS)), fld=name)

    # ------------------------------------------------------------------------------- facts
    @property
    def num_frames(self) -> int:
        """Number of frames."""
        return len(self.frame_times)

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame (one cycle for looping clips)."""
        return float(self.frame_times[-1])

    @property
    def fps(self) -> float:
        """Frame rate from the median frame interval."""
        return float(1.0 / np.median(np.diff(self.frame_times))) if self.num_frames > 1 else 0.0

    def local_quat(self) -> np.ndarray:
        """Local rotation of every joint, the root's world orientation at index 0. Shape: ``(F, J, 4)``."""
        local = self.skeleton.local_quat_from_dof_pos(self.dof_pos)
        local[:, 0] = self.root_quat
        return local

    def body_pos(self) -> np.ndarray:
        """World position of every joint frame by forward kinematics. Shape: ``(F, J, 3)``."""
        return forward_kinematics_dof(self.skeleton, self.root_pos, self.root_quat, self.dof_pos)[0]

    def root_travel(self) -> float:
        """Horizontal distance from the root's first to its last position, metres."""
        return float(np.linalg.norm(self.root_pos[-1, :2] - self.root_pos[0, :2]))

    def revolute_angles(self) -> dict[str, np.ndarray]:
        """Angle of each revolute joint by name. Shapes: ``(F,)``."""
        return {self.skeleton.joint_names[j]: self.dof_pos[:, self.skeleton.dof_pos_slice(j).start]
                for j in self.skeleton.revolute_joints}

    # ------------------------------------------------------------------------------ storage
    def save_npz(self, path: str | Path) -> None:
        """Write the clip and its skeleton as named arrays (no pickle)."""
        sk = self.skeleton
        np.savez(
            path, format=np.array("deepmimic_motion_v1"), name=np.array(self.name), loop=np.array(self.loop.value),
            frame_times=self.frame_times, root_pos=self.root_pos, root_quat=self.root_quat, dof_pos=self.dof_pos,
            skeleton_name=np.array(sk.name), joint_names=np.array(sk.joint_names), parents=sk.parents,
            joint_types=np.array([t.value for t in sk.joint_types]), offsets=sk.offsets, axes=sk.axes,
            rest_quat=sk.rest_quat, has_geometry=np.array(sk.has_geometry),
        )


_NPZ_ARRAYS = ("name", "loop", "frame_times", "root_pos", "root_quat", "dof_pos", "skeleton_name", "joint_names",
               "parents", "joint_types", "offsets", "axes", "rest_quat", "has_geometry")


def load_motion_npz(path: str | Path) -> Motion:
    """Read a clip written by ``Motion.save_npz``."""
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in _NPZ_ARRAYS if k not in data.files]
        if missing:
            raise MotionFormatError(path, f"missing array(s) {', '.join(missing)}", field=missing[0])
        try:
            skeleton = Skeleton(
                str(data["skeleton_name"]), tuple(str(n) for n in data["joint_names"]), data["parents"],
                tuple(JointType(str(t)) for t in data["joint_types"]), data["offsets"], data["axes"],
                data["rest_quat"], bool(data["has_geometry"]),
            )
            return Motion(skeleton, data["frame_times"], data["root_pos"], data["root_quat"], data["dof_pos"],
                          LoopMode(str(data["loop"])), str(data["name"]), str(path))
        except MotionFormatError:
            raise
        except ValueError as err:  # pickled arrays (never loaded), bad joint types, loop modes, trees
            raise MotionFormatError(path, f"invalid clip: {err}") from None
