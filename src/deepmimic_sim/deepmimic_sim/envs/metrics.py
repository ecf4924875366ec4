"""Tracking metrics as the field reports them (pure functions, ``(num_envs,)`` results).

- joint rotation error: mean over rotating non-root joints of the angle of ``q_sim * q_ref^-1``
  between local rotations (rad); 12 joints for humanoid3d, as the pybullet DeepMimic figures use;
- MPJPE: mean body-position error (m), global and root-relative (root translation removed);
- root position error (m).
"""

from __future__ import annotations

import torch

from deepmimic_mocap import rotations as rot


def joint_rotation_error(local_quat_sim: torch.Tensor, local_quat_ref: torch.Tensor,
                         joint_mask: torch.Tensor) -> torch.Tensor:
    """Mean rotation angle over the joints in ``joint_mask`` (``(J,)`` bool); quats ``(N, J, 4)``."""
    angle = rot.quat_angle_between(local_quat_ref, local_quat_sim)
    return angle[:, joint_mask].mean(dim=-1)


def mpjpe(body_pos_sim: torch.Tensor, body_pos_ref: torch.Tensor, root_relative: bool) -> torch.Tensor:
    """Mean per-body position error (``(N, B, 3)`` each), optionally with the root translation removed."""
    if root_relative:
        body_pos_sim = body_pos_sim - body_pos_sim[:, :1]
        body_pos_ref = body_pos_ref - body_pos_ref[:, :1]
    return torch.linalg.vector_norm(body_pos_sim - body_pos_ref, dim=-1).mean(dim=-1)


def root_position_error(root_pos_sim: torch.Tensor, root_pos_ref: torch.Tensor) -> torch.Tensor:
    """Root distance (``(N, 3)`` each)."""
    return torch.linalg.vector_norm(root_pos_sim - root_pos_ref, dim=-1)
