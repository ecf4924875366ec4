"""MuJoCo Warp: every environment one world of a batched ``mujoco_warp`` simulation, on a GPU or on
Warp's CPU device.

Design (the contract is ``base.py``; the CPU backend's docstring explains the shared conventions):

- State stays where Warp keeps it. ``wp.to_torch`` views of ``qpos``, ``qvel``, ``ctrl`` and the
  kinematic arrays are made once (zero copy, float32, on the Warp device), so the environment's
  reward, observations and motion library run on the same device with no host round trip.
- ``step`` writes the targets into ``ctrl``, runs ``substeps`` calls of ``mjw.step`` (on CUDA,
  captured once as a CUDA graph and replayed), then one ``mjw.forward`` so that the readings
  (body poses and velocities, centre of mass, contacts, actuator forces) describe the state after
  the step, as the CPU backend's probe does. No sensors: readings are computed from ``xpos``,
  ``xquat``, ``cvel``, ``xipos``, ``subtree_com`` and the contact list with torch, batched.
- Ground contact: a body touches the ground when a contact pairs one of its geoms with a geom of
  the world body (the floor), as the CPU backend's ``contact`` sensors count it.
- ``reset`` writes qpos/qvel rows (time 0, warm start 0, targets = the reset pose), then runs
  ``mjw.forward`` over all worlds (the others' state is unchanged, so are their readings).
- Divergence: MuJoCo Warp does not reset bad states the way MuJoCo's C library does, so a world is
  flagged when its state is non-finite, ``|qvel|`` exceeds ``QVEL_LIMIT`` or its root height
  ``ROOT_HEIGHT_LIMIT`` (the CPU backend's limits); the flag sticks until ``reset``.
- Differences from the CPU backend (see the parity test): float32 instead of float64; the solver
  warm-starts from the previous step's accelerations (the CPU rollout starts each control step
  cold); contact buffers are fixed (``nconmax`` per world, ``njmax`` constraint rows per world).
"""

from __future__ import annotations

import os

import mujoco
import numpy as np
import torch

from .base import MJ_MAXVAL, QVEL_LIMIT, ROOT_HEIGHT_LIMIT, PhysicsBackend, exploded, replace_nonfinite_targets

try:
    import mujoco_warp as mjw
    import warp as wp
except ImportError as error:  # the registry reports this when `backend: mujoco_warp` is chosen
    raise ImportError("the mujoco_warp backend needs MuJoCo Warp: pip install mujoco-warp "
                      f"(which brings warp-lang); import failed: {error}") from error


def default_device() -> str:
    """``cuda:0`` when Warp sees a CUDA device, else ``cpu``."""
    return "cuda:0" if wp.is_cuda_available() else "cpu"


