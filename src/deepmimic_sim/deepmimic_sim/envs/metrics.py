"""Tracking metrics as the field reports them (pure functions, ``(num_envs,)`` results).

- joint rotation error: mean over rotating non-root joints of the angle of ``q_sim * q_ref^-1``
  between local rotations (rad); 12 joints for humanoid3d, as the pybullet DeepMimic figures use;
- MPJPE: mean body-position error (m), global and root-relative (root translation removed);
- root position error (m).
"""

from __future__ import annotations

from typing import Any

from deepmimic_mocap import rotations as rot

Array = Any  # numpy.ndarray | torch.Tensor (both work)


def joint_rotation_error(local_quat_sim: Array, local_quat_ref: Array,
                         joint_mask: Array) -> Array:
    """Mean rotation angle over the joints in ``joint_mask`` (``(J,)`` bool); quats ``(N, J, 4)``."""
    angle = rot.quat_angle_between(local_quat_ref, local_quat_sim)
    return rot.namespace(angle).mean(angle[:, joint_mask], axis=-1)


def mpjpe(body_pos_sim: Array, body_pos_ref: Array, root_relative: bool) -> Array:
    """Mean per-body position error (``(N, B, 3)`` each), optionally with the root translation removed."""
    if root_relative:
        body_pos_sim = body_pos_sim - body_pos_sim[:, :1]
        body_pos_ref = body_pos_ref - body_pos_ref[:, :1]
    xp = rot.namespace(body_pos_sim)
    return xp.mean(xp.linalg.vector_norm(body_pos_sim - body_pos_ref, axis=-1), axis=-1)


def root_position_error(root_pos_sim: Array, root_pos_ref: Array) -> Array:
    """Root distance (``(N, 3)`` each)."""
    return rot.namespace(root_pos_sim).linalg.vector_norm(root_pos_sim - root_pos_ref, axis=-1)
