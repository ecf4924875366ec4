"""Open-loop check: PD targets = the reference pose, no learning. How long does the character
track each clip before it falls, and how well while it stands?

Prints a table and writes JSON. Example:
    python bench/bench_open_loop.py --clips walk run jump backflip --envs 64 --seconds 10
    python bench/bench_open_loop.py --armature 0 0.01   # divergence with and without armature
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from deepmimic_sim.backends.mujoco_cpu import MujocoCpuBackend
from deepmimic_sim.envs import ImitationEnv, ImitationEnvCfg
from deepmimic_sim.envs.config import ActionCfg, TerminationCfg
from deepmimic_sim.model.character_mjcf import ModelOptions, build_mjcf


def run_clip(clip: str, num_envs: int, seconds: float, armature: float, substeps: int) -> dict:
    """First episode of every environment under reference-pose targets."""
    model = Path(tempfile.mkdtemp()) / "humanoid3d.xml"
    model.write_text(build_mjcf("humanoid3d", options=ModelOptions(armature=armature, timestep=1 / (30 * substeps))))
    cfg = ImitationEnvCfg(motions=[clip], num_envs=num_envs, substeps=substeps, action=ActionCfg(mode="residual"),
                          termination=TerminationCfg(episode_length_s=seconds))
    env = ImitationEnv(cfg, backend=MujocoCpuBackend(num_envs=num_envs, substeps=substeps, model_path=str(model)))
    env.record_tracking = True
    alive = torch.ones(num_envs, dtype=torch.bool)
    survival = torch.zeros(num_envs)
    sums: dict[str, float] = {}
    count, diverged = 0, 0
    start = time.perf_counter()
    for _ in range(env.max_episode_steps):
        _, _, terminated, _, info = env.step(torch.zeros(num_envs, env.num_actions))
        for key, value in info["tracking"].items():
            sums[key] = sums.get(key, 0.0) + float(value[alive].sum())
        count += int(alive.sum())
        diverged += int((info["terminated"] & alive).sum()) if info["diverged"] else 0
        survival += alive.float() * env.control_dt
        alive &= ~terminated
    return {"clip": clip, "armature": armature, "envs": num_envs, "max_seconds": seconds,
            "survival_s_mean": round(float(survival.mean()), 3), "never_fell": round(float(alive.float().mean()), 3),
            **{k: round(v / max(count, 1), 4) for k, v in sums.items()},
            "diverged_episodes": diverged, "wall_s": round(time.perf_counter() - start, 2)}


def main() -> None:
    """Run the open-loop check and report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", nargs="+", default=["walk", "run", "jump", "backflip"])
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--substeps", type=int, default=10, help="physics steps per 30 Hz control step")
    parser.add_argument("--armature", type=float, nargs="+", default=[ModelOptions().armature])
    parser.add_argument("--out", default="bench/results/open_loop.json")
    args = parser.parse_args()
    rows = [run_clip(c, args.envs, args.seconds, a, args.substeps) for a in args.armature for c in args.clips]
    header = ["clip", "armature", "survival_s_mean", "never_fell", "joint_rotation_error_rad",
              "mpjpe_root_relative_m", "diverged_episodes"]
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row.get(h)) for h in header))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": {"cpus": torch.get_num_threads(), "python": platform.python_version()},
                               "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
