"""A trained policy for inference, loaded from a checkpoint without PPO, its storage or an environment.

The actor is rebuilt with rsl-rl's model class named in the checkpoint's own experiment
configuration (``train.actor``), sized by a dummy observation ``TensorDict`` of the saved
``obs_dim``, and its state dictionary (observation normaliser included) is loaded strictly.
``Policy.act`` returns the deterministic action (the mean of the Gaussian) in inference mode.
This is what evaluation, ``deepmimic play`` and the ROS policy node use.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import torch
from deepmimic_sim.envs.config import from_dict
from rsl_rl.utils import resolve_class, resolve_obs_groups
from tensordict import TensorDict

from .checkpoint import CheckpointError, load_checkpoint
from .config import ExperimentCfg

OBS_GROUP = "policy"  # the one observation group of ImitationEnv (see vecenv.RslRlVecEnv)


def experiment_from_checkpoint(data: dict[str, Any], path: str | Path) -> ExperimentCfg:
    """The ``ExperimentCfg`` saved in a checkpoint dictionary.

    Raises:
        CheckpointError: The saved configuration is not a valid experiment.
    """
    try:
        return from_dict(ExperimentCfg, data["experiment"], where=f"{path}: experiment")
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path}: invalid saved experiment configuration: {err}") from None


def _dummy_obs(obs_dim: int, device: str | torch.device) -> TensorDict:
    return TensorDict({OBS_GROUP: torch.zeros(1, obs_dim, device=device)}, batch_size=[1], device=device)


def build_actor(cfg: ExperimentCfg, obs_dim: int, num_actions: int,
                device: str | torch.device = "cpu") -> torch.nn.Module:
    """An untrained actor of the architecture in ``cfg.train.actor``, as ``PPO.construct_algorithm`` builds it.

    The global torch random state is left untouched (initial weights come from a forked state).

    Raises:
        ValueError: The actor reads observation groups other than ``policy``.
    """
    rsl = cfg.train.to_rsl_rl()
    obs = _dummy_obs(obs_dim, device)
    with contextlib.redirect_stdout(io.StringIO()):  # rsl-rl prints the resolved groups
        obs_groups = resolve_obs_groups(obs, rsl["obs_groups"], ["actor", "critic"])
    actor_class, actor_cfg = resolve_class(rsl["actor"])
    with torch.random.fork_rng(devices=[]):
        actor = actor_class(obs, obs_groups, "actor", num_actions, **actor_cfg)
    return actor.to(device).eval()


def _required_int(data: dict[str, Any], key: str, path: Path) -> int:
    value = data.get(key)
    if not isinstance(value, int) or value <= 0:
        raise CheckpointError(f"{path}: checkpoint lacks a valid '{key}' (found {value!r})")
    return value


def clip_conditioning(motions: list[str], env_obs_dim: int) -> dict[str, Any] | None:
    """A checkpoint's ``clip_conditioning``: the actor reads ``[env obs (env_obs_dim), one_hot(clip, K)]``
    with clips numbered as in ``motions`` (None for one clip: nothing is appended)."""
    if len(motions) <= 1:
        return None
    return {"encoding": "one_hot_appended", "motions": list(motions), "num_clips": len(motions),
            "env_obs_dim": int(env_obs_dim)}


def append_clip_one_hot(obs: torch.Tensor, clip_ids: torch.Tensor, num_clips: int) -> torch.Tensor:
    """A clip-conditioned student's input: ``obs`` with ``one_hot(clip_ids, num_clips)`` appended
    (nothing appended when ``num_clips <= 1``)."""
    if num_clips <= 1:
        return obs
    one_hot = torch.nn.functional.one_hot(clip_ids.long().to(obs.device), num_clips).to(obs.dtype)
    return torch.cat([obs, one_hot], dim=-1)


class Policy:
    """A trained actor that maps observations to deterministic actions.

    Attributes:
        experiment: The run's experiment configuration (environment and training).
        obs_dim: Observation size the actor expects.
        num_actions: Action size it returns.
        iteration: Training iteration of the checkpoint.
        samples: Environment steps trained on (0 when the checkpoint does not say).
        path: The checkpoint file.
        device: Where the actor runs.
        actor: The rsl-rl actor model (in eval mode).
        num_clips: Clips a clip-conditioned student tells apart (its input ends with a one-hot of the
            clip index, ``env_obs_dim`` values before it); 0 for an ordinary policy.
    """

    def __init__(self, actor: torch.nn.Module, experiment: ExperimentCfg, obs_dim: int, num_actions: int,
                 iteration: int = 0, samples: int = 0, path: Path | None = None,
                 device: str | torch.device = "cpu") -> None:
        self.actor, self.experiment = actor, experiment
        self.obs_dim, self.num_actions = obs_dim, num_actions
        self.iteration, self.samples, self.path = iteration, samples, path
        self.device = torch.device(device)
        self.num_clips = 0
        self._clip_index: torch.Tensor | None = None  # environment clip id -> one-hot index (bind_motions)

    @property
    def env_obs_dim(self) -> int:
        """Observation size of the environment the policy runs in (without the clip one-hot)."""
        return self.obs_dim - self.num_clips

    def observation(self, env_obs: torch.Tensor, motion_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The actor's input: the environment's observation, plus the clip one-hot for a conditioned student."""
        if not self.num_clips:
            return env_obs
        if motion_ids is None:
            raise ValueError("a clip-conditioned policy needs the clip index of every environment")
        if self._clip_index is not None:
            motion_ids = self._clip_index.to(motion_ids.device)[motion_ids.long()]
        return append_clip_one_hot(env_obs, motion_ids, self.num_clips)

    def bind_motions(self, motions: list[str]) -> None:
        """Act in an environment that plays ``motions``: its clip ids are mapped to this student's one-hot.

        The environment numbers its clips in its own order (``--motion run`` makes run clip 0); the
        one-hot must be the student's index of that clip, found by name. An ordinary policy ignores this.

        Raises:
            ValueError: A clip the student was not distilled for.
        """
        if not self.num_clips:
            return
        own = list(self.experiment.env.motions)
        missing = [m for m in motions if m not in own]
        if missing:
            raise ValueError(f"{self.path}: a student for clips {own}, not for {missing}")
        self._clip_index = torch.tensor([own.index(m) for m in motions], dtype=torch.long)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> Policy:
        """Load the actor of a checkpoint written by ``Trainer.save``.

        Args:
            path: ``model_<iteration>.pt``.
            device: Torch device of the actor.

        Raises:
            CheckpointError: Missing, damaged or foreign file, or weights that do not fit the saved architecture.
        """
        path = Path(path)
        data = load_checkpoint(path, device)
        experiment = experiment_from_checkpoint(data, path)
        obs_dim, num_actions = _required_int(data, "obs_dim", path), _required_int(data, "num_actions", path)
        try:
            actor = build_actor(experiment, obs_dim, num_actions, device)
        except (ValueError, TypeError, ImportError, AttributeError) as err:
            raise CheckpointError(f"{path}: cannot rebuild the saved actor: {err}") from None
        try:
            actor.load_state_dict(data["actor_state_dict"], strict=True)
        except (RuntimeError, TypeError, AttributeError) as err:
            raise CheckpointError(f"{path}: actor weights do not fit the saved architecture: {err}") from None
        policy = cls(actor, experiment, obs_dim, num_actions, int(data["iteration"]), int(data.get("samples", 0)),
                     path, device)
        conditioning = data.get("clip_conditioning")
        if conditioning:
            policy.num_clips = int(conditioning["num_clips"])
        return policy

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic actions (the distribution's mean), computed in inference mode.

        Args:
            obs: Observations. Shape: ``(N, obs_dim)`` or ``(obs_dim,)``.

        Returns:
            Normalised actions on the policy's device. Shape: ``(N, num_actions)`` or ``(num_actions,)``.
        """
        single = obs.dim() == 1
        batch = obs[None] if single else obs
        if batch.dim() != 2 or batch.shape[-1] != self.obs_dim:
            raise ValueError(f"observations must have shape (N, {self.obs_dim}), got {tuple(obs.shape)}")
        with torch.inference_mode():
            batch = batch.to(self.device, torch.float32)
            actions = self.actor(TensorDict({OBS_GROUP: batch}, batch_size=[batch.shape[0]], device=self.device))
        return actions[0] if single else actions

    __call__ = act


def load_policy(path: str | Path, device: str | torch.device = "cpu") -> Policy:
    """``Policy.load``: the deterministic policy of a checkpoint."""
    return Policy.load(path, device)
