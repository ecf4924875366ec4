"""Gymnasium: every registered id creates, resets and steps (playground-style), and the walk
environment passes Gymnasium's own checker."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import deepmimic_sim


def test_every_clip_is_registered():
    assert "DeepMimic/HumanoidWalk-v0" in deepmimic_sim.ENV_IDS
    assert "DeepMimic/HumanoidStealthyWalk-v0" in deepmimic_sim.ENV_IDS
    assert "DeepMimic/Dog3dTrot-v0" in deepmimic_sim.ENV_IDS
    assert "DeepMimic/G1Walk-v0" in deepmimic_sim.ENV_IDS
    assert len(deepmimic_sim.ENV_IDS) == 21
    assert gym.spec("DeepMimic/G1Walk-v0").kwargs["substeps"] == 4  # the G1's 50 Hz, not humanoid3d's 30


@pytest.mark.parametrize("env_id", deepmimic_sim.ENV_IDS)
def test_create_reset_step(env_id):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape and obs.dtype == np.float32
    for _ in range(3):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert np.isfinite(obs).all() and np.isfinite(reward)
    env.close()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_walk_passes_gymnasium_checker():
    env = gym.make("DeepMimic/HumanoidWalk-v0")
    check_env(env.unwrapped, skip_render_check=True)


def test_vector_env_steps_all_characters_at_once():
    envs = gym.make_vec("DeepMimic/HumanoidWalk-v0", num_envs=8, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=3)
    assert obs.shape == (8, 197)
    obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert reward.shape == (8,) and terminated.dtype == bool
    assert info["final_obs"].shape == (8, 197)
