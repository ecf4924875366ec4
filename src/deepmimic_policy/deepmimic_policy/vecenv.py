"""rsl-rl-lib's ``VecEnv`` over our batched ``ImitationEnv`` (one observation group, ``policy``)."""

from __future__ import annotations

from dataclasses import asdict

import torch
from deepmimic_sim.envs import ImitationEnv
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from .policy import append_clip_one_hot


class RslRlVecEnv(VecEnv):
    """Adapts ``ImitationEnv`` to rsl-rl: TensorDict observations, ``dones`` and ``time_outs``.

    Besides rsl-rl's keys, ``extras`` carries ``tracking`` (per-environment tracking errors
    before resets) when ``env.record_tracking`` is set, and ``episode_steps`` of finished episodes.
    """

    def __init__(self, env: ImitationEnv, num_clips: int = 0) -> None:
        self.env = env
        self.num_clips = num_clips  # > 1: the clip one-hot is appended to the observation (train.clip_one_hot)
        self.num_envs = env.num_envs
        self.num_actions = env.num_actions
        self.max_episode_length = env.max_episode_steps
        self.device = env.device
        self.cfg = asdict(env.cfg)

    @property
    def episode_length_buf(self) -> torch.Tensor:
        """Steps taken in the current episode. Shape: ``(num_envs,)``."""
        return self.env.episode_steps

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        self.env.episode_steps[:] = value

    @property
    def num_obs(self) -> int:
        """Observation size, the clip one-hot included."""
        return self.env.num_obs + (self.num_clips if self.num_clips > 1 else 0)

    def _wrap(self, obs: torch.Tensor) -> TensorDict:
        if self.num_clips > 1:  # a remote environment (trainer node) has no motion_ids and no one-hot
            obs = append_clip_one_hot(obs, self.env.motion_ids, self.num_clips)
        return TensorDict({"policy": obs}, batch_size=[self.num_envs], device=self.device)

    def get_observations(self) -> TensorDict:
        """The current observations."""
        return self._wrap(self.env.obs)

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """One control step of every environment."""
        obs, reward, terminated, truncated, info = self.env.step(actions)
        dones = (terminated | truncated).long()
        extras = {"time_outs": truncated, "log": info["log"], "tracking": info["tracking"],
                  "episode_steps": info["episode_steps"], "diverged": info["diverged"]}
        return self._wrap(obs), reward, dones, extras
