"""MuJoCo on the CPU: ``num_envs`` copies of a character stepped together by ``mujoco.rollout``.

Design (see also ``base.py`` for the contract):

- State. Every environment is one row of ``_state``, shape ``(num_envs, nstate)``, MuJoCo's
  ``mjSTATE_FULLPHYSICS`` vector (time, qpos, qvel, act, history, plugin, plastic). ``step`` hands
  the whole array to ``mujoco.rollout.Rollout.rollout`` (C++ thread pool, GIL released), so no
  Python loop ever runs over environments. The rollout starts every row with a zero solver
  warm-start (``qacc_warmstart`` is not part of the physics state), which costs a few solver
  iterations at the first substep and makes a step a pure function of (state, targets): results do
  not depend on the thread count or on which other environments share the call.
- Readings come from sensors added with ``mujoco.MjSpec`` when the model is loaded, per character
  body in skeleton order: ``framepos``/``framequat``/``framelinvel``/``frameangvel`` with
  ``objtype="xbody"`` (the body frame: ``xpos``/``xquat``; ``objtype="body"`` would be the inertial
  frame ``xipos``), ``subtreecom``/``subtreelinvel`` of the root (the character's centre of mass),
  one ``contact`` sensor per body (``body1=<body>``, ``body2=world``, ``data="found"``: the number
  of contacts between the body's geoms and any world geom, i.e. the floor), and ``actuatorfrc`` per
  actuator.
- Stepping in two rollouts. The rollout copies ``sensordata`` out after each ``mj_step``, and
  ``mj_step`` evaluates sensors *before* it integrates, so its readings lag the state by one
  substep, and evaluating sensors at every substep costs ~10 % of the physics. So ``step`` first
  rolls out ``substeps`` steps with sensors disabled (``mjDSBL_SENSOR`` set on ``model`` for the
  call and restored after; the dynamics are unchanged, bit for bit), keeps the final state, then
  runs a one-step "probe" rollout from it with sensors on and keeps only its readings, which
  ``mj_step`` computed at that state before integrating; the probe's integration is discarded.
  The probe costs one physics step per control step (``1/(substeps+1)`` of the physics, 9 % at 10
  substeps). Its actuator forces are the torques the PD applies at the new state under the last
  targets.
- ``reset`` writes qpos/qvel into the rows (time, act and the rest from ``mj_resetData``) and
  probes the reset rows only (batched and threaded like ``step``).
- Getters return ``torch.from_numpy`` views of the state and reading arrays: float64, zero copy,
  created once. They are live: the next ``step``/``reset`` overwrites them in place, so ``clone()``
  what must be kept, and do not write into them. With ``device`` other than ``"cpu"`` the getters
  return copies on that device instead.
- Non-finite targets (NaN, inf, or beyond MuJoCo's ``mjMAXVAL`` = 1e10, which MuJoCo would reject
  with a ``mjWARN_BADCTRL`` warning) are replaced by the current hinge positions and counted in
  ``nonfinite_targets``.
- Divergence. MuJoCo resets an environment whose qpos/qvel/qacc turns bad (NaN or beyond 1e10)
  to the model's default state and warns; the rollout then stops stepping that row and repeats its
  state, so its time falls short. ``diverged`` flags rows whose time did not advance fully (in the
  step or in the probe), whose state is non-finite, whose ``|qvel|`` exceeds ``QVEL_LIMIT``
  or whose root height is beyond ``ROOT_HEIGHT_LIMIT``. The flag stays set until the environment
  is reset (a MuJoCo-reset row would otherwise look healthy one step later). Flagged rows are left
  as they are (for a MuJoCo-reset row, that is the model's default pose: NaN never reaches the
  getters) for the caller to reset; rows never share data, so one environment's blow-up cannot
  reach another. A ``reset`` into a state MuJoCo rejects (e.g. ``|qvel| > 1e10``) is flagged too,
  and its readings are those of the default pose.
"""

from __future__ import annotations

import os

import mujoco
import numpy as np
import torch
from mujoco import rollout

from .base import MJ_MAXVAL, QVEL_LIMIT, ROOT_HEIGHT_LIMIT, PhysicsBackend
from .mujoco_model import STATE_SPEC, sensor_layout, state_slices

__all__ = ["MJ_MAXVAL", "QVEL_LIMIT", "ROOT_HEIGHT_LIMIT", "STATE_SPEC", "MujocoCpuBackend"]

_NO_SENSORS = int(mujoco.mjtDisableBit.mjDSBL_SENSOR)

