"""Behaviour cloning, DAgger and the multi-clip student, with scripted teachers on the real environment."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from deepmimic_policy.checkpoint import load_checkpoint
from deepmimic_policy.config import ExperimentCfg, ModelCfg, TrainCfg
from deepmimic_policy.demonstrations import TeacherEnsemble, record_demonstrations
from deepmimic_policy.distillation import (
    ClipConditioned,
    DistillCfg,
    Distiller,
    behaviour_cloning,
    build_student,
    dagger,
    distill,
    student_experiment,
)
from deepmimic_policy.policy import Policy
from deepmimic_sim.envs import ImitationEnv, ImitationEnvCfg
from deepmimic_sim.envs.config import ActionCfg

NUM_ENVS = 8
CLIPS = ["walk", "run"]




def _experiment(motions: list[str], seed: int = 0) -> ExperimentCfg:
    actor = ModelCfg(hidden_dims=[128, 128], activation="elu",
                     distribution_cfg={"class_name": "GaussianDistribution", "init_std": 0.3, "std_type": "scalar"})
    env = ImitationEnvCfg(motions=motions, num_envs=NUM_ENVS, seed=seed, action=ActionCfg(mode="residual"))
    return ExperimentCfg(env=env, train=TrainCfg(actor=actor))


def _env(motions: list[str], seed: int = 0) -> ImitationEnv:
    return ImitationEnv(_experiment(motions, seed).env)


def _distiller(motions: list[str], num_clips: int, **cfg) -> Distiller:
    torch.manual_seed(0)
    env = _env(motions)
    student = build_student(_experiment(motions), env.num_obs, env.num_actions, num_clips)
    return Distiller(student, num_clips, DistillCfg(**{"batch_size": 64, "learning_rate": 3e-3, **cfg}))


class LinearTeacher:
    """A scripted teacher: a fixed linear function of the observation."""

    def __init__(self, obs_dim: int, num_actions: int) -> None:
        generator = torch.Generator().manual_seed(1)
        self.weight = torch.randn(num_actions, obs_dim, generator=generator) * 0.5 / obs_dim ** 0.5
        self.bias = 0.2 * torch.randn(num_actions, generator=generator)

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        return obs @ self.weight.T + self.bias


def test_behaviour_cloning_reduces_held_out_action_error():
    env = _env(["walk"])
    teacher = TeacherEnsemble([LinearTeacher(env.num_obs, env.num_actions)])
    distiller = _distiller(["walk"], 1, steps=60, epochs=40, held_out=0.0)
    held_out = record_demonstrations(teacher, _env(["walk"], seed=7), 20)  # other starts, other states
    before = distiller.action_mse(held_out)
    data, report = behaviour_cloning(distiller, teacher, env, distiller.cfg, torch.Generator().manual_seed(0))
    after = distiller.action_mse(held_out)
    assert len(data) == 60 * NUM_ENVS and data.by_teacher.all()
    assert after < before / 20, (before, after)
    assert report[0]["dataset_size"] == len(data) and report[0]["train_loss"] < before / 20


def test_dagger_aggregates_and_hands_control_to_the_student():
    env = _env(["walk"])
    teacher = TeacherEnsemble([LinearTeacher(env.num_obs, env.num_actions)])
    distiller = _distiller(["walk"], 1, steps=30, rounds=3, epochs=3, beta_decay=0.5)
    data, history = dagger(distiller, teacher, env, distiller.cfg, torch.Generator().manual_seed(0))
    assert [h["dataset_size"] for h in history] == [80, 160, 240] == [NUM_ENVS * 10 * (i + 1) for i in range(3)]
    assert len(data) == 240
    assert [h["beta"] for h in history] == [1.0, 0.5, 0.25]
    assert history[0]["teacher_share"] == 1.0 and history[2]["teacher_share"] < 0.6
    # Labels are always the teacher's, whoever acted.
    torch.testing.assert_close(data.actions, teacher(data.obs, data.clip_ids))


def test_record_with_beta_zero_lets_the_student_act():
    env = _env(["walk"])
    teacher = TeacherEnsemble([lambda obs: torch.full((len(obs), env.num_actions), 0.5)])
    student = lambda obs, clips: torch.zeros(len(obs), env.num_actions)  # noqa: E731
    data = record_demonstrations(teacher, env, 3, student=student, beta=0.0)
    assert not data.by_teacher.any() and bool((data.actions == 0.5).all())


def test_multi_clip_student_follows_the_clip_conditioning():
    constants = [0.4, -0.4]  # teacher k outputs constants[k] for every action
    env = _env(CLIPS)
    teacher = TeacherEnsemble([lambda obs, c=c: torch.full((len(obs), env.num_actions), c) for c in constants])
    distiller = _distiller(CLIPS, len(CLIPS), steps=30, epochs=60, held_out=0.0)
    data, _ = behaviour_cloning(distiller, teacher, env, distiller.cfg, torch.Generator().manual_seed(0))
    assert set(data.clip_ids.tolist()) == {0, 1}  # both clips played, each labelled by its own teacher
    torch.testing.assert_close(data.actions[:, 0], torch.tensor(constants)[data.clip_ids])
    held_out = record_demonstrations(teacher, _env(CLIPS, seed=5), 5)
    for clip, constant in enumerate(constants):
        rows = held_out.clip_ids == clip
        error = (distiller.act(held_out.obs[rows], held_out.clip_ids[rows]) - constant).abs()
        # The constants are 0.8 apart: each clip's states get (nearly) their own clip's constant.
        assert float(error.mean()) < 0.03 and float(error.max()) < 0.15


def test_student_uses_the_clip_input_when_states_do_not_tell_the_clip():
    """Walk and run states are told apart by the states themselves; here the same states carry both
    clips with different labels, so only the one-hot can separate them."""
    constants = torch.tensor([0.4, -0.4])
    states = record_demonstrations(TeacherEnsemble([lambda obs: torch.zeros(len(obs), 28)]), _env(["walk"]), 40)
    both = states.cat(states)
    both.clip_ids = torch.arange(2).repeat_interleave(len(states))
    both.actions = constants[both.clip_ids][:, None].expand(-1, 28).clone()
    train, held_out = both.split(0.2, torch.Generator().manual_seed(0))
    distiller = _distiller(["walk"], 2)
    distiller.update(train, 40, torch.Generator().manual_seed(0))
    for clip in (0, 1):
        rows = held_out.clip_ids == clip
        error = (distiller.act(held_out.obs[rows], held_out.clip_ids[rows]) - constants[clip]).abs()
        assert float(error.mean()) < 0.03 and float(error.max()) < 0.15


def _teacher_checkpoint(root: Path, clip: str) -> Path:
    from deepmimic_policy.trainer import Trainer

    cfg = _experiment([clip])
    cfg.train.actor.hidden_dims = [32]
    with contextlib.redirect_stdout(io.StringIO()):
        trainer = Trainer(cfg, root / clip)
    return trainer.save()  # an untrained actor is a deterministic teacher all the same


def test_distill_writes_a_loadable_clip_conditioned_student(tmp_path):
    teachers = [_teacher_checkpoint(tmp_path, clip) for clip in CLIPS]
    cfg = DistillCfg(method="dagger", steps=8, num_envs=4, rounds=2, epochs=2, eval_seconds=0.3, eval_envs=2)
    report = distill(teachers, tmp_path / "student", cfg)
    path = Path(report["checkpoint"])
    assert path == tmp_path / "student" / "model_2.pt" and (tmp_path / "student" / "distillation.json").is_file()
    data = load_checkpoint(path)
    assert data["clip_conditioning"] == {"encoding": "one_hot_appended", "motions": CLIPS, "num_clips": 2,
                                         "env_obs_dim": 197}
    assert data["obs_dim"] == 199 and data["samples"] == 2 * 4 * 4 and data["iteration"] == 2
    assert set(report["tracking"]) == set(CLIPS)
    for pair in report["tracking"].values():
        assert pair["teacher"]["rollouts"] == pair["student"]["rollouts"] == 2
        assert pair["student"]["joint_rotation_error_rad"] >= 0.0
    student = Policy.load(path)  # the evaluation tool's loader rebuilds it like a PPO actor
    walk = ClipConditioned(student, 0, 2)
    obs = torch.randn(3, 197)
    one_hot = torch.tensor([[1.0, 0.0]]).expand(3, 2)
    torch.testing.assert_close(walk.act(obs), student.act(torch.cat([obs, one_hot], dim=-1)))
    # Evaluated on run alone (`deepmimic eval --motion run`), the environment calls run clip 0; the
    # student must still get run's one-hot (index 1), found by name.
    student.bind_motions(["run"])
    run_one_hot = torch.tensor([[0.0, 1.0]]).expand(3, 2)
    torch.testing.assert_close(student.observation(obs, torch.zeros(3, dtype=torch.long)),
                               torch.cat([obs, run_one_hot], dim=-1))
    with pytest.raises(ValueError, match="not for \\['jump'\\]"):
        student.bind_motions(["jump"])


def test_distill_cli(tmp_path, capsys):
    from deepmimic.cli import main

    teacher = _teacher_checkpoint(tmp_path, "walk")
    code = main(["distill", "--teachers", str(teacher), "--out", str(tmp_path / "bc"), "--method", "bc",
                 "--steps", "6", "--num-envs", "4", "--epochs", "2", "--eval-seconds", "0.2", "--eval-envs", "2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "held_out_mse_after" in out and "teacher" in out and "student" in out
    data = load_checkpoint(tmp_path / "bc" / "model_1.pt")
    assert data["clip_conditioning"] is None and data["obs_dim"] == 197  # a plain actor, like PPO's
    assert main(["distill", "--teachers", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "x")]) == 2


def test_teachers_must_agree_and_play_one_clip_each():
    def fake(motions: list[str], mode: str = "residual") -> Policy:
        cfg = _experiment(motions)
        cfg.env.action.mode = mode
        return Policy(nn.Identity(), cfg, 197, 28, path=Path(f"{motions}-{mode}.pt"))

    cfg, clips = student_experiment([fake(["walk"]), fake(["run"])])
    assert clips == cfg.env.motions == CLIPS
    with pytest.raises(ValueError, match="action"):
        student_experiment([fake(["walk"]), fake(["run"], mode="absolute")])
    with pytest.raises(ValueError, match="one clip"):
        student_experiment([fake(["walk", "run"]), fake(["jog"])])
    with pytest.raises(ValueError, match="same clip"):
        student_experiment([fake(["walk"]), fake(["walk"])])


def test_student_keeps_each_teachers_fall_test():
    def fake(clip: str, fall_contact: bool = True, max_body_distance: float | None = None) -> Policy:
        cfg = _experiment([clip])
        cfg.env.termination.fall_contact = fall_contact
        cfg.env.termination.max_body_distance = max_body_distance
        return Policy(nn.Identity(), cfg, 197, 28, path=Path(f"{clip}.pt"))

    cfg, _ = student_experiment([fake("walk"), fake("getup_faceup", fall_contact=False), fake("run")])
    assert cfg.env.termination.fall_contact and cfg.env.termination.no_fall_test_clips == ["getup_faceup"]
    cfg, _ = student_experiment([fake("getup_faceup", fall_contact=False), fake("getup_facedown", fall_contact=False)])
    assert not cfg.env.termination.fall_contact and cfg.env.termination.no_fall_test_clips == []
    with pytest.raises(ValueError, match="max_body_distance differs"):
        student_experiment([fake("walk"), fake("run", max_body_distance=0.5)])
