"""The MuJoCo model's kinematics agree with the motion library's forward kinematics.

Every frame of every bundled clip is put into the backend (one environment per frame, one batched
``reset`` per clip) through ``JointMapping``; the backend's body frames must match
``Motion.body_pos()`` and the FK orientations (errors ~1e-15).

Velocities: each environment is put at the midpoint of frames ``t`` and ``t + 1`` (root
position interpolated, rotations slerped) with the velocities of that path, ``JointMapping.qvel``
of the finite differences of the frames (a slerp path has constant angular velocity, so these are
exact there). MuJoCo's body velocities are compared with central differences of the library's
forward kinematics along the same path, ``(FK(1/2 + h) - FK(1/2 - h)) / (2 h dt)`` with
``h = 1e-3`` frames (truncation error ~1e-6 m/s), with tolerance ``1e-3 * (1 + speed)``.
Comparing with differences of the clip's own frames instead, ``(x[t+1] - x[t]) / dt``, cannot be
tight: the backflip turns a joint 109 degrees between two frames, where chord and arc differ by
14 % (errors up to 1.8 m/s); walks agree to about 1 cm/s.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch
from deepmimic_mocap.assets import bundled_motions
from deepmimic_mocap.kinematics import forward_kinematics
from deepmimic_sim.backends.mujoco_cpu import MujocoCpuBackend
from deepmimic_sim.model.joint_mapping import JointMapping

from deepmimic_mocap import load_character, load_motion
from deepmimic_mocap import rotations as rot

H = 1e-3
"""Half-step of the velocity central differences, in frames."""
VEL_TOL = 1e-3
"""Velocity tolerance: ``VEL_TOL * (1 + speed)`` (m/s or rad/s)."""
CLIPS = [(p.stem.split("_")[0], p) for c in ("humanoid3d", "dog3d") for p in bundled_motions(c)]


@cache
def _mapping(character: str) -> JointMapping:
    return JointMapping(load_character(character))


def _backend(character: str, num_envs: int) -> MujocoCpuBackend:
    return MujocoCpuBackend(character, num_envs=num_envs)


def _quat_error(q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Rotation angle between quaternions (sign-free), radians."""
    return rot.quat_angle_between(rot.quat_normalize(q0), rot.quat_normalize(q1))


def test_clips_found() -> None:
    assert len([c for c in CLIPS if c[0] == "humanoid3d"]) >= 10
    assert any(c[0] == "dog3d" for c in CLIPS)


@pytest.mark.parametrize(("character", "path"), CLIPS, ids=[p.stem for _, p in CLIPS])
def test_body_poses_match_fk(character: str, path) -> None:
    motion = load_motion(path)
    mapping = _mapping(character)
    qpos = mapping.qpos(motion.root_pos, motion.root_quat, motion.local_quat())
    backend = _backend(character, motion.num_frames)
    zero_qvel = torch.zeros(motion.num_frames, backend.model.nv, dtype=torch.float64)
    backend.reset(torch.arange(motion.num_frames), torch.from_numpy(qpos), zero_qvel)
    fk_pos, fk_quat = forward_kinematics(motion.skeleton, motion.root_pos, motion.root_quat, motion.local_quat())
    pos_err = np.abs(backend.body_pos_w.numpy() - motion.body_pos()).max()
    quat_err = _quat_error(backend.body_quat_w.numpy(), fk_quat).max()
    assert pos_err < 1e-3, f"body position error {pos_err:.3g} m"
    assert quat_err < 1e-3, f"body orientation error {quat_err:.3g} rad"
    assert np.abs(backend.body_pos_w.numpy() - fk_pos).max() < 1e-6  # ~1e-15 in practice


def _slerp_path(motion, s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Root position, root rotation and local rotations at fraction ``s`` between consecutive frames."""
    local = motion.local_quat()
    local_s = rot.quat_slerp(local[:-1], local[1:], np.full(local[:-1].shape[:-1], s))
    root_pos_s = (1.0 - s) * motion.root_pos[:-1] + s * motion.root_pos[1:]
    return root_pos_s, local_s[:, 0], local_s


def _midpoint_states(motion, mapping: JointMapping) -> tuple[np.ndarray, np.ndarray]:
    """qpos at the slerp midpoints of consecutive frames and the (constant) qvel of the slerp paths."""
    dt = np.diff(motion.frame_times)[:, None]
    local = motion.local_quat()
    root_pos_mid, root_quat_mid, local_mid = _slerp_path(motion, 0.5)
    qpos = mapping.qpos(root_pos_mid, root_quat_mid, local_mid)
    root_lin_vel = np.diff(motion.root_pos, axis=0) / dt
    root_ang_vel = rot.angular_velocity(motion.root_quat[:-1], motion.root_quat[1:], dt)
    joint_ang_vel = rot.angular_velocity(local[:-1], local[1:], dt[:, :, None], local=True)
    qvel = mapping.qvel(root_quat_mid, root_lin_vel, root_ang_vel, qpos[:, 7:], joint_ang_vel)
    return qpos, qvel


def _fk_differences(motion) -> tuple[np.ndarray, np.ndarray]:
    """Body velocities at the midpoints by central differences (step ``2 H`` frames) of library FK."""
    dt = np.diff(motion.frame_times)[:, None, None]
    pos_q = [forward_kinematics(motion.skeleton, *_slerp_path(motion, 0.5 + sign * H)) for sign in (-1.0, 1.0)]
    (pos0, quat0), (pos1, quat1) = pos_q
    return (pos1 - pos0) / (2.0 * H * dt), rot.angular_velocity(quat0, quat1, 2.0 * H * dt)


@pytest.mark.parametrize(("character", "path"), CLIPS, ids=[p.stem for _, p in CLIPS])
def test_body_velocities_match_fk_differences(character: str, path) -> None:
    motion = load_motion(path)
    qpos, qvel = _midpoint_states(motion, _mapping(character))
    n = len(qpos)
    backend = _backend(character, n)
    backend.reset(torch.arange(n), torch.from_numpy(qpos), torch.from_numpy(qvel))
    lin_fd, ang_fd = _fk_differences(motion)
    lin_err = np.linalg.norm(backend.body_lin_vel_w.numpy() - lin_fd, axis=-1)
    ang_err = np.linalg.norm(backend.body_ang_vel_w.numpy() - ang_fd, axis=-1)
    lin_tol = VEL_TOL * (1.0 + np.linalg.norm(lin_fd, axis=-1))
    ang_tol = VEL_TOL * (1.0 + np.linalg.norm(ang_fd, axis=-1))
    assert (lin_err < lin_tol).all(), f"linear velocity error up to {lin_err.max():.3g} m/s"
    assert (ang_err < ang_tol).all(), f"angular velocity error up to {ang_err.max():.3g} rad/s"
