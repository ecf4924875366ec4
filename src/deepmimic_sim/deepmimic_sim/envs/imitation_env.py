"""The batched DeepMimic imitation environment.

``ImitationEnv`` gathers state from a physics backend and the reference from the motion library,
and calls the pure functions in ``rewards``, ``observations`` and ``terminations``. Everything is
a torch tensor on ``cfg.device`` leading with ``num_envs``; no loop runs over environments.

Episode handling (DeepMimic): reference state initialisation (a random clip and time, pose and
velocities copied onto the character), early termination on a fall, truncation at the time limit
or at the end of a non-looping clip. Finished environments are reset inside ``step``; ``info``
reports ``terminated``/``time_outs`` apart so that PPO can bootstrap on time-outs.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np
import torch
from deepmimic_mocap.motion_lib import MotionFrames, MotionLib, blend_weight

from deepmimic_mocap import load_character, load_motion
from deepmimic_mocap import rotations as rot

from ..actions import action_offset_scale, actions_to_targets
from ..backends import PhysicsBackend, make_backend
from ..backends.mujoco_model import torque_over_kp
from ..model.joint_mapping import JointMapping
from . import metrics, rewards, terminations
from . import observations as obs_fn
from .config import ConfigError, ImitationEnvCfg
from .randomization import TransferTerms


def placement(from_pos: torch.Tensor, from_quat: torch.Tensor, onto_pos: torch.Tensor, onto_quat: torch.Tensor,
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The turn about world z and the shift on the ground, ``world = turn * p + shift``, that put a
    root pose (``(N, 3)``, ``(N, 4)``) on another's x, y and heading (its height and tilt stay).
    The batched form of ``deepmimic_sim.reference.ClipAnchor.joining``. Returns ``(turn (N, 4), shift (N, 3))``.
    """
    turn = rot.quat_from_yaw(rot.quat_yaw(onto_quat) - rot.quat_yaw(from_quat))
    shift = onto_pos - rot.quat_rotate(turn, from_pos)
    shift[:, 2] = 0.0
    return turn, shift


def place_frames(frames: MotionFrames, turn: torch.Tensor, shift: torch.Tensor) -> MotionFrames:
    """Frames moved by a ``placement``: root pose and velocities (world) turn, the root shifts."""
    local_quat = torch.cat([rot.quat_mul(turn, frames.local_quat[:, 0])[:, None], frames.local_quat[:, 1:]], dim=1)
    return replace(frames, root_pos=rot.quat_rotate(turn, frames.root_pos) + shift, root_quat=local_quat[:, 0],
                   local_quat=local_quat, root_lin_vel=rot.quat_rotate(turn, frames.root_lin_vel),
                   root_ang_vel=rot.quat_rotate(turn, frames.root_ang_vel))


