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

from deepmimic_sim.envs.config import ImitationEnvCfg, from_dict


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
    num_learning_epochs: int = 5
    num_mini_batches: int = 4
    clip_param: float = 0.2
    gamma: float = 0.95
    lam: float = 0.95
    value_loss_coef: float = 1.0
    entropy_coef: float = 0.0
    learning_rate: float = 1e-3
    max_grad_norm: float = 1.0
    use_clipped_value_loss: bool = True
    schedule: str = "adaptive"
    desired_kl: float = 0.01


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
    """

    num_steps_per_env: int = 24
    max_iterations: int = 3000
    save_interval: int = 25
    seed: int = 0
    actor: ModelCfg = field(default_factory=_actor)
    critic: ModelCfg = field(default_factory=ModelCfg)
    algorithm: PPOCfg = field(default_factory=PPOCfg)
    obs_groups: dict[str, list[str]] = field(default_factory=lambda: {"actor": ["policy"], "critic": ["policy"]})

    def to_rsl_rl(self) -> dict[str, Any]:
        """The runner dictionary rsl-rl-lib's ``PPO.construct_algorithm`` reads."""
        cfg = asdict(self)
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
    """Read a YAML experiment file; unknown keys are errors naming the file and the key.

    A file may start from another with ``base: other.yaml`` (relative to the file) and override
    only what differs.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: invalid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with 'env' and 'train'")
    base = load_experiment(path.parent / data.pop("base")) if "base" in data else None
    return from_dict(ExperimentCfg, data, where=str(path), base=base)


def save_experiment(cfg: ExperimentCfg, path: str | Path) -> None:
    """Write the resolved configuration (next to every run's checkpoints)."""
    Path(path).write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))
