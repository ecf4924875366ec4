"""Transfer settings: domain randomisation, action delay, observation noise, action-rate penalty.

Everything a policy for a real robot is trained against, configured by ``RandomizationCfg`` (and
``RewardCfg.action_rate_weight``) and batched over environments:

- **Physics** (friction, link masses, PD gains): a pool of ``pool_size`` randomised copies of the
  backend's ``MjModel`` is drawn once; at every reset each reset environment takes a pool member at
  random, and the backend steps each environment with its own model (``set_env_models``; the CPU
  MuJoCo backend, whose ``mujoco.rollout`` takes one model per row). A pool rather than one copy
  per environment: a model is about 0.9 MB (humanoid3d, G1), so 256 copies would be 230 MB, and
  re-drawing a copy's parameters at each reset would be a Python loop over the reset environments;
  picking pool members is one indexing operation. 32 members give 32 draws of every parameter.
- **Action delay**: each environment draws a delay of ``d`` control steps at reset; the physics
  then gets the targets computed ``d`` steps earlier (a ring buffer ``(N, max + 1, H)``; after a
  reset the history is the first targets of the new episode).
- **Observation noise**: uniform noise of a half-width per observation group (``NOISE_GROUPS``),
  on the measured state only (phase and reference targets come from the clip).
- **Action-rate penalty**: ``weight * sum_i (a_i - a_i_prev)^2`` on the clipped actions, 0 on an
  episode's first step.

With the defaults (``enabled: false``, weight 0) nothing here draws a random number or changes a
value, so existing results stay bit-identical.
"""

from __future__ import annotations

import copy

import mujoco
import numpy as np
import torch

from .config import NOISE_GROUPS, ActionCfg, ConfigError, ObservationCfg, RandomizationCfg


