"""``deepmimic train``, ``--resume`` and ``deepmimic eval`` end to end, as users run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "humanoid3d_walk.yaml"
# Small networks on few environments: one thread is faster than two fighting (and leaves a core free).
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "deepmimic.cli", *args], capture_output=True, text=True,
                          timeout=300, env=ENV, cwd=ROOT)


def train(run_dir: Path, iterations: int, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("train", "--config", str(CONFIG), "--iterations", str(iterations), "--num-envs", "8",
                   "--run-dir", str(run_dir), "--no-eval", *extra)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run trained for two iterations."""
    run_dir = tmp_path_factory.mktemp("walk")
    result = train(run_dir, 2)
    assert result.returncode == 0, result.stderr
    assert (run_dir / "model_2.pt").is_file()
    return run_dir


def test_train_then_eval(run_dir, tmp_path):
    out = tmp_path / "eval"
    result = run_cli("eval", str(run_dir / "model_2.pt"), "--no-video", "--seconds", "1", "--num-envs", "4",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iteration"] == 2 and metrics["rollouts"] == 4 and metrics["video"] is None
    assert 0.0 <= metrics["survival"] <= 1.0 and metrics["mpjpe_global_mm"] >= 0.0
    for label in ("joint rotation error", "MPJPE (global)", "survival", "success rate", str(out / "metrics.json")):
        assert label in result.stdout


def test_resume_continues(run_dir):
    result = train(run_dir, 3, "--resume")
    assert result.returncode == 0, result.stderr
    assert "resumed" in result.stdout and "iteration 2" in result.stdout
    assert (run_dir / "model_3.pt").is_file()
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [h["iteration"] for h in history] == [1, 2, 3]


def test_init_from_takes_a_committed_policy_and_refuses_another_robots(tmp_path):
    result = train(tmp_path / "walk_from_run", 1, "--init-from", "policies/humanoid3d_run.pt")
    assert result.returncode == 0, result.stderr
    assert "actor from policies/humanoid3d_run.pt (iteration 450" in result.stdout
    result = train(tmp_path / "walk_from_g1", 1, "--init-from", "policies/g1_walk.pt")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("deepmimic train: error: policies/g1_walk.pt: its actor takes")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_eval_of_a_bad_checkpoint_is_one_line(run_dir, tmp_path, damage):
    path = tmp_path / "model_2.pt"
    if damage == "truncated":
        data = (run_dir / "model_2.pt").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    result = run_cli("eval", str(path), "--no-video", "--seconds", "1", "--num-envs", "1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepmimic eval: error: ") and str(path) in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_backend_is_one_line(tmp_path):
    result = train(tmp_path / "run", 1, "--backend", "nope")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "deepmimic train: error: unknown physics backend 'nope'; backends: mujoco, mujoco_warp, isaacgym")


def test_eval_randomize_needs_settings_and_records_them(run_dir, tmp_path):
    import torch

    result = run_cli("eval", str(run_dir / "model_2.pt"), "--no-video", "--seconds", "1", "--num-envs", "2",
                     "--randomize", "--out", str(tmp_path / "no"))
    assert result.returncode == 2 and "trained without env.randomization settings" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    data = torch.load(run_dir / "model_2.pt", weights_only=True)  # as if trained with randomisation
    data["experiment"]["env"]["randomization"] = {"enabled": True, "friction": [0.5, 1.0], "action_delay": [0, 2]}
    path = tmp_path / "model_dr.pt"
    torch.save(data, path)
    for flag, randomized in (("--randomize", True), ("--no-video", False)):
        out = tmp_path / f"eval_{randomized}"
        result = run_cli("eval", str(path), "--no-video", flag, "--seconds", "1", "--num-envs", "2", "--out", str(out))
        assert result.returncode == 0, result.stderr
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["randomized"] is randomized and ("randomised physics" in result.stdout) is randomized
        assert ("randomization" in metrics) is randomized
