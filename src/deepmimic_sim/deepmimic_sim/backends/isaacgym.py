"""Isaac Gym (Preview 4) adapter: the backend contract on ``gymapi``/``gymtorch`` and PhysX.

STATUS: written against Isaac Gym Preview 4's documented Python API and NOT RUN: Isaac Gym is
closed, deprecated, absent from PyPI and needs Python 3.6-3.8 with an NVIDIA GPU, none of which
our machines have. Importing this module without ``isaacgym`` raises ImportError with the reason,
so the registry and the contract tests (tests/sim/test_mujoco_backend.py, parametrized over every
registered backend) skip it; where it imports, those tests run against it unchanged.

How it maps the contract:

- The same MJCF as the MuJoCo backends (``shipped_model_path``), loaded with ``gym.load_asset``.
  Isaac Gym's MJCF importer ignores ``<position>`` actuators, so PD gains and torque limits are
  copied from the compiled MuJoCo model (``actuator_gainprm``/``biasprm``/``actuator_forcerange``)
  into the DOF properties (``DOF_MODE_POS``, ``stiffness``, ``damping``, ``effort``).
- One actor per environment; every state tensor is a ``gymtorch`` view (``actor_root_state``,
  ``dof_state``, ``rigid_body_state``, ``net_contact_force``, ``dof_force``) on the sim device.
  DOF and body orders are Isaac Gym's; index tables map them to the model's hinge order and the
  skeleton's body order once, so no per-environment loop runs after construction.
- Quaternions: Isaac Gym is (x, y, z, w); the contract is (w, x, y, z). The free joint's angular
  velocity in ``qvel`` is in the root frame (MuJoCo's convention); Isaac Gym's root state is world.
- Body velocities: Isaac Gym reports the centre-of-mass velocity of each link; the contract's
  ``body_lin_vel_w`` is the body frame origin's, ``v_origin = v_com + w x (origin - com)``.
- Ground contact: PhysX's net contact force per body above ``contact_threshold`` N. Unlike the
  MuJoCo backends this also counts body-body contacts (Isaac Gym has no per-pair query in the
  tensor API); the fall termination only asks about bodies that should not touch anything.
- Divergence: non-finite state, ``|qvel|`` above ``QVEL_LIMIT`` or root height beyond
  ``ROOT_HEIGHT_LIMIT``, sticky until reset (the MuJoCo backends' rule).

Isaac Gym must be imported before torch; with ``backend: isaacgym`` import it first in the
process (``import isaacgym`` at the top of the script that starts training).
"""

from __future__ import annotations

import os

import numpy as np

try:
    from isaacgym import gymapi, gymtorch
except ImportError as error:
    raise ImportError("the isaacgym backend needs NVIDIA Isaac Gym Preview 4 (Python 3.6-3.8, an NVIDIA GPU; "
                      f"not on PyPI): {error}") from error

import torch

from deepmimic_mocap import rotations as rot

from ..model.character_mjcf import shipped_model_path
from .base import MJ_MAXVAL, QVEL_LIMIT, ROOT_HEIGHT_LIMIT, PhysicsBackend, exploded, replace_nonfinite_targets


