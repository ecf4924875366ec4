"""DeepMimic's imitation reward terms: pure functions of batched tensors.

Each term returns ``exp(-scale * err)`` with shape ``(num_envs,)``; ``imitation_reward`` weights
and sums them and returns the terms too, logged as ``reward/<term>``.
"""

from __future__ import annotations

import torch

from deepmimic_mocap import rotations as rot

from .config import RewardCfg


def pose_error(local_quat_sim: torch.Tensor, local_quat_ref: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted sum of squared rotation angles between sim and reference local rotations.

    Args:
        local_quat_sim, local_quat_ref: Shape ``(N, J, 4)``.
        weights: Per-joint weights. Shape: ``(J,)``.
    """
    angle = rot.quat_angle_between(local_quat_ref, local_quat_sim)
    return torch.sum(weights * angle * angle, dim=-1)


def velocity_error(ang_vel_sim: torch.Tensor, ang_vel_ref: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted sum of squared angular-velocity differences (``(N, J, 3)`` each)."""
    return torch.sum(weights * torch.sum((ang_vel_sim - ang_vel_ref) ** 2, dim=-1), dim=-1)


def end_effector_error(ee_pos_sim: torch.Tensor, ee_pos_ref: torch.Tensor) -> torch.Tensor:
    """Sum of squared end-effector position differences (``(N, E, 3)`` each)."""
    return torch.sum((ee_pos_sim - ee_pos_ref) ** 2, dim=(-1, -2))


def com_error(com_sim: torch.Tensor, com_ref: torch.Tensor) -> torch.Tensor:
    """Squared centre-of-mass distance (``(N, 3)`` each)."""
    return torch.sum((com_sim - com_ref) ** 2, dim=-1)


def root_error(root_pos_sim: torch.Tensor, root_quat_sim: torch.Tensor, root_lin_vel_sim: torch.Tensor,
               root_ang_vel_sim: torch.Tensor, root_pos_ref: torch.Tensor, root_quat_ref: torch.Tensor,
               root_lin_vel_ref: torch.Tensor, root_ang_vel_ref: torch.Tensor) -> torch.Tensor:
    """DeepMimic's released root error ``|dp|^2 + 0.1 theta^2 + 0.01 |dv|^2 + 0.001 |dw|^2``, world frame.

    Positions ``(N, 3)``, rotations ``(N, 4)``, velocities ``(N, 3)``.
    """
    angle = rot.quat_angle_between(root_quat_ref, root_quat_sim)
    return (torch.sum((root_pos_sim - root_pos_ref) ** 2, dim=-1) + 0.1 * angle * angle
            + 0.01 * torch.sum((root_lin_vel_sim - root_lin_vel_ref) ** 2, dim=-1)
            + 0.001 * torch.sum((root_ang_vel_sim - root_ang_vel_ref) ** 2, dim=-1))


def imitation_reward(cfg: RewardCfg, errors: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum of ``exp(-scale * error)`` over the terms given (``pose``, ``velocity``,
    ``end_effector``, ``com``, ``root``).

    Returns:
        The reward (``(N,)``) and each term's ``exp(-scale * error)`` by name.
    """
    terms = {name: torch.exp(-getattr(cfg, f"{name}_scale") * err) for name, err in errors.items()}
    total = sum(getattr(cfg, f"{name}_weight") * value for name, value in terms.items())
    return total, terms
