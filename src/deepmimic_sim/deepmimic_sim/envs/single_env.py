"""One environment in NumPy and plain MuJoCo: the fast path of the Gymnasium ``DeepMimicEnv``.

``ImitationEnv`` runs every term as torch ops over ``num_envs`` rows; with one row, the per-op
cost of torch (a few microseconds each, ~4 ms a step) is twenty times the physics. This class
steps ONE character with the same functions on NumPy arrays: ``observations``, ``rewards``,
``terminations``, ``actions`` and the ``MotionLib`` (NumPy float32, as the torch one) are written
once for both array libraries (``rotations.namespace``). Constants, the RSI generator and the
compiled model come from an ``ImitationEnv(num_envs=1)`` built alongside (``self.batched``), so
both paths draw the same initial states for the same seed.

Physics: a private ``MjData`` of the backend's model, stepped as ``MujocoCpuBackend.step`` does
through ``mujoco.rollout``: ``substeps`` ``mj_step`` calls from a zero solver warm-start with
sensors off, then the readings (the same ``add_sensors`` block) from ``mj_forward`` with sensors
on at the new state, which is what the backend's probe step computes before integrating. Divergence
is flagged as the backend does (time short, non-finite, ``QVEL_LIMIT``, ``ROOT_HEIGHT_LIMIT``);
only a state MuJoCo itself rejects in the middle of a step is left after MuJoCo's reset rather
than frozen (the environment ends then either way).

Supported when the configuration has no domain randomisation and no action-rate penalty (those
live in torch ``TransferTerms``) and runs the ``mujoco`` backend on the CPU; see ``supports``.
``tests/sim/test_single_env.py`` steps both paths side by side.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import mujoco
import numpy as np
import torch
from deepmimic_mocap.motion_lib import MotionFrames, MotionLib

from ..actions import actions_to_targets
from ..backends.base import MJ_MAXVAL, QVEL_LIMIT, ROOT_HEIGHT_LIMIT
from ..backends.mujoco_model import sensor_layout
from . import observations as obs_fn
from . import rewards, terminations
from .config import ImitationEnvCfg
from .imitation_env import ImitationEnv

_NO_SENSORS = int(mujoco.mjtDisableBit.mjDSBL_SENSOR)


def supports(cfg: ImitationEnvCfg) -> str | None:
    """``None`` when ``SingleImitationEnv`` can run ``cfg``, else why not (one line)."""
    if cfg.backend not in ("mujoco", "mujoco_cpu"):
        return f"backend {cfg.backend!r} (the fast path steps MuJoCo on the CPU)"
    if torch.device(cfg.device).type != "cpu":
        return f"device {cfg.device!r}"
    if cfg.randomization.enabled:
        return "domain randomisation (torch TransferTerms)"
    if cfg.reward.action_rate_weight != 0.0:
        return "an action-rate penalty (torch TransferTerms)"
    if len(cfg.motions) != 1:
        return "more than one clip"
    return None


class SingleImitationEnv:
    """One character imitating one clip, NumPy in and out (see the module docstring).

    Attributes:
        batched: The ``ImitationEnv(num_envs=1)`` it takes its constants, generator and model from.
        num_obs, num_actions, control_dt, max_episode_steps: As ``ImitationEnv``'s.
        episode_steps: Steps since the last reset.
        obs: The last observation, ``(num_obs,)`` float32.
    """

    def __init__(self, cfg: ImitationEnvCfg) -> None:
        cfg = replace(cfg, num_envs=1)
        why = supports(cfg)
        if why is not None:
            raise ValueError(f"SingleImitationEnv does not support {why}; use ImitationEnv")
        self.cfg = cfg
        self.batched = env = ImitationEnv(cfg, auto_reset=False)
        self.mapping, self.generator = env.mapping, env.generator
        self.num_actions, self.num_obs = env.num_actions, env.num_obs
        self.control_dt, self.max_episode_steps = env.control_dt, env.max_episode_steps
        self.lib = MotionLib(env.motion_lib.motions, device=None, dtype=np.float32)
        self._wrap, self._duration = bool(self.lib.loop_wrap[0]), float(self.lib.durations[0])
        self._fall_test = cfg.termination.fall_contact and cfg.motions[0] not in cfg.termination.no_fall_test_clips
        c = {name: getattr(env, name).cpu().numpy() for name in
             ("_parents", "_end_effectors", "_fall_bodies", "_joint_weights", "_body_mass", "_body_com")}
        self._parents, self._ee, self._fall_bodies = c["_parents"], c["_end_effectors"], c["_fall_bodies"]
        self._joint_weights, self._body_mass, self._body_com = c["_joint_weights"], c["_body_mass"], c["_body_com"]
        self._offset_scale = tuple(t.cpu().numpy() for t in env._action_offset_scale)
        backend = env.backend
        self.model, self.substeps, self.physics_dt = backend.model, backend.substeps, backend.physics_dt
        self.data = mujoco.MjData(self.model)
        self._layout = sensor_layout(self.model, backend.body_names, list(backend.hinge_names))
        self._num_bodies = len(backend.body_names)
        self._ids = np.zeros(1, dtype=np.int64)
        self.motion_id, self.start_time, self.episode_steps = 0, 0.0, 0
        self.diverged = False
        self.nonfinite_targets = 0
        self._next: tuple[int, MotionFrames, tuple[np.ndarray, np.ndarray]] | None = None
        self.generator.manual_seed(cfg.seed)  # the first episode is ImitationEnv's first (its __init__ drew once)
        self.obs = self.reset()

    # ------------------------------------------------------------------------------ reference
    def _time(self, steps_ahead: int = 0) -> float:
        """Clip time (float64, as ``ImitationEnv._times``)."""
        return self.start_time + (self.episode_steps + steps_ahead) * self.control_dt

    def reference(self, steps_ahead: int = 0) -> MotionFrames:
        """Reference frames ``steps_ahead`` control steps from now (NumPy float32, one row)."""
        return self.lib.get_frames(self._ids, np.array([self._time(steps_ahead)], dtype=np.float32))

    def _next_reference(self) -> tuple[MotionFrames, tuple[np.ndarray, np.ndarray]]:
        """The reference one step ahead and its body poses (kept from the observation when it had them)."""
        if self._next is not None and self._next[0] == self.episode_steps + 1:
            return self._next[1], self._next[2]
        frames = self.reference(1)
        return frames, self.lib.body_pose(frames)

    # ------------------------------------------------------------------------------ physics
    def _read(self, ctrl: np.ndarray) -> None:
        """Sensors at the current state with ``ctrl`` applied (the backend's probe readings)."""
        m, d, lay, nb = self.model, self.data, self._layout, self._num_bodies
        d.ctrl[:] = ctrl
        mujoco.mj_forward(m, d)
        sd = d.sensordata.astype(np.float32)
        self.body_pos = sd[lay.pos].reshape(1, nb, 3)
        self.body_quat = sd[lay.quat].reshape(1, nb, 4)
        self.body_lin_vel = sd[lay.linvel].reshape(1, nb, 3)
        self.body_ang_vel = sd[lay.angvel].reshape(1, nb, 3)
        self.com_pos = sd[lay.com_pos][None]
        self.ground_contact = (d.sensordata[lay.contact] > 0)[None]

    def _unhealthy(self) -> bool:
        """Non-finite state, ``|qvel| > QVEL_LIMIT`` or root height beyond ``ROOT_HEIGHT_LIMIT`` (as the backend)."""
        d = self.data
        if not (np.isfinite(d.qpos).all() and np.isfinite(d.qvel).all()):
            return True
        return not (np.abs(d.qvel).max() <= QVEL_LIMIT and abs(d.qpos[2]) <= ROOT_HEIGHT_LIMIT)

    def _physics(self, targets: np.ndarray) -> None:
        """``substeps`` physics steps holding ``targets`` (float64 ``(H,)``), then the readings."""
        m, d = self.model, self.data
        bad = ~(np.abs(targets) <= MJ_MAXVAL)
        if bad.any():
            targets = np.where(bad, d.qpos[7:], targets)
            self.nonfinite_targets += int(bad.sum())
        d.ctrl[:] = targets
        d.qacc_warmstart[:] = 0.0  # mujoco.rollout starts every call from a zero warm-start
        time0, flags = d.time, m.opt.disableflags
        m.opt.disableflags = flags | _NO_SENSORS
        try:
            for _ in range(self.substeps):
                mujoco.mj_step(m, d)
        finally:
            m.opt.disableflags = flags
        stalled = not (d.time - time0 >= (self.substeps - 0.5) * self.physics_dt)
        self._read(targets)
        self.diverged = self.diverged or stalled or self._unhealthy()

    # ------------------------------------------------------------------------------ episode
    def reset(self, time: float | None = None) -> np.ndarray:
        """Reference state initialisation (clip time drawn from ``generator`` as ``ImitationEnv``
        draws it, or ``time``); returns the observation."""
        lib_t = self.batched.motion_lib
        ids = lib_t.sample_motions(1, generator=self.generator, weights=self.cfg.motion_weights)
        sampled = lib_t.sample_times(ids, truncate_time=self.control_dt, generator=self.generator)
        t0 = np.float32(sampled[0].item() if time is None else time)
        self.motion_id, self.start_time, self.episode_steps = int(ids[0]), float(t0), 0
        self._ids[0] = self.motion_id
        qpos, qvel = self.mapping.reference_state(self.lib.get_frames(self._ids, np.array([t0])))
        d = self.data
        mujoco.mj_resetData(self.model, d)
        d.qpos[:], d.qvel[:] = qpos[0], qvel[0]
        self.diverged = False
        self._next = None
        self._read(d.qpos[7:])
        self.obs = self._observe()
        return self.obs

    def set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Put the character into ``qpos``/``qvel`` (clip and time unchanged); returns the new observation."""
        self.data.qpos[:], self.data.qvel[:] = qpos, qvel
        self._read(self.data.qpos[7:])
        self.obs = self._observe()
        return self.obs

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """One control step: ``(obs, reward, terminated, truncated, info)``; no reset is done.

        ``info``: ``log`` (``reward/<term>``), ``diverged`` and ``nonfinite_actions`` counts,
        ``termination_causes`` (``fell``, ``drifted``, ``diverged``).
        """
        actions = np.asarray(action, dtype=np.float32)
        if actions.size != self.num_actions:
            raise ValueError(f"action must have {self.num_actions} values, got shape {actions.shape}")
        ref, (ref_pos, ref_quat) = self._next_reference()
        hinge = self.mapping.hinge_angles(ref.local_quat) if self.cfg.action.mode == "residual" else None
        targets, nonfinite = actions_to_targets(actions.reshape(1, -1), self.cfg.action, self._offset_scale, hinge)
        self._physics(targets[0].astype(np.float64))
        self.episode_steps += 1
        errors = rewards.imitation_errors(self.body_pos, self.body_quat, self.body_lin_vel, self.body_ang_vel,
                                          self.com_pos, ref, ref_pos, ref_quat, self._parents, self._joint_weights,
                                          self._ee, self._body_com, self._body_mass)
        reward, terms = rewards.imitation_reward(self.cfg.reward, errors)
        term = self.cfg.termination
        fell = bool(terminations.fell(self.ground_contact, self._fall_bodies)[0]) if self._fall_test else False
        drifted = (bool(terminations.drifted(self.body_pos, ref_pos, term.max_body_distance)[0])
                   if term.max_body_distance is not None else False)
        terminated = fell or drifted or self.diverged
        clip_over = not self._wrap and self._time() >= self._duration
        truncated = (self.episode_steps >= self.max_episode_steps or clip_over) and not terminated
        reward = 0.0 if self.diverged else float(reward[0])
        info = {"log": {f"reward/{k}": float(v[0]) for k, v in terms.items()}, "diverged": int(self.diverged),
                "nonfinite_actions": nonfinite,
                "termination_causes": {"fell": fell, "drifted": drifted, "diverged": self.diverged}}
        self.obs = self._observe()
        return self.obs, reward, terminated, truncated, info

    def _observe(self) -> np.ndarray:
        phase = None
        if self.cfg.observation.phase:
            phase = self.lib.phase(self._ids, np.array([self._time()], dtype=np.float32))
        future = []
        for k in self.cfg.observation.future_steps:
            frames = self.reference(k)
            future.append(self.lib.body_pose(frames))
            if k == 1:
                self._next = (self.episode_steps + 1, frames, future[-1])
        obs = obs_fn.policy_observation(self.body_pos, self.body_quat, self.body_lin_vel, self.body_ang_vel,
                                        phase, future)
        return obs[0]

    # ------------------------------------------------------------------------------ views
    @property
    def qpos(self) -> np.ndarray:
        """The model's ``qpos`` now (a copy, float64)."""
        return self.data.qpos.copy()

    @property
    def qvel(self) -> np.ndarray:
        """The model's ``qvel`` now (a copy, float64)."""
        return self.data.qvel.copy()

    def reference_qpos(self) -> np.ndarray:
        """``qpos`` of the reference now (for rendering), float64 ``(nq,)``."""
        ref = self.reference()
        return np.asarray(self.mapping.qpos(ref.root_pos, ref.root_quat, ref.local_quat)[0], dtype=np.float64)
