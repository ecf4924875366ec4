"""MuJoCo Warp backend against the MuJoCo CPU backend: same states and targets, same trajectories.

Runs on Warp's CPU device here (and on CI); the contract tests in test_mujoco_backend.py run
against it too. Tolerances are stated in docs/architecture.md: float32 against float64 and a warm
solver against a cold one agree to ~1e-5 (m, rad) until a contact starts or ends at a slightly
different moment; such an event leaves ~1e-3 rad in joint angles and ~5e-4 m in body positions
(measured over these 10 control steps, 1/3 s); the tests allow a few times that.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("mujoco_warp", reason="mujoco-warp is not installed")

from deepmimic_sim.backends import make_backend
from deepmimic_sim.envs import ImitationEnv, ImitationEnvCfg

NUM_ENVS = 4
STEPS = 10
#: Largest difference allowed after each of STEPS control steps, per reading.
TOLERANCE = {"qpos": 5e-3, "body_pos_w": 2e-3, "body_quat_w": 5e-3, "com_pos_w": 2e-3,  # m, rad
             "qvel": 0.2, "body_lin_vel_w": 0.1, "body_ang_vel_w": 0.2, "com_vel_w": 0.02,  # m/s, rad/s
             "actuator_force": 10.0}  # N m (torques reach hundreds)


@pytest.fixture(scope="module")
def start_states() -> tuple[torch.Tensor, torch.Tensor]:
    """Reference-state initialisations of the walk clip at four random times."""
    env = ImitationEnv(ImitationEnvCfg(num_envs=NUM_ENVS, seed=3))
    return env.backend.qpos.clone(), env.backend.qvel.clone()


def test_trajectories_match_the_cpu_backend(start_states):
    qpos, qvel = start_states
    cpu = make_backend("mujoco", num_envs=NUM_ENVS, nthread=0)
    warp = make_backend("mujoco_warp", num_envs=NUM_ENVS, device="cpu")
    assert warp.device == torch.device("cpu") and warp.qpos.dtype == torch.float32
    ids = torch.arange(NUM_ENVS)
    cpu.reset(ids, qpos, qvel)
    warp.reset(ids, qpos, qvel)
    worst = dict.fromkeys(TOLERANCE, 0.0)
    gen = torch.Generator().manual_seed(0)
    for step in range(STEPS):
        targets = qpos[:, 7:] + 0.1 * torch.randn(qpos[:, 7:].shape, generator=gen, dtype=torch.float64)
        cpu.step(targets)
        warp.step(targets)
        for name, tolerance in TOLERANCE.items():
            error = float((getattr(cpu, name) - getattr(warp, name).double()).abs().max())
            worst[name] = max(worst[name], error)
            assert error < tolerance, (step, name, error)
        assert torch.equal(cpu.ground_contact, warp.ground_contact), step
    assert not warp.diverged.any()
    print("largest differences:", {k: f"{v:.1e}" for k, v in worst.items()})


def test_imitation_env_runs_on_warp_with_the_same_rewards():
    cfg = ImitationEnvCfg(num_envs=NUM_ENVS, seed=5)
    on_cpu, on_warp = ImitationEnv(cfg), ImitationEnv(ImitationEnvCfg(num_envs=NUM_ENVS, seed=5,
                                                                      backend="mujoco_warp"))
    torch.testing.assert_close(on_warp.obs, on_cpu.obs, atol=1e-4, rtol=0)
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        actions = 0.3 * torch.randn(NUM_ENVS, on_cpu.num_actions, generator=gen)
        _, reward_cpu, term_cpu, _, _ = on_cpu.step(actions)
        _, reward_warp, term_warp, _, _ = on_warp.step(actions)
        torch.testing.assert_close(reward_warp, reward_cpu, atol=1e-3, rtol=0)
        assert torch.equal(term_warp, term_cpu)


def test_cuda_device_is_refused_without_a_gpu():
    import warp as wp

    if wp.is_cuda_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        make_backend("mujoco_warp", num_envs=1, device="cuda:0")

