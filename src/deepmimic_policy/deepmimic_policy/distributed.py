"""Training across processes and machines: rsl-rl-lib's torch.distributed path around our ``Trainer``.

How it works (the same as rsl-rl's ``OnPolicyRunner`` in multi-GPU mode, which we do not use):

- Each rank is one process started by ``torchrun`` (or by ``deepmimic train --nproc N``, which
  starts the same workers through torch's elastic launcher). It reads ``RANK``, ``LOCAL_RANK``,
  ``WORLD_SIZE`` and ``LOCAL_WORLD_SIZE`` from the environment and joins the process group:
  NCCL when every rank of a host has its own GPU, gloo otherwise (CPU, or several ranks sharing
  one GPU, which NCCL refuses).
- Each rank simulates its own shard of the environments: ``env.num_envs`` is the TOTAL, split
  across ranks (the first ``total % world`` ranks get one more). A run therefore collects the same
  samples per iteration, with the same PPO batch, whatever the number of processes: ``--nproc`` is
  a speed setting, not a learning one. Ranks seed torch and their environments with ``seed + rank``.
- rsl-rl's PPO does the rest when given ``multi_gpu``: ``broadcast_parameters`` makes every rank
  start from rank 0's networks, ``reduce_parameters`` averages the gradients of every mini-batch
  (so the networks stay identical), the adaptive learning rate is decided on rank 0 from the
  all-reduced KL and broadcast, and ``EmpiricalNormalization.update`` all-reduces count, mean and
  variance whenever ``torch.distributed`` is initialised, so the observation normalisers stay equal.
- Rank 0 alone writes the run folder (config, history, TensorBoard, checkpoints) and shows
  progress; the per-iteration figures (reward, episode length, tracking errors) are merged over
  all ranks, and ``samples_per_s`` counts the samples of all ranks.
- Checkpoints hold every rank's random-number states (``rank_rng``). ``--resume``: rank 0 reads the
  checkpoint and broadcasts it, so only rank 0 needs the run folder (no shared file system needed
  across hosts); each rank restores its own random numbers, or is reseeded when the number of
  ranks changed.
- Threads: each rank uses ``threads`` torch threads and is pinned to as many cores of its own
  (MuJoCo's rollout pool sizes itself to the cores a process may use), so N ranks x threads
  never exceed the host's cores unless asked to.
"""

from __future__ import annotations

import hashlib
import os
import sys
import uuid
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from deepmimic_sim.envs import ImitationEnv

from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import ExperimentCfg
from .trainer import IterationStats, Trainer

RANK_RNG_KEY = "rank_rng"
WORLD_SIZE_KEY = "world_size"


@dataclass(frozen=True)
class RankInfo:
    """Where this process stands in the job.

    Attributes:
        rank, local_rank: Global rank and rank on this host.
        world_size, local_world_size: Ranks in the job and on this host.
        device: Torch device of this rank's networks and environments (``cuda:<local GPU>``).
        backend: ``gloo`` or ``nccl``; ``None`` when the job is a single process.
        threads: Torch threads (and cores) of this rank.
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    device: str = "cpu"
    backend: str | None = None
    threads: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    """True in a worker started by ``torchrun`` or the elastic launcher."""
    return "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ


def shard(total: int, rank: int, world_size: int) -> int:
    """This rank's share of ``total`` environments (the first ``total % world_size`` ranks get one more)."""
    if total < world_size:
        raise ValueError(f"env.num_envs is {total}, fewer than the {world_size} ranks: every rank needs an environment")
    return total // world_size + (1 if rank < total % world_size else 0)


