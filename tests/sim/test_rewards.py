"""Reward, observation and termination terms against hand-worked values (no simulator)."""

import math

import pytest
import torch

from deepmimic_mocap import rotations as rot
from deepmimic_sim.envs import metrics, observations, terminations
from deepmimic_sim.envs.config import RewardCfg
from deepmimic_sim.envs.rewards import (
    com_error,
    end_effector_error,
    imitation_reward,
    pose_error,
    root_error,
    velocity_error,
)

NUM_ENVS = 2
NUM_JOINTS = 3


def _identity(n: int = NUM_ENVS, j: int = NUM_JOINTS) -> torch.Tensor:
    q = torch.zeros(n, j, 4)
    q[..., 0] = 1.0
    return q


def test_zero_error_gives_reward_one():
    cfg = RewardCfg()
    errors = {"pose": torch.zeros(NUM_ENVS), "velocity": torch.zeros(NUM_ENVS),
              "end_effector": torch.zeros(NUM_ENVS), "com": torch.zeros(NUM_ENVS), "root": torch.zeros(NUM_ENVS)}
    reward, terms = imitation_reward(cfg, errors)
    torch.testing.assert_close(reward, torch.ones(NUM_ENVS))  # the paper's weights sum to 1; root's is 0
    assert set(terms) == {"pose", "velocity", "end_effector", "com", "root"}


def test_pose_error_is_squared_rotation_angle():
    sim = _identity()
    sim[0, 1] = rot.quat_from_axis_angle(torch.tensor([0.0, 0.0, 1.0]), torch.tensor(0.5))
    err = pose_error(sim, _identity(), torch.ones(NUM_JOINTS))
    torch.testing.assert_close(err, torch.tensor([0.25, 0.0]))
    reward, terms = imitation_reward(RewardCfg(), {"pose": err})
    assert math.isclose(float(terms["pose"][0]), math.exp(-2.0 * 0.25), rel_tol=1e-6)
    assert math.isclose(float(reward[0]), 0.65 * math.exp(-0.5), rel_tol=1e-6)


def test_velocity_end_effector_and_com_errors():
    w_sim = torch.zeros(NUM_ENVS, NUM_JOINTS, 3)
    w_sim[0, 2] = torch.tensor([1.0, 2.0, 0.0])
    torch.testing.assert_close(velocity_error(w_sim, torch.zeros_like(w_sim), torch.ones(NUM_JOINTS)),
                               torch.tensor([5.0, 0.0]))
    ee = torch.zeros(NUM_ENVS, 4, 3)
    ee[1, :, 0] = 0.1  # every end effector 10 cm off
    torch.testing.assert_close(end_effector_error(ee, torch.zeros_like(ee)), torch.tensor([0.0, 0.04]))
    torch.testing.assert_close(com_error(torch.tensor([[0.0, 0.3, 0.4]]), torch.zeros(1, 3)), torch.tensor([0.25]))


def test_root_error_weights_position_rotation_and_velocities():
    pos_ref, vel_ref = torch.zeros(1, 3), torch.zeros(1, 3)
    quat_ref = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    quat_sim = rot.quat_from_yaw(torch.tensor([0.5]))
    err = root_error(torch.tensor([[0.3, 0.4, 0.0]]), quat_sim, torch.tensor([[1.0, 0.0, 0.0]]),
                     torch.tensor([[0.0, 0.0, 2.0]]), pos_ref, quat_ref, vel_ref, vel_ref)
    # 0.5^2 m^2 + 0.1 * 0.5^2 rad^2 + 0.01 * 1 + 0.001 * 4
    torch.testing.assert_close(err, torch.tensor([0.25 + 0.025 + 0.01 + 0.004]))
    _, terms = imitation_reward(RewardCfg(root_weight=0.2), {"root": err})
    assert math.isclose(float(terms["root"][0]), math.exp(-5.0 * 0.289), rel_tol=1e-6)


def test_heading_frame_observation_is_yaw_invariant():
    n, b = 1, 3
    root_pos = torch.tensor([[1.0, 2.0, 0.9]])
    body_pos = root_pos[:, None] + torch.tensor([[[0.0, 0.0, 0.0], [0.1, 0.2, 0.3], [-0.2, 0.0, -0.5]]])
    body_quat = _identity(n, b)
    vel = torch.ones(n, b, 3)
    base = observations.character_state(root_pos, body_quat[:, 0], body_pos, body_quat, vel, vel)
    yaw = rot.quat_from_yaw(torch.tensor([0.7]))
    turned_quat = rot.quat_mul(yaw[:, None].expand(n, b, 4), body_quat)
    turned_pos = root_pos[:, None] + rot.quat_rotate(yaw[:, None].expand(n, b, 4), body_pos - root_pos[:, None])
    turned_vel = rot.quat_rotate(yaw[:, None].expand(n, b, 4), vel)
    turned = observations.character_state(root_pos, turned_quat[:, 0], turned_pos, turned_quat, turned_vel,
                                          turned_vel)
    torch.testing.assert_close(turned, base, atol=1e-6, rtol=0)
    assert base.shape == (1, 1 + b * 13)
    assert float(base[0, 0]) == pytest.approx(0.9)  # root height first


def test_terminations_and_metrics():
    contact = torch.tensor([[True, False, False], [False, True, False]])
    fall_bodies = torch.tensor([True, False, False])
    assert terminations.fell(contact, fall_bodies).tolist() == [True, False]
    pos = torch.zeros(2, 3, 3)
    far = pos.clone()
    far[1] += 1.0
    assert terminations.drifted(pos, far, 0.5).tolist() == [False, True]
    # MPJPE: a pure translation is a global error, not a root-relative one.
    torch.testing.assert_close(metrics.mpjpe(far, pos, root_relative=False), torch.tensor([0.0, math.sqrt(3)]))
    torch.testing.assert_close(metrics.mpjpe(far, pos, root_relative=True), torch.zeros(2))
    q = _identity()
    q[:, 1] = rot.quat_from_axis_angle(torch.tensor([1.0, 0.0, 0.0]), torch.tensor(0.3))
    err = metrics.joint_rotation_error(q, _identity(), torch.tensor([False, True, True]))
    torch.testing.assert_close(err, torch.tensor([0.15, 0.15]))
