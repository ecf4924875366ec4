"""The trainer's ``update_kl`` figure: what one PPO update moved the policy (docs/training.md)."""

from __future__ import annotations

import math

import pytest
from deepmimic_policy.trainer import Trainer

from test_checkpoint import tiny_experiment


def test_update_kl_is_zero_when_the_update_changes_nothing(tmp_path, monkeypatch):
    trainer = Trainer(tiny_experiment(), tmp_path)
    monkeypatch.setattr(trainer.alg.optimizer, "step", lambda *a, **k: None)
    for model in (trainer.alg.actor, trainer.alg.critic):
        monkeypatch.setattr(model, "update_normalization", lambda obs: None)
    record = trainer.train_iteration()
    assert record["update_kl"] == pytest.approx(0.0, abs=1e-9)  # rollout rows and their old params line up
    trainer.close()


def test_update_kl_measures_a_real_update(tmp_path):
    trainer = Trainer(tiny_experiment(), tmp_path)
    trainer.alg.learning_rate = 1e-3
    record = trainer.train_iteration()
    assert math.isfinite(record["update_kl"]) and record["update_kl"] > 1e-6
    trainer.close()


def test_mixed_precision_update_reaches_rsl_rl_and_stays_close_to_float32(tmp_path, monkeypatch):
    """``train.algorithm.use_mixed_precision`` turns on rsl-rl's bfloat16 autocast of the update; the
    same rollout updated either way moves the policy by a similar KL (weights stay float32)."""
    from deepmimic_policy import trainer as trainer_module
    from deepmimic_policy.config import override

    monkeypatch.setattr(trainer_module, "bfloat16_is_native", lambda device: True)  # emulated bfloat16 works too

    results = {}
    for mixed in (False, True):
        cfg = override(tiny_experiment(), {"train.algorithm.use_mixed_precision": mixed})
        trainer = Trainer(cfg, tmp_path / str(mixed))
        assert trainer.alg.use_mixed_precision is mixed
        trainer.alg.learning_rate = 1e-3
        results[mixed] = trainer.train_iteration()["update_kl"]
        assert all(p.dtype.is_floating_point and p.dtype.itemsize == 4 for p in trainer.alg.actor.parameters())
        trainer.close()
    assert results[True] > 1e-6 and results[True] == pytest.approx(results[False], rel=0.5)


def test_mixed_precision_falls_back_to_float32_where_bfloat16_is_emulated(tmp_path, monkeypatch):
    from deepmimic_policy import trainer as trainer_module
    from deepmimic_policy.config import override

    monkeypatch.setattr(trainer_module, "bfloat16_is_native", lambda device: False)
    cfg = override(tiny_experiment(), {"train.algorithm.use_mixed_precision": True})
    with pytest.warns(UserWarning, match="no native bfloat16"):
        trainer = Trainer(cfg, tmp_path)
    assert trainer.alg.use_mixed_precision is False
    trainer.close()
