"""Early termination tests: pure functions returning ``(num_envs,)`` booleans."""

from __future__ import annotations

import torch


def fell(ground_contact: torch.Tensor, fall_bodies: torch.Tensor) -> torch.Tensor:
    """A body that must not touch the ground does (``(N, B)`` contacts, ``(B,)`` mask)."""
    return torch.any(ground_contact & fall_bodies, dim=-1)


def drifted(body_pos_sim: torch.Tensor, body_pos_ref: torch.Tensor, max_distance: float) -> torch.Tensor:
    """The mean body distance from the reference exceeds ``max_distance`` (``(N, B, 3)`` each)."""
    return torch.linalg.vector_norm(body_pos_sim - body_pos_ref, dim=-1).mean(dim=-1) > max_distance
