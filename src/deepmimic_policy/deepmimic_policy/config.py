"""Training configuration: dataclasses hold the defaults, ``config/*.yaml`` overrides them.

The ``train`` section mirrors rsl-rl-lib's runner dictionary (``algorithm``, ``actor``,
``critic``, ``num_steps_per_env`` ...) so that ``to_rsl_rl`` is a plain ``asdict``. rsl-rl-lib is
pinned (5.5.1) because its actor/critic API changed in 5.x.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from deepmimic_sim.envs.config import ImitationEnvCfg
from deepmimic_sim.typed_config import ConfigError, bounded, load_yaml_config, override

__all__ = ["ConfigError", "ExperimentCfg", "ModelCfg", "PPOCfg", "TrainCfg", "load_experiment", "override",
           "save_experiment"]


@dataclass
class ModelCfg:
    """An actor or critic network (rsl-rl model class and its arguments).

    Attributes:
        class_name: rsl-rl name (``MLPModel``) or ``"module:Class"`` (the experimental
            ``deepmimic_policy.models.body_attention:BodyAttentionModel``).
        hidden_dims: Hidden layer sizes (DeepMimic: 1024, 512).
        activation: Activation name understood by rsl-rl (``relu``, ``elu``).
        obs_normalization: Running mean/std normalisation of the inputs (DeepMimic does this).
        distribution_cfg: Output distribution of the actor (Gaussian, learned std), ``None`` for the critic.
        model_kwargs: Further arguments of ``class_name`` (``num_future`` of the body-attention model).
    """

    class_name: str = "MLPModel"
    hidden_dims: list[int] = field(default_factory=lambda: [1024, 512])
    activation: str = "relu"
    obs_normalization: bool = True
    distribution_cfg: dict[str, Any] | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)


def _actor() -> ModelCfg:
    return ModelCfg(distribution_cfg={"class_name": "GaussianDistribution", "init_std": 0.5, "std_type": "scalar"})


@dataclass
class PPOCfg:
    """rsl-rl PPO arguments (see rsl_rl.algorithms.PPO)."""

    class_name: str = "PPO"
    num_learning_epochs: int = bounded(5, minimum=1)
    num_mini_batches: int = bounded(4, minimum=1)
    clip_param: float = bounded(0.2, minimum=0.0, exclusive_minimum=True)
    gamma: float = bounded(0.95, minimum=0.0, maximum=1.0)
    lam: float = bounded(0.95, minimum=0.0, maximum=1.0)
    value_loss_coef: float = bounded(1.0, minimum=0.0)
    entropy_coef: float = bounded(0.0, minimum=0.0)
    learning_rate: float = bounded(1e-3, minimum=0.0, exclusive_minimum=True)
    max_grad_norm: float = bounded(1.0, minimum=0.0, exclusive_minimum=True)
    use_clipped_value_loss: bool = True
    schedule: str = bounded("adaptive", choices=("adaptive", "fixed"))
    desired_kl: float = bounded(0.01, minimum=0.0, exclusive_minimum=True)
    # rsl-rl's bfloat16 autocast of the update's forward pass and losses (weights, gradients and
    # Adam stay float32). On CPUs with AVX512-BF16 or AMX the matrix products take half the time.
    use_mixed_precision: bool = False


@dataclass
class TrainCfg:
    """The training run.

    Attributes:
        num_steps_per_env: Control steps per environment per iteration.
        max_iterations: Iterations of a full-quality run.
        save_interval: Iterations between checkpoints.
        seed: Seed of torch and the environment.
        actor, critic, algorithm: Networks and PPO.
        obs_groups: rsl-rl observation sets (actor and critic both read ``policy``).
        clip_one_hot: Append the one-hot of each environment's clip (its index in ``env.motions``)
            to the observation, as a distilled multi-clip student reads it: the input of a
            multi-clip policy that ``--init-from`` starts from such a student.
        actor_learning_rate: The actor's own learning rate, the critic keeping
            ``algorithm.learning_rate`` (``None``: one rate for both, rsl-rl's way). For fine-tuning
            a trained actor (``--init-from``) beside a fresh critic: with its std near the teachers'
            (0.2), even rsl-rl's floor rate of 1e-5 moved the student by a KL of 0.08-0.2 per update.
            Needs ``algorithm.schedule: fixed`` (the adaptive schedule sets one rate for all).
    """

    num_steps_per_env: int = bounded(24, minimum=1)
    max_iterations: int = bounded(3000, minimum=1)
    save_interval: int = bounded(25, minimum=1)
    seed: int = bounded(0, minimum=0)
    actor: ModelCfg = field(default_factory=_actor)
    critic: ModelCfg = field(default_factory=ModelCfg)
    algorithm: PPOCfg = field(default_factory=PPOCfg)
    obs_groups: dict[str, list[str]] = field(default_factory=lambda: {"actor": ["policy"], "critic": ["policy"]})
    clip_one_hot: bool = False
    actor_learning_rate: float | None = bounded(None, minimum=0.0, exclusive_minimum=True)

    def to_rsl_rl(self) -> dict[str, Any]:
        """The runner dictionary rsl-rl-lib's ``PPO.construct_algorithm`` reads."""
        cfg = asdict(self)
        cfg.pop("clip_one_hot")
        cfg.pop("actor_learning_rate")
        if cfg["critic"]["distribution_cfg"] is None:
            cfg["critic"].pop("distribution_cfg")
        for model in ("actor", "critic"):
            cfg[model].update(cfg[model].pop("model_kwargs"))
        cfg["multi_gpu"] = None
        return cfg


@dataclass
class ExperimentCfg:
    """Everything a run needs: the environment and the training."""

    env: ImitationEnvCfg = field(default_factory=ImitationEnvCfg)
    train: TrainCfg = field(default_factory=TrainCfg)


def load_experiment(path: str | Path) -> ExperimentCfg:
    """Read a YAML experiment file (after its ``base:`` file, relative to it, when it names one).

    Raises:
        ConfigError: One line naming the file, line, key, value and what is allowed (unknown keys,
            wrong types, values out of range, invalid YAML).
    """
    return load_yaml_config(ExperimentCfg, path)


def save_experiment(cfg: ExperimentCfg, path: str | Path) -> None:
    """Write the resolved configuration (next to every run's checkpoints)."""
    Path(path).write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))
