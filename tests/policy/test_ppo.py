"""rsl-rl-lib's PPO as we use it: GAE against hand arithmetic, and learning on a tiny problem."""

from __future__ import annotations

import torch
from rsl_rl.algorithms import PPO
from rsl_rl.env import VecEnv
from rsl_rl.models import MLPModel
from rsl_rl.storage import RolloutStorage
from tensordict import TensorDict

GAUSSIAN = {"class_name": "GaussianDistribution", "init_std": 0.5, "std_type": "scalar"}




# ------------------------------------------------------------------------------------------ GAE
class ObsValue(torch.nn.Module):
    """A scripted critic: the value of a state is written in its observation, ``V(s) = obs[0]``."""

    is_recurrent = False

    def forward(self, obs: TensorDict, **_: object) -> torch.Tensor:
        return obs["policy"][:, :1].clone()

    def get_hidden_state(self) -> None:
        return None

    def reset(self, dones: torch.Tensor | None = None, hidden_state: None = None) -> None:
        pass


def _obs(value: float) -> TensorDict:
    return TensorDict({"policy": torch.tensor([[value]])}, batch_size=[1])


def test_gae_matches_hand_computation():
    """1 environment, 4 steps, gamma 0.9, lambda 0.8.

    step  V(s_t)  reward  done            stored reward
    0     1.0     1.0     no              1.0
    1     2.0     0.5     time-out        0.5 + gamma * V(s_1) = 0.5 + 0.9 * 2.0 = 2.3   (rsl-rl's bootstrap)
    2     0.5     2.0     terminated      2.0
    3     1.5    -1.0     no              -1.0
    last value V(s_4) = 3.0

    Backwards, delta_t = r_t + gamma * (1 - done_t) * V(s_{t+1}) - V(s_t),
    A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}:
    t=3: delta = -1.0 + 0.9 * 3.0 - 1.5 = 0.2;               A = 0.2;                    R = A + V = 1.7
    t=2: delta = 2.0 - 0.5 = 1.5 (done: no bootstrap);     A = 1.5;                    R = 2.0
    t=1: delta = 2.3 - 2.0 = 0.3 (done);                   A = 0.3;                    R = 2.3
    t=0: delta = 1.0 + 0.9 * 2.0 - 1.0 = 1.8;               A = 1.8 + 0.72 * 0.3 = 2.016; R = 3.016
    """
    gamma, lam = 0.9, 0.8
    values = [1.0, 2.0, 0.5, 1.5, 3.0]
    rewards = [1.0, 0.5, 2.0, -1.0]
    dones = [0, 1, 1, 0]
    time_outs = [False, True, False, False]
    actor = MLPModel(_obs(0.0), {"actor": ["policy"]}, "actor", 1, hidden_dims=[4], distribution_cfg=GAUSSIAN)
    storage = RolloutStorage("rl", 1, 4, _obs(0.0), [1])
    alg = PPO(actor, ObsValue(), storage, gamma=gamma, lam=lam)  # type: ignore[arg-type]
    for t in range(4):
        alg.act(_obs(values[t]))
        extras = {"time_outs": torch.tensor([time_outs[t]])}
        alg.process_env_step(_obs(values[t + 1]), torch.tensor([rewards[t]]), torch.tensor([dones[t]]), extras)
    alg.compute_returns(_obs(values[4]))

    torch.testing.assert_close(storage.rewards.flatten(), torch.tensor([1.0, 2.3, 2.0, -1.0]))
    returns = torch.tensor([3.016, 2.3, 2.0, 1.7])
    torch.testing.assert_close(storage.returns.flatten(), returns)
    advantages = torch.tensor([2.016, 0.3, 1.5, 0.2])
    torch.testing.assert_close(storage.returns.flatten() - storage.values.flatten(), advantages)
    # rsl-rl then normalises the advantages over the batch (unbiased std).
    normalised = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    torch.testing.assert_close(storage.advantages.flatten(), normalised)


