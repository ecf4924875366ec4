"""The train graph with both nodes on rclpy (Fast DDS): the same training, figure for figure, as local."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import netns
import pytest
import yaml
from deepmimic_policy.config import load_experiment
from deepmimic_policy.trainer import Trainer
from netns import DDS_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
COMPARED = ("samples", "reward_per_step", "episodes", "terminations", "joint_rotation_error_rad", "loss/value")


def _history(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def test_train_graph_on_rclpy_trains_like_the_local_trainer(tmp_path):
    experiment = tmp_path / "small_walk.yaml"
    experiment.write_text(yaml.safe_dump({
        "base": str(ROOT / "config/humanoid3d_walk.yaml"), "env": {"num_envs": 6},
        "train": {"num_steps_per_env": 8, "save_interval": 1, "actor": {"hidden_dims": [32]},
                  "critic": {"hidden_dims": [32]}}}))
    trainer = Trainer(load_experiment(experiment), tmp_path / "local")
    trainer.run(2)
    trainer.close()
    expected = _history(trainer.run_dir)

    params = tmp_path / "train.yaml"
    params.write_text(yaml.safe_dump({
        "simulator": {"ros__parameters": {"mode": "train", "config": str(experiment)}},
        "trainer": {"ros__parameters": {"config": str(experiment), "run_dir": str(tmp_path / "graph"),
                                        "iterations": 2, "timeout": 90.0}}}))
    env = {"OMP_NUM_THREADS": "1"}
    spec = [{"name": "simulator", "cmd": [sys.executable, "-m", "deepmimic_sim.nodes.simulator_node", "--transport",
                                          "rclpy", "--params", str(params), "--seconds", "150"],
             "env": env, "unset": list(DDS_ENVIRONMENT)},
            {"name": "trainer", "cmd": [sys.executable, "-m", "deepmimic_policy.nodes.trainer_node", "--transport",
                                        "rclpy", "--params", str(params)],
             "wait": True, "env": env, "unset": list(DDS_ENVIRONMENT)}]
    results = netns.run(spec, timeout=180.0, cwd=ROOT)
    for name in ("simulator", "trainer"):
        assert "Traceback" not in results[name]["output"], results[name]["output"][-4000:]
    assert results["trainer"]["returncode"] == 0, results["trainer"]["output"][-3000:]
    history = _history(tmp_path / "graph")
    assert len(history) == len(expected) == 2
    for got, want in zip(history, expected, strict=True):
        for key in COMPARED:
            assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-7), (key, got[key], want[key])
