"""Gymnasium wrappers: one environment per clip (``DeepMimic/HumanoidWalk-v0``) and a batched
vector environment over the same ``ImitationEnv``.

``gymnasium.make("deepmimic_sim:DeepMimic/HumanoidWalk-v0")`` imports this package and builds the
single environment; ``gymnasium.make_vec(id, num_envs=N)`` builds the batched one, which steps
all N characters in one backend call (no per-environment Python loop).

The single environment steps ``envs.single_env.SingleImitationEnv`` (NumPy and ``mj_step``, the
same observation, reward and termination functions as the batched path, ~10x faster for one
character) when the configuration allows it, else ``ImitationEnv(num_envs=1)``; ``fast=False``
forces the batched one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv

from deepmimic_mocap import load_character
from deepmimic_mocap.assets import bundled_motions, resolve_character

from .envs import ImitationEnv, ImitationEnvCfg
from .envs.single_env import SingleImitationEnv, supports


def _spaces(env: ImitationEnv | SingleImitationEnv) -> tuple[gym.spaces.Box, gym.spaces.Box]:
    obs = gym.spaces.Box(-np.inf, np.inf, (env.num_obs,), np.float32)
    limit = env.cfg.action.clip
    act = gym.spaces.Box(-limit, limit, (env.num_actions,), np.float32)
    return obs, act


class DeepMimicEnv(gym.Env):
    """One character imitating one clip (Gymnasium API; resets are the caller's).

    Attributes:
        fast: The NumPy single-environment path (``SingleImitationEnv``) or ``None`` (batched).
        env: ``ImitationEnv`` of the batched path (with ``fast``: the one it takes its constants from).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, motion: str = "walk", character: str = "humanoid3d", render_mode: str | None = None,
                 fast: bool = True, **cfg_overrides: Any) -> None:
        cfg = replace(ImitationEnvCfg(character=character, motions=[motion]), num_envs=1, **cfg_overrides)
        self.fast = SingleImitationEnv(cfg) if fast and supports(cfg) is None else None
        self.env = self.fast.batched if self.fast is not None else ImitationEnv(cfg, auto_reset=False)
        self.observation_space, self.action_space = _spaces(self.env)
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.env.control_dt)}
        self._renderer = None

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Reference state initialisation; ``seed`` reseeds the environment's generator."""
        super().reset(seed=seed)
        if seed is not None:
            self.env.generator.manual_seed(seed)  # the fast path draws from the same generator
        if self.fast is not None:
            return self.fast.reset().copy(), {}
        obs = self.env.reset()
        return obs[0].cpu().numpy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """One control step (1/30 s)."""
        if self.fast is not None:
            obs, reward, terminated, truncated, info = self.fast.step(action)
            info = {k: info[k] for k in ("log", "diverged", "nonfinite_actions")}
            return obs.copy(), reward, terminated, truncated, info
        actions = torch.as_tensor(np.asarray(action, dtype=np.float32).reshape(1, -1))
        obs, reward, terminated, truncated, info = self.env.step(actions)
        info = {"log": {k: float(v) for k, v in info["log"].items()}, "diverged": info["diverged"],
                "nonfinite_actions": info["nonfinite_actions"]}
        return obs[0].cpu().numpy(), float(reward[0]), bool(terminated[0]), bool(truncated[0]), info

    def render(self) -> np.ndarray | None:
        """The character and a translucent reference, as an RGB image."""
        if self.render_mode != "rgb_array":
            return None
        from .render import ClipRenderer

        if self._renderer is None:
            self._renderer = ClipRenderer(self.env.cfg.character)
        if self.fast is not None:
            return self._renderer.render_frame(self.fast.qpos, self.fast.reference_qpos())
        ref = self.env.reference()
        qpos_ref = self.env.mapping.qpos(ref.root_pos, ref.root_quat, ref.local_quat)
        return self._renderer.render_frame(self.env.backend.qpos[0].cpu().numpy(), qpos_ref[0].cpu().numpy())

    def close(self) -> None:
        """Release the renderer."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class DeepMimicVectorEnv(VectorEnv):
    """``num_envs`` characters stepped together; finished ones reset in the same step.

    The last observation of a finished environment is in ``info["final_obs"]`` with
    ``info["_final_obs"]`` marking which rows are set (Gymnasium's same-step autoreset).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 16, motion: str = "walk", character: str = "humanoid3d",
                 **cfg_overrides: Any) -> None:
        cfg = replace(ImitationEnvCfg(character=character, motions=[motion]), num_envs=num_envs, **cfg_overrides)
        self.env = ImitationEnv(cfg)
        self.num_envs = num_envs
        single_obs, single_act = _spaces(self.env)
        self.single_observation_space, self.single_action_space = single_obs, single_act
        self.observation_space = gym.vector.utils.batch_space(single_obs, num_envs)
        self.action_space = gym.vector.utils.batch_space(single_act, num_envs)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Reset every environment."""
        if seed is not None:
            self.env.generator.manual_seed(seed)
        return self.env.reset().cpu().numpy(), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Step all environments."""
        obs, reward, terminated, truncated, info = self.env.step(torch.as_tensor(np.asarray(actions, np.float32)))
        final_obs = np.zeros((self.num_envs, self.env.num_obs), np.float32)
        mask = np.zeros(self.num_envs, bool)
        if "final_obs" in info:
            ids = info["done_ids"].cpu().numpy()
            final_obs[ids], mask[ids] = info["final_obs"].cpu().numpy(), True
        out = {"final_obs": final_obs, "_final_obs": mask, "diverged": info["diverged"]}
        return obs.cpu().numpy(), reward.cpu().numpy(), terminated.cpu().numpy(), truncated.cpu().numpy(), out


def env_id(motion_stem: str) -> str:
    """Gymnasium id of a bundled clip: ``humanoid3d_stealthy_walk`` -> ``DeepMimic/HumanoidStealthyWalk-v0``."""
    character, _, clip = motion_stem.partition("_")
    prefix = "Humanoid" if character == "humanoid3d" else character.capitalize()
    return f"DeepMimic/{prefix}{''.join(w.capitalize() for w in clip.split('_'))}-v0"


def register_envs() -> list[str]:
    """Register one id per bundled clip (idempotent); returns the ids."""
    ids = []
    for path in bundled_motions():
        character, _, clip = path.stem.partition("_")
        gid = env_id(path.stem)
        if gid not in gym.registry:
            kwargs = {"motion": path.stem, "character": character}
            if resolve_character(character).suffix == ".yaml":  # a robot runs at its own policy rate
                robot = load_character(character).robot
                kwargs["substeps"] = max(1, round(1.0 / (robot.control_hz * robot.timestep)))
            gym.register(gid, entry_point="deepmimic_sim.gym_env:DeepMimicEnv",
                         vector_entry_point="deepmimic_sim.gym_env:DeepMimicVectorEnv", kwargs=kwargs)
        ids.append(gid)
    return ids
