"""MuJoCo Warp throughput: the physics ceiling, the backend, and the whole imitation environment.

Usage: ``python bench/bench_warp.py [--worlds 1024 4096 16384] [--device cuda] [--out bench/results/warp.json]``

For each world count N, on ``--device`` (default: CUDA when Warp sees a GPU, else Warp's CPU device):

(a) ceiling: ``mujoco_warp.step`` of the shipped humanoid (no sensors), N worlds standing in walk
    frame 0 and holding it, ``substeps`` steps per control step (a CUDA graph on a GPU), reported
    as env steps/s = physics steps/s x N / substeps;
(b) ``MujocoWarpBackend.step``: the ceiling's work plus one ``forward`` per control step for the
    readings at the new state; ratio to (a);
(c) ``ImitationEnv.step`` on that backend: reward, observations, terminations, resets and the
    motion library, all on the same device: what training sees.

Worlds are put back in the standing pose every 30 control steps (not timed), as in bench_sim.py,
whose timing helpers this uses. On the CPU device this is slow by design (Warp's CPU kernels run
on one thread); the figures that matter come from a GPU.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import mujoco
import numpy as np
import torch
from bench_sim import Workload, machine_info, measure, standing_pose  # bench/bench_sim.py

import mujoco_warp as mjw
import warp as wp
from deepmimic_sim.backends.mujoco_warp import MujocoWarpBackend, default_device
from deepmimic_sim.envs import ImitationEnv, ImitationEnvCfg
from deepmimic_sim.model.character_mjcf import shipped_model_path


def ceiling_load(qpos: np.ndarray, n: int, substeps: int, device: str) -> Workload:
    model = mujoco.MjModel.from_xml_path(str(shipped_model_path("humanoid3d")))
    data = mujoco.MjData(model)
    data.qpos[:], data.ctrl[:] = qpos, qpos[7:]
    mujoco.mj_forward(model, data)
    with wp.ScopedDevice(device):
        m = mjw.put_model(model)
        d = mjw.put_data(model, data, nworld=n, nconmax=48, njmax=4 * 48 + model.nv)
    qpos_view, qvel_view = wp.to_torch(d.qpos), wp.to_torch(d.qvel)
    start = torch.as_tensor(qpos, dtype=torch.float32, device=qpos_view.device)
    graph = None

    def substep_loop() -> None:
        for _ in range(substeps):
            mjw.step(m, d)

    def step() -> None:
        nonlocal graph
        with wp.ScopedDevice(device):
            if wp.get_device(device).is_cuda:
                if graph is None:
                    with wp.ScopedCapture() as capture:
                        substep_loop()
                    graph = capture.graph
                wp.capture_launch(graph)
            else:
                substep_loop()
            wp.synchronize()

    def reset() -> None:
        qpos_view[:] = start
        qvel_view.zero_()

    return Workload(step, reset, n, {"worlds": n})


def backend_load(qpos: np.ndarray, n: int, substeps: int, device: str) -> Workload:
    backend = MujocoWarpBackend(num_envs=n, substeps=substeps, device=device)
    qpos_t = torch.as_tensor(np.tile(qpos, (n, 1)))
    targets = qpos_t[:, 7:].to(backend.device)

    def step() -> None:
        backend.step(targets)
        wp.synchronize()

    def reset() -> None:
        backend.reset(torch.arange(n), qpos_t, torch.zeros(n, backend.model.nv, dtype=torch.float64))

    return Workload(step, reset, n, {"worlds": n}, close=backend.close)


def env_load(n: int, substeps: int, device: str) -> Workload:
    torch_device = "cpu" if wp.get_device(device).is_cpu else "cuda"
    env = ImitationEnv(ImitationEnvCfg(num_envs=n, substeps=substeps, backend="mujoco_warp", device=torch_device))
    actions = torch.zeros(n, env.num_actions, device=env.device)

    def step() -> None:
        env.step(actions)
        wp.synchronize()

    return Workload(step, env.reset, n, {"worlds": n})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--device", default=None, help="Warp device (default: cuda:0 if present, else cpu)")
    parser.add_argument("--substeps", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/warp.json"))
    args = parser.parse_args()
    wp.init()
    device = args.device or default_device()
    qpos, _ = standing_pose()
    rows = []
    for n in args.worlds:
        loads = {"ceiling": ceiling_load(qpos, n, args.substeps, device),
                 "backend": backend_load(qpos, n, args.substeps, device), "env": env_load(n, args.substeps, device)}
        rows.append({"worlds": n, **measure(loads, args.seconds, args.repeats)})
        print(f"{n} worlds: " + ", ".join(f"{k} {rows[-1][k]['best']:.0f}" for k in loads), flush=True)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    result = {"bench": "warp", "device": device, "gpu": gpu, "substeps": args.substeps, "rows": rows,
              "machine": machine_info(), "date": time.strftime("%Y-%m-%d")}
    print(f"\nMuJoCo Warp on {device} ({gpu or 'no GPU'}), env steps/s (control steps x worlds per second):")
    print("| worlds | physics ceiling | backend | ratio | ImitationEnv |")
    print("|---|---|---|---|---|")
    for row in rows:
        ceiling, backend, env = (row[k]["best"] for k in ("ceiling", "backend", "env"))
        print(f"| {row['worlds']} | {ceiling:.0f} | {backend:.0f} | {backend / ceiling:.2f} | {env:.0f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
