"""Behaviour cloning and DAgger: distil trained teachers into one student policy.

Shaped like rsl-rl's ``algorithms/distillation.py`` (a student, frozen teachers, an MSE loss on
the deterministic actions) but trained offline on a growing dataset instead of per rollout:

- Behaviour cloning: the teachers act, every state is labelled with the teacher's action
  (``demonstrations.record_demonstrations``), the student regresses onto the labels (minibatches,
  epochs, Adam).
- DAgger (Ross et al., 2011): round ``i`` executes the teacher's action with probability
  ``beta_i = beta_decay ** i`` and the student's otherwise (round 0 is behaviour cloning), the
  teacher labels every visited state, the data are aggregated and the student retrained (warm
  start) on all of them.
- Several single-clip teachers give one multi-clip student: the environment plays all clips, each
  environment is labelled by its own clip's teacher, and the student sees its clip as a one-hot
  vector appended to the observation.

Student checkpoint (``save_checkpoint`` format, what ``policy.Policy.load`` rebuilds): the keys of
a PPO checkpoint that a policy needs, ``actor_state_dict`` of an rsl-rl actor of the architecture
in ``experiment.train.actor`` (by default the first teacher's), ``experiment`` (the first teacher's
with ``env.motions`` = the clips in teacher order), ``obs_dim`` = the actor's input size,
``num_actions``, ``iteration`` (training rounds), ``samples`` (dataset size), plus
``clip_conditioning`` and ``distillation`` (the report). With one teacher ``clip_conditioning`` is
``None`` and the checkpoint is used exactly like a PPO one. With K > 1 teachers it is
``{"encoding": "one_hot_appended", "motions": [...], "num_clips": K, "env_obs_dim": D}``: the
actor's input is ``[env obs (D), one_hot(clip, K)]`` (``obs_dim = D + K``), in the single ``policy``
observation group, where ``clip`` indexes ``motions`` (the environment's ``motion_ids`` when the
environment plays ``motions`` in that order). ``ClipConditioned`` adapts such a policy to one clip.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from deepmimic_sim.envs import ImitationEnv
from deepmimic_sim.envs.config import TerminationCfg
from deepmimic_sim.typed_config import bounded
from tensordict import TensorDict

from .checkpoint import save_checkpoint
from .config import ExperimentCfg
from .demonstrations import Demonstrations, TeacherEnsemble, record_demonstrations
from .evaluate import make_eval_env, run_rollout
from .policy import OBS_GROUP, Policy, append_clip_one_hot, build_actor, clip_conditioning

# Environment settings that must agree between teachers (what the policy sees and what actions mean).
SHARED_ENV_KEYS = ("character", "backend", "substeps", "observation", "action")


@dataclass
class DistillCfg:
    """A distillation run.

    Attributes:
        method: ``"bc"`` or ``"dagger"``.
        steps: Control steps of the batched environment recorded in all (``steps * num_envs`` samples);
            DAgger spreads them over its rounds.
        num_envs: Environments stepped together while recording.
        rounds: DAgger rounds (behaviour cloning: 1).
        beta_decay: DAgger's teacher probability in round ``i`` is ``beta_decay ** i``.
        epochs: Passes over the (aggregated) dataset per round.
        batch_size: Minibatch size.
        learning_rate: Adam's learning rate.
        max_grad_norm: Gradient clipping.
        held_out: Share of the behaviour-cloning data kept out of training to report the action MSE.
        seed: Seed of the environment, the student's initial weights and the minibatches.
        eval_seconds: Rollout length of the teacher/student tracking comparison (0: none).
        eval_envs: Rollouts per clip in that comparison.
    """

    method: str = bounded("dagger", choices=("bc", "dagger"))
    steps: int = bounded(1000, minimum=1)
    num_envs: int = bounded(64, minimum=1)
    rounds: int = bounded(5, minimum=1)
    beta_decay: float = bounded(0.5, minimum=0.0, maximum=1.0)
    epochs: int = bounded(10, minimum=1)
    batch_size: int = bounded(512, minimum=1)
    learning_rate: float = bounded(1e-3, minimum=0.0, exclusive_minimum=True)
    max_grad_norm: float = bounded(1.0, minimum=0.0, exclusive_minimum=True)
    held_out: float = bounded(0.1, minimum=0.0, maximum=0.9)
    seed: int = bounded(0, minimum=0)
    eval_seconds: float = bounded(10.0, minimum=0.0)
    eval_envs: int = bounded(16, minimum=1)


class Distiller:
    """A student trained to regress the teachers' actions (rsl-rl ``Distillation`` without its storage).

    Args:
        student: An rsl-rl model (``MLPModel`` or a drop-in) reading the ``policy`` observation group.
        num_clips: Clips the student is conditioned on (1: none).
        cfg: Learning rate, batch size, gradient clipping.
    """

    def __init__(self, student: nn.Module, num_clips: int, cfg: DistillCfg) -> None:
        self.student, self.num_clips, self.cfg = student, num_clips, cfg
        self.optimizer = torch.optim.Adam(student.parameters(), lr=cfg.learning_rate)
        self._normalised_rows = 0  # rows of the aggregated dataset already fed to the observation normaliser

    def _input(self, obs: torch.Tensor, clip_ids: torch.Tensor) -> TensorDict:
        x = append_clip_one_hot(obs, clip_ids, self.num_clips)
        return TensorDict({OBS_GROUP: x}, batch_size=[len(x)], device=x.device)

    def act(self, obs: torch.Tensor, clip_ids: torch.Tensor) -> torch.Tensor:
        """The student's deterministic actions (a ``demonstrations.ClipPolicy``)."""
        self.student.eval()
        with torch.no_grad():
            return self.student(self._input(obs, clip_ids))

    def action_mse(self, data: Demonstrations) -> float:
        """Mean squared difference between the student's and the teachers' actions on ``data``."""
        return float(nn.functional.mse_loss(self.act(data.obs, data.clip_ids), data.actions))

    def update(self, data: Demonstrations, epochs: int, generator: torch.Generator | None = None) -> list[float]:
        """Train on ``data`` (the aggregated dataset: rows already seen come first).

        The observation normaliser learns from the rows it has not seen yet, then ``epochs`` passes of
        shuffled minibatches minimise the MSE to the teachers' actions.

        Returns:
            Mean loss of each epoch.
        """
        self.student.train()
        if len(data) > self._normalised_rows:
            new = data.subset(torch.arange(self._normalised_rows, len(data)))
            self.student.update_normalization(self._input(new.obs, new.clip_ids))
            self._normalised_rows = len(data)
        losses = []
        for _ in range(epochs):
            order, total = torch.randperm(len(data), generator=generator), 0.0
            for start in range(0, len(data), self.cfg.batch_size):
                batch = data.subset(order[start:start + self.cfg.batch_size])
                loss = nn.functional.mse_loss(self.student(self._input(batch.obs, batch.clip_ids)), batch.actions)
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.student.parameters(), self.cfg.max_grad_norm)
                self.optimizer.step()
                total += loss.item() * len(batch)
            losses.append(total / len(data))
        self.student.eval()
        return losses


