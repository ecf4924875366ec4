"""The policy node's core: robot state + reference time -> PD targets, and checkpoint swaps.

``PolicyController`` holds a :class:`Policy`, the character's kinematics and the reference clip(s),
and does for one robot what ``ImitationEnv`` does in training: the observation of
``deepmimic_sim.robot_state.policy_observation``, ``Policy.act``, then
``deepmimic_sim.actions.actions_to_targets`` (residual mode: the clip's pose one control step
after the state's reference time). Clips are loaded by name (the reference's ``clip_name``) and
kept; the reference node's clip time is aligned with the state's stamp by :func:`reference_time`.

Which policy acts follows the reference's clip (:meth:`PolicyController.policy_for`): the policy
given for that clip in ``checkpoints`` (single-clip policies, all loaded at start-up), else the
main checkpoint when it was trained on the clip (a clip-conditioned student: any of its clips,
with the one-hot of that clip appended to the observation), else none.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from deepmimic_sim.actions import action_offset_scale, actions_to_targets
from deepmimic_sim.backends.mujoco_model import torque_over_kp
from deepmimic_sim.model.joint_mapping import JointMapping
from deepmimic_sim.reference import ClipAnchor, ClipBlend, ReferenceClip
from deepmimic_sim.robot_state import RobotKinematics, policy_observation

from .checkpoint import CheckpointError
from .policy import Policy

CONTROL_DT = 1.0 / 30.0


def reference_time(clip_time: float, reference_stamp: float, state_stamp: float) -> float:
    """Clip time of the reference for a state stamped ``state_stamp``, from the latest reference frame."""
    return clip_time + (state_stamp - reference_stamp)


class NoPolicyError(LookupError):
    """The reference plays a clip that no loaded policy was trained for."""


def trained_clips(policy: Policy) -> list[str]:
    """The clips a policy acts for: its training clips (a clip-conditioned student: the clips of its one-hot)."""
    return list(policy.experiment.env.motions)


class PolicyController:
    """A loaded policy acting on single robot states.

    Args:
        checkpoint: ``model_<it>.pt``: the main policy (``load`` swaps it).
        device: Torch device of the actor.
        control_dt: Seconds per control step (residual targets, future reference steps); None: the
            policy's own (its experiment's ``substeps`` times its character's physics step).
        checkpoints: Clip name -> checkpoint of the policy for that clip (loaded now; each must fit
            the main policy: character, actions, observation size, control step).

    Raises:
        CheckpointError: A checkpoint that does not load or does not fit (one line naming it).
    """

    def __init__(self, checkpoint: str | Path, device: str = "cpu", control_dt: float | None = CONTROL_DT,
                 checkpoints: Mapping[str, str | Path] | None = None) -> None:
        self.device = device
        self.policy = Policy.load(checkpoint, device)
        self.character = self.policy.experiment.env.character
        self.kinematics = RobotKinematics(self.character)
        self.control_dt = control_dt or self.kinematics.model.opt.timestep * self.policy.experiment.env.substeps
        self.mapping = JointMapping(self.kinematics.character)
        self._ranges = self.mapping.hinge_ranges()
        self._torque_over_kp = torque_over_kp(self.kinematics.model, self.kinematics.hinge_names)
        self._offset_scales: dict[int, tuple] = {}  # id(policy) -> (policy, its action offset and scale)
        self._clips: dict[str, ReferenceClip] = {}
        self.by_clip: dict[str, Policy] = {}
        for clip, path in (checkpoints or {}).items():
            policy = Policy.load(path, device)
            self._check_fits(policy, path)
            self.by_clip[clip] = policy

    def _check_fits(self, new: Policy, path: str | Path) -> None:
        """CheckpointError unless ``new`` can act where the main policy does (character, sizes, control step)."""
        old, env = self.policy, new.experiment.env
        mine = (self.character, old.num_actions, old.env_obs_dim, old.experiment.env.substeps)
        theirs = (env.character, new.num_actions, new.env_obs_dim, env.substeps)
        if theirs != mine:
            raise CheckpointError(f"{path}: a policy for {env.character} with {new.num_actions} actions, "
                                  f"{new.env_obs_dim} observations and {env.substeps} substeps does not fit "
                                  f"{old.path} ({self.character}, {old.num_actions} actions, "
                                  f"{old.env_obs_dim} observations, {old.experiment.env.substeps} substeps)")

    def policy_for(self, clip_name: str) -> Policy | None:
        """The policy acting while the reference plays ``clip_name`` ("": the main policy's first clip); None: none."""
        name = clip_name or self.policy.experiment.env.motions[0]
        if name in self.by_clip:
            return self.by_clip[name]
        return self.policy if name in trained_clips(self.policy) else None

    def served_clips(self) -> list[str]:
        """The clips some loaded policy acts for."""
        return list(dict.fromkeys([*trained_clips(self.policy), *self.by_clip]))

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
        self._check_fits(new, checkpoint)
        self.policy = new
        return new

    def observation(self, qpos: np.ndarray, qvel: np.ndarray, clip_name: str, ref_time: float,
                    policy: Policy | None = None, anchor: ClipAnchor | None = None,
                    blend: ClipBlend | None = None) -> torch.Tensor:
        """The observation of one state by ``policy`` (default: the main one), its clip one-hot included;
        ``anchor``: where the clip plays (``ReferenceClip.anchor_of`` a reference frame); ``blend``:
        the reference across a switch to ``clip_name`` (replaces the clip and its anchor until it is over).

        Shape: ``(1, obs_dim)``.
        """
        policy = policy or self.policy
        source, anchor = (blend, None) if blend is not None else (self.clip(clip_name), anchor)
        obs = policy_observation(self.kinematics, source, qpos, qvel, ref_time,
                                 policy.experiment.env.observation, self.control_dt, anchor)
        if policy.num_clips:
            name = clip_name or policy.experiment.env.motions[0]
            obs = policy.observation(obs, torch.tensor([trained_clips(policy).index(name)]))
        if obs.shape[1] != policy.obs_dim:
            raise ValueError(f"the observation has {obs.shape[1]} values, the policy expects {policy.obs_dim}")
        return obs

    def targets(self, qpos: np.ndarray, qvel: np.ndarray, clip_name: str, ref_time: float,
                anchor: ClipAnchor | None = None, blend: ClipBlend | None = None) -> np.ndarray:
        """PD targets (rad, hinge order) for one state by the policy of ``clip_name`` (played under
        ``anchor``, or across a switch by ``blend``: see ``observation``). Shape: ``(H,)``, float64.

        Raises:
            NoPolicyError: No loaded policy acts for ``clip_name``.
        """
        policy = self.policy_for(clip_name)
        if policy is None:
            raise NoPolicyError(f"no policy for clip '{clip_name}' (policies for: {', '.join(self.served_clips())})")
        actions = policy.act(self.observation(qpos, qvel, clip_name, ref_time, policy, anchor, blend)).cpu()
        next_ref = None
        cfg = policy.experiment.env.action
        if cfg.mode == "residual":
            source = blend if blend is not None else self.clip(clip_name)
            next_ref = source.hinge_angles(np.float64(ref_time) + self.control_dt)
        targets, _ = actions_to_targets(actions, cfg, self._offset_scale(policy), next_ref)
        return targets[0].double().numpy()

    def _offset_scale(self, policy: Policy) -> tuple:
        """``action_offset_scale`` of ``policy``'s action settings, computed on its first use."""
        cached = self._offset_scales.get(id(policy))
        if cached is None or cached[0] is not policy:  # the object check: ids are reused after a swap
            cached = (policy, action_offset_scale(self._ranges, policy.experiment.env.action, self._torque_over_kp))
            self._offset_scales[id(policy)] = cached
        return cached[1]

    def act_batch(self, observations: np.ndarray) -> np.ndarray:
        """Actions of a batch of observations ``(N, obs_dim)``. Shape: ``(N, num_actions)``, float32."""
        return self.policy.act(torch.as_tensor(observations)).cpu().numpy()
