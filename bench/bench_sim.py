"""Physics throughput: raw MuJoCo ceilings against the MuJoCo CPU backend (and optional peers).

Usage: ``python bench/bench_sim.py [--out bench/results/sim.json] [--seconds 3] [--envs 1 64 256]``

Every configuration simulates humanoid3d standing in the first frame of the walk clip, holding
that pose as its PD targets, and is put back there every 30 control steps (1 s; not timed), so
all configurations see the same contacts. Measured:

(a) Ceilings on the shipped model (no backend sensors): ``mj_step`` in a tight loop on one
    thread (physics steps/s), and ``mujoco.rollout`` of ``substeps`` steps on N copies with
    ``min(cpus, N)`` threads (the same pool the backend uses).
(b) ``MujocoCpuBackend.step`` at each N: env steps/s (control steps x N per second) and its
    ratio to the rollout ceiling at the same N, ``ceiling env steps/s = rollout physics steps/s /
    substeps``. The backend does more than the ceiling: after the ``substeps`` steps (sensors
    disabled) it runs one more step with sensors to read them at the final state, so its best
    possible ratio is a little under ``substeps / (substeps + 1)`` = 0.91.
(c) Optional peers: ``mujoco.batch.Batch`` (MuJoCo 4.0's persistent batched simulation, stepped
    with ``stage=mjSTAGE_VEL`` so its sensors describe the new state; informational), and
    pybullet's DeepMimic humanoid env (``pybullet_envs.deep_mimic``, one env, zero actions,
    8 substeps of 1/240 s per 30 Hz control step) when ``pybullet`` is importable.

Each configuration runs ``--repeats`` timed blocks of ``--seconds / repeats``, and the
configurations of one N take turns block by block (ceiling, backend, batch, ceiling, ...), so
that a neighbour process starting or stopping hits them alike. The table shows the best block of
each (least disturbed), the JSON all of them, plus the machine and how busy other processes kept
the CPUs during each block (``others_cpu_share``; on a shared 2-core machine a busy neighbour
halves a 2-thread rollout).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import platform
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np
import torch
from deepmimic_sim.backends.mujoco_cpu import STATE_SPEC, MujocoCpuBackend
from deepmimic_sim.model.character_mjcf import shipped_model_path
from deepmimic_sim.model.joint_mapping import JointMapping
from mujoco import rollout

from deepmimic_mocap import load_character, load_motion

EPISODE_STEPS = 30  # control steps between resets (1 s at 30 Hz)


# ---------------------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux), else ``platform.processor()``."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _busy_seconds() -> float | None:
    """CPU-seconds all CPUs spent busy since boot (Linux /proc/stat), None elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    return (sum(fields[:3]) + sum(fields[5:7])) / os.sysconf("SC_CLK_TCK")


def machine_info() -> dict:
    """Host, CPU and library versions for the JSON."""
    return {"platform": platform.platform(), "python": sys.version.split()[0], "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(), "mujoco": mujoco.__version__, "numpy": np.__version__,
            "torch": torch.__version__, "load_average_before": os.getloadavg()}


