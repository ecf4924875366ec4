"""DeepMimic's imitation reward terms: pure functions of batched tensors.

Each term returns ``exp(-scale * err)`` with shape ``(num_envs,)``; ``imitation_reward`` weights
and sums them and returns the terms too, logged as ``reward/<term>``. Torch tensors (the batched
environment) or NumPy arrays (``SingleImitationEnv``), the namespace picked per call.

``imitation_errors`` gathers the five errors from the simulated body readings and the reference,
for ``ImitationEnv`` and ``SingleImitationEnv``; ``sim_local_quat``/``sim_local_ang_vel``/``reference_com`` are the
simulated joints and the reference's centre of mass both environments use.
"""

from __future__ import annotations

from typing import Any

from deepmimic_mocap import rotations as rot

from .config import RewardCfg

Array = Any  # numpy.ndarray | torch.Tensor


def sim_local_quat(body_quat_w: Array, parents: Array) -> Array:
    """Local joint rotations of simulated bodies ``(N, J, 4)`` (root: world); ``parents`` ``(J,)``, root's 0."""
    xp = rot.namespace(body_quat_w)
    local = rot.quat_mul(rot.quat_conj(body_quat_w[:, parents]), body_quat_w)
    return xp.concat([body_quat_w[:, :1], local[:, 1:]], axis=1)


def sim_local_ang_vel(body_quat_w: Array, body_ang_vel_w: Array, parents: Array) -> Array:
    """Joint angular velocities relative to the parent, joint frame (root: world). Shape: ``(N, J, 3)``."""
    xp = rot.namespace(body_quat_w)
    rel = rot.quat_rotate_inverse(body_quat_w, body_ang_vel_w - body_ang_vel_w[:, parents])
    return xp.concat([body_ang_vel_w[:, :1], rel[:, 1:]], axis=1)


def reference_com(body_pos: Array, body_quat: Array, body_com: Array, body_mass: Array) -> Array:
    """Centre of mass ``(N, 3)`` of bodies at ``body_pos``/``body_quat`` ``(N, B, 3|4)``, with centres
    ``body_com`` ``(B, 3)`` in body frames and mass fractions ``body_mass`` ``(B,)``."""
    xp = rot.namespace(body_pos)
    centres = body_pos + rot.quat_rotate(body_quat, xp.broadcast_to(body_com, body_pos.shape))
    return xp.sum(body_mass[:, None] * centres, axis=1)


def imitation_errors(body_pos: Array, body_quat: Array, body_lin_vel: Array, body_ang_vel: Array, com_pos: Array,
                     ref: Any, ref_pos: Array, ref_quat: Array, parents: Array, joint_weights: Array,
                     end_effectors: Array, body_com: Array, body_mass: Array) -> dict[str, Array]:
    """The five errors of :func:`imitation_reward` from the simulated readings (``(N, B, 3|4)``,
    centre of mass ``(N, 3)``, float32) and the reference (``MotionFrames`` ``ref`` and its body
    poses ``ref_pos``/``ref_quat``)."""
    xp = rot.namespace(body_pos)
    ref_ang_vel = xp.concat([ref.root_ang_vel[:, None], ref.joint_ang_vel[:, 1:]], axis=1)
    ee = end_effectors
    return {
        "pose": pose_error(sim_local_quat(body_quat, parents), ref.local_quat, joint_weights),
        "velocity": velocity_error(sim_local_ang_vel(body_quat, body_ang_vel, parents), ref_ang_vel, joint_weights),
        "end_effector": end_effector_error(body_pos[:, ee] - body_pos[:, :1], ref_pos[:, ee] - ref_pos[:, :1]),
        "com": com_error(com_pos, reference_com(ref_pos, ref_quat, body_com, body_mass)),
        "root": root_error(body_pos[:, 0], body_quat[:, 0], body_lin_vel[:, 0], body_ang_vel[:, 0], ref.root_pos,
                           ref.root_quat, ref.root_lin_vel, ref.root_ang_vel),
    }


def pose_error(local_quat_sim: Array, local_quat_ref: Array, weights: Array) -> Array:
    """Weighted sum of squared rotation angles between sim and reference local rotations.

    Args:
        local_quat_sim, local_quat_ref: Shape ``(N, J, 4)``.
        weights: Per-joint weights. Shape: ``(J,)``.
    """
    angle = rot.quat_angle_between(local_quat_ref, local_quat_sim)
    return rot.namespace(angle).sum(weights * angle * angle, axis=-1)


def velocity_error(ang_vel_sim: Array, ang_vel_ref: Array, weights: Array) -> Array:
    """Weighted sum of squared angular-velocity differences (``(N, J, 3)`` each)."""
    xp = rot.namespace(ang_vel_sim)
    return xp.sum(weights * xp.sum((ang_vel_sim - ang_vel_ref) ** 2, axis=-1), axis=-1)


def end_effector_error(ee_pos_sim: Array, ee_pos_ref: Array) -> Array:
    """Sum of squared end-effector position differences (``(N, E, 3)`` each)."""
    return rot.namespace(ee_pos_sim).sum((ee_pos_sim - ee_pos_ref) ** 2, axis=(-1, -2))


def com_error(com_sim: Array, com_ref: Array) -> Array:
    """Squared centre-of-mass distance (``(N, 3)`` each)."""
    return rot.namespace(com_sim).sum((com_sim - com_ref) ** 2, axis=-1)


def root_error(root_pos_sim: Array, root_quat_sim: Array, root_lin_vel_sim: Array,
               root_ang_vel_sim: Array, root_pos_ref: Array, root_quat_ref: Array,
               root_lin_vel_ref: Array, root_ang_vel_ref: Array) -> Array:
    """DeepMimic's released root error ``|dp|^2 + 0.1 theta^2 + 0.01 |dv|^2 + 0.001 |dw|^2``, world frame.

    Positions ``(N, 3)``, rotations ``(N, 4)``, velocities ``(N, 3)``.
    """
    angle = rot.quat_angle_between(root_quat_ref, root_quat_sim)
    xp = rot.namespace(angle)
    return (xp.sum((root_pos_sim - root_pos_ref) ** 2, axis=-1) + 0.1 * angle * angle
            + 0.01 * xp.sum((root_lin_vel_sim - root_lin_vel_ref) ** 2, axis=-1)
            + 0.001 * xp.sum((root_ang_vel_sim - root_ang_vel_ref) ** 2, axis=-1))


def imitation_reward(cfg: RewardCfg, errors: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
    """Weighted sum of ``exp(-scale * error)`` over the terms given (``pose``, ``velocity``,
    ``end_effector``, ``com``, ``root``).

    Returns:
        The reward (``(N,)``) and each term's ``exp(-scale * error)`` by name.
    """
    xp = rot.namespace(*errors.values())
    terms = {name: xp.exp(-getattr(cfg, f"{name}_scale") * err) for name, err in errors.items()}
    total = sum(getattr(cfg, f"{name}_weight") * value for name, value in terms.items())
    return total, terms
