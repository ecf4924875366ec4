"""One rank of the two-process test (started by torchrun): train, then save this rank's networks.

Usage: ``torchrun --nproc-per-node 2 distributed_rank.py CONFIG RUN_DIR OUT_DIR ITERATIONS``
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from deepmimic_policy import distributed
from deepmimic_policy.config import load_experiment


def main(config: str, run_dir: str, out_dir: str, iterations: str) -> None:
    rank = distributed.init("cpu", threads=1)
    try:
        trainer = distributed.DistributedTrainer(load_experiment(config), run_dir, rank)
        trainer.run(int(iterations))
        torch.save({"networks": trainer.alg.save(), "obs": trainer.env.obs, "num_envs": trainer.env.num_envs,
                    "total_envs": trainer.total_envs, "samples": trainer.samples},
                   Path(out_dir) / f"rank{rank.rank}.pt")
        trainer.close()
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:])
