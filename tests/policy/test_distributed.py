"""Two real CPU processes (gloo, one thread each) train together: rsl-rl's distributed PPO, our ranks.

The ranks are started the two ways users start them: ``torchrun`` running a rank script, and
``deepmimic train --nproc 2`` (which resumes the first run); ``deepmimic eval`` reads the result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from deepmimic_policy.distributed import shard

ROOT = Path(__file__).resolve().parents[2]
RANK_SCRIPT = Path(__file__).with_name("distributed_rank.py")
STEPS, TOTAL_ENVS = 8, 6
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=240, env=ENV, cwd=ROOT)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Walk with small networks, 6 environments in all, 8 steps per iteration."""
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(f"base: {ROOT / 'config' / 'humanoid3d_walk.yaml'}\n"
                    f"env: {{num_envs: {TOTAL_ENVS}}}\n"
                    f"train: {{num_steps_per_env: {STEPS}, save_interval: 100,\n"
                    "        actor: {hidden_dims: [64, 32]}, critic: {hidden_dims: [64, 32]}}\n")
    return path


@pytest.fixture(scope="module")
def trained(config: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """Two ranks under torchrun, two iterations; the run folder and each rank's saved state."""
    run_dir, out = tmp_path_factory.mktemp("run"), tmp_path_factory.mktemp("ranks")
    result = run("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(RANK_SCRIPT),
                 str(config), str(run_dir), str(out), "2")
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]


def test_shard_splits_the_total():
    assert [shard(7, r, 3) for r in range(3)] == [3, 2, 2]
    with pytest.raises(ValueError, match="fewer than the 4 ranks"):
        shard(3, 0, 4)


def test_ranks_end_with_identical_networks(trained):
    _, (rank0, rank1) = trained
    for part in ("actor_state_dict", "critic_state_dict"):
        a, b = rank0["networks"][part], rank1["networks"][part]
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{part}.{key} differs between the ranks"
    # The normalisers saw every rank's observations: the warm-up rollout and two iterations of all envs.
    count = rank0["networks"]["actor_state_dict"]["obs_normalizer.count"]
    assert int(count) == (STEPS + 1) * TOTAL_ENVS + 2 * STEPS * TOTAL_ENVS
    # Each rank simulated its own shard, from its own seed.
    assert (rank0["num_envs"], rank1["num_envs"]) == (3, 3) and rank0["total_envs"] == TOTAL_ENVS
    assert not torch.equal(rank0["obs"], rank1["obs"])
    assert rank0["samples"] == rank1["samples"] == 2 * STEPS * TOTAL_ENVS


def test_rank0_checkpoint_is_evaluated(trained, tmp_path):
    run_dir, _ = trained
    assert sorted(p.name for p in run_dir.glob("model_*.pt")) == ["model_2.pt"]
    result = run("-m", "deepmimic.cli", "eval", str(run_dir / "model_2.pt"), "--no-video", "--seconds", "1",
                 "--num-envs", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["iteration"] == 2 and metrics["rollouts"] == 2


def test_nproc_resumes_every_rank(trained, config):
    run_dir, _ = trained
    result = run("-m", "deepmimic.cli", "train", "--config", str(config), "--run-dir", str(run_dir),
                 "--iterations", "3", "--nproc", "2", "--threads-per-rank", "1", "--resume", "--no-eval")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 ranks (gloo), 1 thread(s) each" in result.stdout
    assert "resumed" in result.stdout and "iteration 2" in result.stdout
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [h["iteration"] for h in history] == [1, 2, 3]
    assert [h["samples"] for h in history] == [STEPS * TOTAL_ENVS * i for i in (1, 2, 3)]
    assert all(h["world_size"] == 2 for h in history)
    saved = torch.load(run_dir / "model_3.pt", weights_only=True)
    assert len(saved["rank_rng"]) == 2 and saved["experiment"]["env"]["num_envs"] == TOTAL_ENVS


def test_trainer_ranks_own_remote_simulators(config, tmp_path):
    """The train graph composes with ranks: each trainer rank drives its own simulator node."""
    out = tmp_path / "ranks"
    out.mkdir()
    result = run("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(RANK_SCRIPT),
                 str(config), str(tmp_path / "run"), str(out), "1", "remote")
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2))
    for key, value in rank0["networks"]["actor_state_dict"].items():
        assert torch.equal(value, rank1["networks"]["actor_state_dict"][key]), key
    # Every simulator node holds the config's environments (no split): the job has twice as many.
    assert rank0["num_envs"] == TOTAL_ENVS and rank0["total_envs"] == 2 * TOTAL_ENVS
    assert not torch.equal(rank0["obs"], rank1["obs"])
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [h["samples"] for h in history] == [2 * STEPS * TOTAL_ENVS]


def test_a_failing_rank_is_one_line(config, tmp_path):
    result = run("-m", "deepmimic.cli", "train", "--config", str(config), "--run-dir", str(tmp_path),
                 "--iterations", "1", "--nproc", "2", "--backend", "nope", "--no-eval")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("deepmimic train: error: rank ")
