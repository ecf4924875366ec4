"""End-to-end training speed against the physics ceiling, measured in one run.

Usage: ``python bench/bench_train_speed.py [--config config/humanoid3d_walk.yaml] [--iterations 4]
[--gym-steps 600] [--compare-precision] [--out bench/results/train_speed.json]``

(a) Training: ``Trainer.train_iteration`` (rollout + PPO update) of the config, samples per second
    of wall-clock, beside ``mujoco.rollout`` of the same model, substeps and environment count
    (``bench_sim.rollout_load``: the pool the backend uses). Ceiling env steps/s = rollout physics
    steps/s / substeps; ratio = training samples/s / ceiling (goal >= 0.6). Iterations and
    ceiling blocks take turns so that a neighbour process hits them alike.
(b) One Gymnasium environment (``gymnasium.make("DeepMimic/HumanoidWalk-v0")``: the NumPy
    ``SingleImitationEnv`` path, and with ``fast=False`` the batched torch one; zero actions,
    reset when an episode ends) beside ``mj_step`` of the same model for ``substeps`` steps on
    one thread (goal >= 0.5), then the NumPy path's step split into parts (``--gym-only``: (b) alone).

The table shows the best block of each; the JSON has every block and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import mujoco
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sim import CpuShare, machine_info, mj_step_load, rollout_load, standing_pose, time_block  # noqa: E402
from deepmimic_policy.config import load_experiment  # noqa: E402
from deepmimic_policy import trainer as trainer_module  # noqa: E402
from deepmimic_policy.trainer import Trainer  # noqa: E402
from deepmimic_sim.model.character_mjcf import shipped_model_path  # noqa: E402


def train_blocks(args: argparse.Namespace) -> dict:
    """Training iterations and rollout-ceiling blocks in turns."""
    cfg = load_experiment(args.config)
    if args.num_envs:
        cfg.env.num_envs = args.num_envs
    n, substeps = cfg.env.num_envs, cfg.env.substeps
    model = mujoco.MjModel.from_xml_path(str(shipped_model_path(cfg.env.character)))
    qpos, ctrl = standing_pose()
    ceiling = rollout_load(model, qpos, ctrl, n, substeps)
    threads = torch.get_num_threads()
    out = {"num_envs": n, "substeps": substeps, "torch_threads": threads,
           "mixed_precision": cfg.train.algorithm.use_mixed_precision, "train_samples_per_s": [],
           "collect_s": [], "physics_s": [], "update_s": [], "ceiling_env_steps_per_s": [], "others_cpu_share": [],
           "same_threads_samples_per_s": [], "other_precision_update_s": []}
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(cfg, run_dir)
        physics = _time_physics(trainer.env.backend)
        trainer.train_iteration()  # warm-up
        ceiling.reset()
        ceiling.step()
        try:
            for _ in range(args.iterations):
                if args.compare_threads:  # before: collection on all torch threads, as the update
                    trainer_module.COLLECT_TORCH_THREADS = threads
                    out["same_threads_samples_per_s"].append(trainer.train_iteration()["samples_per_s"])
                    trainer_module.COLLECT_TORCH_THREADS = 1
                if args.compare_precision:  # the update with the other precision, same rollout sizes
                    alg = trainer.alg
                    alg.use_mixed_precision = not alg.use_mixed_precision
                    out["other_precision_update_s"].append(trainer.train_iteration()["update_s"])
                    alg.use_mixed_precision = not alg.use_mixed_precision
                physics["s"] = 0.0
                with CpuShare() as share:
                    record = trainer.train_iteration()
                out["train_samples_per_s"].append(record["samples_per_s"])
                out["collect_s"].append(record["collect_s"])
                out["physics_s"].append(physics["s"])
                out["update_s"].append(record["update_s"])
                out["others_cpu_share"].append(share.others)
                rate, _ = time_block(ceiling, args.ceiling_seconds)
                out["ceiling_env_steps_per_s"].append(rate / substeps)
        finally:
            ceiling.close()
            trainer.close()
    out["best_train"] = max(out["train_samples_per_s"])
    out["best_ceiling"] = max(out["ceiling_env_steps_per_s"])
    out["ratio"] = out["best_train"] / out["best_ceiling"]
    if out["same_threads_samples_per_s"]:
        out["same_threads_ratio"] = max(out["same_threads_samples_per_s"]) / out["best_ceiling"]
    return out


def _time_physics(backend) -> dict:
    """Wrap ``backend.step`` so that its seconds add up in the returned dict's ``"s"``."""
    physics, step = {"s": 0.0}, backend.step

    def timed_step(targets):
        start = time.perf_counter()
        step(targets)
        physics["s"] += time.perf_counter() - start

    backend.step = timed_step
    return physics


