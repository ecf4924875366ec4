"""PPO training of an imitation policy with rsl-rl-lib's PPO, our loop around it.

Why our own loop instead of rsl-rl's ``OnPolicyRunner``: the runner prints a text block per
iteration and saves with ``torch.save`` in place; we need a progress bar with samples/s and
tracking error, atomic checkpoints that resume a run killed at any moment, and a JSON history for
learning curves. The algorithm itself (``PPO.construct_algorithm``, ``act``, ``process_env_step``,
``compute_returns``, ``update``) is rsl-rl's, unchanged.
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from deepmimic_sim.envs import ImitationEnv
from deepmimic_sim.typed_config import ConfigError
from rsl_rl.algorithms import PPO

from .checkpoint import CheckpointError, latest_checkpoint, load_checkpoint, save_checkpoint
from .config import ExperimentCfg, save_experiment
from .policy import clip_conditioning
from .run_folder import HISTORY_FILE, open_run_folder, truncate_history
from .vecenv import RslRlVecEnv

# Torch threads while collecting a rollout. Its tensors are small (256 x 302): a second OpenMP
# thread saves nothing on them, and its workers spin after each op and take the core that
# MuJoCo's rollout threads need next (bench/bench_train_speed.py; docs/training.md).
COLLECT_TORCH_THREADS = 1
RESUME_KEYS = ("critic_state_dict", "optimizer_state_dict", "learning_rate", "torch_rng", "env_rng", "samples",
               "wall_s")


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block on ``count`` torch threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def bfloat16_is_native(device: str | torch.device) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively (CPU: AVX512-BF16 or AMX;
    CUDA: compute capability 8.0 or later), so that rsl-rl's bfloat16 update is faster than float32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class IterationStats:
    """Accumulates one iteration's rollout figures without per-environment loops."""

    def __init__(self) -> None:
        self.reward_sum = 0.0
        self.steps = 0
        self.episode_steps: list[torch.Tensor] = []
        self.terminations = 0
        self.tracking: dict[str, float] = {}
        self.diverged = 0

    def add(self, reward: torch.Tensor, extras: dict, dones: torch.Tensor) -> None:
        """Record one step of all environments."""
        self.reward_sum += float(reward.sum())
        self.steps += reward.numel()
        self.episode_steps.append(extras["episode_steps"])
        self.terminations += int((dones.bool() & ~extras["time_outs"]).sum())
        self.diverged += extras["diverged"]
        for key, value in (extras["tracking"] or {}).items():
            self.tracking[key] = self.tracking.get(key, 0.0) + float(value.sum())

    def summary(self, control_dt: float) -> dict[str, float]:
        """Means over the iteration."""
        lengths = torch.cat(self.episode_steps).float() if self.episode_steps else torch.zeros(0)
        out = {"reward_per_step": self.reward_sum / max(self.steps, 1),
               "episodes": int(lengths.numel()), "terminations": self.terminations, "diverged": self.diverged}
        if lengths.numel():
            out["episode_length_s"] = float(lengths.mean()) * control_dt
        out.update({k: v / max(self.steps, 1) for k, v in self.tracking.items()})
        return out


