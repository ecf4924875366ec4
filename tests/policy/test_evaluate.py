"""Evaluation: the metrics arithmetic on a scripted rollout, and a real (tiny) evaluation end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from deepmimic_policy.checkpoint import CheckpointError
from deepmimic_policy.config import load_experiment
from deepmimic_policy.evaluate import (
    PerSecond,
    alive_masks,
    evaluate_checkpoint,
    frame_indices,
    play_checkpoint,
    summarise,
)
from deepmimic_policy.trainer import Trainer

CONFIG = Path(__file__).resolve().parents[2] / "config" / "humanoid3d_walk.yaml"
METRIC_KEYS = {"joint_rotation_error_rad", "mpjpe_global_mm", "mpjpe_root_relative_mm", "root_position_error_m",
               "survival", "mean_survival_time_s", "success_rate", "reward_per_step", "env_steps", "rollouts",
               "clips", "checkpoint", "iteration", "samples_trained", "seconds", "seed", "video"}
X = 99.0  # values after a rollout ended: must not count


def columns(*envs: list[float]) -> torch.Tensor:
    """A ``(T, N)`` tensor from one list of per-step values per environment."""
    return torch.tensor(envs, dtype=torch.float32).T


@pytest.fixture
def scripted() -> dict:
    """3 environments, 4 steps of 0.5 s: env 1 terminates at step 2, env 2's MPJPE exceeds 0.5 m at step 3."""
    terminated = columns([0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]).bool()  # env 1's second one comes too late
    truncated = columns([0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 1]).bool()
    return {
        "tracking": {
            "joint_rotation_error_rad": columns([0.1, 0.1, 0.1, 0.1], [0.2, 0.4, X, X], [0.1, 0.2, 0.3, 0.4]),
            "mpjpe_global_m": columns([0.1, 0.1, 0.1, 0.5], [0.2, 0.3, X, X], [0.1, 0.2, 0.6, 0.3]),
            "mpjpe_root_relative_m": columns([0.05] * 4, [0.05, 0.05, X, X], [0.05] * 4),
            "root_position_error_m": columns([0.0, 0.1, 0.2, 0.3], [1.0, 1.0, X, X], [0.1] * 4),
        },
        "alive": alive_masks(terminated | truncated),
        "terminated": terminated,
        "reward": columns([1.0] * 4, [0.5, 0.5, X, X], [0.5] * 4),
        "control_dt": 0.5,
    }


def test_alive_masks(scripted):
    assert scripted["alive"].tolist() == [[True] * 3, [True] * 3, [True, False, True], [True, False, True]]
    assert alive_masks(torch.zeros(2, 2, dtype=torch.bool)).all()


def test_summarise_against_hand_computed(scripted):
    m = summarise(**scripted)
    assert m["env_steps"] == 10 and m["rollouts"] == 3  # 4 + 2 + 4 alive env-steps
    assert m["joint_rotation_error_rad"] == pytest.approx((0.4 + 0.6 + 1.0) / 10)
    assert m["mpjpe_global_mm"] == pytest.approx(1000 * (0.8 + 0.5 + 1.2) / 10)
    assert m["mpjpe_root_relative_mm"] == pytest.approx(50.0)
    assert m["root_position_error_m"] == pytest.approx((0.6 + 2.0 + 0.4) / 10)
    assert m["reward_per_step"] == pytest.approx((4.0 + 1.0 + 2.0) / 10)
    assert m["survival"] == pytest.approx(2 / 3)  # env 1 terminated
    assert m["mean_survival_time_s"] == pytest.approx((2.0 + 1.0 + 2.0) / 3)
    assert m["success_rate"] == pytest.approx(1 / 3)  # env 0 only (0.5 m is not above the threshold)
    assert summarise(**scripted, fail_mpjpe_m=0.4)["success_rate"] == 0.0


def test_frame_indices():
    assert frame_indices(31, 1 / 30).tolist() == list(range(31))
    assert frame_indices(61, 1 / 60).tolist() == list(range(0, 61, 2))
    assert frame_indices(1, 1 / 30).tolist() == [0]


def test_per_second_averages_and_stops_at_termination():
    rows = []
    live = PerSecond(0.5, rows.append)
    for t, (reward, fell) in enumerate([(1.0, 0), (0.0, 0), (0.4, 0), (0.2, 1), (9.0, 0)]):
        step = {"reward": torch.tensor([reward]), "alive": torch.tensor([t < 4]),
                "terminated": torch.tensor([bool(fell)]),
                **{k: torch.tensor([0.1]) for k in ("joint_rotation_error_rad", "mpjpe_global_m",
                                                     "mpjpe_root_relative_m", "root_position_error_m")}}
        live(t, step)
    live.finish(4)
    assert [(r["time_s"], r["status"]) for r in rows] == [(1.0, "ok"), (2.0, "terminated")]
    assert [r["reward"] for r in rows] == pytest.approx([0.5, 0.3])
    assert rows[0]["mpjpe_global_mm"] == pytest.approx(100.0)


# ----------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of a tiny policy after one iteration."""
    cfg = load_experiment(CONFIG)
    cfg.env.num_envs, cfg.train.num_steps_per_env = 4, 8
    cfg.train.actor.hidden_dims = cfg.train.critic.hidden_dims = [32, 32]
    trainer = Trainer(cfg, tmp_path_factory.mktemp("run"))
    trainer.train_iteration()
    path = trainer.save()
    trainer.close()
    return path