class MujocoCpuBackend(PhysicsBackend):
    """Batched MuJoCo simulation of one character on the CPU (see the module docstring).

    Attributes:
        model: The compiled ``MjModel`` (the shipped MJCF plus the backend's sensors).
        nthread: Threads of the rollout pool (0: the calling thread only; default: the cores this
            process may use).
        nonfinite_targets: Number of target entries replaced by the current hinge position so far.

    Not thread-safe: one caller at a time (``step`` toggles a flag of ``model`` while it runs).
    """

    def __init__(self, character: str = "humanoid3d", num_envs: int = 1, substeps: int = 10,
                 model_path: str | os.PathLike | None = None, nthread: int | None = None,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(character, num_envs, substeps, model_path)
        self.device = torch.device(device)
        self._layout = sensor_layout(self.model, self.body_names, list(self.hinge_names))
        self._time, self._qpos, self._qvel = state_slices(self.model)
        # The cores this process may run on (taskset, cgroups via sched affinity), not the machine's count.
        self._init_pool(len(os.sched_getaffinity(0)) if nthread is None else nthread)
        self._init_buffers()
        self._init_views()
        self.reset(torch.arange(self.num_envs), torch.from_numpy(np.tile(self.model.qpos0, (self.num_envs, 1))),
                   torch.zeros(self.num_envs, self.model.nv, dtype=torch.float64))

    # ------------------------------------------------------------------------------ setup
    def _init_pool(self, nthread: int) -> None:
        """The rollout thread pool and one scratch ``MjData`` per thread (never more than envs)."""
        nthread = max(0, min(int(nthread), self.num_envs))
        self.nthread = 0 if nthread <= 1 else nthread
        self._rollout = rollout.Rollout(nthread=self.nthread)
        self._datas = [mujoco.MjData(self.model) for _ in range(max(1, self.nthread))]
        self._models = [self.model] * self.num_envs  # one per row; set_env_models for randomised physics
        self._model_rows = np.full(self.num_envs, self.model, dtype=object)  # the same, indexable by env ids
        self._stepped_models = [self.model]  # the distinct models in _models (their sensor flag is toggled)

    def _init_buffers(self) -> None:
        """State, readings and the rollouts' input/output arrays, allocated once."""
        m, n = self.model, self.num_envs
        nstate = mujoco.mj_stateSize(m, STATE_SPEC)
        self._state0 = np.empty(nstate)
        mujoco.mj_getState(m, mujoco.MjData(m), self._state0, STATE_SPEC)
        self._state = np.tile(self._state0, (n, 1))
        self._contact = np.zeros((n, len(self.body_names)), dtype=bool)
        self._diverged = np.zeros(n, dtype=bool)
        self._targets = np.zeros((n, m.nu))
        self._ctrl = np.zeros((n, self.substeps, m.nu))
        self._out_state = np.empty((n, self.substeps, nstate))
        self._probe_ctrl = np.zeros((n, 1, m.nu))
        self._probe_state = np.empty((n, 1, nstate))
        self._probe_sensordata = np.zeros((n, 1, m.nsensordata))
        self._sensordata = self._probe_sensordata[:, 0]  # the step's probe writes the readings in place

    def _init_views(self) -> None:
        """Torch views of the state and reading arrays (zero copy, float64)."""
        n, nb, lay, sd = self.num_envs, len(self.body_names), self._layout, self._sensordata
        views = {
            "qpos": self._state[:, self._qpos], "qvel": self._state[:, self._qvel],
            "body_pos_w": sd[:, lay.pos].reshape(n, nb, 3), "body_quat_w": sd[:, lay.quat].reshape(n, nb, 4),
            "body_lin_vel_w": sd[:, lay.linvel].reshape(n, nb, 3),
            "body_ang_vel_w": sd[:, lay.angvel].reshape(n, nb, 3),
            "com_pos_w": sd[:, lay.com_pos], "com_vel_w": sd[:, lay.com_vel],
            "actuator_force": sd[:, lay.actuator_force], "ground_contact": self._contact, "diverged": self._diverged,
        }
        for name in ("body_pos_w", "body_quat_w", "body_lin_vel_w", "body_ang_vel_w"):
            if not np.shares_memory(views[name], sd):  # numpy reshape copies when it cannot view
                raise RuntimeError(f"{name} is not a view of the readings")
        self._tensors = {name: torch.from_numpy(array) for name, array in views.items()}

    def close(self) -> None:
        """Shut the rollout thread pool down (also done when the backend is garbage-collected)."""
        if getattr(self, "_rollout", None) is not None:
            self._rollout.close()
            self._rollout = None

    def set_env_models(self, models: np.ndarray, distinct: list[mujoco.MjModel]) -> None:
        """Step each environment with its own physics model (domain randomisation).

        Args:
            models: One ``MjModel`` per environment (an object array ``(num_envs,)``), each a copy
                of ``model`` with other parameters (friction, masses, gains), never other sizes.
            distinct: The different models among them (a pool), so ``step`` can switch their
                sensors off and on without a loop over environments.
        """
        if len(models) != self.num_envs:
            raise ValueError(f"models: expected {self.num_envs}, got {len(models)}")
        self._model_rows = np.asarray(models, dtype=object)
        self._models, self._stepped_models = self._model_rows.tolist(), list(distinct)

    # ------------------------------------------------------------------------------ input checks
    def _rows(self, values: torch.Tensor | np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
        """``values`` as a float64 NumPy array of ``shape``.

        Raises:
            ValueError: Wrong shape, naming the expected and the given shapes.
        """
        got = tuple(values.shape)
        if got != shape:
            raise ValueError(f"{name} must have shape {shape}, got {got}")
        if isinstance(values, torch.Tensor):
            values = values.detach().to("cpu", torch.float64).numpy()
        return np.asarray(values, dtype=np.float64)

    def _env_ids(self, env_ids: torch.Tensor | np.ndarray) -> np.ndarray:
        """Environment indices as an int64 NumPy array, checked to lie in ``[0, num_envs)``."""
        ids = env_ids.detach().cpu().numpy() if isinstance(env_ids, torch.Tensor) else np.asarray(env_ids)
        ids = ids.astype(np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_envs):
            raise ValueError(f"env_ids must lie in [0, {self.num_envs}), got {ids.min()}..{ids.max()}")
        return ids

    # ------------------------------------------------------------------------------ reset / step
    def reset(self, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """Put environments ``env_ids`` into the given states and recompute their readings.

        Time, activations and the rest of the state take their ``mj_resetData`` values; the
        readings come from a probe over the reset rows, with targets holding the reset pose.

        Raises:
            ValueError: Wrong shapes, out-of-range ids, or non-finite ``qpos``/``qvel``.
        """
        ids = self._env_ids(env_ids)
        k, m = len(ids), self.model
        qpos_np = self._rows(qpos, (k, m.nq), "qpos")
        qvel_np = self._rows(qvel, (k, m.nv), "qvel")
        if not (np.isfinite(qpos_np).all() and np.isfinite(qvel_np).all()):
            raise ValueError("qpos and qvel must be finite")
        if not k:
            return
        rows = np.tile(self._state0, (k, 1))
        rows[:, self._qpos], rows[:, self._qvel] = qpos_np, qvel_np
        self._state[ids] = rows
        sensordata = np.empty((k, 1, m.nsensordata))
        ctrl = np.ascontiguousarray(qpos_np[:, None, 7:])
        self._diverged[ids] = self._probe(rows, ctrl, np.empty((k, 1, rows.shape[1])), sensordata, ids)
        self._sensordata[ids] = sensordata[:, 0]
        self._contact[ids] = sensordata[:, 0, self._layout.contact] > 0

    def _probe(self, rows: np.ndarray, ctrl: np.ndarray, state_out: np.ndarray, sensor_out: np.ndarray,
               ids: np.ndarray | None = None) -> np.ndarray:
        """One physics step from ``rows`` (of environments ``ids``, default all) with sensors on:
        ``sensor_out[:, 0]`` are the readings at ``rows``.

        Returns:
            The rows MuJoCo stopped (rejected their state). Shape: ``(len(rows),)``, bool.
        """
        models = self._models if ids is None else self._model_rows[ids].tolist()
        self._rollout.rollout(models, self._datas, rows, ctrl, nstep=1, state=state_out, sensordata=sensor_out,
                              skip_checks=True)
        return ~(state_out[:, 0, self._time] - rows[:, self._time] >= 0.5 * self.physics_dt)

    def step(self, targets: torch.Tensor) -> None:
        """Advance all environments by ``substeps`` physics steps holding PD targets ``targets``.

        Raises:
            ValueError: ``targets`` is not ``(num_envs, num_hinges)``.
        """
        self._targets[:] = self._rows(targets, (self.num_envs, self.num_hinges), "targets")
        self._replace_nonfinite_targets()
        self._ctrl[:] = self._targets[:, None, :]
        self._probe_ctrl[:, 0] = self._targets
        time0 = self._state[:, self._time].copy()
        flags = self.model.opt.disableflags
        for model in self._stepped_models:
            model.opt.disableflags = flags | _NO_SENSORS  # readings come from the probe
        try:
            self._rollout.rollout(self._models, self._datas, self._state, self._ctrl, nstep=self.substeps,
                                  state=self._out_state, sensordata=None, skip_checks=True)
        finally:
            for model in self._stepped_models:
                model.opt.disableflags = flags
        self._state[:] = self._out_state[:, -1]
        stalled = ~(self._state[:, self._time] - time0 >= (self.substeps - 0.5) * self.physics_dt)
        stalled |= self._probe(self._state, self._probe_ctrl, self._probe_state, self._probe_sensordata)
        np.greater(self._sensordata[:, self._layout.contact], 0, out=self._contact)
        self._flag_diverged(stalled)

    def _replace_nonfinite_targets(self) -> None:
        """Replace NaN/inf/beyond-``mjMAXVAL`` targets by the current hinge positions; count them."""
        bad = ~(np.abs(self._targets) <= MJ_MAXVAL)
        count = int(bad.sum())
        if count:
            np.copyto(self._targets, self._state[:, self._qpos][:, 7:], where=bad)
            self.nonfinite_targets += count

    def _flag_diverged(self, stalled: np.ndarray) -> None:
        """Flag rows MuJoCo stopped, non-finite rows and exploded rows (until reset)."""
        qvel = self._state[:, self._qvel]
        finite = np.isfinite(self._state).all(axis=1)
        fast = ~(np.abs(qvel).max(axis=1) <= QVEL_LIMIT)
        far = ~(np.abs(self._state[:, self._qpos.start + 2]) <= ROOT_HEIGHT_LIMIT)
        self._diverged |= stalled | ~finite | fast | far

    # ------------------------------------------------------------------------------ getters
    def _get(self, name: str) -> torch.Tensor:
        """The live view ``name``, or a copy on ``device`` when that is not the CPU."""
        tensor = self._tensors[name]
        return tensor if self.device.type == "cpu" else tensor.to(self.device)

    @property
    def qpos(self) -> torch.Tensor:
        """Generalised positions (free root, then hinges). Shape: ``(num_envs, nq)``, float64."""
        return self._get("qpos")

    @property
    def qvel(self) -> torch.Tensor:
        """Generalised velocities. Shape: ``(num_envs, nv)``, float64."""
        return self._get("qvel")

    @property
    def body_pos_w(self) -> torch.Tensor:
        """Body frame origins (``xpos``), world. Shape: ``(num_envs, num_bodies, 3)``, float64."""
        return self._get("body_pos_w")

    @property
    def body_quat_w(self) -> torch.Tensor:
        """Body frame orientations (``xquat``, wxyz). Shape: ``(num_envs, num_bodies, 4)``, float64."""
        return self._get("body_quat_w")

    @property
    def body_lin_vel_w(self) -> torch.Tensor:
        """Linear velocity of body frame origins, world. Shape: ``(num_envs, num_bodies, 3)``, float64."""
        return self._get("body_lin_vel_w")

    @property
    def body_ang_vel_w(self) -> torch.Tensor:
        """Angular velocity of bodies, world. Shape: ``(num_envs, num_bodies, 3)``, float64."""
        return self._get("body_ang_vel_w")

    @property
    def com_pos_w(self) -> torch.Tensor:
        """Centre of mass of the character, world. Shape: ``(num_envs, 3)``, float64."""
        return self._get("com_pos_w")

    @property
    def com_vel_w(self) -> torch.Tensor:
        """Centre-of-mass velocity, world. Shape: ``(num_envs, 3)``, float64."""
        return self._get("com_vel_w")

    @property
    def ground_contact(self) -> torch.Tensor:
        """Whether each body touches a world geom (the floor). Shape: ``(num_envs, num_bodies)``, bool."""
        return self._get("ground_contact")

    @property
    def diverged(self) -> torch.Tensor:
        """Environments that blew up since their last reset (see the module docstring). Shape: ``(num_envs,)``, bool."""
        return self._get("diverged")

    @property
    def actuator_force(self) -> torch.Tensor:
        """Hinge torques the PD applies now under the last targets, N m (after ``reset``: holding the pose).

        Not part of ``PhysicsBackend``. Shape: ``(num_envs, num_hinges)``, float64.
        """
        return self._get("actuator_force")
