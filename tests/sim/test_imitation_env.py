"""The batched imitation environment on the MuJoCo CPU backend."""

import pytest
import torch
from deepmimic_sim.envs import ImitationEnv, ImitationEnvCfg
from deepmimic_sim.envs.config import ActionCfg, ObservationCfg, TerminationCfg

NUM_ENVS = 4


def _build_env(**overrides) -> ImitationEnv:
    return ImitationEnv(ImitationEnvCfg(num_envs=NUM_ENVS, **overrides))


@pytest.fixture(scope="module")
def env():
    return _build_env()


def test_shapes_match_deepmimic(env):
    assert env.num_obs == 197  # phase, root height, 15 bodies x (3 + 4 + 3 + 3)
    assert env.num_actions == 28  # 8 spherical joints x 3 hinges + 4 revolute
    assert env.control_dt == pytest.approx(1 / 30)
    obs = env.reset()
    assert obs.shape == (NUM_ENVS, 197) and torch.isfinite(obs).all()
    assert ((obs[:, 0] >= 0) & (obs[:, 0] < 1)).all()  # phase


def test_reward_is_one_in_the_reference_state(env):
    env.reset()
    reward, terms, _ = env._reward(env.reference())
    torch.testing.assert_close(reward, torch.ones(NUM_ENVS), atol=1e-4, rtol=0)
    errors = env.tracking_errors()
    assert float(errors["joint_rotation_error_rad"].max()) < 1e-3
    assert float(errors["mpjpe_global_m"].max()) < 1e-4


def test_step_with_reference_targets_tracks_for_a_while():
    env = _build_env(action=ActionCfg(mode="residual"))
    rewards = []
    for _ in range(10):
        _, reward, terminated, _, info = env.step(torch.zeros(NUM_ENVS, env.num_actions))
        rewards.append(reward)
    # PD tracking of the reference for a third of a second keeps the reward high.
    assert float(torch.stack(rewards).mean()) > 0.5
    assert set(info["log"]) == {"reward/pose", "reward/velocity", "reward/end_effector", "reward/com",
                                 "reward/root"}


def test_fall_terminates_and_time_limit_truncates():
    env = _build_env(termination=TerminationCfg(episode_length_s=0.2))
    # Lay every character on its back: the root and chest touch the ground.
    qpos = env.backend.qpos.clone()
    qpos[:, 2] = 0.05
    qpos[:, 3:7] = torch.tensor([0.7071068, 0.0, 0.7071068, 0.0], dtype=qpos.dtype)
    env.backend.reset(torch.arange(NUM_ENVS), qpos, torch.zeros_like(env.backend.qvel))
    _, reward, terminated, truncated, info = env.step(torch.zeros(NUM_ENVS, env.num_actions))
    assert terminated.all() and not truncated.any()
    assert info["final_obs"].shape == (NUM_ENVS, env.num_obs)
    env = _build_env(termination=TerminationCfg(episode_length_s=0.2), action=ActionCfg(mode="residual"))
    for step in range(6):
        _, _, terminated, truncated, info = env.step(torch.zeros(NUM_ENVS, env.num_actions))
    assert truncated.all() and not terminated.any() and info["time_outs"].all()
    assert info["episode_steps"].tolist() == [6] * NUM_ENVS


def test_non_looping_clip_ends_at_its_end():
    env = _build_env(motions=["getup_faceup"], action=ActionCfg(mode="residual"),
                     termination=TerminationCfg(fall_contact=False))
    env.start_times[:] = env.motion_lib.durations[0] - 2.5 * env.control_dt
    truncated_at = None
    for step in range(4):
        _, _, _, truncated, _ = env.step(torch.zeros(NUM_ENVS, env.num_actions))
        if truncated.all():
            truncated_at = step + 1
            break
    assert truncated_at == 3


