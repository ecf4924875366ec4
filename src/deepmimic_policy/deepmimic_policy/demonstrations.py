"""Demonstrations for behaviour cloning and DAgger: states visited in the batched environment,
labelled with the teachers' deterministic actions.

A teacher is any ``obs -> actions`` callable (``policy.Policy`` is one); several single-clip
teachers form a ``TeacherEnsemble`` that labels each environment with its own clip's teacher
(``ImitationEnv.motion_ids`` index ``cfg.motions``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from deepmimic_sim.envs import ImitationEnv

Teacher = Callable[[torch.Tensor], torch.Tensor]
"""Deterministic policy of one clip: observations ``(N, obs_dim)`` -> actions ``(N, num_actions)``."""

ClipPolicy = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A policy told each row's clip: ``(obs (N, obs_dim), clip_ids (N,)) -> actions (N, num_actions)``."""


class TeacherEnsemble:
    """One teacher per clip; with a single teacher, it labels every clip.

    Args:
        teachers: ``teachers[k]`` acts on clip ``k`` (the environment's ``cfg.motions[k]``).
    """

    def __init__(self, teachers: Sequence[Teacher]) -> None:
        if not teachers:
            raise ValueError("at least one teacher is needed")
        self.teachers = list(teachers)

    def __call__(self, obs: torch.Tensor, clip_ids: torch.Tensor) -> torch.Tensor:
        """Each row's action from its clip's teacher. Shape: ``(N, num_actions)``."""
        if len(self.teachers) == 1:
            return self.teachers[0](obs)
        actions: torch.Tensor | None = None
        for clip, teacher in enumerate(self.teachers):
            rows = torch.nonzero(clip_ids == clip).flatten()
            if len(rows) == 0:
                continue
            labels = teacher(obs[rows])
            if actions is None:
                actions = torch.zeros(len(obs), labels.shape[-1], dtype=labels.dtype, device=labels.device)
            actions[rows] = labels
        if actions is None or bool((clip_ids >= len(self.teachers)).any()):
            raise ValueError(f"clip ids {clip_ids.unique().tolist()} outside the {len(self.teachers)} teachers")
        return actions


@dataclass
class Demonstrations:
    """A dataset of labelled states.

    Attributes:
        obs: Environment observations (without clip conditioning). Shape: ``(N, obs_dim)``.
        clip_ids: Clip of each state (index into the environment's ``cfg.motions``). Shape: ``(N,)``.
        actions: The teachers' actions, the labels. Shape: ``(N, num_actions)``.
        by_teacher: Whether the teacher (rather than the student) chose the executed action. Shape: ``(N,)``.
    """

    obs: torch.Tensor
    clip_ids: torch.Tensor
    actions: torch.Tensor
    by_teacher: torch.Tensor

    def __len__(self) -> int:
        return len(self.obs)

    def cat(self, other: Demonstrations) -> Demonstrations:
        """This dataset followed by ``other`` (DAgger's aggregation)."""
        return Demonstrations(*(torch.cat([a, b]) for a, b in zip(self._fields(), other._fields(), strict=True)))

    def subset(self, index: torch.Tensor) -> Demonstrations:
        """The rows ``index``."""
        return Demonstrations(*(field[index] for field in self._fields()))

    def split(self, held_out: float, generator: torch.Generator | None = None) -> tuple[Demonstrations, Demonstrations]:
        """Random ``(train, held_out)`` split with a ``held_out`` share of the rows in the second part."""
        order = torch.randperm(len(self), generator=generator)
        cut = len(self) - round(held_out * len(self))
        return self.subset(order[:cut]), self.subset(order[cut:])

    def _fields(self) -> tuple[torch.Tensor, ...]:
        return self.obs, self.clip_ids, self.actions, self.by_teacher


def _as_ensemble(teacher: Teacher | TeacherEnsemble) -> TeacherEnsemble:
    return teacher if isinstance(teacher, TeacherEnsemble) else TeacherEnsemble([teacher])


def record_demonstrations(teacher: Teacher | TeacherEnsemble, env: ImitationEnv, steps: int,
                          student: ClipPolicy | None = None, beta: float = 1.0,
                          generator: torch.Generator | None = None) -> Demonstrations:
    """Step ``env`` for ``steps`` control steps, recording every state and the teacher's action there.

    With ``student`` (DAgger), each environment at each step executes the teacher's action with
    probability ``beta`` and the student's otherwise; the label is always the teacher's. The
    environment resets finished episodes itself (reference state initialisation).

    Args:
        teacher: A teacher, or a ``TeacherEnsemble`` of one per clip.
        env: The environment (with automatic resets); it continues from its current state.
        steps: Control steps; the dataset gets ``steps * env.num_envs`` rows.
        student: The student's deterministic policy, or ``None`` (the teacher acts: behaviour cloning).
        beta: Probability that the teacher acts (when ``student`` is given).
        generator: Random numbers of the teacher/student choice.

    Returns:
        The states visited and their labels, in step order (``steps`` blocks of ``num_envs`` rows).
    """
    label = _as_ensemble(teacher)
    rows: list[tuple[torch.Tensor, ...]] = []
    obs = env.obs
    with torch.no_grad():  # not inference_mode: the rows are used for training later
        for _ in range(steps):
            clip_ids = env.motion_ids.clone()
            labels = label(obs, clip_ids).to(obs.device, torch.float32)
            by_teacher = torch.ones(env.num_envs, dtype=torch.bool, device=obs.device)
            executed = labels
            if student is not None and beta < 1.0:
                by_teacher = torch.rand(env.num_envs, generator=generator).to(obs.device) < beta
                executed = torch.where(by_teacher[:, None], labels, student(obs, clip_ids).to(labels))
            rows.append((obs.clone(), clip_ids, labels, by_teacher))
            obs = env.step(executed)[0]
    return Demonstrations(*(torch.cat(column) for column in zip(*rows, strict=True)))
