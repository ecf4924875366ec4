"""Actor/critic architectures selectable by config: rsl-rl's MLPModel and our BodyAttentionModel."""

from __future__ import annotations

import contextlib
import io
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from rsl_rl.algorithms import PPO
from tensordict import TensorDict

from deepmimic_policy.config import ExperimentCfg, load_experiment
from deepmimic_policy.models import BodyAttentionModel, BodyTokenEncoder
from deepmimic_policy.vecenv import RslRlVecEnv
from deepmimic_sim.envs import ImitationEnv

CONFIG = Path(__file__).resolve().parents[2] / "config"
NUM_ENVS, STEPS = 4, 4




def _experiment(name: str) -> ExperimentCfg:
    cfg = load_experiment(CONFIG / name)
    cfg.env.num_envs = NUM_ENVS
    cfg.train.num_steps_per_env = STEPS
    return cfg


def _build(cfg: ExperimentCfg) -> tuple[PPO, RslRlVecEnv]:
    torch.manual_seed(0)
    vecenv = RslRlVecEnv(ImitationEnv(cfg.env))
    with contextlib.redirect_stdout(io.StringIO()):  # construct_algorithm prints the models
        alg = PPO.construct_algorithm(vecenv.get_observations(), vecenv, cfg.train.to_rsl_rl(), "cpu")
    return alg, vecenv


CONFIGS = {"mlp": "humanoid3d_walk.yaml", "attention": "humanoid3d_walk_attention.yaml"}


@pytest.fixture(scope="module", params=list(CONFIGS))
def built(request) -> tuple[str, ExperimentCfg, PPO, RslRlVecEnv]:
    cfg = _experiment(CONFIGS[request.param])
    alg, vecenv = _build(cfg)
    return request.param, cfg, alg, vecenv


def test_attention_config_differs_from_walk_only_in_the_model():
    walk, attention = (asdict(load_experiment(CONFIG / CONFIGS[k])) for k in ("mlp", "attention"))
    name = "deepmimic_policy.models.body_attention:BodyAttentionModel"
    future = len(walk["env"]["observation"]["future_steps"])
    for net in ("actor", "critic"):
        assert walk["train"][net].pop("class_name") == "MLPModel"
        assert attention["train"][net].pop("class_name") == name
        assert walk["train"][net].pop("model_kwargs") == {}
        assert attention["train"][net].pop("model_kwargs") == {"num_future": future}  # tokens carry the frames ahead
    assert walk == attention


def test_model_class_follows_the_config(built):
    kind, _, alg, _ = built
    expected = BodyAttentionModel if kind == "attention" else type(alg.actor)
    assert isinstance(alg.actor, expected) and isinstance(alg.critic, expected)
    assert (kind == "attention") == isinstance(alg.actor, BodyAttentionModel)


def test_act_and_evaluate_shapes(built):
    _, _, alg, vecenv = built
    obs = vecenv.get_observations()
    with torch.inference_mode():
        actions = alg.act(obs)
        assert actions.shape == (NUM_ENVS, vecenv.num_actions)
        assert alg.transition.values.shape == (NUM_ENVS, 1)
        assert alg.transition.actions_log_prob.shape == (NUM_ENVS,)
        assert alg.actor.output_mean.shape == alg.actor.output_std.shape == (NUM_ENVS, vecenv.num_actions)
        assert alg.actor.output_entropy.shape == (NUM_ENVS,)
        deterministic = alg.actor(obs)
        torch.testing.assert_close(deterministic, alg.actor(obs))  # no sampling without stochastic_output
        assert torch.isfinite(deterministic).all()
    alg.transition.clear()


def test_one_ppo_update_changes_the_actor(built):
    _, _, alg, vecenv = built
    before = {k: v.clone() for k, v in alg.actor.state_dict().items()}
    obs = vecenv.get_observations()
    with torch.inference_mode():
        for _ in range(STEPS):
            obs, reward, dones, extras = vecenv.step(alg.act(obs))
            alg.process_env_step(obs, reward, dones, extras)
        alg.compute_returns(obs)
    losses = alg.update()
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    changed = [k for k, v in alg.actor.state_dict().items() if not torch.equal(v, before[k])]
    assert any("mlp" in k for k in changed) and any("obs_normalizer" in k for k in changed)


def test_state_dict_round_trips(built):
    _, cfg, alg, vecenv = built
    saved = alg.save()
    fresh, _ = _build(cfg)
    fresh.load(saved, None, strict=True)
    obs = vecenv.get_observations()
    with torch.inference_mode():
        torch.testing.assert_close(fresh.actor(obs), alg.actor(obs))
        torch.testing.assert_close(fresh.critic(obs), alg.critic(obs))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_attention_exports_to_torchscript(built):
    kind, _, alg, vecenv = built
    if kind != "attention":
        pytest.skip("rsl-rl's own MLPModel export")
    scripted = torch.jit.script(alg.actor.as_jit())
    obs = vecenv.get_observations()
    with torch.inference_mode():
        torch.testing.assert_close(scripted(obs["policy"]), alg.actor(obs))


def test_encoder_tokens_follow_the_observation_layout():
    bodies, num_future, extra = 3, 1, 2
    obs_dim = 2 + bodies * 13 + num_future * bodies * 7 + extra
    encoder = BodyTokenEncoder(obs_dim, num_bodies=bodies, num_future=num_future, d_model=8, num_heads=2)
    x = torch.arange(obs_dim, dtype=torch.float32)[None]
    tokens, context = encoder.split(x)
    assert tokens.shape == (1, bodies, 13 + 7) and context.shape == (1, 2 + extra)
    # Body 1: position at 2 + 3..5, rotation at 2 + 9 + 4..7, linear velocity at 2 + 21 + 3..5 ...
    assert tokens[0, 1, :3].tolist() == [5, 6, 7]
    assert tokens[0, 1, 3:7].tolist() == [2 + 9 + 4 + i for i in range(4)]
    assert tokens[0, 1, 7:10].tolist() == [2 + 21 + 3 + i for i in range(3)]
    assert tokens[0, 1, 10:13].tolist() == [2 + 30 + 3 + i for i in range(3)]
    assert tokens[0, 1, 13:16].tolist() == [41 + 3 + i for i in range(3)]  # future position
    assert context[0].tolist() == [0, 1, obs_dim - 2, obs_dim - 1]  # phase, height, then the extras
    assert encoder(x.repeat(5, 1)).shape == (5, encoder.output_dim) == (5, 8 + 4)


def test_attention_model_with_extra_context_and_too_short_observation():
    obs = TensorDict({"policy": torch.randn(3, 197 + 2)}, batch_size=[3])
    model = BodyAttentionModel(obs, {"actor": ["policy"]}, "actor", 28, hidden_dims=[16], d_model=16)
    assert model.encoder.num_context == 2 and model(obs).shape == (3, 28)
    with pytest.raises(ValueError, match="too short"):
        BodyAttentionModel(TensorDict({"policy": torch.randn(3, 50)}, batch_size=[3]), {"actor": ["policy"]},
                           "actor", 28)
