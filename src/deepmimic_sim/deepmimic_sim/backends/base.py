"""The physics backend contract: everything the imitation environment asks of a simulator.

A backend steps ``num_envs`` copies of one character model together. State lives wherever the
backend keeps it (NumPy/MuJoCo on the CPU, Warp on a GPU); every getter returns a torch tensor on
``device`` that leads with ``num_envs``, so rewards and observations run on the same device
without copies. Subsets of environments are named by ``env_ids``, a 1-D long tensor.

Frames and conventions: world z-up, quaternions (w, x, y, z), ``qpos``/``qvel`` in MuJoCo's layout
(free root joint, then hinges in model order; see ``model/joint_mapping.py``). Bodies are the
character's bodies in skeleton order (``body_names``), not MuJoCo's body order.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

import torch

QVEL_LIMIT = 1e3
"""``|qvel|`` (m/s or rad/s) above which an environment counts as exploded."""
ROOT_HEIGHT_LIMIT = 100.0
"""``|root z|`` (m) beyond which an environment counts as exploded."""
MJ_MAXVAL = 1e10
"""MuJoCo's ``mjMAXVAL``: larger controls, positions or velocities count as bad."""



class PhysicsBackend(ABC):
    """Batched rigid-body simulation of one character with PD position control."""

    num_envs: int
    """Number of environments stepped together."""
    device: torch.device
    """Where the getters' tensors live."""
    body_names: tuple[str, ...]
    """Character bodies, in skeleton order (index 0 is the root)."""
    hinge_names: tuple[str, ...]
    """Actuated hinges in ``qpos[7:]`` order; ``step`` takes one target per hinge."""
    physics_dt: float
    """Seconds per physics step."""
    substeps: int
    """Physics steps per ``step`` call (control step = ``physics_dt * substeps``)."""

    def __init__(self, character: str, num_envs: int, substeps: int, model_path: str | os.PathLike | None) -> None:
        """What every backend does first: check the sizes, load the character and its MuJoCo model.

        Sets ``character``, ``model`` (the compiled ``MjModel``: gains, limits, masses; see
        ``mujoco_model.load_model``), ``num_envs``, ``substeps``, ``body_names``, ``hinge_names``,
        ``physics_dt`` and ``nonfinite_targets``.
        """
        if num_envs < 1 or substeps < 1:
            raise ValueError(f"num_envs and substeps must be >= 1, got {num_envs} and {substeps}")
        from deepmimic_mocap.characters import load_character

        from .mujoco_model import load_model

        self.character = load_character(character)
        self.model, hinges = load_model(self.character, model_path)
        self.num_envs, self.substeps = int(num_envs), int(substeps)
        self.body_names = tuple(self.character.body_names)
        self.hinge_names = tuple(hinges)
        self.physics_dt = float(self.model.opt.timestep)
        self.nonfinite_targets = 0

    @property
    def control_dt(self) -> float:
        """Seconds per control step."""
        return self.physics_dt * self.substeps

    @property
    def num_hinges(self) -> int:
        """Number of actuated hinges."""
        return len(self.hinge_names)

    @abstractmethod
    def reset(self, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """Put environments ``env_ids`` into the given states and recompute their kinematics.

        Args:
            env_ids: Environments to reset. Shape: ``(k,)``.
            qpos: Positions. Shape: ``(k, nq)``.
            qvel: Velocities. Shape: ``(k, nv)``.
        """

    @abstractmethod
    def step(self, targets: torch.Tensor) -> None:
        """Advance every environment by one control step, tracking PD position targets.

        Targets are held for ``substeps`` physics steps; torques are limited by the model.
        An environment whose state turns non-finite or explodes is left as it is and flagged in
        ``diverged`` (the environment resets it); the others are unaffected.

        Args:
            targets: Hinge position targets, radians. Shape: ``(num_envs, num_hinges)``.
        """

    @property
    @abstractmethod
    def qpos(self) -> torch.Tensor:
        """Generalised positions. Shape: ``(num_envs, nq)``."""

    @property
    @abstractmethod
    def qvel(self) -> torch.Tensor:
        """Generalised velocities. Shape: ``(num_envs, nv)``."""

    @property
    @abstractmethod
    def body_pos_w(self) -> torch.Tensor:
        """Body frame origins (joint positions), world. Shape: ``(num_envs, num_bodies, 3)``."""

    @property
    @abstractmethod
    def body_quat_w(self) -> torch.Tensor:
        """Body orientations, world. Shape: ``(num_envs, num_bodies, 4)``."""

    @property
    @abstractmethod
    def body_lin_vel_w(self) -> torch.Tensor:
        """Linear velocity of body frame origins, world. Shape: ``(num_envs, num_bodies, 3)``."""

    @property
    @abstractmethod
    def body_ang_vel_w(self) -> torch.Tensor:
        """Angular velocity of bodies, world. Shape: ``(num_envs, num_bodies, 3)``."""

    @property
    @abstractmethod
    def com_pos_w(self) -> torch.Tensor:
        """Centre of mass of the character, world. Shape: ``(num_envs, 3)``."""

    @property
    @abstractmethod
    def com_vel_w(self) -> torch.Tensor:
        """Centre-of-mass velocity, world. Shape: ``(num_envs, 3)``."""

    @property
    @abstractmethod
    def ground_contact(self) -> torch.Tensor:
        """Whether each body touches the ground now. Shape: ``(num_envs, num_bodies)``, bool."""

    @property
    @abstractmethod
    def diverged(self) -> torch.Tensor:
        """Environments whose state turned non-finite or exploded since their last reset (sticky until
        ``reset``: a simulator may auto-reset such a state, which would look healthy a step later).
        Shape: ``(num_envs,)``, bool."""


def replace_nonfinite_targets(targets: torch.Tensor, hinge_positions: torch.Tensor, limit: float,
                              ) -> tuple[torch.Tensor, int]:
    """Targets with NaN, inf or ``|value| > limit`` replaced by the current hinge positions, and how
    many were replaced (torch backends; the CPU backend does the same in NumPy)."""
    bad = ~(targets.abs() <= limit)
    count = int(bad.sum())
    return (torch.where(bad, hinge_positions.to(targets.dtype), targets) if count else targets), count


def exploded(qpos: torch.Tensor, qvel: torch.Tensor, qvel_limit: float, root_height_limit: float) -> torch.Tensor:
    """Environments whose state is non-finite, faster than ``qvel_limit`` anywhere, or whose root is
    beyond ``root_height_limit`` (torch backends; the CPU backend's ``_flag_diverged`` in NumPy).
    Shape: ``(num_envs,)``, bool."""
    finite = torch.isfinite(qpos).all(dim=1) & torch.isfinite(qvel).all(dim=1)
    fast = ~(qvel.abs().amax(dim=1) <= qvel_limit)
    far = ~(qpos[:, 2].abs() <= root_height_limit)
    return ~finite | fast | far
