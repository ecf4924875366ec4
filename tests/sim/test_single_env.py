"""The NumPy single-environment path (``SingleImitationEnv``, behind ``gymnasium.make``) against
the batched torch ``ImitationEnv`` with one environment: the same physics bit for bit, and the
same observations, rewards, reward terms, terminations and reset states to float32 precision."""

from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import deepmimic_sim  # noqa: F401  (registers the ids)
from deepmimic_sim.envs import ImitationEnv, ImitationEnvCfg
from deepmimic_sim.envs.config import RandomizationCfg
from deepmimic_sim.envs.single_env import SingleImitationEnv, supports

TOL = {"rtol": 1e-5, "atol": 1e-4}  # float32 maths in two libraries


def _pair(motion: str, **overrides) -> tuple[SingleImitationEnv, ImitationEnv]:
    cfg = replace(ImitationEnvCfg(character="humanoid3d", motions=[motion]), num_envs=1, **overrides)
    return SingleImitationEnv(cfg), ImitationEnv(cfg, auto_reset=False)


def _sync(fast: SingleImitationEnv, batched: ImitationEnv) -> None:
    """Check the reset states agree, then start both from the batched one's float64 state (the RSI
    states differ in the last float32 bits, which the chaotic dynamics would amplify)."""
    qpos, qvel = batched.backend.qpos[0].numpy(), batched.backend.qvel[0].numpy()
    np.testing.assert_allclose(fast.qpos, qpos, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fast.qvel, qvel, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fast.obs, batched.obs[0].numpy(), **TOL)
    fast.set_state(qpos, qvel)
    np.testing.assert_allclose(fast.obs, batched.obs[0].numpy(), **TOL)


def _step_both(fast, batched, actions, exact=True):
    """One step of each; ``exact``: the same PD targets, so the same physics bit for bit (residual
    actions add float32 hinge angles computed by NumPy and by torch: the states are then only close,
    and the single env is moved onto the batched state after the comparison)."""
    out_f = fast.step(actions)
    out_b = batched.step(torch.from_numpy(actions[None]))
    obs, reward, terminated, truncated, info = out_f
    qpos, qvel = batched.backend.qpos[0].numpy(), batched.backend.qvel[0].numpy()
    if exact:
        np.testing.assert_array_equal(fast.qpos, qpos)
        np.testing.assert_array_equal(fast.qvel, qvel)
    else:
        np.testing.assert_allclose(fast.qpos, qpos, rtol=0, atol=1e-6)
        np.testing.assert_allclose(fast.qvel, qvel, rtol=0, atol=1e-4)
    np.testing.assert_allclose(obs, out_b[0][0].numpy(), **TOL)
    np.testing.assert_allclose(reward, float(out_b[1][0]), **TOL)
    log_b = {k: float(v) for k, v in out_b[4]["log"].items()}
    assert info["log"].keys() == log_b.keys()
    np.testing.assert_allclose(list(info["log"].values()), list(log_b.values()), **TOL)
    assert (terminated, truncated) == (bool(out_b[2][0]), bool(out_b[3][0]))
    causes_b = {k: bool(v[0]) for k, v in out_b[4]["termination_causes"].items()}
    assert info["termination_causes"] == causes_b
    if not exact:
        fast.set_state(qpos.copy(), qvel.copy())
    return terminated, truncated


def test_readings_and_physics_equal_the_cpu_backend_bit_for_bit():
    fast, batched = _pair("walk")
    fast.set_state(batched.backend.qpos[0].numpy(), batched.backend.qvel[0].numpy())
    for name, reading in [("body_pos_w", fast.body_pos), ("body_quat_w", fast.body_quat),
                          ("body_lin_vel_w", fast.body_lin_vel), ("body_ang_vel_w", fast.body_ang_vel),
                          ("com_pos_w", fast.com_pos), ("ground_contact", fast.ground_contact)]:
        expected = getattr(batched.backend, name)
        expected = expected.numpy() if expected.dtype == torch.bool else expected.float().numpy()
        np.testing.assert_array_equal(reading, expected, err_msg=name)


@pytest.mark.parametrize(("motion", "overrides"), [
    ("walk", {}),
    ("walk", {"observation": replace(ImitationEnvCfg().observation, future_steps=[1, 3])}),
    ("walk", {"action": replace(ImitationEnvCfg().action, mode="residual")}),
])
def test_side_by_side_with_random_actions_across_episode_ends(motion, overrides):
    fast, batched = _pair(motion, **overrides)
    rng = np.random.default_rng(0)
    _sync(fast, batched)
    ends = 0
    for _ in range(250):
        actions = rng.uniform(-1, 1, fast.num_actions).astype(np.float32)
        terminated, truncated = _step_both(fast, batched, actions, exact=fast.cfg.action.mode == "absolute")
        if terminated or truncated:
            ends += 1
            fast.reset()
            batched.reset()
            _sync(fast, batched)
    assert ends >= 2  # random actions fall within a few dozen steps: resets are covered


def test_non_looping_clip_truncates_at_its_end_on_both_paths():
    fast, batched = _pair("getup_faceup")
    assert not fast._wrap
    for start_steps_before_end in (4, 7):
        start = np.float32(fast._duration - start_steps_before_end * fast.control_dt)
        fast.reset(time=float(start))
        batched.reset(times=torch.tensor([start]))
        _sync(fast, batched)
        zero = np.zeros(fast.num_actions, np.float32)
        steps = 0
        while True:
            terminated, truncated = _step_both(fast, batched, zero)
            steps += 1
            if terminated or truncated:
                break
        assert truncated and steps <= start_steps_before_end + 1


def test_seeded_resets_draw_what_the_batched_path_draws():
    fast = gym.make("DeepMimic/HumanoidWalk-v0").unwrapped
    slow = gym.make("DeepMimic/HumanoidWalk-v0", fast=False).unwrapped
    assert fast.fast is not None and slow.fast is None
    for seed in (0, 7):
        obs_f, _ = fast.reset(seed=seed)
        obs_s, _ = slow.reset(seed=seed)
        np.testing.assert_allclose(obs_f, obs_s, **TOL)
        again, _ = fast.reset(seed=seed)
        np.testing.assert_array_equal(obs_f, again)
    other, _ = fast.reset(seed=1)
    assert not np.allclose(other, obs_f)


def test_unsupported_configurations_fall_back_to_the_batched_path():
    cfg = ImitationEnvCfg(character="humanoid3d", motions=["walk"],
                          randomization=RandomizationCfg(enabled=True, action_delay=[0, 2]))
    assert "randomisation" in supports(cfg)
    with pytest.raises(ValueError, match="does not support domain randomisation"):
        SingleImitationEnv(cfg)
    env = gym.make("DeepMimic/HumanoidWalk-v0", randomization=cfg.randomization).unwrapped
    assert env.fast is None
    env.reset(seed=0)
    env.step(env.action_space.sample())


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fast_path_passes_the_checkers_and_renders():
    env = gym.make("DeepMimic/HumanoidWalk-v0", render_mode="rgb_array").unwrapped
    assert env.fast is not None
    check_env(env, skip_render_check=True)
    env.reset(seed=0)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.std() > 0
    env.close()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fast_path_passes_stable_baselines3_checker():
    sb3 = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3.check_env(gym.make("DeepMimic/HumanoidWalk-v0"))