class CpuShare:
    """Measures the share of all CPUs that other processes used while the block ran."""

    def __enter__(self) -> CpuShare:
        self.busy, self.own, self.wall = _busy_seconds(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        busy = _busy_seconds()
        wall = time.perf_counter() - self.wall
        own = time.process_time() - self.own
        ncpu = os.cpu_count() or 1
        self.others = None if busy is None or self.busy is None else \
            max(0.0, (busy - self.busy - own) / (wall * ncpu))


# ---------------------------------------------------------------------------------------- setup
def standing_pose() -> tuple[np.ndarray, np.ndarray]:
    """qpos of walk frame 0 and its hinge angles (the held targets)."""
    motion = load_motion("humanoid3d_walk")
    mapping = JointMapping(load_character("humanoid3d"))
    qpos = mapping.qpos(motion.root_pos[0], motion.root_quat[0], motion.local_quat()[0])
    return qpos, qpos[7:].copy()


def initial_state(model: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    """The ``mjSTATE_FULLPHYSICS`` row of ``qpos`` at rest."""
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_forward(model, data)
    state = np.empty(mujoco.mj_stateSize(model, STATE_SPEC))
    mujoco.mj_getState(model, data, state, STATE_SPEC)
    return state


@dataclass
class Workload:
    """One configuration: ``step`` is timed, ``reset`` (every ``EPISODE_STEPS``) is not.

    Attributes:
        work_per_step: What one ``step`` counts for (physics steps, or env steps).
        meta: Facts for the JSON (threads, ...).
        close: Called once measuring is done.
    """

    step: Callable[[], None]
    reset: Callable[[], None]
    work_per_step: float
    meta: dict = field(default_factory=dict)
    close: Callable[[], None] = lambda: None


def time_block(load: Workload, seconds: float) -> tuple[float, float | None]:
    """Run ``load`` for about ``seconds`` of timed steps; returns (work per second, others' CPU share)."""
    elapsed, count = 0.0, 0
    with CpuShare() as share:
        while elapsed < seconds:
            load.reset()
            for _ in range(EPISODE_STEPS):
                t0 = time.perf_counter()
                load.step()
                elapsed += time.perf_counter() - t0
                count += 1
    return count * load.work_per_step / elapsed, share.others


def measure(loads: dict[str, Workload], seconds: float, repeats: int) -> dict[str, dict]:
    """Time the workloads in turns, ``repeats`` blocks of ``seconds / repeats`` each."""
    results = {name: {"rates": [], "others_cpu_share": [], **load.meta} for name, load in loads.items()}
    try:
        for load in loads.values():
            load.reset()
            load.step()  # warm-up: allocations, thread pool start
        for _ in range(repeats):
            for name, load in loads.items():
                rate, others = time_block(load, seconds / repeats)
                results[name]["rates"].append(rate)
                results[name]["others_cpu_share"].append(others)
    finally:
        for load in loads.values():
            load.close()
    for result in results.values():
        result["best"] = max(result["rates"])
    return results


# ---------------------------------------------------------------------------------------- (a) ceilings
def mj_step_load(model: mujoco.MjModel, qpos: np.ndarray, ctrl: np.ndarray, substeps: int) -> Workload:
    """``mj_step`` on one thread, ``substeps`` per timed call; counts physics steps."""
    data = mujoco.MjData(model)
    state = initial_state(model, qpos)

    def reset() -> None:
        mujoco.mj_setState(model, data, state, STATE_SPEC)
        data.ctrl[:] = ctrl

    def step() -> None:
        for _ in range(substeps):
            mujoco.mj_step(model, data)

    return Workload(step, reset, substeps, {"nthread": 1})


def pool_threads(n: int) -> int:
    """Threads the backend (and the ceiling) use for ``n`` environments (0: calling thread)."""
    threads = min(os.cpu_count() or 1, n)
    return threads if threads > 1 else 0


def rollout_load(model: mujoco.MjModel, qpos: np.ndarray, ctrl: np.ndarray, n: int, substeps: int) -> Workload:
    """``mujoco.rollout`` of ``substeps`` steps on ``n`` copies; counts physics steps."""
    nthread = pool_threads(n)
    pool = rollout.Rollout(nthread=nthread)
    datas = [mujoco.MjData(model) for _ in range(max(1, nthread))]
    state0 = np.tile(initial_state(model, qpos), (n, 1))
    state, controls = state0.copy(), np.tile(ctrl, (n, substeps, 1))
    out_state = np.empty((n, substeps, state.shape[1]))

    def reset() -> None:
        state[:] = state0

    def step() -> None:
        pool.rollout([model] * n, datas, state, controls, nstep=substeps, state=out_state, sensordata=None,
                     skip_checks=True)
        state[:] = out_state[:, -1]

    return Workload(step, reset, n * substeps, {"nthread": nthread}, pool.close)


# ---------------------------------------------------------------------------------------- (b) backend
def backend_load(qpos: np.ndarray, ctrl: np.ndarray, n: int, substeps: int) -> Workload:
    """``MujocoCpuBackend.step``; counts env steps (control steps x envs)."""
    backend = MujocoCpuBackend("humanoid3d", num_envs=n, substeps=substeps)
    ids = torch.arange(n)
    qpos_t = torch.from_numpy(np.tile(qpos, (n, 1)))
    qvel_t = torch.zeros(n, backend.model.nv, dtype=torch.float64)
    targets = torch.from_numpy(np.tile(ctrl, (n, 1)))
    return Workload(lambda: backend.step(targets), lambda: backend.reset(ids, qpos_t, qvel_t), n,
                    {"nthread": backend.nthread}, backend.close)


# ---------------------------------------------------------------------------------------- (c) peers
def batch_load(model: mujoco.MjModel, qpos: np.ndarray, ctrl: np.ndarray, n: int, substeps: int) -> Workload:
    """``mujoco.batch.Batch`` (persistent, sensors at the new state) on the backend's model; counts env steps."""
    from mujoco import batch

    sims = batch.Batch(model, n, nthread=max(1, pool_threads(n)), persistent=True)
    qpos0 = np.tile(qpos, (n, 1))

    def reset() -> None:
        sims.qpos[:], sims.qvel[:], sims.ctrl[:] = qpos0, 0.0, ctrl
        sims.forward()

    def step() -> None:
        sims.step(nstep=substeps, stage=mujoco.mjtStage.mjSTAGE_VEL)

    return Workload(step, reset, n, {"nthread": sims.nthread})


def _stub_pybullet_envs() -> None:
    """Make ``pybullet_envs`` importable without its ``__init__`` (which registers gym envs and needs gym)."""
    if "pybullet_envs" in sys.modules:
        return
    spec = importlib.util.find_spec("pybullet_envs")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("No module named 'pybullet_envs'")
    package = types.ModuleType("pybullet_envs")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["pybullet_envs"] = package


def pybullet_load() -> Workload | str:
    """pybullet's DeepMimic humanoid (1 env, zero actions; counts control steps), or why it cannot run."""
    try:
        _stub_pybullet_envs()
        import pybullet
        import pybullet_data
        from pybullet_envs.deep_mimic.env.pybullet_deep_mimic_env import InitializationStrategy, PyBulletDeepMimicEnv
        from pybullet_utils.arg_parser import ArgParser
    except ImportError as err:
        return f"pybullet not importable ({err}); try `.venv/bin/pip install pybullet`"

    args = ArgParser()
    args.load_file(str(Path(pybullet_data.getDataPath()) / "args" / "run_humanoid3d_walk_args.txt"))
    with contextlib.redirect_stdout(io.StringIO()):
        env = PyBulletDeepMimicEnv(args, enable_draw=False, init_strategy=InitializationStrategy.START)
    action = np.zeros(env.get_action_size(0))
    physics_dt, substeps = 1.0 / 240.0, 8

    def step() -> None:
        env.set_action(0, action)
        for _ in range(substeps):
            env.update(physics_dt)

    def reset() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            env.reset()

    return Workload(step, reset, 1, {"substeps": substeps, "physics_dt": physics_dt,
                                     "pybullet_api": pybullet.getAPIVersion()})


# ---------------------------------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict:
    """All measurements as one JSON-ready dict."""
    qpos, ctrl = standing_pose()
    plain = mujoco.MjModel.from_xml_path(str(shipped_model_path("humanoid3d")))
    sensed = MujocoCpuBackend("humanoid3d").model
    sec, rep, sub = args.seconds, args.repeats, args.substeps
    out: dict = {"machine": machine_info(), "substeps": sub, "physics_dt": float(plain.opt.timestep),
                 "seconds_per_config": sec, "repeats": rep, "envs": {}}
    out["mj_step_1thread"] = measure({"mj_step": mj_step_load(plain, qpos, ctrl, sub)}, sec, rep)["mj_step"]
    for n in args.envs:
        loads = {"rollout_ceiling": rollout_load(plain, qpos, ctrl, n, sub),
                 "backend": backend_load(qpos, ctrl, n, sub)}
        if not args.no_batch:
            loads["mujoco_batch"] = batch_load(sensed, qpos, ctrl, n, sub)
        entry = measure(loads, sec, rep)
        entry["ceiling_env_steps_per_s"] = entry["rollout_ceiling"]["best"] / sub
        entry["ratio"] = entry["backend"]["best"] / entry["ceiling_env_steps_per_s"]
        out["envs"][str(n)] = entry
    peer = "--no-pybullet" if args.no_pybullet else pybullet_load()
    out["pybullet_deep_mimic"] = {"skipped": peer} if isinstance(peer, str) else measure({"pb": peer}, sec, rep)["pb"]
    out["machine"]["load_average_after"] = os.getloadavg()
    return out


def _share(result: dict) -> str:
    """Largest CPU share of other processes over a configuration's blocks."""
    shares = [s for s in result["others_cpu_share"] if s is not None]
    return f"{max(shares):.0%}" if shares else "n/a"


def print_table(result: dict) -> None:
    """The human-readable summary."""
    sub = result["substeps"]
    mj = result["mj_step_1thread"]["best"]
    print(f"mj_step, 1 thread: {mj:,.0f} physics steps/s = {mj / sub:,.0f} env steps/s at {sub} substeps")
    print(f"{'envs':>5} {'threads':>7} {'rollout phys/s':>15} {'ceiling env/s':>14} {'backend env/s':>14} "
          f"{'ratio':>6} {'batch env/s':>12} {'others cpu':>10}")
    for n, e in result["envs"].items():
        batch = e.get("mujoco_batch", {}).get("best", float("nan"))
        print(f"{n:>5} {e['backend']['nthread']:>7} {e['rollout_ceiling']['best']:>15,.0f} "
              f"{e['ceiling_env_steps_per_s']:>14,.0f} {e['backend']['best']:>14,.0f} {e['ratio']:>6.2f} "
              f"{batch:>12,.0f} {_share(e['backend']):>10}")
    pb = result["pybullet_deep_mimic"]
    if "skipped" in pb:
        print(f"pybullet DeepMimic: skipped ({pb['skipped']})")
    else:
        print(f"pybullet DeepMimic humanoid, 1 env: {pb['best']:,.0f} control steps/s "
              f"({pb['substeps']} x 1/240 s substeps)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/sim.json"), help="JSON output")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per configuration")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks per configuration")
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 64, 256], help="environment counts")
    parser.add_argument("--substeps", type=int, default=10, help="physics steps per control step")
    parser.add_argument("--no-batch", action="store_true", help="skip the mujoco.batch peer")
    parser.add_argument("--no-pybullet", action="store_true", help="skip the pybullet peer")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run, print the table, write the JSON."""
    args = parse_args(argv)
    result = run(args)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