def test_bad_actions(env):
    env.reset()
    with pytest.raises(ValueError, match=r"\(4, 28\)"):
        env.step(torch.zeros(NUM_ENVS, 27))
    actions = torch.zeros(NUM_ENVS, env.num_actions)
    actions[0, :5] = float("nan")
    actions[1, 0] = float("inf")
    obs, reward, *_, info = env.step(actions)
    assert info["nonfinite_actions"] == 6
    assert torch.isfinite(obs).all() and torch.isfinite(reward).all()


def test_seed_makes_runs_repeatable():
    first = _build_env(seed=7)
    second = _build_env(seed=7)
    other = _build_env(seed=8)
    torch.testing.assert_close(first.obs, second.obs)
    assert not torch.allclose(first.obs, other.obs)
    actions = torch.full((NUM_ENVS, first.num_actions), 0.1)
    torch.testing.assert_close(first.step(actions)[0], second.step(actions)[0])


def test_allowed_contacts_relax_the_fall_test():
    """A character on its back falls unless root and chest may touch the ground (crawl, roll, get-up)."""
    def on_its_back(env: ImitationEnv) -> torch.Tensor:
        qpos = env.backend.qpos.clone()
        qpos[:, 2] = 0.05
        qpos[:, 3:7] = torch.tensor([0.7071068, 0.0, 0.7071068, 0.0], dtype=qpos.dtype)
        env.backend.reset(torch.arange(NUM_ENVS), qpos, torch.zeros_like(env.backend.qvel))
        return env.step(torch.zeros(NUM_ENVS, env.num_actions))[4]["termination_causes"]["fell"]

    assert on_its_back(_build_env()).all()
    relaxed = _build_env(termination=TerminationCfg(allowed_contacts=["root", "chest", "neck"]))
    assert not on_its_back(relaxed).any()
    with pytest.raises(ValueError, match="allowed_contacts: unknown bodies \\['pelvis'\\]"):
        _build_env(termination=TerminationCfg(allowed_contacts=["pelvis"]))


def test_unknown_clip_and_wrong_character():
    with pytest.raises(FileNotFoundError, match="bundled"):
        _build_env(motions=["no_such_clip"])
    with pytest.raises(ValueError, match="not on character"):
        _build_env(motions=["dog3d_trot"])


def test_partial_reset_observes_only_the_reset_rows_and_agrees_with_a_full_observation():
    from deepmimic_sim.envs.config import ObservationCfg

    env = ImitationEnv(ImitationEnvCfg(num_envs=6, seed=2, observation=ObservationCfg(future_steps=[1])))
    gen = torch.Generator().manual_seed(0)
    reset_seen = False
    for _ in range(40):  # large random actions: characters fall and restart
        obs, *_, info = env.step(2.0 * torch.randn(6, env.num_actions, generator=gen))
        torch.testing.assert_close(obs, env._observe(), rtol=0, atol=0)
        reset_seen |= 0 < len(info["done_ids"]) < 6
    assert reset_seen


def test_reusing_the_next_step_reference_is_bit_identical(monkeypatch):
    """The observation's one-step-ahead reference is the next step's residual base and reward
    reference; reusing it (also across partial resets) changes no bit of the trajectory."""
    cfg = ImitationEnvCfg(num_envs=16, seed=1, observation=ObservationCfg(future_steps=[1]),
                          action=ActionCfg(mode="residual", residual_scale=0.25))
    reused, sampled = ImitationEnv(cfg), ImitationEnv(cfg)
    monkeypatch.setattr(sampled, "_next_reference", lambda: (sampled.reference(steps_ahead=1), None))
    gen = torch.Generator().manual_seed(0)
    resets = hits = 0
    try:
        for step in range(40):
            hits += reused._next_reference()[1] is not None
            actions = torch.randn(16, reused.num_actions, generator=gen) * 1.5  # falls: partial resets
            a, b = reused.step(actions), sampled.step(actions)
            resets += len(a[4]["done_ids"])
            for x, y in zip(a[:4], b[:4]):
                assert torch.equal(x, y), step
        assert resets > 0 and hits == 40
    finally:
        reused.backend.close()
        sampled.backend.close()