class MujocoWarpBackend(PhysicsBackend):
    """Batched MuJoCo Warp simulation of one character (see the module docstring).

    Attributes:
        model: The host ``MjModel`` (the shipped MJCF; the CPU backend's sensors are disabled).
        nonfinite_targets: Number of target entries replaced by the current hinge position so far.
    """

    def __init__(self, character: str = "humanoid3d", num_envs: int = 1, substeps: int = 10,
                 model_path: str | os.PathLike | None = None, device: str | torch.device | None = None,
                 nconmax: int = 48, njmax: int | None = None, cuda_graph: bool = True) -> None:
        super().__init__(character, num_envs, substeps, model_path)
        wp.config.quiet = True  # Warp prints a line per compiled module otherwise, flooding training output
        wp.init()
        wp_device = str(device) if device is not None else default_device()
        if wp_device.startswith("cuda") and not wp.is_cuda_available():
            raise RuntimeError(f"device {wp_device!r}: Warp sees no CUDA device (use device 'cpu')")
        self.wp_device = wp.get_device(wp_device)
        self.device = torch.device("cpu" if self.wp_device.is_cpu else f"cuda:{self.wp_device.ordinal}")
        self.model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_SENSOR)  # readings come from torch
        nv = self.model.nv
        with wp.ScopedDevice(self.wp_device):
            self._m = mjw.put_model(self.model)
            data = mujoco.MjData(self.model)
            mujoco.mj_forward(self.model, data)
            self._d = mjw.put_data(self.model, data, nworld=self.num_envs, nconmax=nconmax,
                                   njmax=njmax if njmax is not None else 4 * nconmax + nv)
        self._graph = None
        self._use_graph = cuda_graph and not self.wp_device.is_cpu
        self._init_views()
        self._diverged = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self._readings: dict[str, torch.Tensor] = {}
        qpos0 = torch.as_tensor(np.tile(self.model.qpos0, (self.num_envs, 1)))
        self.reset(torch.arange(self.num_envs), qpos0, torch.zeros(self.num_envs, nv, dtype=torch.float64))

    def _init_views(self) -> None:
        """Torch views of the Warp arrays (zero copy) and index tables for the readings."""
        d, m, dev = self._d, self.model, self.device
        self._views = {name: wp.to_torch(getattr(d, name)) for name in
                       ("qpos", "qvel", "ctrl", "time", "qacc_warmstart", "xpos", "xquat", "xipos", "cvel",
                        "subtree_com", "actuator_force", "nacon")}
        self._contact_geom = wp.to_torch(d.contact.geom)
        self._contact_world = wp.to_torch(d.contact.worldid)
        self._body_ids = torch.tensor([m.body(n).id for n in self.body_names], dtype=torch.long, device=dev)
        root = int(self._body_ids[0])
        self._root_id = root
        in_character = np.flatnonzero(m.body_rootid == root)
        self._com_bodies = torch.as_tensor(in_character, dtype=torch.long, device=dev)
        masses = m.body_mass[in_character]
        self._com_weights = torch.as_tensor(masses / masses.sum(), dtype=torch.float32, device=dev)
        # MuJoCo body id -> index in body_names (-1: not a character body, e.g. the world).
        skeleton_index = np.full(m.nbody, -1)
        skeleton_index[self._body_ids.cpu().numpy()] = np.arange(len(self.body_names))
        self._skeleton_index = torch.as_tensor(skeleton_index, dtype=torch.long, device=dev)
        self._geom_body = torch.as_tensor(m.geom_bodyid, dtype=torch.long, device=dev)

    # ------------------------------------------------------------------------------ input checks
    def _rows(self, values: torch.Tensor | np.ndarray, shape: tuple[int, ...], name: str) -> torch.Tensor:
        got = tuple(values.shape)
        if got != shape:
            raise ValueError(f"{name} must have shape {shape}, got {got}")
        return torch.as_tensor(values).to(self.device, torch.float32)

    def _env_ids(self, env_ids: torch.Tensor | np.ndarray) -> torch.Tensor:
        ids = torch.as_tensor(env_ids).reshape(-1).to(self.device, torch.long)
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.num_envs):
            raise ValueError(f"env_ids must lie in [0, {self.num_envs}), got {int(ids.min())}..{int(ids.max())}")
        return ids

    # ------------------------------------------------------------------------------ reset / step
    def reset(self, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """Put environments ``env_ids`` into the given states and recompute the readings.

        Raises:
            ValueError: Wrong shapes, out-of-range ids, or non-finite ``qpos``/``qvel``.
        """
        ids = self._env_ids(env_ids)
        k, m = len(ids), self.model
        if not (torch.isfinite(torch.as_tensor(qpos)).all() and torch.isfinite(torch.as_tensor(qvel)).all()):
            raise ValueError("qpos and qvel must be finite")
        qpos_t = self._rows(qpos, (k, m.nq), "qpos")
        qvel_t = self._rows(qvel, (k, m.nv), "qvel")
        if not k:
            return
        v = self._views
        v["qpos"][ids], v["qvel"][ids] = qpos_t, qvel_t
        v["ctrl"][ids] = qpos_t[:, 7:]
        v["time"][ids] = 0.0
        v["qacc_warmstart"][ids] = 0.0
        self._diverged[ids] = False
        self._forward()
        self._flag_diverged()

    def step(self, targets: torch.Tensor) -> None:
        """Advance all environments by ``substeps`` physics steps holding PD targets ``targets``.

        Raises:
            ValueError: ``targets`` is not ``(num_envs, num_hinges)``.
        """
        targets = self._rows(targets, (self.num_envs, self.num_hinges), "targets")
        targets, replaced = replace_nonfinite_targets(targets, self._views["qpos"][:, 7:], MJ_MAXVAL)
        self.nonfinite_targets += replaced
        self._views["ctrl"].copy_(targets)
        with wp.ScopedDevice(self.wp_device):
            if self._use_graph:
                if self._graph is None:
                    with wp.ScopedCapture() as capture:
                        self._substeps()
                    self._graph = capture.graph
                wp.capture_launch(self._graph)
            else:
                self._substeps()
        self._forward()
        self._flag_diverged()

    def _substeps(self) -> None:
        for _ in range(self.substeps):
            mjw.step(self._m, self._d)

    def _forward(self) -> None:
        """Positions, velocities, contacts and forces at the current state; then the readings."""
        with wp.ScopedDevice(self.wp_device):
            mjw.forward(self._m, self._d)
        self._readings = {}

    def _flag_diverged(self) -> None:
        self._diverged |= exploded(self._views["qpos"], self._views["qvel"], QVEL_LIMIT, ROOT_HEIGHT_LIMIT)

    # ------------------------------------------------------------------------------ readings
    def _reading(self, name: str) -> torch.Tensor:
        """Readings are computed on first use after each step or reset (torch, batched)."""
        if name not in self._readings:
            self._readings.update(self._compute_readings())
        return self._readings[name]

    def _compute_readings(self) -> dict[str, torch.Tensor]:
        v, ids = self._views, self._body_ids
        centre = v["subtree_com"][:, self._root_id]  # cvel is expressed at the root subtree's COM
        ang, lin = v["cvel"][..., :3], v["cvel"][..., 3:]
        pos = v["xpos"][:, ids]
        lin_at_origin = lin[:, ids] + torch.linalg.cross(ang[:, ids], pos - centre[:, None])
        bodies = self._com_bodies
        lin_at_com = lin[:, bodies] + torch.linalg.cross(ang[:, bodies], v["xipos"][:, bodies] - centre[:, None])
        return {
            "body_pos_w": pos, "body_quat_w": v["xquat"][:, ids], "body_lin_vel_w": lin_at_origin,
            "body_ang_vel_w": ang[:, ids], "com_pos_w": centre,
            "com_vel_w": torch.einsum("b,nbk->nk", self._com_weights, lin_at_com),
            "ground_contact": self._ground_contact(),
        }

    def _ground_contact(self) -> torch.Tensor:
        """Bodies with a contact against a world geom, from the batch's contact list."""
        contact = torch.zeros(self.num_envs, len(self.body_names), dtype=torch.bool, device=self.device)
        count = int(self._views["nacon"][0])
        geoms = self._contact_geom[:count].long()
        world = self._contact_world[:count].long()
        bodies = self._geom_body[geoms.clamp(min=0)]
        with_world = (bodies == 0).any(dim=1) & (geoms >= 0).all(dim=1)
        other = torch.where(bodies[:, 0] == 0, bodies[:, 1], bodies[:, 0])
        index = self._skeleton_index[other]
        keep = with_world & (index >= 0)
        contact[world[keep], index[keep]] = True
        return contact

    @property
    def qpos(self) -> torch.Tensor:
        """Generalised positions (free root, then hinges). Shape: ``(num_envs, nq)``, float32, live."""
        return self._views["qpos"]

    @property
    def qvel(self) -> torch.Tensor:
        """Generalised velocities. Shape: ``(num_envs, nv)``, float32, live."""
        return self._views["qvel"]

    @property
    def body_pos_w(self) -> torch.Tensor:
        """Body frame origins (``xpos``), world. Shape: ``(num_envs, num_bodies, 3)``."""
        return self._reading("body_pos_w")

    @property
    def body_quat_w(self) -> torch.Tensor:
        """Body frame orientations (``xquat``, wxyz). Shape: ``(num_envs, num_bodies, 4)``."""
        return self._reading("body_quat_w")

    @property
    def body_lin_vel_w(self) -> torch.Tensor:
        """Linear velocity of body frame origins, world. Shape: ``(num_envs, num_bodies, 3)``."""
        return self._reading("body_lin_vel_w")

    @property
    def body_ang_vel_w(self) -> torch.Tensor:
        """Angular velocity of bodies, world. Shape: ``(num_envs, num_bodies, 3)``."""
        return self._reading("body_ang_vel_w")

    @property
    def com_pos_w(self) -> torch.Tensor:
        """Centre of mass of the character, world. Shape: ``(num_envs, 3)``."""
        return self._reading("com_pos_w")

    @property
    def com_vel_w(self) -> torch.Tensor:
        """Centre-of-mass velocity, world. Shape: ``(num_envs, 3)``."""
        return self._reading("com_vel_w")

    @property
    def ground_contact(self) -> torch.Tensor:
        """Whether each body touches the ground. Shape: ``(num_envs, num_bodies)``, bool."""
        return self._reading("ground_contact")

    @property
    def actuator_force(self) -> torch.Tensor:
        """PD torques at the current state under the last targets. Shape: ``(num_envs, num_hinges)``."""
        return self._views["actuator_force"]

    @property
    def diverged(self) -> torch.Tensor:
        """Worlds flagged since their last reset (see the module docstring). Shape: ``(num_envs,)``."""
        return self._diverged

    def close(self) -> None:
        """Release the CUDA graph (Warp frees the arrays with the object)."""
        self._graph = None
