"""Batched forward kinematics."""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as array_device

from . import rotations as rot
from .skeleton import Skeleton

Array = Any


def forward_kinematics(
    skeleton: Skeleton, root_pos: Array, root_quat: Array, local_quat: Array
) -> tuple[Array, Array]:
    """World positions and orientations of every joint frame.

    The loop runs over depth levels of the tree (a handful), never over joints or the batch.

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
    batch = root_pos.shape[:-1]
    pos = xp.zeros((*batch, skeleton.num_joints, 3), dtype=root_pos.dtype, device=dev)
    quat = xp.zeros((*batch, skeleton.num_joints, 4), dtype=root_quat.dtype, device=dev)
    pos[..., 0, :], quat[..., 0, :] = root_pos, root_quat
    for joints, parents, offsets, rest in _levels(skeleton, xp, root_pos.dtype, dev):
        parent_q = xp.take(quat, parents, axis=-2)
        shape = (*batch, len(joints))
        pos[..., joints, :] = xp.take(pos, parents, axis=-2) + rot.quat_rotate(parent_q,
                                                                            xp.broadcast_to(offsets, (*shape, 3)))
        frame_q = rot.quat_mul(parent_q, xp.broadcast_to(rest, (*shape, 4)))
        quat[..., joints, :] = rot.quat_mul(frame_q, xp.take(local_quat, joints, axis=-2))
    return pos, quat


_LEVELS: dict[tuple, tuple[Skeleton, list]] = {}


def _levels(skeleton: Skeleton, xp: Any, dtype: Any, dev: Any) -> list[tuple[Array, Array, Array, Array]]:
    """Joints grouped by depth below the root: ``(joints, their parents, offsets, rest rotations)``
    per level, so that forward kinematics runs a handful of batched steps, not one per joint (the
    arithmetic per joint is the same, so are the results, bit for bit). Cached per skeleton, array
    library, dtype and device (the cache keeps the skeleton alive, so its ``id`` is not reused)."""
    key = (id(skeleton), xp.__name__, str(dtype), str(dev))
    cached = _LEVELS.get(key)
    if cached is not None and cached[0] is skeleton:
        return cached[1]
    depth = np.zeros(skeleton.num_joints, dtype=np.int64)
    for j in range(1, skeleton.num_joints):
        depth[j] = depth[skeleton.parents[j]] + 1
    levels = []
    for d in range(1, int(depth.max(initial=0)) + 1):
        joints = np.flatnonzero(depth == d)
        levels.append((xp.asarray(joints, device=dev), xp.asarray(skeleton.parents[joints], device=dev),
                       xp.asarray(skeleton.offsets[joints], dtype=dtype, device=dev),
                       xp.asarray(skeleton.rest_quat[joints], dtype=dtype, device=dev)))
    if len(_LEVELS) < 64:
        _LEVELS[key] = (skeleton, levels)
    return levels


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
