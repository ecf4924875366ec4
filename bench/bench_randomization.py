"""Cost of the transfer settings (domain randomisation, delay, noise, action-rate penalty) in env steps.

Usage: ``python bench/bench_randomization.py [--config config/g1_walk.yaml] [--num-envs 64]
[--steps 50] [--rounds 4] [--out bench/results/randomization.json]``

Two environments of the config, one with ``env.randomization.enabled`` and the action-rate penalty
as the config sets them and one with both off, step random actions in alternating blocks (so a
neighbour process slows both alike). Printed: env steps/s of each (best block) and their ratio,
and the memory of the randomised model pool (``pool_size`` x the model's buffer).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sim import CpuShare, machine_info  # noqa: E402
from deepmimic_policy.config import load_experiment  # noqa: E402
from deepmimic_sim.envs.imitation_env import ImitationEnv  # noqa: E402


def block(env: ImitationEnv, steps: int, generator: torch.Generator) -> tuple[float, float | None]:
    """Env steps per second over ``steps`` control steps of random actions; others' CPU share."""
    actions = [0.3 * torch.randn(env.num_envs, env.num_actions, generator=generator) for _ in range(steps)]
    with CpuShare() as share:
        start = time.perf_counter()
        for a in actions:
            env.step(a)
        elapsed = time.perf_counter() - start
    return steps * env.num_envs / elapsed, share.others


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/g1_walk.yaml")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", default="bench/results/randomization.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = replace(load_experiment(args.config).env, num_envs=args.num_envs)
    off = replace(cfg, randomization=replace(cfg.randomization, enabled=False),
                  reward=replace(cfg.reward, action_rate_weight=0.0))
    envs = {"on": ImitationEnv(cfg), "off": ImitationEnv(off)}
    generator = torch.Generator().manual_seed(0)
    blocks = {name: [] for name in envs}
    others = []
    for _ in range(args.rounds):
        for name, env in envs.items():
            rate, share = block(env, args.steps, generator)
            blocks[name].append(rate)
            others.append(share)
    best = {name: max(rates) for name, rates in blocks.items()}
    model = envs["on"].backend.model
    pool = envs["on"].transfer.pool
    result = {"config": args.config, "num_envs": args.num_envs, "steps_per_block": args.steps,
              "env_steps_per_s": blocks, "best_env_steps_per_s": best, "ratio_on_over_off": best["on"] / best["off"],
              "pool_size": 0 if pool is None else len(pool), "model_buffer_mb": model.nbuffer / 1e6,
              "pool_mb": (0 if pool is None else len(pool)) * model.nbuffer / 1e6,
              "others_cpu_share": others, "machine": machine_info()}
    print(f"{args.config}, {args.num_envs} envs, {args.rounds} x {args.steps} steps each, alternating")
    print(f"  transfer settings off  {best['off']:8.0f} env steps/s")
    print(f"  transfer settings on   {best['on']:8.0f} env steps/s   ratio {result['ratio_on_over_off']:.2f}")
    print(f"  model pool             {result['pool_size']} x {result['model_buffer_mb']:.2f} MB = "
          f"{result['pool_mb']:.0f} MB (one model per environment: {args.num_envs * result['model_buffer_mb']:.0f} MB)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
