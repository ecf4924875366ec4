"""The policy node's core: robot state + reference time -> PD targets, and checkpoint swaps.

``PolicyController`` holds a :class:`Policy`, the character's kinematics and the reference clip(s),
and does for one robot what ``ImitationEnv`` does in training: the observation of
``deepmimic_sim.robot_state.policy_observation``, ``Policy.act``, then
``deepmimic_sim.actions.actions_to_targets`` (residual mode: the clip's pose one control step
after the state's reference time). Clips are loaded by name (the reference's ``clip_name``) and
kept; the reference node's clip time is aligned with the state's stamp by :func:`reference_time`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from deepmimic_sim.actions import action_offset_scale, actions_to_targets
from deepmimic_sim.model.joint_mapping import JointMapping
from deepmimic_sim.reference import ReferenceClip
from deepmimic_sim.robot_state import RobotKinematics, policy_observation

from .checkpoint import CheckpointError
from .policy import Policy

CONTROL_DT = 1.0 / 30.0


def reference_time(clip_time: float, reference_stamp: float, state_stamp: float) -> float:
    """Clip time of the reference for a state stamped ``state_stamp``, from the latest reference frame."""
    return clip_time + (state_stamp - reference_stamp)


class PolicyController:
    """A loaded policy acting on single robot states.

    Args:
        checkpoint: ``model_<it>.pt``.
        device: Torch device of the actor.
        control_dt: Seconds per control step (residual targets, future reference steps); None: the
            policy's own (its experiment's ``substeps`` times its character's physics step).
    """

    def __init__(self, checkpoint: str | Path, device: str = "cpu", control_dt: float | None = CONTROL_DT) -> None:
        self.device = device
        self.policy = Policy.load(checkpoint, device)
        self.character = self.policy.experiment.env.character
        self.kinematics = RobotKinematics(self.character)
        self.control_dt = control_dt or self.kinematics.model.opt.timestep * self.policy.experiment.env.substeps
        self.mapping = JointMapping(self.kinematics.character)
        self._ranges = self.mapping.hinge_ranges()
        self._clips: dict[str, ReferenceClip] = {}
        if self.policy.num_clips:
            raise CheckpointError(f"{checkpoint}: clip-conditioned students are not supported by the controller")

    @property
    def hinge_names(self) -> list[str]:
        """Joint order of states and targets."""
        return list(self.kinematics.hinge_names)

    def clip(self, name: str) -> ReferenceClip:
        """The reference clip ``name`` (the policy's first training clip when empty), loaded once."""
        name = name or self.policy.experiment.env.motions[0]
        if name not in self._clips:
            self._clips[name] = ReferenceClip(name, self.character)
        return self._clips[name]

    def load(self, checkpoint: str | Path) -> Policy:
        """Swap in another checkpoint of the same character and sizes; the old one stays on any error.

        Raises:
            CheckpointError: Unreadable, or a policy for another character or observation/action size.
        """
        new = Policy.load(checkpoint, self.device)
        old = self.policy
        if new.experiment.env.character != self.character or new.num_actions != old.num_actions or new.num_clips:
            raise CheckpointError(f"{checkpoint}: a policy for {new.experiment.env.character} with "
                                  f"{new.num_actions} actions cannot replace one for {self.character} "
                                  f"with {old.num_actions}")
        self.policy = new
        return new

    def observation(self, qpos: np.ndarray, qvel: np.ndarray, clip_name: str, ref_time: float) -> torch.Tensor:
        """The policy's observation of one state. Shape: ``(1, obs_dim)``."""
        obs = policy_observation(self.kinematics, self.clip(clip_name), qpos, qvel, ref_time,
                                 self.policy.experiment.env.observation, self.control_dt)
        if obs.shape[1] != self.policy.obs_dim:
            raise ValueError(f"the observation has {obs.shape[1]} values, the policy expects {self.policy.obs_dim}")
        return obs

    def targets(self, qpos: np.ndarray, qvel: np.ndarray, clip_name: str, ref_time: float) -> np.ndarray:
        """PD targets (rad, hinge order) for one state. Shape: ``(H,)``, float64."""
        actions = self.policy.act(self.observation(qpos, qvel, clip_name, ref_time)).cpu()
        next_ref = None
        cfg = self.policy.experiment.env.action
        if cfg.mode == "residual":
            next_ref = self.clip(clip_name).hinge_angles(np.float64(ref_time) + self.control_dt)
        targets, _ = actions_to_targets(actions, cfg, action_offset_scale(self._ranges, cfg), next_ref)
        return targets[0].double().numpy()

    def act_batch(self, observations: np.ndarray) -> np.ndarray:
        """Actions of a batch of observations ``(N, obs_dim)``. Shape: ``(N, num_actions)``, float32."""
        return self.policy.act(torch.as_tensor(observations)).cpu().numpy()
