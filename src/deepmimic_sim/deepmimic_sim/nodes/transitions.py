"""Train mode's two messages and the core's tensors: BatchedAction and BatchedTransition both ways.

The simulator node packs ``ImitationEnv.step``'s results into one BatchedTransition per step; the
trainer's remote environment unpacks it into the same ``(obs, reward, terminated, truncated, info)``
the environment returns in process. Arrays go in as NumPy views and come out as NumPy arrays:
zero copy on the in-process transport, one ``tobytes``/``frombuffer`` each way over DDS
(``deepmimic_transport.messages.numpy_cdr``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from deepmimic_transport.messages import builtin_interfaces, deepmimic_interfaces
from deepmimic_transport.validation import validate_batched_transition


def _numpy(tensor: torch.Tensor, dtype: Any) -> np.ndarray:
    return tensor.detach().to("cpu").numpy().astype(dtype, copy=False).ravel()


def action_message(step: int, actions: torch.Tensor | None, reset: bool = False) -> deepmimic_interfaces.BatchedAction:
    """A BatchedAction carrying ``actions`` (``(num_envs, action_dim)``); without actions a reset
    request (``reset``) or an observe-only one."""
    if actions is None:
        return deepmimic_interfaces.BatchedAction(step=step, reset=reset)
    num_envs, action_dim = actions.shape
    return deepmimic_interfaces.BatchedAction(step=step, num_envs=num_envs, action_dim=action_dim,
                                              actions=_numpy(actions, np.float32))


def action_tensor(msg: deepmimic_interfaces.BatchedAction) -> torch.Tensor:
    """The actions of a (validated) BatchedAction as ``(num_envs, action_dim)`` float32; NaN kept."""
    return torch.from_numpy(np.asarray(msg.actions, dtype=np.float32).reshape(msg.num_envs, msg.action_dim))


def transition_message(step: int, sim_time: float, control_dt: float, action_dim: int, obs: torch.Tensor,
                       reward: torch.Tensor | None = None, terminated: torch.Tensor | None = None,
                       truncated: torch.Tensor | None = None, info: dict | None = None,
                       ) -> deepmimic_interfaces.BatchedTransition:
    """One BatchedTransition from a step's results (after a reset: observations only, rewards 0)."""
    num_envs, obs_dim = obs.shape
    msg = deepmimic_interfaces.BatchedTransition(step=step, num_envs=num_envs, observation_dim=obs_dim,
                                                 action_dim=action_dim, control_dt=control_dt,
                                                 observations=_numpy(obs, np.float32))
    msg.header.stamp = builtin_interfaces.Time.from_seconds(sim_time)
    zeros = torch.zeros(num_envs, dtype=torch.bool)
    msg.rewards = _numpy(reward if reward is not None else torch.zeros(num_envs), np.float32)
    msg.terminated = _numpy(terminated if terminated is not None else zeros, bool)
    msg.truncated = _numpy(truncated if truncated is not None else zeros, bool)
    if info is not None:
        msg.finished_episode_steps = _numpy(info["episode_steps"], np.uint32)
        msg.diverged = int(info["diverged"])
        tracking = info.get("tracking") or {}
        msg.metric_names = list(tracking)
        if tracking:
            msg.metrics = _numpy(torch.stack([tracking[name].float() for name in tracking], dim=1), np.float32)
        msg.log_names = list(info["log"])
        msg.log_values = np.array([float(v) for v in info["log"].values()], dtype=np.float32)
    return msg


def transition_tensors(msg: deepmimic_interfaces.BatchedTransition,
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict]:
    """``(obs, reward, terminated, truncated, info)`` as ``ImitationEnv.step`` returns them.

    ``info`` holds ``time_outs``, ``episode_steps``, ``diverged``, ``tracking`` (None when the
    simulator sent no metrics) and ``log``. Raises InvalidMessageError on sizes that disagree.
    """
    validate_batched_transition(msg)  # sizes agree, observations and rewards finite
    n = msg.num_envs
    obs = torch.from_numpy(np.asarray(msg.observations, dtype=np.float32).reshape(n, msg.observation_dim))
    reward = torch.from_numpy(np.asarray(msg.rewards, dtype=np.float32))
    terminated = torch.from_numpy(np.asarray(msg.terminated, dtype=bool))
    truncated = torch.from_numpy(np.asarray(msg.truncated, dtype=bool))
    tracking = None
    if msg.metric_names:
        table = np.asarray(msg.metrics, dtype=np.float32).reshape(n, len(msg.metric_names))
        tracking = {name: torch.from_numpy(table[:, i].copy()) for i, name in enumerate(msg.metric_names)}
    info = {"time_outs": truncated, "terminated": terminated, "diverged": int(msg.diverged), "tracking": tracking,
            "episode_steps": torch.from_numpy(np.asarray(msg.finished_episode_steps, dtype=np.int64)),
            "log": {name: torch.tensor(float(v)) for name, v in zip(msg.log_names, msg.log_values, strict=True)}}
    return obs, reward, terminated, truncated, info