def gym_blocks(args: argparse.Namespace) -> dict:
    """One Gymnasium environment (the default NumPy path and the batched torch path with
    ``fast=False``) and the one-thread ``mj_step`` ceiling in turns; then where the NumPy path's
    step time goes."""
    import gymnasium as gym

    import deepmimic_sim.gym_env  # noqa: F401  (registers the ids)

    envs = {"gym": gym.make("DeepMimic/HumanoidWalk-v0"),
            "batched_gym": gym.make("DeepMimic/HumanoidWalk-v0", fast=False)}
    substeps = envs["gym"].unwrapped.env.cfg.substeps
    model = mujoco.MjModel.from_xml_path(str(shipped_model_path("humanoid3d")))
    qpos, ctrl = standing_pose()
    ceiling = mj_step_load(model, qpos, ctrl, substeps)
    action = np.zeros(envs["gym"].action_space.shape, np.float32)
    out = {"substeps": substeps, "fast_path": envs["gym"].unwrapped.fast is not None, "gym_steps_per_s": [],
           "batched_gym_steps_per_s": [], "ceiling_env_steps_per_s": []}
    for env in envs.values():
        env.reset(seed=0)
    for _ in range(args.repeats):
        for name, env in envs.items():
            out[f"{name}_steps_per_s"].append(args.gym_steps / _gym_block(env, action, args.gym_steps))
        rate, _ = time_block(ceiling, args.ceiling_seconds)
        out["ceiling_env_steps_per_s"].append(rate / substeps)
    out["parts_us"] = _gym_parts(envs["gym"], action, args.gym_steps) if out["fast_path"] else None
    for env in envs.values():
        env.close()
    out["best_gym"] = max(out["gym_steps_per_s"])
    out["best_batched_gym"] = max(out["batched_gym_steps_per_s"])
    out["best_ceiling"] = max(out["ceiling_env_steps_per_s"])
    out["ratio"] = out["best_gym"] / out["best_ceiling"]
    out["batched_ratio"] = out["best_batched_gym"] / out["best_ceiling"]
    return out


def _gym_block(env, action: np.ndarray, steps: int) -> float:
    """Seconds for ``steps`` steps with ``action``, resetting when an episode ends."""
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return time.perf_counter() - start


def _gym_parts(env, action: np.ndarray, steps: int) -> dict:
    """Microseconds per step of each part of ``SingleImitationEnv.step`` (timers wrapped around
    its calls), and the rest (Gymnasium wrappers, actions, terminations, resets)."""
    from deepmimic_sim.envs import rewards, single_env

    fast, spent = env.unwrapped.fast, {}
    parts = {"physics (mj_step x substeps + mj_forward readings)": (fast, "_physics"),
             "reference lookup + FK of the reference": (fast, "_next_reference"),
             "observation (phase + policy_observation)": (fast, "_observe"),
             "reward errors (imitation_errors)": (single_env.rewards, "imitation_errors"),
             "reward sum (imitation_reward)": (rewards, "imitation_reward")}
    originals = {}
    for label, (owner, attr) in parts.items():
        fn = originals[label] = getattr(owner, attr)
        spent[label] = 0.0

        def timed(*a, _fn=fn, _label=label, **k):
            t0 = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                spent[_label] += time.perf_counter() - t0

        setattr(owner, attr, timed)
    try:
        total = _gym_block(env, action, steps)
    finally:
        for label, (owner, attr) in parts.items():
            if owner is fast:
                delattr(owner, attr)  # back to the class's method
            else:
                setattr(owner, attr, originals[label])
    out = {label: 1e6 * value / steps for label, value in spent.items()}
    out["rest (wrappers, actions, terminations, resets)"] = 1e6 * (total - sum(spent.values())) / steps
    out["total"] = 1e6 * total / steps
    return out