def _uniform(generator: torch.Generator, bounds: list[float] | None, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform draws in ``bounds`` (ones when ``None``: not randomised). float64."""
    if bounds is None:
        return np.ones(shape)
    low, high = bounds
    return (low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float64)).numpy()


def randomized_models(model: mujoco.MjModel, cfg: RandomizationCfg, generator: torch.Generator,
                      ) -> tuple[list[mujoco.MjModel], dict[str, np.ndarray]]:
    """``cfg.pool_size`` copies of ``model`` with friction, masses and gains scaled, and the scales.

    Returns:
        The models and the scales by name: ``friction`` ``(P,)``, ``mass`` ``(P, nbody)`` (the
        world body's is 1), ``kp`` and ``kd`` ``(P, nu)``.
    """
    size = cfg.pool_size
    scales = {"friction": _uniform(generator, cfg.friction, (size,)),
              "mass": _uniform(generator, cfg.mass, (size, model.nbody)),
              "kp": _uniform(generator, cfg.kp, (size, model.nu)),
              "kd": _uniform(generator, cfg.kd, (size, model.nu))}
    scales["mass"][:, 0] = 1.0
    kp, kd = model.actuator_gainprm[:, 0].copy(), -model.actuator_biasprm[:, 2].copy()
    models, data = [], mujoco.MjData(model)
    for i in range(size):  # once, at start-up: the pool, not the environments
        m = copy.copy(model)
        m.geom_friction[:, 0] = model.geom_friction[:, 0] * scales["friction"][i]
        m.body_mass[:] = model.body_mass * scales["mass"][i]
        m.body_inertia[:] = model.body_inertia * scales["mass"][i][:, None]
        m.actuator_gainprm[:, 0] = kp * scales["kp"][i]
        m.actuator_biasprm[:, 1] = -kp * scales["kp"][i]
        m.actuator_biasprm[:, 2] = -kd * scales["kd"][i]
        mujoco.mj_setConst(m, data)  # masses changed: subtree masses, inverse weights, ...
        models.append(m)
    return models, scales


def check_position_actuators(model: mujoco.MjModel) -> None:
    """The gains can only be scaled on position actuators (``kp`` in gain and bias, ``kd`` in bias)."""
    if not np.allclose(model.actuator_biasprm[:, 1], -model.actuator_gainprm[:, 0]):
        raise ConfigError("env.randomization.kp/kd: the model's actuators are not position actuators "
                          "(biasprm[1] != -gainprm[0])")


class ActionDelay:
    """Targets applied ``delay`` control steps late, per environment (batched ring buffer).

    Args:
        num_envs, num_actions: Sizes.
        max_delay: Largest delay in steps.
    """

    def __init__(self, num_envs: int, num_actions: int, max_delay: int, device: torch.device) -> None:
        self.history = torch.zeros(num_envs, max_delay + 1, num_actions, device=device)
        self.delays = torch.zeros(num_envs, dtype=torch.long, device=device)
        self.fresh = torch.ones(num_envs, dtype=torch.bool, device=device)
        self._rows = torch.arange(num_envs, device=device)

    def reset(self, env_ids: torch.Tensor, delays: torch.Tensor) -> None:
        """New delays for ``env_ids``; their history starts again with their next targets."""
        self.delays[env_ids] = delays
        self.fresh[env_ids] = True

    def __call__(self, targets: torch.Tensor) -> torch.Tensor:
        """The targets to apply now: those of ``delays`` steps ago. Shape: ``(N, H)``."""
        targets = targets.to(self.history.dtype)
        self.history = torch.roll(self.history, 1, dims=1)
        self.history[:, 0] = targets
        self.history[self.fresh] = targets[self.fresh, None, :]
        self.fresh[:] = False
        return self.history[self._rows, self.delays]


def noise_scale(cfg: RandomizationCfg, obs_cfg: ObservationCfg, num_bodies: int, num_obs: int,
                device: torch.device) -> torch.Tensor | None:
    """Half-width of the uniform noise of every observation entry ``(num_obs,)``, or None without noise.

    The layout is ``policy_observation``'s: ``[phase], root height, body positions (B*3), body
    rotations (B*4), linear (B*3) and angular (B*3) velocities, reference targets``.
    """
    noise = cfg.observation_noise or {}
    if not any(noise.values()):
        return None
    sizes = dict(zip(NOISE_GROUPS, (1, 3 * num_bodies, 4 * num_bodies, 3 * num_bodies, 3 * num_bodies), strict=True))
    scale = torch.zeros(num_obs, device=device)
    start = 1 if obs_cfg.phase else 0
    for group, size in sizes.items():
        scale[start:start + size] = float(noise.get(group, 0.0))
        start += size
    return scale


def action_rate(actions: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """``sum_i (a_i - a_i_prev)^2`` per environment. Shape: ``(N,)``."""
    return torch.sum((actions - previous) ** 2, dim=-1)


class TransferTerms:
    """The environment's hooks for all of the above (no-ops with the defaults).

    Args:
        cfg: The randomisation settings.
        action_cfg: How actions are clipped (the penalty sees clipped actions).
        action_rate_weight: ``RewardCfg.action_rate_weight``.
        backend: The physics backend (``set_env_models`` needed for friction, mass and gains).
        num_actions: Action size.
        env_seed: The environment's seed (``cfg.seed``: per rank in distributed training, per
            evaluation seed), combined with ``RandomizationCfg.seed``.
        obs_cfg: The observation's layout (for the noise groups).
        device: Torch device of the environment.
    """

    def __init__(self, cfg: RandomizationCfg, action_cfg: ActionCfg, action_rate_weight: float, backend,
                 num_actions: int, env_seed: int, obs_cfg: ObservationCfg, device: torch.device) -> None:
        self.cfg, self.enabled, self.device, self.obs_cfg = cfg, cfg.enabled, device, obs_cfg
        self.num_bodies = len(backend.body_names)
        self.clip, self.weight = action_cfg.clip, float(action_rate_weight)
        n = backend.num_envs
        self.generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + env_seed)
        self.pool = self.scales = self.pool_index = None
        self.delay = None
        self.noise: torch.Tensor | None = None  # half-widths per observation entry, set on the first observation
        self._noisy = self.enabled and any((cfg.observation_noise or {}).values())
        if self.enabled and any(getattr(cfg, k) is not None for k in ("friction", "mass", "kp", "kd")):
            if not hasattr(backend, "set_env_models"):
                raise ConfigError(f"env.randomization: friction, mass, kp and kd need per-environment models, "
                                  f"which the '{type(backend).__name__}' backend does not take; use backend "
                                  "mujoco, or randomise only action_delay and observation_noise")
            if cfg.kp is not None or cfg.kd is not None:
                check_position_actuators(backend.model)
            models, self.scales = randomized_models(backend.model, cfg, self.generator)
            self.pool = np.empty(len(models), dtype=object)
            self.pool[:] = models
            self.pool_index = torch.zeros(n, dtype=torch.long)
            self.backend = backend
        if self.enabled and cfg.action_delay is not None and cfg.action_delay[1] > 0:
            self.delay = ActionDelay(n, num_actions, cfg.action_delay[1], device)
        self.previous_actions = torch.zeros(n, num_actions, device=device)
        self.first_step = torch.ones(n, dtype=torch.bool, device=device)

    def on_reset(self, env_ids: torch.Tensor) -> None:
        """Draw new physics and delays for ``env_ids`` (before the backend resets them)."""
        self.first_step[env_ids] = True
        if self.pool is not None:
            ids = env_ids.cpu()
            self.pool_index[ids] = torch.randint(len(self.pool), (len(ids),), generator=self.generator)
            self.backend.set_env_models(self.pool[self.pool_index.numpy()], list(self.pool))
        if self.delay is not None:
            low, high = self.cfg.action_delay
            draws = torch.randint(low, high + 1, (len(env_ids),), generator=self.generator)
            self.delay.reset(env_ids, draws.to(self.device))

    def delayed(self, targets: torch.Tensor) -> torch.Tensor:
        """The targets the physics gets now (the same tensor without a delay)."""
        return targets if self.delay is None else self.delay(targets).to(targets.dtype)

    def observed(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations (any rows) with noise; the same tensor without noise."""
        if not self._noisy:
            return obs
        if self.noise is None:
            self.noise = noise_scale(self.cfg, self.obs_cfg, self.num_bodies, obs.shape[-1], self.device)
        u = torch.rand(obs.shape, generator=self.generator, dtype=obs.dtype).to(obs.device)
        return obs + (2.0 * u - 1.0) * self.noise

    def penalised(self, reward: torch.Tensor, terms: dict[str, torch.Tensor], actions: torch.Tensor) -> torch.Tensor:
        """The reward less the action-rate penalty; adds ``terms["action_rate"]`` (unchanged when the weight is 0)."""
        if self.weight == 0.0:
            return reward
        clipped = torch.nan_to_num(actions.to(self.device, torch.float32), nan=0.0, posinf=0.0, neginf=0.0)
        clipped = clipped.clamp(-self.clip, self.clip)
        rate = torch.where(self.first_step, torch.zeros_like(reward), action_rate(clipped, self.previous_actions))
        self.previous_actions = clipped
        self.first_step[:] = False
        terms["action_rate"] = rate
        return reward - self.weight * rate

    def env_parameters(self) -> dict[str, torch.Tensor]:
        """Each environment's current physics scales and delay (for tests and logs); empty when off."""
        out = {}
        if self.pool is not None:
            out.update({name: torch.as_tensor(values[self.pool_index.numpy()]) for name, values in self.scales.items()})
        if self.delay is not None:
            out["action_delay"] = self.delay.delays.clone()
        return out
