"""Transfer settings (envs/randomization.py): domain randomisation per environment, action delay,
observation noise and the action-rate penalty, on the real MuJoCo CPU backend."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from deepmimic_sim.envs import ImitationEnv, ImitationEnvCfg
from deepmimic_sim.envs.config import ConfigError, RandomizationCfg, RewardCfg, from_dict
from deepmimic_sim.envs.randomization import ActionDelay

NUM_ENVS = 6
PHYSICS = {"friction": [0.3, 1.6], "mass": [0.9, 1.1], "kp": [0.8, 1.2], "kd": [0.7, 1.3]}


def make_env(randomization: RandomizationCfg | None = None, **overrides) -> ImitationEnv:
    cfg = ImitationEnvCfg(num_envs=NUM_ENVS, seed=5, **overrides)
    if randomization is not None:
        cfg = replace(cfg, randomization=randomization)
    return ImitationEnv(cfg)


def test_physics_differs_per_env_in_range_and_is_redrawn_at_reset():
    env = make_env(RandomizationCfg(enabled=True, pool_size=16, **PHYSICS))
    base, models = env.backend.model, env.backend._models
    params = env.transfer.env_parameters()
    for name, (low, high) in PHYSICS.items():
        values = params[name] if name == "friction" else params[name][:, 1:]  # world body's mass: never scaled
        assert ((values >= low) & (values <= high)).all(), name
    assert len(set(params["friction"].tolist())) > 1  # environments differ
    # The models the physics steps with carry exactly these values.
    for i, model in enumerate(models):
        assert model is not base
        np.testing.assert_allclose(model.geom_friction[:, 0], base.geom_friction[:, 0] * float(params["friction"][i]))
        np.testing.assert_allclose(model.body_mass, base.body_mass * params["mass"][i].numpy())
        np.testing.assert_allclose(model.actuator_gainprm[:, 0], base.actuator_gainprm[:, 0] * params["kp"][i].numpy())
        np.testing.assert_allclose(model.actuator_biasprm[:, 1], -model.actuator_gainprm[:, 0])
        np.testing.assert_allclose(model.actuator_biasprm[:, 2], base.actuator_biasprm[:, 2] * params["kd"][i].numpy())
    before = params["friction"].clone()
    env.reset(torch.tensor([0, 1, 2, 3]))
    after = env.transfer.env_parameters()["friction"]
    assert not torch.equal(after[:4], before[:4]) and torch.equal(after[4:], before[4:])  # only the reset rows
    # Lighter links and weaker gains change the motion: the same actions give other states.
    nominal = make_env()
    nominal.backend.reset(torch.arange(NUM_ENVS), env.backend.qpos.clone(), env.backend.qvel.clone())
    actions = torch.zeros(NUM_ENVS, env.num_actions)
    env.step(actions)
    nominal.step(actions)
    assert not torch.allclose(env.backend.qpos, nominal.backend.qpos, atol=1e-6)


@pytest.mark.parametrize("delays", [[0, 1, 2, 2]])
def test_delay_k_applies_the_targets_of_k_steps_ago(delays):
    delay = ActionDelay(len(delays), 3, max_delay=2, device=torch.device("cpu"))
    delay.reset(torch.arange(len(delays)), torch.tensor(delays))
    sent = [torch.full((len(delays), 3), float(t)) + torch.arange(len(delays))[:, None] for t in range(6)]
    applied = [delay(targets) for targets in sent]
    for t in range(6):
        for env, k in enumerate(delays):
            assert torch.equal(applied[t][env], sent[max(t - k, 0)][env]), (t, env, k)  # before k steps: the first
    delay.reset(torch.tensor([3]), torch.tensor([1]))  # a reset row starts again from its next targets
    new = sent[0] + 100
    assert torch.equal(delay(new)[3], new[3])


def test_env_sends_the_physics_the_targets_of_two_steps_ago():
    env = make_env(RandomizationCfg(enabled=True, action_delay=[2, 2]), termination=replace(
        ImitationEnvCfg().termination, fall_contact=False))
    applied = []
    step = env.backend.step
    env.backend.step = lambda targets: (applied.append(targets.clone()), step(targets))[1]
    generator = torch.Generator().manual_seed(0)
    actions = [0.2 * torch.randn(NUM_ENVS, env.num_actions, generator=generator) for _ in range(5)]
    for a in actions:
        env.step(a)
    expected = [env.actions_to_targets(a)[0].double() for a in actions]
    assert torch.equal(applied[4], expected[2]) and torch.equal(applied[3], expected[1])
    assert torch.equal(applied[1], expected[0]) and torch.equal(applied[0], expected[0])  # the first, held


def test_noise_changes_the_observation_only_when_on_and_within_its_groups():
    noise = {"body_pos": 0.01, "body_ang_vel": 0.2}
    clean, noisy = make_env(), make_env(RandomizationCfg(enabled=True, observation_noise=noise))
    off = make_env(RandomizationCfg(enabled=False, observation_noise=noise))
    assert torch.equal(off.obs, clean.obs)
    diff = noisy.obs - clean.obs
    b = len(clean.backend.body_names)
    pos, ang = slice(2, 2 + 3 * b), slice(2 + 10 * b, 2 + 13 * b)  # after phase and root height
    assert 0 < diff[:, pos].abs().max() <= 0.01 and 0.1 < diff[:, ang].abs().max() <= 0.2
    rest = torch.ones(clean.num_obs, dtype=torch.bool)
    rest[pos] = rest[ang] = False
    assert torch.equal(diff[:, rest], torch.zeros_like(diff[:, rest]))  # phase, height, rotations, lin. velocities
    actions = torch.zeros(NUM_ENVS, clean.num_actions)
    assert not torch.equal(noisy.step(actions)[0], clean.step(actions)[0])  # fresh noise every step


def test_action_rate_penalty_equals_its_formula():
    weight = 0.3
    plain, penalised = make_env(), make_env(reward=RewardCfg(action_rate_weight=weight))
    generator = torch.Generator().manual_seed(1)
    previous = None
    for _ in range(3):
        actions = 0.5 * torch.randn(NUM_ENVS, plain.num_actions, generator=generator)
        actions[0, 0] = 9.0  # clipped to 1.5 as the physics sees it
        _, r_plain, *_ = plain.step(actions)
        _, r_pen, _, _, info = penalised.step(actions)
        clipped = actions.clamp(-1.5, 1.5)
        rate = torch.zeros(NUM_ENVS) if previous is None else ((clipped - previous) ** 2).sum(dim=1)
        torch.testing.assert_close(r_plain - r_pen, weight * rate)
        torch.testing.assert_close(info["log"]["reward/action_rate"], rate.mean())
        previous = clipped
    assert "reward/action_rate" not in plain.step(actions)[4]["log"]


def test_defaults_and_identity_ranges_leave_the_rollout_bit_identical():
    default = make_env()
    assert default.transfer.pool is None and default.transfer.delay is None
    assert all(model is default.backend.model for model in default.backend._models)
    identity = make_env(RandomizationCfg(enabled=True, friction=[1.0, 1.0], mass=[1.0, 1.0], kp=[1.0, 1.0],
                                         kd=[1.0, 1.0], action_delay=[0, 0], observation_noise={"body_pos": 0.0}))
    assert identity.transfer.pool is not None  # the per-environment models are in use
    assert torch.equal(default.obs, identity.obs)
    generator = torch.Generator().manual_seed(2)
    for _ in range(40):  # long enough for falls and automatic resets
        actions = torch.randn(NUM_ENVS, default.num_actions, generator=generator)
        out_a, out_b = default.step(actions), identity.step(actions)
        for a, b in zip(out_a[:4], out_b[:4], strict=True):
            assert torch.equal(a, b)
        assert torch.equal(out_a[4]["done_ids"], out_b[4]["done_ids"])


def test_ranges_are_checked_with_the_key_named():
    with pytest.raises(ConfigError, match=r"randomization.friction = \[1.2, 0.3\]: expected \[low, high\]"):
        from_dict(ImitationEnvCfg, {"randomization": {"friction": [1.2, 0.3]}}, "g1.yaml: env")
    with pytest.raises(ConfigError, match=r"action_delay\[1\] = 11: must be <= 10"):
        from_dict(ImitationEnvCfg, {"randomization": {"action_delay": [0, 11]}}, "g1.yaml: env")
    with pytest.raises(ConfigError, match=r"observation_noise\.joint_pos: unknown key; valid keys: root_height"):
        from_dict(ImitationEnvCfg, {"randomization": {"observation_noise": {"joint_pos": 0.1}}}, "g1.yaml: env")
    with pytest.raises(ConfigError, match=r"action_rate_weight = -1\.0: must be >= 0"):
        from_dict(ImitationEnvCfg, {"reward": {"action_rate_weight": -1.0}}, "g1.yaml: env")


def test_backends_without_per_env_models_refuse_physics_randomisation():
    pytest.importorskip("mujoco_warp", reason="mujoco-warp is not installed")
    cfg = replace(ImitationEnvCfg(num_envs=2, backend="mujoco_warp"),
                  randomization=RandomizationCfg(enabled=True, friction=[0.5, 1.0]))
    with pytest.raises(ConfigError, match="friction, mass, kp and kd need per-environment models"):
        ImitationEnv(cfg)


def test_eval_env_randomises_only_when_asked():
    from deepmimic_policy.evaluate import make_eval_env

    cfg = replace(ImitationEnvCfg(), randomization=RandomizationCfg(enabled=True, friction=[0.5, 1.0]))
    assert make_eval_env(cfg, 1.0, 2).transfer.pool is None  # nominal physics by default
    assert make_eval_env(cfg, 1.0, 2, randomize=True).transfer.pool is not None
    with pytest.raises(ValueError, match="configures no randomisation"):
        make_eval_env(ImitationEnvCfg(), 1.0, 2, randomize=True)