class Trainer:
    """Builds the environment and PPO from an ``ExperimentCfg`` and trains, checkpointing to ``run_dir``.

    ``env`` replaces the environment built from ``cfg.env``: the trainer node passes a
    ``RemoteImitationEnv`` whose environments live in a simulator node. ``run_dir`` must be empty
    or absent unless ``resume`` is set (``run_folder.open_run_folder``); ``cfg`` is not changed.
    ``deepmimic_policy.distributed.DistributedTrainer`` is this trainer as one rank of several
    (torch.distributed); the hooks it overrides are marked "distributed hook".
    """

    is_main = True  # distributed hook: only the main rank writes the run folder

    def __init__(self, cfg: ExperimentCfg, run_dir: str | Path, device: str = "cpu",
                 env: ImitationEnv | Any | None = None, resume: bool = False) -> None:
        # Only the main rank owns (checks, creates, cuts back) the run folder.
        self.run_dir = open_run_folder(run_dir, resume) if self.is_main else Path(run_dir)
        self.cfg, self.device = cfg, device
        seed = self._seed()
        self.cfg = cfg = replace(cfg, env=replace(cfg.env, seed=seed))
        torch.manual_seed(seed)
        np.random.seed(seed)
        self.env = env if env is not None else ImitationEnv(cfg.env)
        self.env.record_tracking = True
        self.env.keep_final_obs = False  # rsl-rl bootstraps time-outs from the values it stored
        self.vecenv = RslRlVecEnv(self.env, self._one_hot_clips())
        try:
            self.alg: PPO = PPO.construct_algorithm(self.vecenv.get_observations(), self.vecenv,
                                                    self._rsl_rl_cfg(), device)
        except KeyError as err:  # rsl-rl reads its dictionaries by key; a YAML dictionary replaces the default whole
            raise ConfigError(f"train: rsl-rl needs the key {err} (a dictionary such as train.actor.distribution_cfg "
                             "replaces the default whole: give all its keys)") from None
        self._split_learning_rates()
        if self.alg.use_mixed_precision and not bfloat16_is_native(device):
            warnings.warn(f"train.algorithm.use_mixed_precision: this {device} has no native bfloat16 (it would be "
                          "emulated, slower than float32); the update runs in float32", stacklevel=2)
            self.alg.use_mixed_precision = False
        self.total_envs = self.env.num_envs  # environments of all ranks (distributed hook)
        self.iteration = 0
        self.samples = 0
        self.wall_s = 0.0
        self._warm_up_normalizers()
        if self.is_main:
            save_experiment(cfg, self.run_dir / "config.yaml")
        self._writer = None
        self._purge_step: int | None = None
        self.started_from: dict[str, Any] | None = None  # the checkpoint whose actor this run started from

    def _split_learning_rates(self) -> None:
        """``train.actor_learning_rate``: one optimiser, two parameter groups (actor, critic)."""
        rate = self.cfg.train.actor_learning_rate
        if rate is None:
            return
        if self.cfg.train.algorithm.schedule != "fixed":
            raise ConfigError("train.actor_learning_rate: needs train.algorithm.schedule: fixed (the adaptive "
                              "schedule sets one learning rate for the actor and the critic)")
        self.alg.optimizer = type(self.alg.optimizer)([
            {"params": self.alg.actor.parameters(), "lr": rate},
            {"params": self.alg.critic.parameters(), "lr": self.cfg.train.algorithm.learning_rate}])

    def _one_hot_clips(self) -> int:
        """K when ``train.clip_one_hot`` appends a K-clip one-hot to the observation, else 0."""
        if not self.cfg.train.clip_one_hot:
            return 0
        if len(self.cfg.env.motions) < 2 or not hasattr(self.env, "motion_ids"):
            raise ConfigError("train.clip_one_hot: needs at least two env.motions and an environment in this "
                             f"process (got {len(self.cfg.env.motions)} motion(s), {type(self.env).__name__})")
        return len(self.cfg.env.motions)

    def _seed(self) -> int:
        """Seed of torch and the environment (distributed hook: one per rank)."""
        return self.cfg.train.seed

    def _rsl_rl_cfg(self) -> dict[str, Any]:
        """rsl-rl's runner dictionary (distributed hook: sets ``multi_gpu``)."""
        return self.cfg.train.to_rsl_rl()

    def _warm_up_normalizers(self) -> None:
        """Seed the observation normalisers with one rollout of the initial policy.

        rsl-rl updates them only after each PPO update, so the first update would otherwise see raw
        observations (velocities of several m/s), take a huge step and make the adaptive schedule
        collapse the learning rate to its floor for the rest of the run.
        """
        obs = self.vecenv.get_observations()
        batch = [obs]
        with torch.inference_mode(), torch_threads(COLLECT_TORCH_THREADS):
            for _ in range(self.cfg.train.num_steps_per_env):
                obs, *_ = self.vecenv.step(self.alg.actor(obs, stochastic_output=True))
                batch.append(obs)
        stacked = torch.cat([b["policy"] for b in batch])
        for model in (self.alg.actor, self.alg.critic):
            model.update_normalization(type(obs)({"policy": stacked}, batch_size=[len(stacked)]))
        self.vecenv.env.reset()

    # ----------------------------------------------------------------------------- checkpoints
    def state(self) -> dict[str, Any]:
        """Everything a resume needs."""
        return {**self.alg.save(), "iteration": self.iteration, "samples": self.samples, "wall_s": self.wall_s,
                "learning_rate": self.alg.learning_rate, "experiment": asdict(self.cfg),
                "torch_rng": torch.get_rng_state(), "env_rng": self.env.generator.get_state(),
                "obs_dim": self.vecenv.num_obs, "num_actions": self.env.num_actions, "started_from": self.started_from,
                "clip_conditioning": clip_conditioning(self.cfg.env.motions, self.env.num_obs) if self.vecenv.num_clips
                else None}

    def save(self) -> Path:
        """Write ``model_<iteration>.pt`` atomically."""
        return save_checkpoint(self.run_dir / f"model_{self.iteration}.pt", self.state())

    def resume(self, path: str | Path | None = None) -> bool:
        """Continue from a checkpoint (the run's newest when ``path`` is None); False if there is none.

        The run folder is cut back to the checkpoint's iteration: later history records, TensorBoard
        events (``purge_step``) and checkpoints are dropped, so the run lists every iteration once.
        """
        path = Path(path) if path else latest_checkpoint(self.run_dir)
        if path is None:
            self._cut_back_to(0)
            return False
        self._restore(path, load_checkpoint(path, self.device))
        return True

    def start_actor_from(self, path: str | Path) -> None:
        """Start a new run's actor from another run's (fine-tuning a related clip: stealthy walk from walk).

        ``path`` is a training checkpoint or an exported policy of the same character and
        observation layout. Its actor's weights and observation normaliser are taken; the critic, the
        optimiser and the exploration noise (the config's initial std) start fresh, since the values
        and the learned std belong to the other clip.
        """
        path = Path(path)
        if self.iteration:
            raise CheckpointError(f"{path}: an actor can only be taken at the start of a run (this one is at "
                                  f"iteration {self.iteration})")
        data = load_checkpoint(path, self.device)
        ours = (self.vecenv.num_obs, self.env.num_actions)
        if (data.get("obs_dim"), data.get("num_actions")) != ours:
            raise CheckpointError(f"{path}: its actor takes {data.get('obs_dim')} observations and gives "
                                  f"{data.get('num_actions')} actions; this run's takes {ours[0]} and gives {ours[1]}"
                                  + ("" if self.vecenv.num_clips or not data.get("clip_conditioning") else
                                     " (a clip-conditioned policy: set train.clip_one_hot)"))
        theirs = (data.get("clip_conditioning") or {}).get("motions")
        if theirs is not None and self.vecenv.num_clips and list(theirs) != list(self.cfg.env.motions):
            raise CheckpointError(f"{path}: its clip one-hot is for motions {list(theirs)}; this run's env.motions "
                                  f"are {list(self.cfg.env.motions)} (the same clips in the same order are needed)")
        weights = {k: v for k, v in data["actor_state_dict"].items() if not k.startswith("distribution.")}
        try:
            result = self.alg.actor.load_state_dict(weights, strict=False)
        except RuntimeError as err:  # same sizes in and out, other hidden layers
            raise CheckpointError(f"{path}: its actor's layers do not match train.actor: {err}") from None
        missing = [k for k in result.missing_keys if not k.startswith("distribution.")]
        if missing or result.unexpected_keys:
            raise CheckpointError(f"{path}: its actor does not match train.actor (missing {missing}, "
                                  f"unexpected {result.unexpected_keys})")
        self.started_from = {"checkpoint": str(path), "iteration": int(data["iteration"]),
                             "samples": int(data.get("samples", 0))}
        self._freeze_actor_normalizer()

    def _freeze_actor_normalizer(self) -> None:
        """Keep the taken actor's observation scaling: its weights were fitted to it, and a running
        mean over the new run's states (transitions, another clip) would change what the actor sees
        under it. Measured: fine-tuning the six-clip student on clip switches with the scaling
        updating, run's success fell from 100 % to 69 % within 150 iterations (docs/skills.md)."""
        normalizer = getattr(self.alg.actor, "obs_normalizer", None)
        if normalizer is not None and hasattr(normalizer, "until"):
            normalizer.until = int(normalizer.count)

    def _restore(self, path: Path, data: dict[str, Any]) -> None:
        """Load a checkpoint's state into the algorithm and the counters (distributed hook)."""
        missing = [k for k in RESUME_KEYS if k not in data]
        if missing:
            raise CheckpointError(f"{path}: cannot resume training from it (a policy-only export?); lacks {missing}")
        self.alg.load(data, None, strict=True)
        self.alg.learning_rate = data["learning_rate"]
        self.iteration, self.samples, self.wall_s = data["iteration"], data["samples"], data["wall_s"]
        self.started_from = data.get("started_from")
        if self.started_from:
            self._freeze_actor_normalizer()
        torch.set_rng_state(data["torch_rng"])
        self.env.generator.set_state(data["env_rng"])
        if self.is_main:
            self._cut_back_to(self.iteration)

    def _cut_back_to(self, iteration: int) -> None:
        truncate_history(self.run_dir, iteration)
        for later in self.run_dir.glob("model_*.pt"):
            if later.stem.split("_")[1].isdigit() and int(later.stem.split("_")[1]) > iteration:
                later.unlink()
        self._purge_step = iteration + 1

    # -------------------------------------------------------------------------------- training
    def _collect(self) -> IterationStats:
        stats = IterationStats()
        obs = self.vecenv.get_observations()
        with torch.inference_mode(), torch_threads(COLLECT_TORCH_THREADS):
            for _ in range(self.cfg.train.num_steps_per_env):
                actions = self.alg.act(obs)
                obs, reward, dones, extras = self.vecenv.step(actions)
                self.alg.process_env_step(obs, reward, dones, extras)
                stats.add(reward, extras, dones)
            self.alg.compute_returns(obs)
        return stats

    def train_iteration(self) -> dict[str, float]:
        """One rollout and one PPO update; returns the iteration's figures."""
        start = time.perf_counter()
        stats = self._collect()
        collect_s = time.perf_counter() - start
        rollout = self.alg.storage.observations.flatten(0, 1), self.alg.storage.distribution_params
        losses = self.alg.update()
        update_kl = self._update_kl(*rollout)
        elapsed = time.perf_counter() - start
        self.iteration += 1
        batch = self.cfg.train.num_steps_per_env * self.total_envs
        self.samples += batch
        self.wall_s += elapsed
        record = {"iteration": self.iteration, "samples": self.samples, "wall_s": round(self.wall_s, 2),
                  "samples_per_s": batch / elapsed, "collect_s": collect_s, "update_s": elapsed - collect_s,
                  "learning_rate": self.alg.learning_rate, "update_kl": update_kl,
                  "action_std": float(self.alg.get_policy().output_std.detach().mean()),
                  **stats.summary(self.env.control_dt), **{f"loss/{k}": v for k, v in losses.items()}}
        self._log(record)
        return record

    def _update_kl(self, obs: Any, old_params: tuple[torch.Tensor, ...] | None) -> float:
        """Mean KL(policy that collected the rollout || policy after the update and normaliser step).

        rsl-rl's adaptive schedule tests this KL after every minibatch step, so within one update it
        only grows; the learning rate logged at the end of an update is therefore the bottom of a
        saw-tooth (see docs/training.md). This figure is what the update actually moved the policy.
        """
        if old_params is None:
            return float("nan")
        old_mean, old_std = (p.flatten(0, 1) for p in old_params[:2])
        with torch.inference_mode():
            self.alg.actor(obs, stochastic_output=True)
            kl = self.alg.actor.get_kl_divergence((old_mean, old_std), self.alg.actor.output_distribution_params)
        return float(kl.mean())

    def run(self, target_iteration: int, on_iteration: Callable[[dict[str, Any]], None] | None = None,
            on_checkpoint: Callable[[Path], None] | None = None) -> Path:
        """Train until ``target_iteration``, saving every ``save_interval`` iterations and at the end.

        Args:
            target_iteration: Iteration to stop at (a resumed run counts from where it was).
            on_iteration: Called with each iteration's record (progress display).
            on_checkpoint: Called with each checkpoint's path once it is complete on disk.

        Returns:
            The final checkpoint.
        """
        while self.iteration < target_iteration:
            record = self.train_iteration()
            if on_iteration is not None:
                on_iteration(record)
            if self.iteration % self.cfg.train.save_interval == 0 and self.iteration < target_iteration:
                path = self.save()
                if on_checkpoint is not None:
                    on_checkpoint(path)
        path = self.save()
        if on_checkpoint is not None:
            on_checkpoint(path)
        return path

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.run_dir / HISTORY_FILE, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=self._purge_step)
        for key, value in record.items():
            if key != "iteration" and isinstance(value, (int, float)):
                self._writer.add_scalar(key, value, self.iteration)
        self._writer.flush()  # on disk with the history line: a killed run loses no logged iteration

    def close(self) -> None:
        """Flush logs."""
        if self._writer is not None:
            self._writer.close()