def test_leaving_out_final_obs_changes_nothing_else():
    """The trainer's ``keep_final_obs = False`` saves one observation per step; episodes, resets and
    observations stay bit-identical, and ``final_obs`` is the ended episode's last observation (the
    one an environment without auto-reset returns)."""
    cfg = ImitationEnvCfg(num_envs=NUM_ENVS, action=ActionCfg(mode="residual"),
                          termination=TerminationCfg(episode_length_s=0.2), seed=3)
    kept, lean, no_reset = ImitationEnv(cfg), ImitationEnv(cfg), ImitationEnv(cfg, auto_reset=False)
    lean.keep_final_obs = False
    actions = 0.3 * torch.randn(8, NUM_ENVS, kept.num_actions, generator=torch.Generator().manual_seed(0))
    ended = 0
    for a in actions:
        obs_k, reward_k, term_k, trunc_k, info_k = kept.step(a)
        obs_l, reward_l, term_l, trunc_l, info_l = lean.step(a)
        assert torch.equal(obs_k, obs_l) and torch.equal(reward_k, reward_l)
        assert torch.equal(term_k, term_l) and torch.equal(trunc_k, trunc_l)
        assert "final_obs" not in info_l
        if not ended:
            obs_n, *_ = no_reset.step(a)
        if len(info_k["done_ids"]):
            if not ended:  # the first episodes to end: compare with the environment that does not reset
                assert torch.equal(info_k["final_obs"], obs_n[info_k["done_ids"]])
            ended += len(info_k["done_ids"])
            assert not torch.equal(info_k["final_obs"], obs_k[info_k["done_ids"]])
    assert ended >= NUM_ENVS  # 0.2 s = 6 steps: every environment ended at least once