# ----------------------------------------------------------------------------- learning to reach
class PointMassEnv(VecEnv):
    """1-D point mass reaching a random target: ``x += SPEED * clip(a, -1, 1)``, reward ``-|x - target|``.

    Observation ``(x, target)``; episodes last ``HORIZON`` steps (time-outs), both drawn in ``[-1, 1]``.
    """

    SPEED = 0.25
    HORIZON = 8

    def __init__(self, num_envs: int, seed: int = 0) -> None:
        self.num_envs, self.num_actions, self.max_episode_length = num_envs, 1, self.HORIZON
        self.device, self.cfg = "cpu", {}
        self.generator = torch.Generator().manual_seed(seed)
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long)
        self.pos, self.target = torch.zeros(num_envs), torch.zeros(num_envs)
        self._reset(torch.ones(num_envs, dtype=torch.bool))

    def _reset(self, ids: torch.Tensor) -> None:
        n = int(ids.sum())
        self.pos[ids] = torch.rand(n, generator=self.generator) * 2 - 1
        self.target[ids] = torch.rand(n, generator=self.generator) * 2 - 1
        self.episode_length_buf[ids] = 0

    def get_observations(self) -> TensorDict:
        return TensorDict({"policy": torch.stack([self.pos, self.target], dim=-1)}, batch_size=[self.num_envs])

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        self.pos = self.pos + self.SPEED * actions[:, 0].clamp(-1, 1)
        reward = -(self.pos - self.target).abs()
        self.episode_length_buf += 1
        time_outs = self.episode_length_buf >= self.HORIZON
        self._reset(time_outs)
        return self.get_observations(), reward, time_outs.long(), {"time_outs": time_outs}


def _episode_return(policy, seed: int = 123, num_envs: int = 512) -> float:
    """Mean undiscounted return of a deterministic ``policy(obs) -> actions`` over one episode per env."""
    env = PointMassEnv(num_envs, seed)
    total = torch.zeros(num_envs)
    obs = env.get_observations()
    with torch.inference_mode():
        for _ in range(env.HORIZON):
            obs, reward, _, _ = env.step(policy(obs))
            total += reward
    return float(total.mean())


def _ppo_cfg() -> dict:
    net = {"class_name": "MLPModel", "hidden_dims": [32, 32], "activation": "elu", "obs_normalization": False}
    return {"num_steps_per_env": 16, "obs_groups": {"actor": ["policy"], "critic": ["policy"]}, "multi_gpu": None,
            "actor": {**net, "distribution_cfg": dict(GAUSSIAN)}, "critic": net,
            "algorithm": {"class_name": "PPO", "num_learning_epochs": 5, "num_mini_batches": 4, "gamma": 0.9,
                          "lam": 0.95, "learning_rate": 3e-3, "entropy_coef": 0.0, "schedule": "adaptive",
                          "desired_kl": 0.01}}


THRESHOLD = -2.0  # the scripted optimum gets about -1.07, standing still about -5.3


def test_ppo_learns_to_reach_the_target():
    torch.manual_seed(0)
    env = PointMassEnv(64)
    alg = PPO.construct_algorithm(env.get_observations(), env, _ppo_cfg(), "cpu")
    policy = alg.get_policy()

    optimal = _episode_return(lambda o: ((o["policy"][:, 1] - o["policy"][:, 0]) / env.SPEED)[:, None])
    standing = _episode_return(lambda o: torch.zeros(len(o["policy"]), 1))
    initial = _episode_return(lambda o: policy(o))
    # The threshold is reachable (the scripted optimum clears it) and not reached before training.
    assert optimal > THRESHOLD + 0.5 and standing < THRESHOLD and initial < THRESHOLD

    obs = env.get_observations()
    for _ in range(40):
        with torch.inference_mode():
            for _ in range(alg.storage.num_transitions_per_env):
                obs, reward, dones, extras = env.step(alg.act(obs))
                alg.process_env_step(obs, reward, dones, extras)
            alg.compute_returns(obs)
        alg.update()
        if _episode_return(lambda o: policy(o)) > THRESHOLD + 0.3:
            break
    trained = _episode_return(lambda o: policy(o))
    print(f"point mass: initial {initial:.2f}, trained {trained:.2f}, optimal {optimal:.2f}, standing {standing:.2f}")
    assert trained > THRESHOLD, (initial, trained, optimal)