def limit_threads(local_rank: int, local_world_size: int, threads: int | None) -> int:
    """Give this rank ``threads`` torch threads and pin it to that many cores of its own; returns ``threads``.

    ``threads=None``: the cores this process may use, divided by the ranks of this host. Ranks are
    pinned to consecutive blocks of those cores (wrapping round when ranks x threads exceeds them).
    MuJoCo's rollout pool sizes itself to the pinned cores.
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    if threads is None:
        threads = max(1, len(cores) // max(1, local_world_size))
    if threads < 1:
        raise ValueError(f"--threads-per-rank must be >= 1, got {threads}")
    if local_world_size * threads > len(cores) and local_rank == 0:
        warnings.warn(f"{local_world_size} ranks x {threads} threads exceed the {len(cores)} cores this host gives; "
                      "ranks will share cores", stacklevel=2)
    if hasattr(os, "sched_setaffinity") and (local_world_size > 1 or threads < len(cores)):
        mine = {cores[(local_rank * threads + i) % len(cores)] for i in range(threads)}
        os.sched_setaffinity(0, mine)
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    return threads


def init(device: str = "cpu", threads: int | None = None) -> RankInfo:
    """Join the process group described by torchrun's environment variables (a no-op for one process).

    Args:
        device: ``cpu`` or ``cuda``; with CUDA, rank ``r`` of a host uses GPU ``r % gpus``.
        threads: Torch threads and cores per rank (``None``: this host's cores / its ranks).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    backend = None
    if device.startswith("cuda"):
        gpus = torch.cuda.device_count()
        if gpus == 0:
            raise ValueError("--device cuda: no CUDA device is visible")
        index = local_rank % gpus if device == "cuda" else torch.device(device).index or 0
        device = f"cuda:{index}"
        torch.cuda.set_device(index)
        if world > 1:
            backend = "nccl" if local_world <= gpus else "gloo"  # NCCL refuses two ranks on one GPU
    elif world > 1:
        backend = "gloo"
    if world > 1 or threads is not None:  # a lone process keeps torch's and MuJoCo's own defaults
        threads = limit_threads(local_rank, local_world, threads)
    else:
        threads = torch.get_num_threads()
    if backend is not None and not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return RankInfo(rank, local_rank, world, local_world, device, backend, threads)


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``python -m deepmimic.cli <argv>`` as ``nproc`` ranks on this host, as ``torchrun --standalone`` does.

    The workers are started by torch's elastic launcher (torchrun's engine) with a c10d rendezvous
    on a free local port, so a worker is exactly what ``torchrun --nproc-per-node N -m
    deepmimic.cli ...`` starts. Returns 0, or the exit code of the first rank that failed.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.2)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # one host: gloo over loopback, whatever the hostname resolves to
    try:
        elastic_launch(config, sys.executable)("-m", "deepmimic.cli", *argv)
    except ChildFailedError as err:
        rank, failure = err.get_first_failure()
        print(f"deepmimic {argv[0]}: error: rank {rank} of {nproc} failed with exit code {failure.exitcode} "
              "(its message is above)", file=sys.stderr)
        return failure.exitcode if failure.exitcode > 0 else 1
    return 0


def _gather(obj: Any) -> list[Any]:
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def merge_stats(stats: IterationStats) -> IterationStats:
    """Sum every rank's iteration figures into ``stats`` (numbers add, lists join, dicts add per key)."""
    state = {k: ([t.cpu() for t in v] if isinstance(v, list) else v) for k, v in vars(stats).items()}
    merged = IterationStats()
    for other in _gather(state):
        for key, value in other.items():
            mine = getattr(merged, key)
            if isinstance(value, list):
                mine.extend(value)
            elif isinstance(value, dict):
                for k, v in value.items():
                    mine[k] = mine.get(k, 0.0) + v
            else:
                setattr(merged, key, mine + value)
    return merged