def behaviour_cloning(distiller: Distiller, teacher: TeacherEnsemble, env: ImitationEnv, cfg: DistillCfg,
                      generator: torch.Generator | None = None) -> tuple[Demonstrations, list[dict[str, Any]]]:
    """Record ``cfg.steps`` teacher steps, train on all but a held-out share; returns the data and a report.

    The report's ``held_out_mse_before``/``_after`` are the action MSE on the held-out share (``None`` without one).
    """
    data = record_demonstrations(teacher, env, cfg.steps)
    train, held_out = data.split(cfg.held_out, generator)
    before = distiller.action_mse(held_out) if len(held_out) else None
    losses = distiller.update(train, cfg.epochs, generator)
    after = distiller.action_mse(held_out) if len(held_out) else None
    return data, [{"round": 0, "beta": 1.0, "new_samples": len(data), "dataset_size": len(train),
                   "train_loss": losses[-1], "held_out_mse_before": before, "held_out_mse_after": after}]


def dagger(distiller: Distiller, teacher: TeacherEnsemble, env: ImitationEnv, cfg: DistillCfg,
           generator: torch.Generator | None = None) -> tuple[Demonstrations, list[dict[str, Any]]]:
    """``cfg.rounds`` rounds of DAgger over ``cfg.steps`` steps in all; returns the aggregated data and a report.

    Each round's ``new_data_mse`` is the student's action error on the states just visited, before
    training on them: the error on its own state distribution, which DAgger drives down.
    """
    if cfg.rounds < 1:
        raise ValueError(f"DAgger needs at least one round, got {cfg.rounds}")
    steps = max(1, cfg.steps // cfg.rounds)
    data: Demonstrations | None = None
    history = []
    for i in range(cfg.rounds):
        beta = cfg.beta_decay ** i
        new = record_demonstrations(teacher, env, steps, student=distiller.act, beta=beta, generator=generator)
        new_mse = distiller.action_mse(new)
        data = new if data is None else data.cat(new)
        losses = distiller.update(data, cfg.epochs, generator)
        history.append({"round": i, "beta": beta, "new_samples": len(new), "dataset_size": len(data),
                        "teacher_share": float(new.by_teacher.float().mean()), "new_data_mse": new_mse,
                        "train_loss": losses[-1]})
    return data, history  # type: ignore[return-value]


# ------------------------------------------------------------------------------ teachers, students
def student_experiment(teachers: list[Policy]) -> tuple[ExperimentCfg, list[str]]:
    """The student's experiment (the first teacher's, playing every teacher's clip) and the clips in order.

    Raises:
        ValueError: Several teachers that do not play exactly one distinct clip each, or that differ
            in what they observe or how actions act (``SHARED_ENV_KEYS``).
    """
    first = teachers[0].experiment
    if len(teachers) == 1:
        return first, list(first.env.motions)
    clips = []
    for teacher in teachers:
        env = teacher.experiment.env
        if len(env.motions) != 1:
            raise ValueError(f"{teacher.path}: a teacher of a multi-clip student must play one clip, not {env.motions}")
        differ = [k for k in SHARED_ENV_KEYS if getattr(env, k) != getattr(first.env, k)]
        if differ:
            raise ValueError(f"{teacher.path}: environment differs from {teachers[0].path} in {differ}")
        clips.append(env.motions[0])
    if len(set(clips)) != len(clips):
        raise ValueError(f"two teachers for the same clip: {clips}")
    termination = student_termination(teachers)
    return replace(first, env=replace(first.env, motions=clips, motion_weights=None, termination=termination)), clips


def student_termination(teachers: list[Policy]) -> TerminationCfg:
    """One termination rule set for the teachers' clips: each clip keeps its teacher's fall test.

    A teacher trained without the fall test (a get-up) has its clip in ``no_fall_test_clips``; the
    other settings must agree among the teachers that keep the test, and the drift test and time
    limit among all of them.

    Raises:
        ValueError: Teachers whose other termination settings differ, naming the setting.
    """
    terms = [t.experiment.env.termination for t in teachers]
    tested = [term for term in terms if term.fall_contact]
    base = tested[0] if tested else terms[0]
    for teacher, term in zip(teachers, terms, strict=True):
        keys = ["max_body_distance", "episode_length_s"] + (["allowed_contacts"] if term.fall_contact else [])
        differ = [k for k in keys if getattr(term, k) != getattr(base, k)]
        if differ:
            raise ValueError(f"{teacher.path}: termination.{differ[0]} differs from the other teachers' "
                             f"({getattr(term, differ[0])!r} against {getattr(base, differ[0])!r})")
    exempt = [t.experiment.env.motions[0] for t, term in zip(teachers, terms, strict=True)
              if not term.fall_contact or t.experiment.env.motions[0] in term.no_fall_test_clips]
    return replace(base, fall_contact=bool(tested), no_fall_test_clips=exempt if tested else [])


def build_student(cfg: ExperimentCfg, env_obs_dim: int, num_actions: int, num_clips: int) -> nn.Module:
    """An untrained actor of ``cfg.train.actor``'s architecture reading ``env_obs_dim`` (+ ``num_clips`` if > 1)."""
    dim = env_obs_dim + (num_clips if num_clips > 1 else 0)
    return build_actor(cfg, dim, num_actions).train()


def student_payload(distiller: Distiller, cfg: ExperimentCfg, clips: list[str], env_obs_dim: int,
                    num_actions: int, samples: int, report: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint dictionary of a student (see the module docstring)."""
    k = len(clips) if distiller.num_clips > 1 else 1
    conditioning = clip_conditioning(clips, env_obs_dim) if k > 1 else None
    return {"iteration": len(report.get("rounds", [])), "samples": samples, "experiment": asdict(cfg),
            "actor_state_dict": distiller.student.state_dict(), "obs_dim": env_obs_dim + (k if k > 1 else 0),
            "num_actions": num_actions, "clip_conditioning": conditioning, "distillation": report}


class ClipConditioned:
    """A clip-conditioned policy fixed to one clip, seen as an ordinary policy of the environment's observation.

    Args:
        policy: The student (``Policy.load`` of a checkpoint with ``clip_conditioning``).
        clip: Index of the clip in ``clip_conditioning["motions"]``.
        num_clips: K.
    """

    def __init__(self, policy: Policy, clip: int, num_clips: int) -> None:
        self.policy, self.clip, self.num_clips = policy, clip, num_clips
        self.obs_dim, self.num_actions = policy.obs_dim - num_clips, policy.num_actions
        self.env_obs_dim = self.obs_dim

    def observation(self, env_obs: torch.Tensor, motion_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The environment's observation as it is (the clip is fixed)."""
        return env_obs

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic actions for observations ``(N, obs_dim)`` of the fixed clip."""
        clip_ids = torch.full((len(obs),), self.clip, dtype=torch.long, device=obs.device)
        return self.policy.act(append_clip_one_hot(obs, clip_ids, self.num_clips))

    __call__ = act


def compare_tracking(teachers: list[Policy], student: Policy, clips: list[str], cfg: DistillCfg,
                     ) -> dict[str, dict[str, dict[str, float]]]:
    """Tracking metrics (``evaluate.summarise``) of each teacher and of the student on the same clip and starts.

    Returns:
        ``{clip: {"teacher": metrics, "student": metrics}}``; with one teacher, it is compared on each of its clips.
    """
    out = {}
    for k, clip in enumerate(clips):
        teacher = teachers[k] if len(teachers) > 1 else teachers[0]
        acting = ClipConditioned(student, k, len(clips)) if len(teachers) > 1 else student
        out[clip] = {}
        for name, policy in (("teacher", teacher), ("student", acting)):
            env = make_eval_env(teacher.experiment.env, cfg.eval_seconds, cfg.eval_envs, cfg.seed, clip)
            out[clip][name] = run_rollout(policy, env, record_env=None).summary()  # type: ignore[arg-type]
    return out


def distill(teacher_paths: list[str | Path], out_dir: str | Path, cfg: DistillCfg) -> dict[str, Any]:
    """Distil the teachers' checkpoints into a student saved as ``<out_dir>/model_<rounds>.pt``.

    Returns:
        The report (also written to ``<out_dir>/distillation.json`` and into the checkpoint), with
        ``checkpoint``: the student's path.

    Raises:
        CheckpointError: A teacher checkpoint that cannot be loaded. ValueError: Incompatible teachers.
    """
    if cfg.method not in ("bc", "dagger"):
        raise ValueError(f"method must be 'bc' or 'dagger', got {cfg.method!r}")
    torch.manual_seed(cfg.seed)
    teachers = [Policy.load(p) for p in teacher_paths]
    experiment, clips = student_experiment(teachers)
    env = ImitationEnv(replace(experiment.env, num_envs=cfg.num_envs, seed=cfg.seed))
    num_clips = len(clips) if len(teachers) > 1 else 1
    distiller = Distiller(build_student(experiment, env.num_obs, env.num_actions, num_clips), num_clips, cfg)
    generator = torch.Generator().manual_seed(cfg.seed)
    train = behaviour_cloning if cfg.method == "bc" else dagger
    data, rounds = train(distiller, TeacherEnsemble(teachers), env, cfg, generator)
    report: dict[str, Any] = {"method": cfg.method, "teachers": [str(p) for p in teacher_paths], "clips": clips,
                              "config": asdict(cfg), "rounds": rounds}
    out_dir = Path(out_dir)
    path = out_dir / f"model_{len(rounds)}.pt"
    payload = student_payload(distiller, experiment, clips, env.num_obs, env.num_actions, len(data), report)
    save_checkpoint(path, payload)
    if cfg.eval_seconds > 0:
        report["tracking"] = compare_tracking(teachers, Policy.load(path), clips, cfg)
        save_checkpoint(path, {**payload, "distillation": report})
    report["checkpoint"] = str(path)
    (out_dir / "distillation.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
