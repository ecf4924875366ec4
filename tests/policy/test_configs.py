"""Every experiment file in config/ loads, names a bundled clip, and builds its environment."""

from pathlib import Path

import pytest

from deepmimic_mocap.assets import resolve_motion
from deepmimic_policy.config import load_experiment
from deepmimic_sim.envs import ImitationEnv

CONFIG = Path(__file__).resolve().parents[2] / "config"
EXPERIMENTS = sorted(CONFIG.glob("humanoid3d_*.yaml"))


def test_one_file_per_clip():
    names = {p.stem for p in EXPERIMENTS}
    assert {f"humanoid3d_{c}" for c in ("walk", "run", "jump", "backflip", "spinkick", "cartwheel")} <= names


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_loads_and_builds(path):
    cfg = load_experiment(path)
    for motion in cfg.env.motions:
        assert resolve_motion(motion).is_file()
    cfg.env.num_envs = 2
    env = ImitationEnv(cfg.env)
    # DeepMimic's 197 values, plus 15 bodies x (position 3 + rotation 4) per reference frame ahead
    assert env.num_obs == 197 + 105 * len(cfg.env.observation.future_steps) and env.num_actions == 28


def test_unknown_key_is_an_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("env:\n  num_env: 4\n")
    with pytest.raises(ValueError, match=r"bad\.yaml.*num_env"):
        load_experiment(bad)
