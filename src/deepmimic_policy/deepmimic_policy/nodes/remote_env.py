"""The batched imitation environment of a simulator node, seen through topics as if it were local.

``RemoteImitationEnv`` has the part of ``ImitationEnv``'s interface that the trainer and rsl-rl's
``VecEnv`` adapter use (``reset``, ``step``, sizes, ``obs``), so ``Trainer`` runs unchanged on a
simulator in another process (DDS) or composed in this one (in-process transport). Each call
publishes one BatchedAction on ``actions`` and spins the node until the BatchedTransition with the
same ``step`` arrives on ``transitions``; a late reply makes it send the request again (the
simulator answers a repeated step with its cached reply), and no reply at all within ``timeout_s``
raises ``TimeoutError``.
"""

from __future__ import annotations

import time

import torch
from deepmimic_sim.envs.config import ImitationEnvCfg
from deepmimic_sim.nodes.transitions import action_message, transition_tensors
from deepmimic_transport.messages import deepmimic_interfaces

import deepmimic_transport as transport


class RemoteImitationEnv:
    """Train-mode client of a simulator node (``simulator_node`` with ``mode: train``).

    Attributes:
        num_envs, num_obs, num_actions, control_dt: Learned from the simulator's first reply.
        max_episode_steps: From ``cfg`` (the experiment's env section, as the simulator has it).
        obs: The latest observations. Shape: ``(num_envs, num_obs)``.
        episode_steps: Steps of each environment's current episode, counted here.
        requests_resent: Requests sent again because a reply was late.
    """

    def __init__(self, node: transport.Node, cfg: ImitationEnvCfg, timeout_s: float = 60.0,
                 resend_s: float = 1.0, prefix: str = "") -> None:
        """``prefix`` goes before the topic names (``rank1/``: ``rank1/actions``, ``rank1/transitions``)."""
        self.node, self.cfg = node, cfg
        self.device = torch.device("cpu")
        self.timeout_s, self.resend_s = timeout_s, resend_s
        self.record_tracking = True  # the simulator always sends tracking figures; kept for the interface
        self.generator = torch.Generator().manual_seed(cfg.seed)  # resume bookkeeping only: sampling is remote
        self.requests_resent = 0
        # Request numbers start at this process's start time in microseconds, so a restarted trainer's
        # requests are newer than any an earlier trainer sent to the same simulator.
        self._step = time.time_ns() // 1000
        self._reply: tuple | None = None
        self._actions_pub = node.create_publisher(deepmimic_interfaces.BatchedAction, prefix + "actions", "reliable")
        self._transitions_sub = node.create_subscription(deepmimic_interfaces.BatchedTransition, prefix + "transitions",
                                                         self._on_transition, "reliable")
        self._first: deepmimic_interfaces.BatchedTransition | None = None
        self.obs = self._request(None)[0]  # observe only: the simulator's environments start as they are
        self.num_envs, self.num_obs = self.obs.shape
        self.num_actions = self._first.action_dim
        self.control_dt = float(self._first.control_dt)
        self.max_episode_steps = int(round(cfg.termination.episode_length_s / self.control_dt))
        self.episode_steps = torch.zeros(self.num_envs, dtype=torch.long)

    def _on_transition(self, msg: deepmimic_interfaces.BatchedTransition) -> None:
        if msg.step != self._step or self._reply is not None:
            return  # a reply to an older request, or a repeat
        self._reply = transition_tensors(msg)  # InvalidMessageError: dropped and logged, request re-sent
        self._first = self._first or msg

    def _request(self, actions: torch.Tensor | None, reset: bool = False) -> tuple:
        self._step += 1
        self._reply = None
        msg = action_message(self._step, actions, reset)
        deadline = time.monotonic() + self.timeout_s
        while True:
            self._actions_pub.publish(msg)
            if self.node.spin(until=lambda: self._reply is not None, timeout_s=self.resend_s):
                return self._reply
            if time.monotonic() > deadline:
                raise TimeoutError(f"no BatchedTransition for step {self._step} on 'transitions' within "
                                   f"{self.timeout_s:g} s: is a simulator node running with mode: train?")
            self.requests_resent += 1

    def reset(self) -> torch.Tensor:
        """Reset every environment on the simulator; returns the observations."""
        self.obs = self._request(None, reset=True)[0]
        self.episode_steps.zero_()
        return self.obs

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        """One control step of every environment (``ImitationEnv.step``'s results, without ``final_obs``)."""
        if actions.shape != (self.num_envs, self.num_actions):
            raise ValueError(f"actions must have shape ({self.num_envs}, {self.num_actions}), "
                             f"got {tuple(actions.shape)}")
        obs, reward, terminated, truncated, info = self._request(actions)
        self.episode_steps += 1
        self.episode_steps[terminated | truncated] = 0
        self.obs = obs
        return obs, reward, terminated, truncated, info
