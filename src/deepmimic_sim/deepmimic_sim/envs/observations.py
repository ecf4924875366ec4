"""Observations: DeepMimic's character state in the heading frame, plus phase and optional
reference frames ahead. Pure functions of batched arrays: torch tensors (the batched environment)
or NumPy arrays (``SingleImitationEnv``), the namespace picked per call (``rotations._xp``)."""

from __future__ import annotations

from typing import Any

from deepmimic_mocap import rotations as rot

Array = Any  # numpy.ndarray | torch.Tensor


def heading_quat(root_quat: Array) -> Array:
    """Rotation about world z by the root's heading (yaw). Shape: ``(N, 4)``."""
    return rot.quat_from_yaw(rot.quat_yaw(root_quat))


def _in_heading(heading: Array, vectors: Array) -> Array:
    """Express world vectors ``(N, B, 3)`` in the heading frame."""
    xp = rot.namespace(heading)
    return rot.quat_rotate_inverse(xp.broadcast_to(heading[:, None, :], (*vectors.shape[:-1], 4)), vectors)


def _quat_in_heading(heading: Array, quats: Array) -> Array:
    """Body rotations ``(N, B, 4)`` relative to the heading frame, with ``w >= 0``."""
    xp = rot.namespace(heading)
    return rot.quat_normalize(rot.quat_mul(xp.broadcast_to(rot.quat_conj(heading)[:, None, :], quats.shape), quats))


def character_state(root_pos: Array, root_quat: Array, body_pos: Array, body_quat: Array,
                    body_lin_vel: Array, body_ang_vel: Array) -> Array:
    """DeepMimic's state: root height, body positions (relative to the root) and rotations, body
    linear and angular velocities, all in the heading frame. Shape: ``(N, 1 + B * 13)``.

    Args:
        root_pos, root_quat: ``(N, 3)``, ``(N, 4)``.
        body_pos, body_quat, body_lin_vel, body_ang_vel: ``(N, B, 3|4)``, world.
    """
    heading = heading_quat(root_quat)
    num = root_pos.shape[0]
    rel_pos = _in_heading(heading, body_pos - root_pos[:, None, :])
    parts = [root_pos[:, 2:3], rel_pos.reshape(num, -1), _quat_in_heading(heading, body_quat).reshape(num, -1),
             _in_heading(heading, body_lin_vel).reshape(num, -1), _in_heading(heading, body_ang_vel).reshape(num, -1)]
    return rot.namespace(root_pos).concat(parts, axis=-1)


def reference_targets(root_pos: Array, root_quat: Array, ref_body_pos: Array,
                      ref_body_quat: Array) -> Array:
    """Reference body positions and rotations relative to the simulated root, heading frame.

    Args:
        root_pos, root_quat: The simulated root. ``(N, 3)``, ``(N, 4)``.
        ref_body_pos, ref_body_quat: Reference bodies at a future time. ``(N, B, 3)``, ``(N, B, 4)``.

    Returns:
        Shape ``(N, B * 7)``.
    """
    heading = heading_quat(root_quat)
    rel = _in_heading(heading, ref_body_pos - root_pos[:, None, :])
    quat = _quat_in_heading(heading, ref_body_quat)
    return rot.namespace(rel).concat([rel.reshape(len(rel), -1), quat.reshape(len(rel), -1)], axis=-1)


def policy_observation(body_pos: Array, body_quat: Array, body_lin_vel: Array,
                       body_ang_vel: Array, phase: Array | None,
                       future_poses: list[tuple[Array, Array]]) -> Array:
    """The policy's whole observation: ``[phase], character_state, reference_targets per future step``.

    Written once for the environment and for the policy node. Body 0 is the root. NaN or inf
    (a diverged simulation) become 0 so that no NaN ever reaches a policy.

    Args:
        body_pos, body_quat, body_lin_vel, body_ang_vel: World body state, ``(N, B, 3|4)``.
        phase: Clip phase ``(N,)``, or ``None`` when the observation has none.
        future_poses: Reference body positions and rotations at each future step.
    """
    root_pos, root_quat = body_pos[:, 0], body_quat[:, 0]
    parts = [character_state(root_pos, root_quat, body_pos, body_quat, body_lin_vel, body_ang_vel)]
    if phase is not None:
        parts.insert(0, phase[:, None])
    parts += [reference_targets(root_pos, root_quat, pos, quat) for pos, quat in future_poses]
    xp = rot.namespace(body_pos)
    return xp.nan_to_num(xp.concat(parts, axis=-1), nan=0.0, posinf=0.0, neginf=0.0)