def print_table(result: dict) -> None:
    """Markdown table of the best blocks."""
    t, g = result["train"], result["gym"]
    print("| path | envs | measured (samples/s) | ceiling (env steps/s) | ratio | goal |")
    print("|---|---|---|---|---|---|")
    if t:
        print(f"| `deepmimic train` iteration | {t['num_envs']} | {t['best_train']:,.0f} | {t['best_ceiling']:,.0f} | "
              f"{t['ratio']:.2f} | >= 0.6 |")
    if g:
        print(f"| Gymnasium `DeepMimic/HumanoidWalk-v0` (NumPy path) | 1 | {g['best_gym']:,.0f} | "
              f"{g['best_ceiling']:,.0f} | {g['ratio']:.2f} | >= 0.5 |")
        print(f"| (the same, `fast=False`: batched torch `ImitationEnv`) | 1 | {g['best_batched_gym']:,.0f} | "
              f"{g['best_ceiling']:,.0f} | {g['batched_ratio']:.2f} | |")
        if g["parts_us"]:
            print(f"\nWhere a NumPy-path step goes (us per step, ceiling {1e6 / g['best_ceiling']:.0f} us):\n")
            print("| part | us | share |")
            print("|---|---|---|")
            for name, value in g["parts_us"].items():
                if name != "total":
                    print(f"| {name} | {value:.0f} | {value / g['parts_us']['total']:.0%} |")
    if not t:
        return
    if "same_threads_ratio" in t:
        print(f"| (before: rollout on {t['torch_threads']} torch threads) | {t['num_envs']} | "
              f"{max(t['same_threads_samples_per_s']):,.0f} | {t['best_ceiling']:,.0f} | {t['same_threads_ratio']:.2f} | |")
    best = int(np.argmax(t["train_samples_per_s"]))
    collect, physics, update = t["collect_s"][best], t["physics_s"][best], t["update_s"][best]
    total = collect + update
    print(f"\nWhere the best iteration's {total:.2f} s went ({t['num_envs']} envs, "
          f"{'bfloat16' if t['mixed_precision'] else 'float32'} update):\n")
    print("| part | s | share |")
    print("|---|---|---|")
    for name, value in (("physics (`backend.step`: substeps + sensor probe)", physics),
                        ("rest of the rollout (policy inference, reference, observation, reward, resets, storage)",
                         collect - physics), ("PPO update (5 epochs x 4 minibatches + update_kl)", update)):
        print(f"| {name} | {value:.3f} | {value / total:.0%} |")
    if t["other_precision_update_s"]:
        other = "float32" if t["mixed_precision"] else "bfloat16"
        print(f"| (PPO update in {other}, interleaved) | {min(t['other_precision_update_s']):.3f} | |")
    shares = [s for s in t["others_cpu_share"] if s is not None]
    if shares:
        print(f"\nother processes used {min(shares):.0%}-{max(shares):.0%} of the CPUs during the training blocks; "
              f"load average before: {result['machine']['load_average_before']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("config/humanoid3d_walk.yaml"))
    parser.add_argument("--num-envs", type=int, default=None, help="override the config's environment count")
    parser.add_argument("--iterations", type=int, default=4, help="timed training iterations")
    parser.add_argument("--compare-threads", action="store_true",
                        help="also time iterations whose rollout runs on all torch threads (the old way)")
    parser.add_argument("--compare-precision", action="store_true",
                        help="also time updates in the other precision (float32 / bfloat16), interleaved")
    parser.add_argument("--ceiling-seconds", type=float, default=1.5, help="timed seconds per ceiling block")
    parser.add_argument("--gym-steps", type=int, default=600, help="steps per Gymnasium block (0: skip)")
    parser.add_argument("--repeats", type=int, default=3, help="Gymnasium blocks")
    parser.add_argument("--gym-only", action="store_true", help="section (b) only")
    parser.add_argument("--out", type=Path, default=Path("bench/results/train_speed.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run, print the table, write the JSON."""
    args = parse_args(argv)
    result = {"machine": machine_info(), "config": str(args.config), "train": None if args.gym_only else train_blocks(args),
              "gym": gym_blocks(args) if args.gym_steps else None}
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