def test_evaluate_checkpoint(checkpoint, tmp_path):
    from deepmimic_sim.render import gl_available

    video = gl_available()
    result = evaluate_checkpoint(checkpoint, seconds=1.0, num_envs=3, out_dir=tmp_path / "eval", video=video)
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert result["metrics_path"] == tmp_path / "eval" / "metrics.json" and metrics == result["metrics"]
    assert set(metrics) >= METRIC_KEYS
    assert metrics["checkpoint"] == str(checkpoint) and metrics["iteration"] == 1 and metrics["samples_trained"] == 32
    assert metrics["clips"] == ["walk"] and metrics["rollouts"] == 3
    for key in ("survival", "success_rate"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["success_rate"] <= metrics["survival"]
    for key in ("joint_rotation_error_rad", "mpjpe_global_mm", "mpjpe_root_relative_mm", "root_position_error_m"):
        assert math.isfinite(metrics[key]) and metrics[key] >= 0.0
    assert 0.0 < metrics["mean_survival_time_s"] <= 1.0 + 1e-6
    assert 3 <= metrics["env_steps"] <= 3 * 30
    causes = metrics["terminations_by_cause"]
    assert set(causes) == {"fell", "drifted", "diverged"}
    ended_early = round((1.0 - metrics["survival"]) * 3)
    assert max(causes.values()) <= ended_early <= sum(causes.values())  # every early end has a cause
    if video:
        assert result["video_path"] == tmp_path / "eval" / "rollout.mp4" and result["video_path"].stat().st_size > 0
    else:
        assert result["video_path"] is None and metrics["video_note"].startswith("skipped")


def test_evaluation_is_reproducible_and_seeded(checkpoint, tmp_path):
    runs = [evaluate_checkpoint(checkpoint, seconds=0.5, num_envs=2, out_dir=tmp_path / str(i), video=False,
                                seed=seed)["metrics"] for i, seed in enumerate((3, 3, 4))]
    assert runs[0]["mpjpe_global_mm"] == runs[1]["mpjpe_global_mm"]
    assert runs[0]["mpjpe_global_mm"] != runs[2]["mpjpe_global_mm"]  # other reference-state starts
    assert runs[0]["video"] is None


def test_play_without_render(checkpoint):
    rows = []
    result = play_checkpoint(checkpoint, seconds=1.0, render=False, on_second=rows.append)
    assert result["video_path"] is None and result["metrics"]["rollouts"] == 1
    assert rows and rows[-1]["time_s"] == pytest.approx(result["metrics"]["mean_survival_time_s"])


def test_evaluate_refuses_a_damaged_checkpoint(checkpoint, tmp_path):
    bad = tmp_path / "model_1.pt"
    bad.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        evaluate_checkpoint(bad, seconds=0.5, num_envs=1, out_dir=tmp_path / "eval", video=False)
    assert not (tmp_path / "eval").exists()


def test_recorded_rollout_follows_the_motion(checkpoint):
    """Every recorded pose is its own copy: the root moves along with the walking reference."""
    from deepmimic_policy.evaluate import make_eval_env, run_rollout
    from deepmimic_policy.policy import Policy

    policy = Policy.load(checkpoint)
    env = make_eval_env(policy.experiment.env, seconds=0.5, num_envs=2, seed=0)
    rollout = run_rollout(policy, env, record_env=0)
    assert len(rollout.qpos) > 10
    ref_travel = np.linalg.norm(rollout.ref_qpos[-1, :2] - rollout.ref_qpos[0, :2])
    assert ref_travel > 0.2  # the walk reference moves about 1 m/s
    assert not np.allclose(rollout.qpos[0], rollout.qpos[-1])
    # The simulated root starts at the reference root (reference state initialisation).
    np.testing.assert_allclose(rollout.qpos[0, :3], rollout.ref_qpos[0, :3], atol=1e-5)


def test_non_looping_clip_is_evaluated_from_its_first_frame_to_its_end(checkpoint, tmp_path):
    from deepmimic_policy.evaluate import make_eval_env
    from deepmimic_policy.policy import Policy

    env = make_eval_env(Policy.load(checkpoint).experiment.env, 20.0, 3, motion="getup_faceup")
    assert torch.all(env.start_times == 0)  # every rollout starts at the clip's first frame
    metrics = evaluate_checkpoint(checkpoint, seconds=20.0, num_envs=2, out_dir=tmp_path, video=False,
                                  motion="getup_faceup", backend="mujoco")["metrics"]
    assert "survival" not in metrics and 0.0 <= metrics["reached_clip_end"] <= 1.0
    assert "end of the clip" in metrics["success_criterion"] and metrics["backend"] == "mujoco"
    assert metrics["mean_survival_time_s"] <= metrics["clip_seconds"] + 1e-6  # the clip's end ends the rollout
    looping = evaluate_checkpoint(checkpoint, seconds=0.5, num_envs=2, out_dir=tmp_path / "walk", video=False)
    assert "survive 0.5 s" in looping["metrics"]["success_criterion"] and "survival" in looping["metrics"]
