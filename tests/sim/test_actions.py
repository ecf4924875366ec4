"""Actions to PD targets: the residual scale per joint from the torque limit over kp (the G1's)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from deepmimic_sim.actions import action_offset_scale, actions_to_targets
from deepmimic_sim.backends.mujoco_model import load_model, torque_over_kp
from deepmimic_sim.envs.config import ActionCfg

from deepmimic_mocap import load_character


def test_effort_scaled_residual_reaches_the_torque_limit_at_the_clip():
    model, hinges = load_model(load_character("g1"), None)
    ratio = torque_over_kp(model, hinges)
    knee = hinges.index("left_knee_joint")
    actuator = model.actuator("left_knee_joint").id
    assert ratio[knee] == pytest.approx(139.0 / model.actuator_gainprm[actuator, 0])  # 7520-22 motor, kp ~99
    cfg = ActionCfg(mode="residual", residual_effort_scale=0.25, clip=4.0)
    offset_scale = action_offset_scale(np.zeros((len(hinges), 2)), cfg, ratio)
    torch.testing.assert_close(offset_scale[1], torch.as_tensor(0.25 * ratio, dtype=torch.float32))
    reference = torch.full((2, len(hinges)), 0.1)
    actions = torch.tensor([[1.0] * len(hinges), [10.0] * len(hinges)])  # the second is clipped to 4
    targets, bad = actions_to_targets(actions, cfg, offset_scale, reference)
    assert bad == 0
    torch.testing.assert_close(targets[0], reference[0] + offset_scale[1])
    # At the clip the target is the torque limit over kp away from the reference: full torque, no more.
    torch.testing.assert_close(targets[1], reference[1] + torch.as_tensor(ratio, dtype=torch.float32))


def test_one_residual_scale_for_all_joints_is_unchanged():
    cfg = ActionCfg(mode="residual", residual_scale=0.25)
    reference, actions = torch.zeros(1, 3), torch.tensor([[1.0, -2.0, 0.5]])
    targets, _ = actions_to_targets(actions, cfg, action_offset_scale(np.zeros((3, 2)), cfg), reference)
    torch.testing.assert_close(targets, torch.tensor([[0.25, -0.375, 0.125]]))  # -2 clipped to -1.5


def test_effort_scaled_residual_needs_force_limits():
    cfg = replace(ActionCfg(mode="residual"), residual_effort_scale=0.25)
    with pytest.raises(ValueError, match="torque limit over kp"):
        action_offset_scale(np.zeros((3, 2)), cfg)
    with pytest.raises(ValueError, match="force-limited"):
        action_offset_scale(np.zeros((2, 2)), cfg, np.array([1.0, np.inf]))