class ImitationEnv:
    """DeepMimic's motion-imitation task on ``num_envs`` simulated characters.

    Attributes:
        num_envs: Environments stepped together.
        num_obs: Observation size.
        num_actions: Action size (one PD target per hinge).
        control_dt: Seconds per step.
        max_episode_steps: Steps before the time limit.
    """

    def __init__(self, cfg: ImitationEnvCfg, backend: PhysicsBackend | None = None, auto_reset: bool = True) -> None:
        self.cfg = cfg
        self.auto_reset = auto_reset
        self.device = torch.device(cfg.device)
        self.character = load_character(cfg.character)
        self.mapping = JointMapping(self.character)
        self.motion_lib = MotionLib(self._load_motions(), device=self.device)
        self.backend = backend or make_backend(cfg.backend, character=cfg.character, num_envs=cfg.num_envs,
                                               substeps=cfg.substeps, device=cfg.device)
        self.num_envs = self.backend.num_envs
        self.control_dt = self.backend.control_dt
        self.max_episode_steps = int(round(cfg.termination.episode_length_s / self.control_dt))
        self.num_actions = self.mapping.num_hinges
        self.generator = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.transfer = TransferTerms(cfg.randomization, cfg.action, cfg.reward.action_rate_weight, self.backend,
                                      self.num_actions, cfg.seed, cfg.observation, self.device)
        self._init_constants()
        self.motion_ids = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self.start_times = torch.zeros(self.num_envs, dtype=torch.float64, device=self.device)
        self.episode_steps = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self.in_transition = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)  # see TransitionCfg
        # The clip a transition episode switched from, its time at the switch and its placement (the blend).
        self._from_ids = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self._from_times = torch.zeros(self.num_envs, dtype=torch.float64, device=self.device)
        self._from_turn = torch.zeros(self.num_envs, 4, device=self.device)
        self._from_shift = torch.zeros(self.num_envs, 3, device=self.device)
        self._next: tuple | None = None  # see _remember_next
        self.record_tracking = False  # when True, step() reports tracking_errors() in info["tracking"]
        self.keep_final_obs = True  # when False, step() leaves out info["final_obs"] (PPO does not read it)
        self.obs = self.reset()
        self.num_obs = self.obs.shape[1]

    # ------------------------------------------------------------------------------- set-up
    def _load_motions(self) -> list:
        motions = [load_motion(m) for m in self.cfg.motions]
        for name, motion in zip(self.cfg.motions, motions, strict=True):
            if motion.skeleton.joint_names != self.character.skeleton.joint_names:
                raise ConfigError(f"motion {name}: a clip on skeleton '{motion.skeleton.name}', not on character "
                                  f"'{self.cfg.character}'; the environment needs clips on its character: retarget "
                                  f"it once with `deepmimic motion convert {name} OUT.txt [--bone-map F]` and use "
                                  "OUT.txt")
        return motions

    def _tensor(self, array: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array), dtype=dtype, device=self.device)

    def _init_constants(self) -> None:
        ch, sk = self.character, self.character.skeleton
        self._parents = self._tensor(np.where(sk.parents < 0, 0, sk.parents), torch.long)
        self._end_effectors = self._tensor([sk.index(n) for n in ch.end_effectors], torch.long)
        allowed = set(self.cfg.termination.allowed_contacts)
        if allowed - set(sk.joint_names):
            raise ValueError(f"termination.allowed_contacts: unknown bodies {sorted(allowed - set(sk.joint_names))}; "
                             f"the bodies of '{self.cfg.character}' are {list(sk.joint_names)}")
        tested = [clip not in self.cfg.termination.no_fall_test_clips for clip in self.cfg.motions]
        # Per clip; None when every clip keeps the fall test (the step then needs no per-row mask).
        self._fall_tested = None if all(tested) else self._tensor(tested, torch.bool)
        self._fall_bodies = self._tensor([b is not None and b.fall_contact and name not in allowed
                                          for name, b in zip(sk.joint_names, ch.bodies)], torch.bool)
        weights = ch.diff_weights if self.cfg.reward.use_joint_weights else np.ones(sk.num_joints)
        rotating = np.array([t.value in ("root", "spherical", "revolute") for t in sk.joint_types])
        self._joint_weights = self._tensor(weights * rotating)
        masses = np.array([b.mass if b is not None else 0.0 for b in ch.bodies])
        self._body_mass = self._tensor(masses / masses.sum())
        self._body_com = self._tensor([b.pos if b is not None else np.zeros(3) for b in ch.bodies])
        self._action_offset_scale = tuple(t.to(self.device) for t in
                                          action_offset_scale(self.mapping.hinge_ranges(), self.cfg.action,
                                                              self._torque_over_kp()))
        self._tracked_joints = self._tensor([t.value in ("spherical", "revolute") for t in sk.joint_types], torch.bool)
        self._durations = self._tensor(self.motion_lib.durations, torch.float64)
        self._wrap = self._tensor(self.motion_lib.loop_wrap, torch.bool)
        self._transition_clips = self._transition_clip_ids()

    def _transition_clip_ids(self) -> torch.Tensor | None:
        """Clip ids of ``transitions.clips`` (None when no episode starts with a switch)."""
        tcfg = self.cfg.transitions
        if tcfg.fraction <= 0:
            return None
        unknown = [c for c in tcfg.clips if c not in self.cfg.motions]
        if unknown or len(set(tcfg.clips)) < 2:
            raise ConfigError(f"transitions.clips: needs at least two of the environment's motions "
                              f"{list(self.cfg.motions)}, got {list(tcfg.clips)}")
        return self._tensor(sorted({self.cfg.motions.index(c) for c in tcfg.clips}), torch.long)

    def _torque_over_kp(self) -> np.ndarray | None:
        """Torque limit over kp per hinge, for ``residual_effort_scale`` actions (None when unused)."""
        if self.cfg.action.residual_effort_scale <= 0:
            return None
        return torque_over_kp(self.backend.model, list(self.backend.hinge_names))

    # ------------------------------------------------------------------------------ reference
    def _times(self, steps_ahead: int = 0) -> torch.Tensor:
        return self.start_times + (self.episode_steps + steps_ahead).double() * self.control_dt

    def reference(self, steps_ahead: int = 0, env_ids: torch.Tensor | None = None) -> MotionFrames:
        """Reference state ``steps_ahead`` control steps from now, of every environment or of ``env_ids``
        (in a transition episode's first ``transitions.blend_s``: the old clip cross-faded into it)."""
        motion_ids, times, since, switched = (self.motion_ids, self._times(steps_ahead), self.start_times,
                                              self.in_transition)
        if env_ids is not None:
            motion_ids, times, since, switched = motion_ids[env_ids], times[env_ids], since[env_ids], switched[env_ids]
        frames = self.motion_lib.get_frames(motion_ids, times.float())
        blend_s = self.cfg.transitions.blend_s
        if self._transition_clips is None or blend_s <= 0:
            return frames
        since = times - since  # seconds since the episode (and its switch) started
        rows = torch.nonzero(switched & (since < blend_s)).flatten()
        if not len(rows):
            return frames
        env = rows if env_ids is None else env_ids[rows]
        old = place_frames(self.motion_lib.get_frames(self._from_ids[env], (self._from_times[env] + since[rows]).float()),
                           self._from_turn[env], self._from_shift[env])
        new = replace(frames, **{f.name: getattr(frames, f.name)[rows] for f in fields(frames)})
        mixed = self.motion_lib.blend(old, new, blend_weight(since[rows], blend_s).float())
        return replace(frames, **{f.name: getattr(frames, f.name).index_copy(0, rows, getattr(mixed, f.name))
                                  for f in fields(frames)})

    def _remember_next(self, frames: MotionFrames, pose: tuple[torch.Tensor, torch.Tensor],
                       env_ids: torch.Tensor | None) -> None:
        """Keep the observation's one-step-ahead reference (and its body poses): it is the next
        step's residual base and reward reference. ``env_ids``: rows of a partial reset."""
        key = (self.motion_ids.clone(), self._times(1))
        if env_ids is None:
            self._next = (key, frames, pose)
        elif self._next is not None:
            (ids, times), old, (pos, quat) = self._next
            kept = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
            kept[env_ids] = False
            if not (torch.equal(ids[kept], key[0][kept]) and torch.equal(times[kept], key[1][kept])):
                self._next = None  # the other rows moved since (episode_steps set from outside)
                return
            merged = replace(old, **{f.name: getattr(old, f.name).index_copy(0, env_ids, getattr(frames, f.name))
                                     for f in fields(old)})
            self._next = (key, merged, (pos.index_copy(0, env_ids, pose[0]), quat.index_copy(0, env_ids, pose[1])))

    def _next_reference(self) -> tuple[MotionFrames, tuple[torch.Tensor, torch.Tensor] | None]:
        """The reference one step ahead of every environment: the remembered one when it is still
        for the same clips and times (bit-identical to sampling it again), else sampled now."""
        if self._next is not None:
            (ids, times), frames, pose = self._next
            if torch.equal(ids, self.motion_ids) and torch.equal(times, self._times(1)):
                return frames, pose
        return self.reference(steps_ahead=1), None

    # --------------------------------------------------------------------------------- resets
    def reset(self, env_ids: torch.Tensor | None = None, times: torch.Tensor | None = None) -> torch.Tensor:
        """Reference state initialisation of ``env_ids`` (all when ``None``); returns all observations.

        ``times`` (one per reset environment, seconds into its clip) replaces the random start times,
        e.g. 0 to evaluate a non-looping clip from its beginning; the clips are still sampled.
        """
        if env_ids is None:
            env_ids = torch.arange(self.num_envs, device=self.device)
        if len(env_ids) == self.num_envs or not hasattr(self, "obs"):
            if len(env_ids):
                self._initialise(env_ids, times)
            self.obs = self._observe()
        elif len(env_ids):
            self._initialise(env_ids, times)
            self.obs[env_ids] = self._observe(env_ids)  # only the reset rows change
        return self.obs

    def _initialise(self, env_ids: torch.Tensor, times: torch.Tensor | None = None) -> None:
        ids = self.motion_lib.sample_motions(len(env_ids), generator=self.generator,
                                             weights=self.cfg.motion_weights)
        # Non-looping clips start at least one step before their end.
        sampled = self.motion_lib.sample_times(ids, truncate_time=self.control_dt, generator=self.generator)
        given = times
        times = sampled if times is None else torch.as_tensor(times, dtype=sampled.dtype, device=sampled.device)
        self.motion_ids[env_ids] = ids
        self.start_times[env_ids] = times.double()
        self.episode_steps[env_ids] = 0
        frames = self.motion_lib.get_frames(ids, times)
        qpos, qvel = self.mapping.reference_state(frames)
        self.in_transition[env_ids] = False
        if self._transition_clips is not None and given is None:
            self._start_transitions(env_ids, ids, qpos, qvel)
        self.transfer.on_reset(env_ids)
        self.backend.reset(env_ids, qpos.double(), qvel.double())

    def _start_transitions(self, env_ids: torch.Tensor, ids: torch.Tensor, qpos: torch.Tensor,
                           qvel: torch.Tensor) -> None:
        """Turn a ``transitions.fraction`` share of the starts into clip switches (``TransitionCfg``).

        In place on the rows of ``qpos``/``qvel`` (and on ``start_times``): the character takes
        another transition clip's state at a random time, placed on the start of its own clip, which
        then plays from time 0 (as the reference node's ``select_clip`` does).
        """
        clips = self._transition_clips
        eligible = (ids[:, None] == clips).any(dim=1)
        chosen = eligible & (torch.rand(len(ids), generator=self.generator, device=self.device)
                             < self.cfg.transitions.fraction)
        rows = torch.nonzero(chosen).flatten()
        if not len(rows):
            return
        to_ids = ids[rows]
        # The clip switched from: uniform over the other transition clips.
        position = (to_ids[:, None] == clips).long().argmax(dim=1)
        pick = torch.randint(0, len(clips) - 1, (len(rows),), generator=self.generator, device=self.device)
        from_ids = clips[pick + (pick >= position).long()]
        from_times = self.motion_lib.sample_times(from_ids, truncate_time=self.control_dt, generator=self.generator)
        old = self.motion_lib.get_frames(from_ids, from_times)
        start_times = torch.zeros_like(from_times)  # the new clip from its beginning, as select_clip starts it
        start = self.motion_lib.get_frames(to_ids, start_times)
        turn, shift = placement(old.root_pos, old.root_quat, start.root_pos, start.root_quat)
        placed_qpos, placed_qvel = self.mapping.reference_state(place_frames(old, turn, shift))
        qpos[rows], qvel[rows] = placed_qpos.to(qpos.dtype), placed_qvel.to(qvel.dtype)
        switched = env_ids[rows]
        self.start_times[switched] = start_times.double()
        self._from_ids[switched], self._from_times[switched] = from_ids, from_times.double()
        self._from_turn[switched], self._from_shift[switched] = turn, shift
        self.in_transition[switched] = True

    # ----------------------------------------------------------------------------------- step
    def actions_to_targets(self, actions: torch.Tensor) -> tuple[torch.Tensor, int]:
        """PD targets from actions (``deepmimic_sim.actions``), and how many NaN/inf values were zeroed."""
        return self._targets(actions, self.reference(steps_ahead=1) if self.cfg.action.mode == "residual" else None)

    def _targets(self, actions: torch.Tensor, next_ref: MotionFrames | None) -> tuple[torch.Tensor, int]:
        if actions.shape != (self.num_envs, self.num_actions):
            raise ValueError(f"actions must have shape ({self.num_envs}, {self.num_actions}), got {tuple(actions.shape)}")
        hinge = None if self.cfg.action.mode != "residual" else self.mapping.hinge_angles(next_ref.local_quat)
        return actions_to_targets(actions.to(self.device), self.cfg.action, self._action_offset_scale, hinge)

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        """Apply actions for one control step.

        Args:
            actions: Normalised actions. Shape: ``(num_envs, num_actions)``.

        Returns:
            ``(obs, reward, terminated, truncated, info)``. With ``auto_reset`` (the default) obs of
            finished environments are already those of their next episode and their last
            observation is in ``info["final_obs"]`` (rows of the finished environments, in
            ``info["done_ids"]`` order; left out when ``keep_final_obs`` is False); without it
            nothing is reset. ``info`` holds ``time_outs`` (= truncated),
            ``tracking`` (``tracking_errors()`` before any reset, when ``record_tracking`` is set),
            ``log`` (mean reward terms as ``reward/<term>``), ``diverged`` and ``nonfinite_actions``
            counts, ``termination_causes`` (``fell``, ``drifted``, ``diverged``: ``(N,)`` bool each),
            and ``episode_steps`` of the episodes that ended.
        """
        ref, ref_pose = self._next_reference()  # the residual's base now, the reward's reference after the step
        targets, nonfinite = self._targets(actions, ref)
        self.backend.step(self.transfer.delayed(targets).double())
        self.episode_steps += 1
        reward, terms, ref_body_pos = self._reward(ref, ref_pose)
        reward = self.transfer.penalised(reward, terms, actions)
        diverged = self.backend.diverged.to(self.device)
        causes = {**self._termination_causes(ref_body_pos), "diverged": diverged}
        terminated = causes["fell"] | causes["drifted"] | diverged
        truncated = self._truncated() & ~terminated
        reward = torch.where(diverged, torch.zeros_like(reward), reward)
        done = terminated | truncated
        tracking = self.tracking_errors(ref, ref_body_pos) if self.record_tracking else None
        info = {"tracking": tracking, "time_outs": truncated, "terminated": terminated, "diverged": int(diverged.sum()),
                "termination_causes": causes,
                "nonfinite_actions": nonfinite, "episode_steps": self.episode_steps[done].clone(),
                "log": {f"reward/{k}": v.mean() for k, v in terms.items()}}
        done_ids = torch.nonzero(done).flatten()
        info["done_ids"] = done_ids
        if self.auto_reset and len(done_ids):
            # Reset first, then observe every row once (observing costs per call, not per row).
            if self.keep_final_obs:
                info["final_obs"] = self._observe(done_ids)
            self._initialise(done_ids)
        self.obs = self._observe()
        return self.obs, reward, terminated, truncated, info

    # ----------------------------------------------------------------------------- the terms
    def sim_local_quat(self) -> torch.Tensor:
        """Local joint rotations of the simulated characters (root: world). Shape: ``(N, J, 4)``."""
        return rewards.sim_local_quat(self.backend.body_quat_w.float(), self._parents)

    def sim_local_ang_vel(self) -> torch.Tensor:
        """Joint angular velocities relative to the parent, joint frame (root: world). Shape: ``(N, J, 3)``."""
        return rewards.sim_local_ang_vel(self.backend.body_quat_w.float(), self.backend.body_ang_vel_w.float(),
                                         self._parents)

    def tracking_errors(self, ref: MotionFrames | None = None, ref_pos: torch.Tensor | None = None,
                        ) -> dict[str, torch.Tensor]:
        """Tracking metrics of every environment now (see ``metrics``). Each: ``(num_envs,)``.

        ``ref_pos``: the reference's body positions when the caller has them (saves a second FK).
        """
        ref = ref if ref is not None else self.reference()
        ref_pos = ref_pos if ref_pos is not None else self.motion_lib.body_pos(ref)
        sim_pos = self.backend.body_pos_w.float()
        return {
            "joint_rotation_error_rad": metrics.joint_rotation_error(self.sim_local_quat(), ref.local_quat,
                                                                     self._tracked_joints),
            "mpjpe_global_m": metrics.mpjpe(sim_pos, ref_pos, root_relative=False),
            "mpjpe_root_relative_m": metrics.mpjpe(sim_pos, ref_pos, root_relative=True),
            "root_position_error_m": metrics.root_position_error(sim_pos[:, 0], ref.root_pos),
        }

    def _reference_com(self, body_pos: torch.Tensor, body_quat: torch.Tensor) -> torch.Tensor:
        return rewards.reference_com(body_pos, body_quat, self._body_com, self._body_mass)

    def _reward(self, ref: MotionFrames, ref_pose: tuple[torch.Tensor, torch.Tensor] | None = None,
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        ref_pos, ref_quat = ref_pose if ref_pose is not None else self.motion_lib.body_pose(ref)
        b = self.backend
        errors = rewards.imitation_errors(b.body_pos_w.float(), b.body_quat_w.float(), b.body_lin_vel_w.float(),
                                          b.body_ang_vel_w.float(), b.com_pos_w.float(), ref, ref_pos, ref_quat,
                                          self._parents, self._joint_weights, self._end_effectors, self._body_com,
                                          self._body_mass)
        reward, terms = rewards.imitation_reward(self.cfg.reward, errors)
        return reward, terms, ref_pos

    def _termination_causes(self, ref_body_pos: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each early-termination test by name (``fell``, ``drifted``), ``(num_envs,)`` bool."""
        term = self.cfg.termination
        none = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        causes = {"fell": none, "drifted": none}
        if term.fall_contact:
            causes["fell"] = terminations.fell(self.backend.ground_contact.to(self.device), self._fall_bodies)
            if self._fall_tested is not None:
                causes["fell"] &= self._fall_tested[self.motion_ids]
        if term.max_body_distance is not None:
            limit = term.max_body_distance
            if self._transition_clips is not None:  # per row: transition episodes have their own
                other = self.cfg.transitions.max_body_distance
                limit = torch.where(self.in_transition, float("inf") if other is None else other, limit)
            causes["drifted"] = terminations.drifted(self.backend.body_pos_w.float(), ref_body_pos, limit)
        return causes

    def _truncated(self) -> torch.Tensor:
        clip_over = ~self._wrap[self.motion_ids] & (self._times() >= self._durations[self.motion_ids])
        return (self.episode_steps >= self.max_episode_steps) | clip_over

    def _observe(self, env_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Observations of every environment, or of ``env_ids`` only (after a partial reset)."""
        b, rows = self.backend, (slice(None) if env_ids is None else env_ids)
        phase = None
        if self.cfg.observation.phase:
            phase = self.motion_lib.phase(self.motion_ids[rows], self._times()[rows].float())
        future = []
        for k in self.cfg.observation.future_steps:
            frames = self.reference(steps_ahead=k, env_ids=env_ids)
            future.append(self.motion_lib.body_pose(frames))
            if k == 1:
                self._remember_next(frames, future[-1], env_ids)
        return self.transfer.observed(obs_fn.policy_observation(
            b.body_pos_w[rows].float(), b.body_quat_w[rows].float(), b.body_lin_vel_w[rows].float(),
            b.body_ang_vel_w[rows].float(), phase, future))
