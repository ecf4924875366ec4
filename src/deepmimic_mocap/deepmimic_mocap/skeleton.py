"""Kinematic skeletons: joint tree, rest offsets, joint types and the packed pose layout.

A skeleton is what forward kinematics needs and nothing more. Joint 0 is the root; every other
joint rotates its own frame relative to its parent's frame. At rest all joint frames are
``rest_quat`` (usually identity, i.e. aligned with the world), and joint ``j`` sits at
``offsets[j]`` in its parent's frame. Units are metres, the world is z-up (see ``rotations``).

Poses of the non-root joints are packed into one vector, joint by joint in skeleton order, the
layout of DeepMimic's motion frames and of MuJoCo's ``qpos`` for ball and hinge joints:

========== ============ ================== ============
joint type ``dof_pos``  ``dof_vel``        meaning
========== ============ ================== ============
spherical  4 (w,x,y,z)  3 (local frame)    ball joint
revolute   1 (rad)      1 (rad/s)          hinge about ``axes[j]``
fixed      0            0                  end site
root       0            0                  pose stored apart
========== ============ ================== ============
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as array_device

from . import rotations as rot

Array = Any


class JointType(str, Enum):
    """How a joint moves relative to its parent."""

    ROOT = "root"
    SPHERICAL = "spherical"
    REVOLUTE = "revolute"
    FIXED = "fixed"


DOF_POS_SIZE = {JointType.ROOT: 0, JointType.SPHERICAL: 4, JointType.REVOLUTE: 1, JointType.FIXED: 0}
DOF_VEL_SIZE = {JointType.ROOT: 0, JointType.SPHERICAL: 3, JointType.REVOLUTE: 1, JointType.FIXED: 0}


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A joint tree with rest offsets.

    Attributes:
        name: Character name, e.g. ``"humanoid3d"``.
        joint_names: One name per joint; joint 0 is the root.
        parents: Parent index of each joint, ``-1`` for the root; parents precede children.
        joint_types: Type of each joint.
        offsets: Joint position in the parent's frame at rest, metres. Shape: ``(J, 3)``.
        axes: Hinge axis of revolute joints in the joint frame, zero for others. Shape: ``(J, 3)``.
        rest_quat: Joint frame orientation relative to the parent's at rest. Shape: ``(J, 4)``.
        has_geometry: ``False`` for joint-space clips whose source gives joint angles but no
            offsets or axes (LocoMuJoCo npz); forward kinematics then refuses to run.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: np.ndarray
    joint_types: tuple[JointType, ...]
    offsets: np.ndarray
    axes: np.ndarray = None  # type: ignore[assignment]
    rest_quat: np.ndarray = None  # type: ignore[assignment]
    has_geometry: bool = True
    _layout: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        num = len(self.joint_names)
        object.__setattr__(self, "parents", np.asarray(self.parents, dtype=np.int64))
        object.__setattr__(self, "joint_types", tuple(JointType(t) for t in self.joint_types))
        object.__setattr__(self, "offsets", np.asarray(self.offsets, dtype=np.float64).reshape(num, 3))
        axes = np.zeros((num, 3)) if self.axes is None else np.asarray(self.axes, dtype=np.float64)
        object.__setattr__(self, "axes", axes.reshape(num, 3))
        rest = np.tile([1.0, 0.0, 0.0, 0.0], (num, 1)) if self.rest_quat is None else np.asarray(self.rest_quat)
        object.__setattr__(self, "rest_quat", rest.reshape(num, 4).astype(np.float64))
        self._check()
        self._layout.update(self._build_layout())

    def _check(self) -> None:
        num = len(self.joint_names)
        if len(self.parents) != num or len(self.joint_types) != num:
            raise ValueError(f"skeleton '{self.name}': names, parents and types differ in length")
        if num == 0 or self.parents[0] != -1 or self.joint_types[0] != JointType.ROOT:
            raise ValueError(f"skeleton '{self.name}': joint 0 must be the root with parent -1")
        for j in range(1, num):
            if not 0 <= self.parents[j] < j:
                raise ValueError(f"skeleton '{self.name}': joint '{self.joint_names[j]}' has parent "
                                 f"{self.parents[j]}, which does not precede it")
        if len(set(self.joint_names)) != num:
            raise ValueError(f"skeleton '{self.name}': joint names are not unique")

    def _build_layout(self) -> dict:
        pos_sizes = np.array([DOF_POS_SIZE[t] for t in self.joint_types])
        vel_sizes = np.array([DOF_VEL_SIZE[t] for t in self.joint_types])
        pos_offsets = np.concatenate([[0], np.cumsum(pos_sizes)[:-1]])
        vel_offsets = np.concatenate([[0], np.cumsum(vel_sizes)[:-1]])
        sph = np.array([j for j, t in enumerate(self.joint_types) if t == JointType.SPHERICAL], dtype=np.int64)
        rev = np.array([j for j, t in enumerate(self.joint_types) if t == JointType.REVOLUTE], dtype=np.int64)
        other = np.array([j for j, t in enumerate(self.joint_types)
                          if t in (JointType.ROOT, JointType.FIXED)], dtype=np.int64)
        # Position of each joint in concat([spherical, revolute, other]); used to reassemble.
        order = np.concatenate([sph, rev, other])
        perm = np.argsort(order)
        sph_pos_idx = (pos_offsets[sph][:, None] + np.arange(4)).reshape(-1)
        sph_vel_idx = (vel_offsets[sph][:, None] + np.arange(3)).reshape(-1)
        # Packed order of dof_pos/dof_vel: assemble from per-joint parts in joint order.
        return {
            "pos_sizes": pos_sizes, "vel_sizes": vel_sizes,
            "pos_offsets": pos_offsets, "vel_offsets": vel_offsets,
            "sph": sph, "rev": rev, "other": other, "perm": perm,
            "sph_pos_idx": sph_pos_idx, "sph_vel_idx": sph_vel_idx,
            "rev_pos_idx": pos_offsets[rev], "rev_vel_idx": vel_offsets[rev],
        }

    # ----------------------------------------------------------------------------------- sizes
    @property
    def num_joints(self) -> int:
        """Number of joints, root included."""
        return len(self.joint_names)

    @property
    def num_dof_pos(self) -> int:
        """Length of the packed ``dof_pos`` vector (36 for humanoid3d)."""
        return int(self._layout["pos_sizes"].sum())

    @property
    def num_dof_vel(self) -> int:
        """Length of the packed ``dof_vel`` vector (28 for humanoid3d)."""
        return int(self._layout["vel_sizes"].sum())

    @property
    def spherical_joints(self) -> np.ndarray:
        """Indices of spherical joints."""
        return self._layout["sph"]

    @property
    def revolute_joints(self) -> np.ndarray:
        """Indices of revolute joints."""
        return self._layout["rev"]

    def index(self, name: str) -> int:
        """Index of the joint called ``name``; the error lists the valid names."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise KeyError(f"skeleton '{self.name}' has no joint '{name}'; joints: "
                           f"{', '.join(self.joint_names)}") from None

    def children(self, joint: int) -> list[int]:
        """Indices of the direct children of ``joint``."""
        return [j for j in range(self.num_joints) if self.parents[j] == joint]

    def dof_pos_slice(self, joint: int) -> slice:
        """Where ``joint``'s values sit in the packed ``dof_pos`` vector."""
        start = int(self._layout["pos_offsets"][joint])
        return slice(start, start + int(self._layout["pos_sizes"][joint]))

    # ------------------------------------------------------------------------- conversions
    def local_quat_from_dof_pos(self, dof_pos: Array) -> Array:
        """Local rotation of every joint from a packed pose; root and fixed joints are identity.

        Args:
            dof_pos: Packed joint poses. Shape: ``(..., num_dof_pos)``.

        Returns:
            Local joint rotations. Shape: ``(..., J, 4)``.
        """
        xp = array_namespace(dof_pos)
        lay, dev = self._layout, array_device(dof_pos)
        batch = dof_pos.shape[:-1]
        sph_q = xp.reshape(xp.take(dof_pos, xp.asarray(lay["sph_pos_idx"], device=dev), axis=-1),
                           (*batch, len(lay["sph"]), 4))
        sph_q = rot.quat_normalize_sign_free(sph_q)
        angles = xp.take(dof_pos, xp.asarray(lay["rev_pos_idx"], device=dev), axis=-1)
        axes = xp.asarray(self.axes[lay["rev"]], dtype=dof_pos.dtype, device=dev)
        rev_q = rot.quat_from_axis_angle(xp.broadcast_to(axes, (*batch, *axes.shape)), angles)
        other_q = rot.quat_identity((*batch, len(lay["other"])), dof_pos)
        parts = xp.concat([sph_q, rev_q, other_q], axis=-2)
        return xp.take(parts, xp.asarray(lay["perm"], device=dev), axis=-2)

    def dof_pos_from_local_quat(self, local_quat: Array) -> Array:
        """Pack local joint rotations; revolute joints keep the twist about their axis.

        Args:
            local_quat: Local joint rotations. Shape: ``(..., J, 4)``.

        Returns:
            Packed poses. Shape: ``(..., num_dof_pos)``.
        """
        xp = array_namespace(local_quat)
        lay, dev = self._layout, array_device(local_quat)
        batch = local_quat.shape[:-2]
        sph_q = xp.take(local_quat, xp.asarray(lay["sph"], device=dev), axis=-2)
        rev_q = xp.take(local_quat, xp.asarray(lay["rev"], device=dev), axis=-2)
        axes = xp.asarray(self.axes[lay["rev"]], dtype=local_quat.dtype, device=dev)
        angles = rot.quat_twist_angle(rev_q, axes)
        parts = [xp.reshape(sph_q, (*batch, -1)), angles]
        packed_order = np.concatenate([lay["sph_pos_idx"], lay["rev_pos_idx"]])
        return xp.take(xp.concat(parts, axis=-1), xp.asarray(np.argsort(packed_order), device=dev), axis=-1)

    def dof_vel_from_local_ang_vel(self, ang_vel: Array) -> Array:
        """Pack local angular velocities: 3 values per spherical joint, the axis rate per hinge.

        Args:
            ang_vel: Angular velocity of each joint in its own frame. Shape: ``(..., J, 3)``.

        Returns:
            Packed velocities. Shape: ``(..., num_dof_vel)``.
        """
        xp = array_namespace(ang_vel)
        lay, dev = self._layout, array_device(ang_vel)
        batch = ang_vel.shape[:-2]
        sph_w = xp.reshape(xp.take(ang_vel, xp.asarray(lay["sph"], device=dev), axis=-2), (*batch, -1))
        rev_w = xp.take(ang_vel, xp.asarray(lay["rev"], device=dev), axis=-2)
        axes = xp.asarray(self.axes[lay["rev"]], dtype=ang_vel.dtype, device=dev)
        rates = xp.sum(rev_w * axes, axis=-1)
        packed_order = np.concatenate([lay["sph_vel_idx"], lay["rev_vel_idx"]])
        return xp.take(xp.concat([sph_w, rates], axis=-1), xp.asarray(np.argsort(packed_order), device=dev), axis=-1)
