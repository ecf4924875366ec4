"""Checkpoints: save/load/resume round trips, the inference policy, and refusal of damaged files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from deepmimic_policy.checkpoint import FORMAT, CheckpointError, export_policy, load_checkpoint, save_checkpoint
from deepmimic_policy.config import ExperimentCfg, load_experiment, override
from deepmimic_policy.policy import Policy, load_policy
from deepmimic_policy.trainer import Trainer
from deepmimic_sim.typed_config import ConfigError
from tensordict import TensorDict

CONFIG = Path(__file__).resolve().parents[2] / "config" / "humanoid3d_walk.yaml"


def tiny_experiment() -> ExperimentCfg:
    """The walk experiment shrunk to a few environments, steps and neurons."""
    return override(load_experiment(CONFIG), {
        "env.num_envs": 4, "train.num_steps_per_env": 8, "train.algorithm.num_mini_batches": 2,
        "train.algorithm.num_learning_epochs": 2, "train.actor.hidden_dims": [32, 32],
        "train.critic.hidden_dims": [32, 32]})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Trainer, Path]:
    """A trainer after one iteration and its checkpoint ``model_1.pt``."""
    trainer = Trainer(tiny_experiment(), tmp_path_factory.mktemp("run"))
    trainer.train_iteration()
    path = trainer.save()
    yield trainer, path
    trainer.close()


def observations(trainer: Trainer, n: int = 6) -> torch.Tensor:
    """Realistic observations (the environment's) plus random ones."""
    gen = torch.Generator().manual_seed(1)
    return torch.cat([trainer.env.obs, torch.randn(n, trainer.env.num_obs, generator=gen)])


def actor_actions(trainer: Trainer, obs: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return trainer.alg.get_policy()(TensorDict({"policy": obs}, batch_size=[len(obs)]))


def test_checkpoint_contents(trained):
    trainer, path = trained
    data = load_checkpoint(path)
    assert path.name == "model_1.pt" and data["format"] == FORMAT
    assert data["iteration"] == 1 and data["samples"] == 4 * 8
    assert data["obs_dim"] == trainer.env.num_obs and data["num_actions"] == trainer.env.num_actions
    assert {"actor_state_dict", "critic_state_dict", "optimizer_state_dict", "torch_rng", "env_rng"} <= set(data)
    assert data["experiment"]["train"]["actor"]["hidden_dims"] == [32, 32]


def test_resume_gives_identical_actions(trained, tmp_path):
    trainer, path = trained
    obs = observations(trainer)
    resumed = Trainer(tiny_experiment(), tmp_path)
    before = actor_actions(resumed, obs)
    assert resumed.resume(path)
    assert not torch.equal(before, actor_actions(trainer, obs))  # fresh weights differ, loaded ones do not
    assert torch.equal(actor_actions(resumed, obs), actor_actions(trainer, obs))
    resumed.close()


def test_policy_matches_trainer_actor(trained):
    trainer, path = trained
    obs = observations(trainer)
    policy = load_policy(path)
    actions = policy.act(obs)
    assert actions.shape == (len(obs), trainer.env.num_actions)
    assert torch.equal(actions, actor_actions(trainer, obs))
    torch.testing.assert_close(policy.act(obs[0]), actions[0])  # a single observation (other matmul kernel)
    assert torch.equal(policy.act(obs), actions)  # deterministic: the mean action
    assert policy.iteration == 1 and policy.samples == 32 and policy.path == path
    assert policy.experiment == trainer.cfg
    with pytest.raises(ValueError, match="shape"):
        policy.act(torch.zeros(2, policy.obs_dim + 1))


def test_policy_load_leaves_torch_rng_alone(trained):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    Policy.load(trained[1])
    assert torch.equal(torch.rand(3), expected)


def test_resume_continues_iteration_and_optimizer(trained, tmp_path):
    trainer, path = trained
    resumed = Trainer(tiny_experiment(), tmp_path)
    assert resumed.resume(path)
    assert (resumed.iteration, resumed.samples) == (1, 32)
    assert resumed.alg.learning_rate == trainer.alg.learning_rate
    saved, loaded = trainer.alg.optimizer.state_dict(), resumed.alg.optimizer.state_dict()
    assert saved["param_groups"] == loaded["param_groups"]
    for key, state in saved["state"].items():
        for name, value in state.items():
            assert torch.equal(value, loaded["state"][key][name]), (key, name)
    steps = float(loaded["state"][0]["step"])
    record = resumed.train_iteration()
    assert record["iteration"] == 2 and resumed.samples == 64
    assert float(resumed.alg.optimizer.state_dict()["state"][0]["step"]) > steps
    assert resumed.save().name == "model_2.pt"
    again = Trainer(tiny_experiment(), tmp_path, resume=True)
    assert again.resume() and again.iteration == 2  # newest checkpoint of the run folder
    resumed.close()
    again.close()


def test_resume_without_checkpoint(tmp_path):
    assert not Trainer(tiny_experiment(), tmp_path).resume()


def test_a_run_can_start_from_another_runs_actor(trained, tmp_path):
    """--init-from: the other run's actor (weights and normaliser), a fresh critic and the config's std."""
    trainer, path = trained
    obs = observations(trainer)
    exported = export_policy(path, tmp_path / "policy.pt")
    new = Trainer(tiny_experiment(), tmp_path / "run")
    fresh_std = new.alg.actor.distribution.std_param.detach().clone()
    fresh_critic = {k: v.clone() for k, v in new.alg.critic.state_dict().items()}
    new.start_actor_from(exported)
    assert torch.equal(actor_actions(new, obs), actor_actions(trainer, obs))
    assert torch.equal(new.alg.actor.distribution.std_param, fresh_std)
    assert not torch.equal(fresh_std, trainer.alg.actor.distribution.std_param)  # one update moved it
    assert all(torch.equal(v, fresh_critic[k]) for k, v in new.alg.critic.state_dict().items())
    assert new.started_from == {"checkpoint": str(exported), "iteration": 1, "samples": 32}
    taken_scaling = new.alg.actor.obs_normalizer.state_dict()
    new.train_iteration()
    # The taken actor's observation scaling stays (its weights were fitted to it), across a resume too.
    for key, value in new.alg.actor.obs_normalizer.state_dict().items():
        assert torch.equal(value, taken_scaling[key]), key
    saved = new.save()
    assert load_checkpoint(saved)["started_from"] == new.started_from  # kept across a resume
    resumed = Trainer(tiny_experiment(), tmp_path / "run", resume=True)
    assert resumed.resume(saved) and resumed.alg.actor.obs_normalizer.until == int(taken_scaling["count"])
    resumed.close()
    with pytest.raises(CheckpointError, match="start of a run"):
        new.start_actor_from(exported)
    new.close()


def test_an_actor_of_another_shape_is_refused(trained, tmp_path):
    wide = override(tiny_experiment(), {"train.actor.hidden_dims": [64, 32]})
    with pytest.raises(CheckpointError, match=r"model_1\.pt: its actor's layers do not match train\.actor"):
        Trainer(wide, tmp_path / "wide").start_actor_from(trained[1])
    data = load_checkpoint(trained[1])
    other = save_checkpoint(tmp_path / "other.pt", {**data, "obs_dim": data["obs_dim"] + 3})
    with pytest.raises(CheckpointError, match=r"other.pt: its actor takes \d+ observations"):
        Trainer(tiny_experiment(), tmp_path / "run").start_actor_from(other)


# ---------------------------------------------------------------------------------- clip one-hot
STUDENT = Path(__file__).resolve().parents[2] / "policies" / "humanoid3d_student.pt"


def test_a_clip_one_hot_run_reads_and_saves_the_clip_like_a_student(tmp_path):
    """train.clip_one_hot: the observation ends with the one-hot of each environment's clip, and
    the checkpoint says so (``clip_conditioning``), so eval and the policy node append it too."""
    cfg = override(tiny_experiment(), {"env.motions": ["walk", "run"], "train.clip_one_hot": True})
    trainer = Trainer(cfg, tmp_path / "run")
    obs = trainer.vecenv.get_observations()["policy"]
    assert obs.shape[1] == trainer.env.num_obs + 2 == trainer.vecenv.num_obs
    assert torch.equal(obs[:, -2:], torch.nn.functional.one_hot(trainer.env.motion_ids, 2).float())
    trainer.train_iteration()
    data = load_checkpoint(trainer.save())
    assert data["obs_dim"] == trainer.env.num_obs + 2
    assert data["clip_conditioning"] == {"encoding": "one_hot_appended", "motions": ["walk", "run"],
                                         "num_clips": 2, "env_obs_dim": trainer.env.num_obs}
    policy = Policy.load(tmp_path / "run" / "model_1.pt")
    assert policy.num_clips == 2 and policy.env_obs_dim == trainer.env.num_obs
    torch.testing.assert_close(policy.act(policy.observation(trainer.env.obs, trainer.env.motion_ids)),
                               actor_actions(trainer, trainer.vecenv.get_observations()["policy"]))
    trainer.close()
    with pytest.raises(ConfigError, match=r"train\.clip_one_hot: needs at least two env\.motions"):
        Trainer(override(tiny_experiment(), {"train.clip_one_hot": True}), tmp_path / "one")


def test_ppo_can_start_from_the_shipped_multi_clip_student(tmp_path):
    """--init-from the six-clip DAgger student: same actions as the student, clip one-hot included;
    refused without the one-hot or with the clips in another order, naming the file and the fix."""
    student = Policy.load(STUDENT)
    motions = list(student.experiment.env.motions)
    cfg = override(load_experiment(CONFIG), {"env.motions": motions, "env.num_envs": 6, "train.clip_one_hot": True,
                                             "env.termination.no_fall_test_clips": ["getup_faceup", "getup_facedown"]})
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.start_actor_from(STUDENT)
    torch.testing.assert_close(actor_actions(trainer, trainer.vecenv.get_observations()["policy"]),
                               student.act(student.observation(trainer.env.obs, trainer.env.motion_ids)))
    trainer.close()
    plain = override(cfg, {"train.clip_one_hot": False})
    with pytest.raises(CheckpointError, match=r"humanoid3d_student\.pt: its actor takes 308 .*set train\.clip_one_hot"):
        Trainer(plain, tmp_path / "plain").start_actor_from(STUDENT)
    swapped = override(cfg, {"env.motions": [motions[1], motions[0], *motions[2:]]})
    with pytest.raises(CheckpointError, match=r"humanoid3d_student\.pt: its clip one-hot is for motions"):
        Trainer(swapped, tmp_path / "swapped").start_actor_from(STUDENT)


def test_the_actor_can_learn_at_its_own_rate(tmp_path):
    """train.actor_learning_rate: two parameter groups, kept across a resume; refused with the
    adaptive schedule (which sets one rate for all), naming the key."""
    cfg = override(tiny_experiment(), {"train.actor_learning_rate": 3e-6, "train.algorithm.schedule": "fixed",
                                       "train.algorithm.learning_rate": 1e-3})
    trainer = Trainer(cfg, tmp_path / "run")
    actor, critic = trainer.alg.optimizer.param_groups
    assert actor["lr"] == 3e-6 and critic["lr"] == 1e-3
    assert {id(p) for p in actor["params"]} == {id(p) for p in trainer.alg.actor.parameters()}
    before = [p.detach().clone() for p in trainer.alg.actor.parameters()]
    trainer.train_iteration()
    moved = max(float((p.detach() - b).abs().max())
                for p, b in zip(trainer.alg.actor.parameters(), before, strict=True))
    assert 0 < moved <= 3e-6 * 4 * 4  # 4 Adam steps (2 epochs x 2 minibatches), each a few lr at most
    resumed = Trainer(cfg, tmp_path / "run", resume=True)
    trainer.save()
    assert resumed.resume() and [g["lr"] for g in resumed.alg.optimizer.param_groups] == [3e-6, 1e-3]
    trainer.close()
    resumed.close()
    with pytest.raises(ConfigError, match=r"train\.actor_learning_rate: needs train\.algorithm\.schedule: fixed"):
        Trainer(override(cfg, {"train.algorithm.schedule": "adaptive"}), tmp_path / "adaptive")


# ----------------------------------------------------------------------------------- bad files
def _truncated(good: Path, path: Path) -> None:
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(good: Path, path: Path) -> None:
    path.write_bytes(b"")


def _random_bytes(good: Path, path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _plain_tensor(good: Path, path: Path) -> None:
    torch.save(torch.zeros(3), path)


def _missing_keys(good: Path, path: Path) -> None:
    data = load_checkpoint(good)
    del data["actor_state_dict"]
    torch.save(data, path)


BAD_FILES = [_truncated, _empty, _random_bytes, _plain_tensor, _missing_keys]


@pytest.mark.parametrize("damage", BAD_FILES, ids=lambda f: f.__name__.strip("_"))
def test_bad_checkpoints_are_refused(trained, tmp_path, damage):
    path = tmp_path / "model_7.pt"
    damage(trained[1], path)
    for load in (load_checkpoint, Policy.load):
        with pytest.raises(CheckpointError, match=re.escape(str(path))):
            load(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_everywhere(trained, tmp_path, value):
    data = torch.load(trained[1], weights_only=True)
    name = next(iter(data["critic_state_dict"]))
    data["critic_state_dict"][name] = data["critic_state_dict"][name].clone().fill_(value)
    run = tmp_path / "run"
    run.mkdir()
    bad = save_checkpoint(run / "model_1.pt", {k: v for k, v in data.items() if k != "format"})
    pattern = re.escape(f"NaN or infinite values in critic_state_dict[{name!r}]")
    for load in (load_checkpoint, Policy.load, lambda p: export_policy(p, tmp_path / "out.pt"),
                 lambda p: Trainer(tiny_experiment(), run, resume=True).resume(p)):
        with pytest.raises(CheckpointError, match=pattern):
            load(bad)
    assert not (tmp_path / "out.pt").exists()


def test_loaded_config_is_never_changed(tmp_path):
    cfg = tiny_experiment()
    before = repr(cfg)
    trainer = Trainer(override(cfg, {"train.seed": 7}), tmp_path / "run")
    assert trainer.cfg.env.seed == 7 and repr(cfg) == before
    trainer.close()


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        Policy.load(tmp_path / "model_1.pt")


@pytest.mark.parametrize("change", ["no_obs_dim", "wrong_obs_dim", "bad_experiment"])
def test_policy_refuses_inconsistent_checkpoints(trained, tmp_path, change):
    data = load_checkpoint(trained[1])
    if change == "no_obs_dim":
        del data["obs_dim"]
    elif change == "wrong_obs_dim":
        data["obs_dim"] += 1
    else:
        data["experiment"]["train"]["actor"]["no_such_key"] = 1
    path = save_checkpoint(tmp_path / "model_1.pt", data)
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        Policy.load(path)


# ------------------------------------------------------------------------------- atomic saving
def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_save_leaves_no_temp_files(trained):
    trainer, path = trained
    assert temp_files(path.parent) == []
    trainer.save()
    assert temp_files(path.parent) == []


def test_saved_checkpoint_has_a_normal_file_mode(tmp_path):
    import os
    import stat

    from deepmimic_policy.checkpoint import save_checkpoint

    old = os.umask(0o027)
    try:
        path = save_checkpoint(tmp_path / "model_1.pt", {"iteration": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0666 under the umask, not mkstemp's private 0600


def test_crash_during_save_keeps_previous_checkpoint(trained, monkeypatch):
    trainer, path = trained
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("simulated crash while writing")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="simulated crash"):
        trainer.save()  # the same iteration: it would replace model_1.pt
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert temp_files(path.parent) == []
    assert load_checkpoint(path)["iteration"] == 1


def test_exported_policy_acts_like_the_checkpoint(tmp_path):
    """`deepmimic export` keeps the actor and drops the critic, optimiser and RNG states."""
    from deepmimic_policy.checkpoint import export_policy
    from deepmimic_policy.config import load_experiment
    from deepmimic_policy.policy import Policy
    from deepmimic_policy.trainer import Trainer

    cfg = load_experiment("config/humanoid3d_walk.yaml")
    cfg.env.num_envs, cfg.train.num_steps_per_env = 4, 4
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.train_iteration()
    full = trainer.save()
    small = export_policy(full, tmp_path / "policy.pt")
    assert small.stat().st_size < 0.5 * full.stat().st_size
    obs = trainer.env.obs
    torch.testing.assert_close(Policy.load(small).act(obs), Policy.load(full).act(obs))
    with pytest.raises(CheckpointError):
        Trainer(cfg, tmp_path / "run2").resume(small)  # a policy-only file cannot resume training