class IsaacGymBackend(PhysicsBackend):
    """Batched PhysX simulation of one character through Isaac Gym (see the module docstring; not run)."""

    def __init__(self, character: str = "humanoid3d", num_envs: int = 1, substeps: int = 10,
                 model_path: str | os.PathLike | None = None, device: str | torch.device = "cuda:0",
                 contact_threshold: float = 1.0, spacing: float = 2.0) -> None:
        path = str(model_path or shipped_model_path(character))
        super().__init__(character, num_envs, substeps, path)  # the MuJoCo view: gains, limits, masses
        self.device = torch.device(device)
        self.contact_threshold = contact_threshold
        self.gym = gymapi.acquire_gym()
        self._create_sim()
        self._create_envs(path, spacing)
        self.gym.prepare_sim(self.sim)
        self._init_tensors()
        self._diverged = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        qpos0 = torch.as_tensor(np.tile(self.model.qpos0, (self.num_envs, 1)), device=self.device)
        self.reset(torch.arange(self.num_envs), qpos0, torch.zeros(self.num_envs, self.model.nv, device=self.device))

    # ------------------------------------------------------------------------------ construction
    def _create_sim(self) -> None:
        params = gymapi.SimParams()
        params.dt, params.substeps = self.physics_dt, 1
        params.up_axis = gymapi.UP_AXIS_Z
        params.gravity = gymapi.Vec3(*self.model.opt.gravity)
        params.use_gpu_pipeline = self.device.type == "cuda"
        params.physx.use_gpu = self.device.type == "cuda"
        params.physx.num_position_iterations, params.physx.num_velocity_iterations = 4, 0
        params.physx.contact_offset, params.physx.rest_offset = 0.02, 0.0
        ordinal = self.device.index or 0
        self.sim = self.gym.create_sim(ordinal, -1, gymapi.SIM_PHYSX, params)
        if self.sim is None:
            raise RuntimeError("Isaac Gym could not create the simulation")
        plane = gymapi.PlaneParams()
        plane.normal = gymapi.Vec3(0.0, 0.0, 1.0)
        self.gym.add_ground(self.sim, plane)

    def _create_envs(self, path: str, spacing: float) -> None:
        options = gymapi.AssetOptions()
        options.default_dof_drive_mode = gymapi.DOF_MODE_POS
        options.angular_damping, options.max_angular_velocity = 0.0, 100.0
        asset = self.gym.load_asset(self.sim, os.path.dirname(path), os.path.basename(path), options)
        dof_names = list(self.gym.get_asset_dof_names(asset))
        body_names = list(self.gym.get_asset_rigid_body_names(asset))
        missing = sorted(set(self.hinge_names) - set(dof_names)) + sorted(set(self.body_names) - set(body_names))
        if missing:
            raise ValueError(f"Isaac Gym's import of {path} lacks {missing}")
        # Isaac Gym order <-> contract order.
        self._dof_of_hinge = torch.tensor([dof_names.index(h) for h in self.hinge_names], device=self.device)
        self._gym_body_of_body = torch.tensor([body_names.index(b) for b in self.body_names], device=self.device)
        self.num_dofs, self.num_gym_bodies = len(dof_names), len(body_names)
        props = self.gym.get_asset_dof_properties(asset)
        m = self.model
        for hinge_index, dof in enumerate(self._dof_of_hinge.tolist()):
            props["driveMode"][dof] = gymapi.DOF_MODE_POS
            props["stiffness"][dof] = m.actuator_gainprm[hinge_index, 0]
            props["damping"][dof] = -m.actuator_biasprm[hinge_index, 2]
            limited = m.actuator_forcelimited[hinge_index]
            props["effort"][dof] = m.actuator_forcerange[hinge_index, 1] if limited else 1e9
        lower, upper = gymapi.Vec3(-spacing, -spacing, 0.0), gymapi.Vec3(spacing, spacing, spacing)
        per_row = int(np.ceil(np.sqrt(self.num_envs)))
        self.envs, self.actors = [], []
        for i in range(self.num_envs):  # construction only: Isaac Gym creates actors one by one
            env = self.gym.create_env(self.sim, lower, upper, per_row)
            actor = self.gym.create_actor(env, asset, gymapi.Transform(), self.character.name, i, 0, 0)
            self.gym.set_actor_dof_properties(env, actor, props)
            self.envs.append(env)
            self.actors.append(actor)
        self._actor_ids = torch.arange(self.num_envs, dtype=torch.int32, device=self.device)
        # Body centre-of-mass offsets and masses for velocities at frame origins and the COM.
        ids = [m.body(b).id for b in self.body_names]
        self._body_ipos = torch.as_tensor(m.body_ipos[ids], dtype=torch.float32, device=self.device)
        masses = m.body_mass[ids]
        self._mass_weights = torch.as_tensor(masses / masses.sum(), dtype=torch.float32, device=self.device)

    def _init_tensors(self) -> None:
        g, n = self.gym, self.num_envs
        self._root = gymtorch.wrap_tensor(g.acquire_actor_root_state_tensor(self.sim))  # (n, 13)
        self._dof_state = gymtorch.wrap_tensor(g.acquire_dof_state_tensor(self.sim)).view(n, self.num_dofs, 2)
        bodies = gymtorch.wrap_tensor(g.acquire_rigid_body_state_tensor(self.sim))
        self._bodies = bodies.view(n, self.num_gym_bodies, 13)
        self._contact_force = gymtorch.wrap_tensor(g.acquire_net_contact_force_tensor(self.sim)).view(
            n, self.num_gym_bodies, 3)
        self._dof_force = gymtorch.wrap_tensor(g.acquire_dof_force_tensor(self.sim)).view(n, self.num_dofs)
        self._targets = torch.zeros(n, self.num_dofs, device=self.device)

    def _refresh(self) -> None:
        for refresh in (self.gym.refresh_actor_root_state_tensor, self.gym.refresh_dof_state_tensor,
                        self.gym.refresh_rigid_body_state_tensor, self.gym.refresh_net_contact_force_tensor,
                        self.gym.refresh_dof_force_tensor):
            refresh(self.sim)

    # ------------------------------------------------------------------------------ reset / step
    def reset(self, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """Write MuJoCo-layout states into the chosen actors (root state and DOF state, indexed)."""
        ids = torch.as_tensor(env_ids, device=self.device).long().reshape(-1)
        qpos = torch.as_tensor(qpos, device=self.device).float()
        qvel = torch.as_tensor(qvel, device=self.device).float()
        if qpos.shape != (len(ids), self.model.nq) or qvel.shape != (len(ids), self.model.nv):
            raise ValueError(f"qpos/qvel must be ({len(ids)}, {self.model.nq})/({len(ids)}, {self.model.nv})")
        if not (torch.isfinite(qpos).all() and torch.isfinite(qvel).all()):
            raise ValueError("qpos and qvel must be finite")
        if not len(ids):
            return
        root_quat = qpos[:, 3:7]
        self._root[ids, 0:3] = qpos[:, :3]
        self._root[ids, 3:7] = rot.quat_to_xyzw(root_quat)
        self._root[ids, 7:10] = qvel[:, :3]
        self._root[ids, 10:13] = rot.quat_rotate(root_quat, qvel[:, 3:6])  # MuJoCo: root frame; Isaac: world
        self._dof_state[ids[:, None], self._dof_of_hinge, 0] = qpos[:, 7:]
        self._dof_state[ids[:, None], self._dof_of_hinge, 1] = qvel[:, 6:]
        self._targets[ids[:, None], self._dof_of_hinge] = qpos[:, 7:]
        actors = self._actor_ids[ids]
        count = len(actors)
        self.gym.set_actor_root_state_tensor_indexed(self.sim, gymtorch.unwrap_tensor(self._root),
                                                     gymtorch.unwrap_tensor(actors), count)
        self.gym.set_dof_state_tensor_indexed(self.sim, gymtorch.unwrap_tensor(self._dof_state),
                                              gymtorch.unwrap_tensor(actors), count)
        self.gym.set_dof_position_target_tensor(self.sim, gymtorch.unwrap_tensor(self._targets))
        self._diverged[ids] = False
        self._refresh()

    def step(self, targets: torch.Tensor) -> None:
        """Hold the PD targets for ``substeps`` PhysX steps."""
        if tuple(targets.shape) != (self.num_envs, self.num_hinges):
            raise ValueError(f"targets must have shape {(self.num_envs, self.num_hinges)}, got {tuple(targets.shape)}")
        targets, replaced = replace_nonfinite_targets(targets.to(self.device, torch.float32), self.qpos[:, 7:],
                                                      MJ_MAXVAL)
        self.nonfinite_targets += replaced
        self._targets[:, self._dof_of_hinge] = targets
        self.gym.set_dof_position_target_tensor(self.sim, gymtorch.unwrap_tensor(self._targets))
        for _ in range(self.substeps):
            self.gym.simulate(self.sim)
        if self.device.type == "cpu":
            self.gym.fetch_results(self.sim, True)
        self._refresh()
        self._diverged |= exploded(self.qpos, self.qvel, QVEL_LIMIT, ROOT_HEIGHT_LIMIT)

    # ------------------------------------------------------------------------------ getters
    @property
    def qpos(self) -> torch.Tensor:
        """MuJoCo layout: root position, root quaternion (wxyz), hinges in model order."""
        return torch.cat([self._root[:, 0:3], rot.quat_from_xyzw(self._root[:, 3:7]),
                          self._dof_state[:, self._dof_of_hinge, 0]], dim=1)

    @property
    def qvel(self) -> torch.Tensor:
        """MuJoCo layout: root linear velocity (world), root angular velocity (root frame), hinges."""
        root_quat = rot.quat_from_xyzw(self._root[:, 3:7])
        return torch.cat([self._root[:, 7:10], rot.quat_rotate_inverse(root_quat, self._root[:, 10:13]),
                          self._dof_state[:, self._dof_of_hinge, 1]], dim=1)

    def _body(self, columns: slice) -> torch.Tensor:
        return self._bodies[:, self._gym_body_of_body, columns]

    @property
    def body_pos_w(self) -> torch.Tensor:
        """Link frame origins, world."""
        return self._body(slice(0, 3))

    @property
    def body_quat_w(self) -> torch.Tensor:
        """Link orientations, world, (w, x, y, z)."""
        return rot.quat_from_xyzw(self._body(slice(3, 7)))

    def _com_offset_w(self) -> torch.Tensor:
        quat = self.body_quat_w
        return rot.quat_rotate(quat, self._body_ipos.expand(quat.shape[0], -1, -1))

    @property
    def body_lin_vel_w(self) -> torch.Tensor:
        """Velocity of the link frame origins: Isaac Gym's COM velocity moved to the origin."""
        return self._body(slice(7, 10)) - torch.linalg.cross(self.body_ang_vel_w, self._com_offset_w())

    @property
    def body_ang_vel_w(self) -> torch.Tensor:
        """Link angular velocities, world."""
        return self._body(slice(10, 13))

    @property
    def com_pos_w(self) -> torch.Tensor:
        """Mass-weighted mean of the link centres of mass."""
        centres = self.body_pos_w + self._com_offset_w()
        return torch.einsum("b,nbk->nk", self._mass_weights, centres)

    @property
    def com_vel_w(self) -> torch.Tensor:
        """Mass-weighted mean of the link centre-of-mass velocities."""
        return torch.einsum("b,nbk->nk", self._mass_weights, self._body(slice(7, 10)))

    @property
    def ground_contact(self) -> torch.Tensor:
        """Net contact force above ``contact_threshold`` (any contact, see the module docstring)."""
        force = self._contact_force[:, self._gym_body_of_body]
        return torch.linalg.vector_norm(force, dim=-1) > self.contact_threshold

    @property
    def actuator_force(self) -> torch.Tensor:
        """DOF forces (PD torques), hinge order."""
        return self._dof_force[:, self._dof_of_hinge]

    @property
    def diverged(self) -> torch.Tensor:
        """Environments flagged since their last reset."""
        return self._diverged

    def close(self) -> None:
        """Destroy the simulation."""
        if getattr(self, "sim", None) is not None:
            self.gym.destroy_sim(self.sim)
            self.sim = None
