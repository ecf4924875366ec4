"""Facts about a clip, as ``deepmimic motion info`` prints them."""

from __future__ import annotations

from typing import Any

import numpy as np

from .motion import Motion


def motion_summary(motion: Motion) -> dict[str, Any]:
    """Format, size, timing, joints, loop mode and root travel of a clip; heights when FK can run."""
    summary: dict[str, Any] = {
        "name": motion.name,
        "source": motion.source,
        "format": motion.meta.get("format", "unknown"),
        "skeleton": motion.skeleton.name,
        "frames": motion.num_frames,
        "duration_s": round(motion.duration, 4),
        "fps": round(motion.fps, 3),
        "loop": motion.loop.value,
        "joints": motion.skeleton.num_joints,
        "joint_names": list(motion.skeleton.joint_names),
        "dof_pos": motion.skeleton.num_dof_pos,
        "dof_vel": motion.skeleton.num_dof_vel,
        "root_travel_m": round(motion.root_travel(), 4),
        "root_path_m": round(float(np.linalg.norm(np.diff(motion.root_pos[:, :2], axis=0), axis=1).sum()), 4),
        "root_height_m": [round(float(motion.root_pos[:, 2].min()), 4), round(float(motion.root_pos[:, 2].max()), 4)],
    }
    if motion.skeleton.has_geometry:
        body_pos = motion.body_pos()
        summary["top_joint_height_m"] = round(float(body_pos[..., 2].max(axis=1).mean()), 4)
        summary["lowest_joint_m"] = round(float(body_pos[..., 2].min()), 4)
    summary.update({k: v for k, v in motion.meta.items() if k != "format" and isinstance(v, (str, int, float))})
    return summary
