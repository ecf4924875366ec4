"""Actions to PD targets as a pure function (``ImitationEnv.actions_to_targets`` without the env).

``target = offset + scale * clip(action)``: in ``absolute`` mode the offset is the middle of each
hinge's range and the scale half the range (capped at ``max_scale``); in ``residual`` mode the
offset is the reference pose one control step ahead and the scale ``residual_scale`` (or, with
``residual_effort_scale``, that times each hinge's torque limit over its kp). NaN/inf
actions become 0 and are counted. ``tests/nodes`` checks it against ``ImitationEnv``. Torch tensors
or NumPy arrays (``SingleImitationEnv``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepmimic_mocap import rotations as rot

from .envs.config import ActionCfg


def action_offset_scale(hinge_ranges: np.ndarray, cfg: ActionCfg,
                        torque_over_kp: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Offset and scale of the actions. Each ``(H,)`` float32.

    Absolute mode: from ``JointMapping.hinge_ranges()`` ``(H, 2)``. Residual mode with
    ``residual_effort_scale``: offset 0 (the reference is added per step) and scale
    ``residual_effort_scale * torque_over_kp`` (``mujoco_model.torque_over_kp``, required then).
    """
    if cfg.mode == "residual" and cfg.residual_effort_scale > 0:
        if torque_over_kp is None:
            raise ValueError("residual_effort_scale needs each hinge's torque limit over kp")
        scale = cfg.residual_effort_scale * np.asarray(torque_over_kp, dtype=np.float64)
        if not np.isfinite(scale).all():
            raise ValueError("residual_effort_scale needs force-limited actuators on every hinge")
        return torch.zeros(len(scale), dtype=torch.float32), torch.as_tensor(scale, dtype=torch.float32)
    ranges = np.asarray(hinge_ranges, dtype=np.float64)
    offset = torch.as_tensor(ranges.mean(axis=1), dtype=torch.float32)
    scale = torch.as_tensor(np.minimum(0.5 * (ranges[:, 1] - ranges[:, 0]), cfg.max_scale), dtype=torch.float32)
    return offset, scale


def actions_to_targets(actions: Any, cfg: ActionCfg, offset_scale: tuple[Any, Any],
                       next_reference: Any = None) -> tuple[Any, int]:
    """PD targets of ``actions`` ``(N, H)``, and how many non-finite action values were zeroed.

    Args:
        actions: Normalised actions.
        cfg: The action parameterisation the policy was trained with.
        offset_scale: ``action_offset_scale(hinge_ranges, cfg)``, computed once by the caller and on
            the actions' device (absolute mode); NumPy arrays for NumPy actions.
        next_reference: Reference hinge angles one control step ahead ``(N, H)`` (residual mode).

    Raises:
        ValueError: Residual mode without ``next_reference``.
    """
    xp = rot.namespace(actions)
    actions = xp.astype(actions, xp.float32, copy=False)
    bad = ~xp.isfinite(actions)
    actions = xp.clip(xp.where(bad, xp.zeros_like(actions), actions), -cfg.clip, cfg.clip)
    if cfg.mode == "residual":
        if next_reference is None:
            raise ValueError("residual actions need the reference pose one control step ahead")
        scale = offset_scale[1] if cfg.residual_effort_scale > 0 else cfg.residual_scale
        return xp.astype(next_reference, xp.float32, copy=False) + scale * actions, int(bad.sum())
    offset, scale = offset_scale
    return offset + scale * actions, int(bad.sum())
