"""Batched forward kinematics."""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace
from array_api_compat import device as array_device

from . import rotations as rot
from .skeleton import Skeleton

Array = Any


def forward_kinematics(
    skeleton: Skeleton, root_pos: Array, root_quat: Array, local_quat: Array
) -> tuple[Array, Array]:
    """World positions and orientations of every joint frame.

    The loop runs over joints (tens), never over the batch.

    Args:
        skeleton: The joint tree.
        root_pos: Root position, world. Shape: ``(..., 3)``.
        root_quat: Root orientation, world. Shape: ``(..., 4)``.
        local_quat: Local joint rotations (the root entry is ignored). Shape: ``(..., J, 4)``.

    Returns:
        ``(body_pos_w, body_quat_w)`` with shapes ``(..., J, 3)`` and ``(..., J, 4)``.
    """
    if not skeleton.has_geometry:
        raise ValueError(f"skeleton '{skeleton.name}' has joint angles but no geometry; "
                         "forward kinematics needs offsets and axes (retarget it onto a character)")
    xp = array_namespace(root_pos, root_quat, local_quat)
    dev = array_device(root_pos)
    offsets = xp.asarray(skeleton.offsets, dtype=root_pos.dtype, device=dev)
    rest = xp.asarray(skeleton.rest_quat, dtype=root_pos.dtype, device=dev)
    pos = [root_pos]
    quat = [root_quat]
    for j in range(1, skeleton.num_joints):
        p = int(skeleton.parents[j])
        parent_q = quat[p]
        pos.append(pos[p] + rot.quat_rotate(parent_q, xp.broadcast_to(offsets[j], root_pos.shape)))
        frame_q = rot.quat_mul(parent_q, xp.broadcast_to(rest[j], root_quat.shape))
        quat.append(rot.quat_mul(frame_q, local_quat[..., j, :]))
    return xp.stack(pos, axis=-2), xp.stack(quat, axis=-2)


def forward_kinematics_dof(
    skeleton: Skeleton, root_pos: Array, root_quat: Array, dof_pos: Array
) -> tuple[Array, Array]:
    """Forward kinematics from a packed pose (``dof_pos``, shape ``(..., num_dof_pos)``)."""
    return forward_kinematics(skeleton, root_pos, root_quat, skeleton.local_quat_from_dof_pos(dof_pos))


def rest_positions(skeleton: Skeleton) -> Any:
    """Joint positions in the rest pose (root at the origin, every rotation identity). Shape: ``(J, 3)``."""
    import numpy as np

    local = np.tile([1.0, 0.0, 0.0, 0.0], (skeleton.num_joints, 1))
    return forward_kinematics(skeleton, np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]), local)[0]