def test_a_clip_can_skip_the_fall_test_beside_one_that_keeps_it():
    env = _build_env(motions=["walk", "getup_faceup"], action=ActionCfg(mode="residual"),
                     termination=TerminationCfg(no_fall_test_clips=["getup_faceup"]))
    env.motion_ids[:] = torch.tensor([0, 1] * (NUM_ENVS // 2))
    qpos = env.backend.qpos.clone()
    qpos[:, 2] = 0.05  # every character lying on its back: root and chest touch the ground
    qpos[:, 3:7] = torch.tensor([0.7071068, 0.0, 0.7071068, 0.0], dtype=qpos.dtype)
    env.backend.reset(torch.arange(NUM_ENVS), qpos, torch.zeros_like(env.backend.qvel))
    _, _, _, _, info = env.step(torch.zeros(NUM_ENVS, env.num_actions))
    assert info["termination_causes"]["fell"].tolist() == [True, False] * (NUM_ENVS // 2)


# ------------------------------------------------------------------------ transition starts
def test_transition_starts_put_another_clips_state_on_the_clip_start():
    """``transitions``: the character in walk's or run's state, placed on the other clip's start
    (root x, y and heading), which plays from time 0; jog (not a transition clip) starts as before."""
    from deepmimic_mocap import rotations as rot
    from deepmimic_sim.envs.config import TransitionCfg

    env = ImitationEnv(ImitationEnvCfg(motions=["walk", "run", "jog"], num_envs=64, seed=3,
                                       transitions=TransitionCfg(fraction=1.0, clips=["walk", "run"])))
    switched, jog = env.motion_ids != 2, env.motion_ids == 2
    assert switched.any() and jog.any()
    assert (env.start_times[switched] == 0).all() and (env.start_times[jog] > 0).all()
    ref, root_pos, root_quat = env.reference(), env.backend.body_pos_w[:, 0], env.backend.body_quat_w[:, 0]
    torch.testing.assert_close(root_pos[switched, :2].float(), ref.root_pos[switched, :2], atol=1e-5, rtol=0)
    turn = rot.quat_yaw(root_quat.float()) - rot.quat_yaw(ref.root_quat)
    assert float(torch.atan2(torch.sin(turn), torch.cos(turn))[switched].abs().max()) < 1e-4
    error = env.tracking_errors()["joint_rotation_error_rad"]
    assert float(error[switched].min()) > 0.05  # another clip's pose: the episode starts off its reference
    assert float(error[jog].max()) < 1e-3  # DeepMimic's RSI
    # The starting state is the other clip's, moved: its speed is walk's or run's, not its own clip's.
    speed = env.backend.body_lin_vel_w[:, 0, :2].norm(dim=1)
    own = ref.root_lin_vel[:, :2].norm(dim=1)
    assert float((speed[switched] - own[switched]).abs().max()) > 1.0  # run (~3.6 m/s) into walk (~1 m/s)


def test_transitions_off_leaves_the_starts_bit_identical():
    from deepmimic_sim.envs.config import TransitionCfg

    plain = ImitationEnv(ImitationEnvCfg(motions=["walk", "run"], num_envs=8, seed=5))
    off = ImitationEnv(ImitationEnvCfg(motions=["walk", "run"], num_envs=8, seed=5,
                                       transitions=TransitionCfg(fraction=0.0, clips=["walk", "run"])))
    assert torch.equal(plain.obs, off.obs) and torch.equal(plain.start_times, off.start_times)


def test_transition_clips_must_be_two_of_the_motions():
    from deepmimic_sim.envs.config import ConfigError, TransitionCfg

    with pytest.raises(ConfigError, match=r"transitions\.clips: needs at least two .*'jump'"):
        ImitationEnv(ImitationEnvCfg(motions=["walk", "run"], num_envs=2,
                                     transitions=TransitionCfg(fraction=0.5, clips=["walk", "jump"])))


def test_transition_episodes_have_their_own_drift_test():
    """The new clip starts at its own speed: a transition episode's reference runs ahead of the
    character, so its drift test is ``transitions.max_body_distance`` (None: none)."""
    from deepmimic_sim.envs.config import TransitionCfg

    env = ImitationEnv(ImitationEnvCfg(motions=["walk", "run"], num_envs=16, seed=2,
                                       termination=TerminationCfg(max_body_distance=0.02),
                                       transitions=TransitionCfg(fraction=1.0, clips=["walk", "run"],
                                                                 max_body_distance=None)))
    assert env.in_transition.all()
    ref_pos = env.motion_lib.body_pos(env.reference())
    assert not env._termination_causes(ref_pos)["drifted"].any()
    env.in_transition[:] = False  # the same states judged as ordinary episodes: off their reference
    assert env._termination_causes(ref_pos)["drifted"].all()
    env.reset(times=torch.zeros(16))  # given start times (evaluation): no transitions
    assert not env.in_transition.any()


def test_a_transition_blend_starts_the_reference_on_the_character():
    """``transitions.blend_s``: the reference starts as the old clip, placed where the character is
    (so the episode starts on its reference, as RSI does), and is the new clip alone after blend_s."""
    from deepmimic_sim.envs.config import TransitionCfg

    env = ImitationEnv(ImitationEnvCfg(motions=["walk", "run"], num_envs=8, seed=4, action=ActionCfg(mode="residual"),
                                       transitions=TransitionCfg(fraction=1.0, clips=["walk", "run"], blend_s=0.3)))
    ref = env.reference()
    assert float(env.tracking_errors(ref)["joint_rotation_error_rad"].max()) < 1e-3
    assert float(env.tracking_errors(ref)["mpjpe_global_m"].max()) < 1e-3
    halfway = env.reference(steps_ahead=5)  # 0.17 s: between the two clips
    plain = env.motion_lib.get_frames(env.motion_ids, env._times(5).float())
    assert not torch.allclose(halfway.local_quat, plain.local_quat, atol=1e-3)
    for _ in range(10):  # 0.33 s, past the blend
        env.step(torch.zeros(env.num_envs, env.num_actions))
    alive = env.in_transition & (env.episode_steps == 10)  # rows not reset since
    after = env.reference()
    plain = env.motion_lib.get_frames(env.motion_ids, env._times().float())
    assert alive.any()
    assert torch.equal(after.local_quat[alive], plain.local_quat[alive])
