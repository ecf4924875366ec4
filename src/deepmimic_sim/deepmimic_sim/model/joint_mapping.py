"""Between motion-library poses (quaternions per joint) and the MuJoCo model's coordinates.

The model has a free root joint and hinges (three per spherical joint, ``Rx Ry Rz``; one per
revolute joint). ``qpos = [root pos (3), root quat (4), hinge angles]`` and
``qvel = [root linear velocity, world (3), root angular velocity, root frame (3), hinge rates]``,
MuJoCo's free-joint convention. Works on NumPy arrays and torch tensors alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as array_device

from deepmimic_mocap import rotations as rot
from deepmimic_mocap.characters import Character
from deepmimic_mocap.skeleton import JointType

from .character_mjcf import SPHERICAL_EULER_ORDER, depth_first_joints, hinge_names

Array = Any
ROOT_QPOS = 7
ROOT_QVEL = 6


class JointMapping:
    """Converts between per-joint rotations and ``qpos``/``qvel`` of a character's model.

    Attributes:
        hinge_names: Model hinge names in ``qpos[7:]`` order (also actuator order).
        num_hinges: Number of hinges (28 for humanoid3d).
    """

    def __init__(self, character: Character) -> None:
        sk = character.skeleton
        self.skeleton = sk
        self.character = character
        self.hinge_names = hinge_names(character)
        self.num_hinges = len(self.hinge_names)
        self._sph = np.array([j for j, t in enumerate(sk.joint_types) if t == JointType.SPHERICAL], dtype=np.int64)
        self._rev = np.array([j for j, t in enumerate(sk.joint_types) if t == JointType.REVOLUTE], dtype=np.int64)
        # Hinge slots of each spherical joint (3 consecutive) and revolute joint (1).
        slots, cursor = {}, 0
        for j in depth_first_joints(sk):
            jtype = sk.joint_types[j]
            size = {JointType.SPHERICAL: 3, JointType.REVOLUTE: 1}.get(jtype, 0)
            slots[j], cursor = cursor, cursor + size
        self._sph_slots = (np.array([slots[j] for j in self._sph], dtype=np.int64)[:, None] + np.arange(3)).reshape(-1)
        self._rev_slots = np.array([slots[j] for j in self._rev], dtype=np.int64)
        order = np.concatenate([self._sph_slots, self._rev_slots])
        self._gather = np.argsort(order)  # concat([sph angles, rev angles]) -> hinge order

    def hinge_ranges(self) -> np.ndarray:
        """``(low, high)`` of every hinge in model order; unlimited hinges get ``(-pi, pi)``. Shape: ``(H, 2)``."""
        ranges = []
        for j in depth_first_joints(self.skeleton):
            jtype = self.skeleton.joint_types[j]
            rows = {JointType.SPHERICAL: 3, JointType.REVOLUTE: 1}.get(jtype, 0)
            ranges += [tuple(self.character.limits[j, k]) for k in range(rows)]
        out = np.array(ranges, dtype=np.float64).reshape(-1, 2)
        unlimited = out[:, 0] >= out[:, 1]
        out[unlimited] = (-np.pi, np.pi)
        return out

    def hinge_angles(self, local_quat: Array) -> Array:
        """Hinge angles from local joint rotations (``(..., J, 4)``). Shape: ``(..., num_hinges)``."""
        xp, dev = array_namespace(local_quat), array_device(local_quat)
        batch = local_quat.shape[:-2]
        sph = rot.quat_to_euler(xp.take(local_quat, xp.asarray(self._sph, device=dev), axis=-2),
                                SPHERICAL_EULER_ORDER)
        rev_q = xp.take(local_quat, xp.asarray(self._rev, device=dev), axis=-2)
        axes = xp.asarray(self.skeleton.axes[self._rev], dtype=local_quat.dtype, device=dev)
        rev = rot.quat_twist_angle(rev_q, axes)
        parts = xp.concat([xp.reshape(sph, (*batch, -1)), rev], axis=-1)
        return xp.take(parts, xp.asarray(self._gather, device=dev), axis=-1)

    def hinge_rates(self, hinge_angles: Array, joint_ang_vel: Array) -> Array:
        """Hinge velocities from local joint angular velocities (``(..., J, 3)``). Shape: ``(..., num_hinges)``."""
        xp, dev = array_namespace(hinge_angles), array_device(hinge_angles)
        batch = hinge_angles.shape[:-1]
        sph_angles = xp.reshape(xp.take(hinge_angles, xp.asarray(self._sph_slots, device=dev), axis=-1),
                                (*batch, len(self._sph), 3))
        sph_w = xp.take(joint_ang_vel, xp.asarray(self._sph, device=dev), axis=-2)
        sph = rot.euler_rates_from_ang_vel(sph_angles, sph_w, SPHERICAL_EULER_ORDER)
        axes = xp.asarray(self.skeleton.axes[self._rev], dtype=hinge_angles.dtype, device=dev)
        rev = xp.sum(xp.take(joint_ang_vel, xp.asarray(self._rev, device=dev), axis=-2) * axes, axis=-1)
        parts = xp.concat([xp.reshape(sph, (*batch, -1)), rev], axis=-1)
        return xp.take(parts, xp.asarray(self._gather, device=dev), axis=-1)

    def local_quat(self, hinge_angles: Array) -> Array:
        """Local joint rotations from hinge angles; root and fixed joints identity. Shape: ``(..., J, 4)``."""
        xp, dev = array_namespace(hinge_angles), array_device(hinge_angles)
        batch = hinge_angles.shape[:-1]
        sph_angles = xp.reshape(xp.take(hinge_angles, xp.asarray(self._sph_slots, device=dev), axis=-1),
                                (*batch, len(self._sph), 3))
        sph_q = rot.quat_from_euler(sph_angles, SPHERICAL_EULER_ORDER)
        axes = xp.asarray(self.skeleton.axes[self._rev], dtype=hinge_angles.dtype, device=dev)
        rev_angles = xp.take(hinge_angles, xp.asarray(self._rev_slots, device=dev), axis=-1)
        rev_q = rot.quat_from_axis_angle(xp.broadcast_to(axes, (*batch, *axes.shape)), rev_angles)
        ident = rot.quat_identity((*batch, self.skeleton.num_joints), hinge_angles)
        joint_idx = np.concatenate([self._sph, self._rev])
        others = np.setdiff1d(np.arange(self.skeleton.num_joints), joint_idx)
        parts = xp.concat([sph_q, rev_q, xp.take(ident, xp.asarray(others, device=dev), axis=-2)], axis=-2)
        perm = np.argsort(np.concatenate([joint_idx, others]))
        return xp.take(parts, xp.asarray(perm, device=dev), axis=-2)

    def qpos(self, root_pos: Array, root_quat: Array, local_quat: Array) -> Array:
        """Model ``qpos`` of poses. Shape: ``(..., 7 + num_hinges)``."""
        xp = array_namespace(root_pos)
        return xp.concat([root_pos, root_quat, self.hinge_angles(local_quat)], axis=-1)

    def qvel(self, root_quat: Array, root_lin_vel_w: Array, root_ang_vel_w: Array, hinge_angles: Array,
             joint_ang_vel: Array) -> Array:
        """Model ``qvel``: world linear, root-frame angular root velocity, hinge rates. Shape: ``(..., 6 + num_hinges)``."""
        xp = array_namespace(root_quat)
        ang_local = rot.quat_rotate_inverse(root_quat, root_ang_vel_w)
        return xp.concat([root_lin_vel_w, ang_local, self.hinge_rates(hinge_angles, joint_ang_vel)], axis=-1)

    def reference_state(self, frames: Any) -> tuple[Array, Array]:
        """``qpos`` and ``qvel`` of reference frames (a ``MotionFrames``), as reference state
        initialisation sets them: the one function the environment and ``ReferenceClip`` share."""
        hinge = self.hinge_angles(frames.local_quat)
        xp = array_namespace(hinge)
        qpos = xp.concat([frames.root_pos, frames.root_quat, hinge], axis=-1)
        return qpos, self.qvel(frames.root_quat, frames.root_lin_vel, frames.root_ang_vel, hinge, frames.joint_ang_vel)
