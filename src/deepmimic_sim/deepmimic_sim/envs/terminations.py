"""Early termination tests: pure functions returning ``(num_envs,)`` booleans (torch or NumPy)."""

from __future__ import annotations

from typing import Any

from deepmimic_mocap import rotations as rot

Array = Any  # numpy.ndarray | torch.Tensor


def fell(ground_contact: Array, fall_bodies: Array) -> Array:
    """A body that must not touch the ground does (``(N, B)`` contacts, ``(B,)`` mask)."""
    return rot.namespace(ground_contact).any(ground_contact & fall_bodies, axis=-1)


def drifted(body_pos_sim: Array, body_pos_ref: Array, max_distance: float | Array) -> Array:
    """The mean body distance from the reference exceeds ``max_distance`` (``(N, B, 3)`` each; the
    distance one for all rows or ``(N,)``)."""
    xp = rot.namespace(body_pos_sim)
    return xp.mean(xp.linalg.vector_norm(body_pos_sim - body_pos_ref, axis=-1), axis=-1) > max_distance
