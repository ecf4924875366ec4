"""Training throughput: one process with T threads against P processes (torch.distributed, gloo) of T/P.

Usage: ``python bench/bench_distributed.py [--layouts 1x2 2x1] [--envs 128] [--iterations 4] [--rounds 2]
[--out bench/results/distributed.json]``

Each layout ``PxT`` runs ``deepmimic train --config config/humanoid3d_walk.yaml --num-envs E --nproc P
--threads-per-rank T --iterations I --no-eval`` in a fresh run folder: the same total environments
(``E``, split among the P processes) and the same samples per iteration whatever the layout. The
layouts take turns, round after round (A, B, A, B ...), so that load from other processes hits
them alike. Per run, the first iteration is dropped (it includes start-up); the table shows the
median over the remaining iterations of all rounds of: samples/s of all ranks (what the progress
bar shows), the rollout time (``collect_s``: simulation and policy inference) and the PPO update
time (``update_s``: 5 epochs x 4 mini-batches, each followed by a gradient all-reduce when P > 1).
The JSON has every iteration, plus the machine's load average before each run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]


def run_layout(nproc: int, threads: int, envs: int, iterations: int, config: str) -> dict:
    """Train ``iterations`` iterations with ``nproc`` processes of ``threads`` threads; per-iteration figures."""
    with tempfile.TemporaryDirectory() as run_dir:
        load = os.getloadavg()[0]
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "deepmimic.cli", "train", "--config", config, "--num-envs", str(envs),
                        "--iterations", str(iterations), "--nproc", str(nproc), "--threads-per-rank", str(threads),
                        "--run-dir", run_dir, "--no-eval"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        history = [json.loads(line) for line in (Path(run_dir) / "history.jsonl").read_text().splitlines()]
    keep = ("iteration", "samples_per_s", "collect_s", "update_s")
    return {"nproc": nproc, "threads": threads, "load_avg_1min_before": load, "process_wall_s": round(wall, 2),
            "iterations": [{k: h[k] for k in keep} for h in history]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", nargs="+", default=["1x2", "2x1"], help="PxT: processes x threads each")
    parser.add_argument("--envs", type=int, default=128, help="environments in all (split among processes)")
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--config", default="config/humanoid3d_walk.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "distributed.json")
    args = parser.parse_args()
    layouts = [tuple(int(x) for x in layout.split("x")) for layout in args.layouts]
    runs: list[dict] = []
    for round_ in range(args.rounds):
        for nproc, threads in layouts:
            runs.append({"round": round_, **run_layout(nproc, threads, args.envs, args.iterations, args.config)})
            print(f"round {round_}: {nproc}x{threads} done ({runs[-1]['process_wall_s']:.0f} s)", file=sys.stderr)
    rows = []
    for nproc, threads in layouts:
        its = [it for r in runs if (r["nproc"], r["threads"]) == (nproc, threads) for it in r["iterations"][1:]]
        rows.append({"layout": f"{nproc} x {threads}", "nproc": nproc, "threads": threads, "iterations": len(its),
                     **{f"median_{k}": statistics.median(it[k] for it in its)
                        for k in ("samples_per_s", "collect_s", "update_s")}})
    base = rows[0]["median_samples_per_s"]
    print(f"\n{args.envs} environments in all, {args.iterations - 1} timed iterations x {args.rounds} rounds per "
          f"layout, {os.cpu_count()} CPUs ({cpu_model()})\n")
    print("| processes x threads | samples/s (all ranks) | vs first | rollout s/it | update s/it |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['layout']} | {row['median_samples_per_s']:.0f} | {row['median_samples_per_s'] / base:.2f} "
              f"| {row['median_collect_s']:.2f} | {row['median_update_s']:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "python": platform.python_version(),
                    "torch": torch.__version__},
        "settings": {"config": args.config, "envs": args.envs, "iterations": args.iterations, "rounds": args.rounds},
        "summary": rows, "runs": runs}, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
