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
