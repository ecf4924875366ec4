"""Core helpers behind the nodes: observation from a robot state, actions, command hold, reference clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from deepmimic_sim.actions import action_offset_scale, actions_to_targets
from deepmimic_sim.command_hold import CommandHold
from deepmimic_sim.envs.config import ActionCfg, ImitationEnvCfg, ObservationCfg
from deepmimic_sim.envs.imitation_env import ImitationEnv
from deepmimic_sim.reference import ReferenceClip
from deepmimic_sim.robot_state import RobotKinematics, policy_observation, root_arrays, state_from_arrays


@pytest.fixture(scope="module")
def clip():
    return ReferenceClip("walk")


@pytest.fixture(scope="module")
def kinematics():
    return RobotKinematics("humanoid3d")


@pytest.mark.parametrize("future_steps", [[], [1, 3]])
def test_observation_matches_the_environment(clip, kinematics, future_steps):
    cfg = ImitationEnvCfg(num_envs=1, seed=3, observation=ObservationCfg(future_steps=future_steps),
                          action=ActionCfg(mode="residual", residual_scale=0.25))
    env = ImitationEnv(cfg)
    gen = torch.Generator().manual_seed(0)
    try:
        for step in range(6):
            qpos, qvel = env.backend.qpos[0].numpy().copy(), env.backend.qvel[0].numpy().copy()
            ref_time = float(env._times()[0])
            ours = policy_observation(kinematics, clip, qpos, qvel, ref_time, cfg.observation, env.control_dt)
            assert ours.shape == env.obs.shape
            assert torch.equal(ours, env.obs), (step, (ours - env.obs).abs().max())  # bit-identical
            # Actions -> targets agree too (residual: next reference from the clip).
            actions = torch.randn(1, env.num_actions, generator=gen)
            next_ref = clip.hinge_angles(np.float64(ref_time) + env.control_dt)
            ours_t, _ = actions_to_targets(actions, cfg.action, action_offset_scale(env.mapping.hinge_ranges(), cfg.action),
                                           next_ref)
            theirs_t, _ = env.actions_to_targets(actions)
            assert torch.equal(ours_t, theirs_t)
            env.step(actions)
    finally:
        env.backend.close()


def test_deployed_controller_matches_the_environment_bit_for_bit():
    """What trains is what deploys: the policy node's ``PolicyController`` and ``ImitationEnv`` give
    identical observations and PD targets for the same state, reference time and policy."""
    from dataclasses import replace
    from pathlib import Path

    from deepmimic_policy.controller import PolicyController

    controller = PolicyController(Path(__file__).resolve().parents[2] / "policies" / "humanoid3d_walk.pt")
    env = ImitationEnv(replace(controller.policy.experiment.env, num_envs=1, seed=5))
    try:
        for step in range(8):
            qpos, qvel = env.backend.qpos[0].numpy().copy(), env.backend.qvel[0].numpy().copy()
            ref_time = float(env._times()[0])
            obs = controller.observation(qpos, qvel, "walk", ref_time)
            assert torch.equal(obs, env.obs), step
            deployed = controller.targets(qpos, qvel, "walk", ref_time)
            actions = controller.policy.act(env.obs)
            trained, _ = env.actions_to_targets(actions)
            np.testing.assert_array_equal(deployed, trained[0].double().numpy())
            env.step(actions)
    finally:
        env.backend.close()


def test_reset_state_is_the_reference_clips_state(clip):
    env = ImitationEnv(ImitationEnvCfg(num_envs=3))
    try:
        times = torch.tensor([0.0, 0.37, 0.9])
        env.reset(times=times)
        qpos, qvel = clip.state(times)
        np.testing.assert_array_equal(env.backend.qpos.numpy(), qpos)
        np.testing.assert_array_equal(env.backend.qvel.numpy(), qvel)
    finally:
        env.backend.close()


def test_absolute_actions_match_the_environment():
    env = ImitationEnv(ImitationEnvCfg(num_envs=2))
    try:
        actions = torch.tensor([[0.3] * env.num_actions, [float("nan")] + [-2.0] * (env.num_actions - 1)])
        ours, bad = actions_to_targets(actions, env.cfg.action,
                                       action_offset_scale(env.mapping.hinge_ranges(), env.cfg.action))
        theirs, bad_env = env.actions_to_targets(actions)
        assert torch.allclose(ours, theirs) and bad == bad_env == 1
    finally:
        env.backend.close()


def test_root_arrays_round_trip():
    rng = np.random.default_rng(0)
    quat = rng.normal(size=4)
    qpos = np.concatenate([[0.1, 0.2, 0.9], quat / np.linalg.norm(quat), rng.normal(size=28)])
    qvel = rng.normal(size=34)
    root = root_arrays(qpos, qvel)
    back_pos, back_vel = state_from_arrays(root, qpos[7:], qvel[6:])
    np.testing.assert_allclose(back_pos, qpos, atol=1e-12)
    np.testing.assert_allclose(back_vel, qvel, atol=1e-12)


def test_command_hold_ramps_without_a_jump():
    hold = CommandHold(np.zeros(3), now=0.0, timeout_s=0.5, ramp_s=1.0)
    hold.command(np.array([1.0, -1.0, 0.5]), now=0.1)
    dt, pose = 1 / 30, np.array([0.2, 0.2, 0.2])
    out, t = [], 0.1
    while t < 2.0:
        out.append(hold.targets(t, pose))
        t += dt
    out = np.array(out)
    np.testing.assert_allclose(out[0], [1.0, -1.0, 0.5])
    assert np.abs(np.diff(out, axis=0)).max() <= 1.2 * dt / 1.0 + 1e-9  # |1.0 - (-0.2)| * dt / ramp
    np.testing.assert_allclose(out[-1], pose)
    assert hold.state == "timed_out"
    hold.command(np.ones(3), now=t)
    assert hold.state == "commanded" and np.allclose(hold.targets(t, pose), 1.0)


def test_reference_clip_samples(clip):
    sample = clip.sample(0.5)
    assert sample.hinge_positions.shape == (28,) and 0 <= sample.phase < 1
    rate, qpos, qvel, times = clip.sampled(0.0)
    assert qpos.shape == (len(times), 35) and qvel.shape == (len(times), 34)
    assert times[-1] <= clip.duration + 1e-9 and rate == pytest.approx(clip.motion.fps)
