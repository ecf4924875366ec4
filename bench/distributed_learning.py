"""Learning equivalence: walk trained by 1 process and by N processes with the same total samples.

Usage: ``python bench/distributed_learning.py [--iterations 100] [--seeds 0 1] [--nproc 1 2]
[--out bench/results/distributed_learning.json]``

Every (nproc, seed) pair runs ``deepmimic train --config config/humanoid3d_walk.yaml --nproc P
--seed S --iterations I --no-eval`` (``env.num_envs`` is the total, split among the processes,
so every run collects the same samples per iteration), then ``deepmimic eval`` of the final
checkpoint (``--seconds``, 32 rollouts, eval seed 0). The table shows, per run, the mean
training reward per step and episode length over the last 10 iterations, and the evaluation
figures; the spread between seeds of one process count is the noise that the difference
between process counts is to be judged against. Runs go one after another in ``--work``
(default ``runs/distributed_learning``); a run whose final checkpoint exists is not trained again.
``--num-envs`` and ``--threads-per-rank`` are passed on to every run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL_KEYS = ("survival", "success_rate", "joint_rotation_error_rad", "mpjpe_global_mm", "reward_per_step")


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "deepmimic.cli", *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def run_one(work: Path, config: str, nproc: int, seed: int, iterations: int, eval_seconds: float,
            extra: list[str]) -> dict:
    """Train and evaluate one (nproc, seed) pair; its figures."""
    run_dir = work / f"nproc{nproc}_seed{seed}"
    checkpoint = run_dir / f"model_{iterations}.pt"
    start = time.perf_counter()
    if not checkpoint.is_file():
        resume = ["--resume"] if run_dir.is_dir() else []
        _cli("train", "--config", config, "--run-dir", str(run_dir), "--iterations", str(iterations),
             "--seed", str(seed), "--nproc", str(nproc), "--no-eval", *extra, *resume)
    train_s = time.perf_counter() - start
    out = run_dir / "eval_final"
    _cli("eval", str(checkpoint), "--no-video", "--seconds", str(eval_seconds), "--out", str(out))
    metrics = json.loads((out / "metrics.json").read_text())
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    last = history[-10:]
    return {"nproc": nproc, "seed": seed, "iterations": iterations, "samples": history[-1]["samples"],
            "train_s_this_call": round(train_s, 1),
            "train_reward_per_step_last10": statistics.fmean(h["reward_per_step"] for h in last),
            "train_episode_length_s_last10": statistics.fmean(h.get("episode_length_s", 0.0) for h in last),
            "curve": [{k: h.get(k) for k in ("iteration", "samples", "reward_per_step", "episode_length_s")}
                      for h in history],
            "eval": {k: metrics[k] for k in EVAL_KEYS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/humanoid3d_walk.yaml")
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--eval-seconds", type=float, default=10.0)
    parser.add_argument("--num-envs", type=int, help="environments in all (default: the config's)")
    parser.add_argument("--threads-per-rank", type=int, help="threads of each process (default: cores / processes)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "distributed_learning")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "distributed_learning.json")
    args = parser.parse_args()
    extra = [*(["--num-envs", str(args.num_envs)] if args.num_envs else []),
             *(["--threads-per-rank", str(args.threads_per_rank)] if args.threads_per_rank else [])]
    runs = []
    for seed in args.seeds:  # seeds outermost: a partial sweep still compares process counts
        for nproc in args.nproc:
            runs.append(run_one(args.work, args.config, nproc, seed, args.iterations, args.eval_seconds, extra))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            summary = {"config": args.config, "cpus": os.cpu_count(), "extra_args": extra, "runs": runs}
            args.out.write_text(json.dumps(summary, indent=1))
    print("| nproc | seed | samples | train r/step (last 10 it) | train ep. s | eval survival | eval success "
          "| eval rot. err rad | eval MPJPE mm |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        e = r["eval"]
        print(f"| {r['nproc']} | {r['seed']} | {r['samples']} | {r['train_reward_per_step_last10']:.3f} "
              f"| {r['train_episode_length_s_last10']:.2f} | {e['survival']:.2f} | {e['success_rate']:.2f} "
              f"| {e['joint_rotation_error_rad']:.3f} | {e['mpjpe_global_mm']:.0f} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