class DistributedTrainer(Trainer):
    """``Trainer`` as one rank of a torch.distributed job (see the module docstring).

    ``cfg.env.num_envs`` is the job's total; this rank builds its shard (unless ``env`` is given:
    a rank may own any environment, e.g. a ``RemoteImitationEnv`` of its own simulator node).
    """

    def __init__(self, cfg: ExperimentCfg, run_dir: str | Path, rank: RankInfo, env: Any | None = None) -> None:
        if not dist.is_initialized():
            raise RuntimeError("DistributedTrainer needs torch.distributed initialised (distributed.init)")
        self.rank = rank
        self.is_main = rank.is_main
        if env is None:  # the config (saved with the run) keeps the total
            env = ImitationEnv(replace(cfg.env, num_envs=shard(cfg.env.num_envs, rank.rank, rank.world_size),
                                       seed=cfg.train.seed + rank.rank))
        super().__init__(cfg, run_dir, device=rank.device, env=env)
        counts = torch.tensor([self.env.num_envs], dtype=torch.long, device=self._comm_device)
        dist.all_reduce(counts)
        self.total_envs = int(counts.item())

    @property
    def _comm_device(self) -> str:
        return self.rank.device if self.rank.backend == "nccl" else "cpu"

    def _seed(self) -> int:
        return self.cfg.train.seed + self.rank.rank

    def _rsl_rl_cfg(self) -> dict[str, Any]:
        cfg = super()._rsl_rl_cfg()
        cfg["multi_gpu"] = {"global_rank": self.rank.rank, "local_rank": self.rank.local_rank,
                            "world_size": self.rank.world_size}
        return cfg

    def _warm_up_normalizers(self) -> None:
        self.alg.broadcast_parameters()  # every rank starts from rank 0's networks (and empty normalisers)
        super()._warm_up_normalizers()  # the normalisers all-reduce their statistics

    def _collect(self) -> IterationStats:
        return merge_stats(super()._collect())

    def _log(self, record: dict[str, Any]) -> None:
        if self.is_main:
            super()._log({**record, WORLD_SIZE_KEY: self.rank.world_size})

    def state(self) -> dict[str, Any]:
        return {**super().state(), WORLD_SIZE_KEY: self.rank.world_size}

    def networks_digest(self) -> str:
        """SHA-256 of the actor's and critic's parameters and normalisers (equal on every rank while in sync)."""
        digest = hashlib.sha256()
        for model in (self.alg.actor, self.alg.critic):
            for name, tensor in model.state_dict().items():
                digest.update(name.encode())
                digest.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    def save(self) -> Path:
        """Rank 0 writes ``model_<iteration>.pt`` with every rank's random-number states (collective).

        Raises:
            RuntimeError: The ranks' networks differ (they must stay identical: a bug, not bad luck).
        """
        digests = _gather(self.networks_digest())
        if len(set(digests)) > 1:
            raise RuntimeError(f"iteration {self.iteration}: the ranks' networks differ "
                               f"({len(set(digests))} versions among {len(digests)} ranks)")
        rngs = _gather((torch.get_rng_state(), self.env.generator.get_state()))
        path = self.run_dir / f"model_{self.iteration}.pt"
        if not self.is_main:
            return path
        return save_checkpoint(path, {**self.state(), RANK_RNG_KEY: [list(r) for r in rngs]})

    def resume(self, path: str | Path | None = None) -> bool:
        """Rank 0 reads the checkpoint and broadcasts it; every rank restores its own random numbers (collective)."""
        box: list[Any] = [None, None]
        if self.is_main:
            found = Path(path) if path else latest_checkpoint(self.run_dir)
            if found is not None:
                box = [str(found), load_checkpoint(found, "cpu")]
        dist.broadcast_object_list(box, src=0, device=torch.device(self._comm_device))
        if box[1] is None:
            return False
        found, data = Path(box[0]), box[1]
        self._restore(found, data)
        rngs = data.get(RANK_RNG_KEY)
        if rngs is not None and len(rngs) == self.rank.world_size:
            torch_rng, env_rng = rngs[self.rank.rank]
            torch.set_rng_state(torch_rng)
            self.env.generator.set_state(env_rng)
        else:  # saved by another number of ranks: fresh, distinct streams per rank
            seed = self._seed() + 100_003 * self.iteration
            torch.manual_seed(seed)
            self.env.generator.manual_seed(seed)
            if self.is_main:
                print(f"{found}: saved by {len(rngs) if rngs else 1} rank(s), resumed by {self.rank.world_size}: "
                      "random numbers reseeded per rank")
        return True

