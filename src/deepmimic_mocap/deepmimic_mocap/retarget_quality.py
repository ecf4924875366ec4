"""How good a retargeted clip is: foot skating, ground penetration, end-effector error.

Definitions (all reported in the units named in the keys):
- a foot point (a corner of the character's foot box; an ankle, toe or toe-end joint of the
  source) is in contact while it is below ``CONTACT_HEIGHT`` above the ground;
- foot skating is the mean horizontal speed of foot points over consecutive contact frames (a
  planted point should not slide); the same measure on the scaled source shows what the capture
  itself had, measured from the source's own ground level (5th percentile of its lowest foot point);
- ground penetration is how far the lowest sole point sits below the ground (z = 0);
- end-effector error compares the character's hands and feet, relative to its hip centre, with
  the source's, scaled by the leg-length ratio.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from . import rotations as rot
from .characters import Character
from .kinematics import forward_kinematics
from .motion import Motion

CONTACT_HEIGHT = 0.02  # m
_BOX_CORNERS = np.array(list(itertools.product((-1.0, 1.0), repeat=3)))


def hip_centre(motion: Motion, left_hip: str, right_hip: str) -> np.ndarray:
    """Midpoint of the two hip joints per frame. Shape: ``(F, 3)``."""
    pos = motion.body_pos()
    return 0.5 * (pos[:, motion.skeleton.index(left_hip)] + pos[:, motion.skeleton.index(right_hip)])


def foot_joints(character: Character) -> list[int]:
    """Foot joints: a robot's ``feet``, else end-effector joints whose body is a box (humanoid3d)."""
    return [j for j, _ in sole_points(character)]


def sole_points(character: Character) -> list[tuple[int, np.ndarray]]:
    """Points under each foot in its joint frame: a robot's sole points, or the corners of a foot box."""
    if character.robot is not None:
        return list(character.robot.sole_points)
    sk, out = character.skeleton, []
    for name in character.end_effectors:
        body = character.bodies[sk.index(name)]
        if body is not None and body.shape == "box":
            corners = rot.quat_rotate(np.broadcast_to(body.quat, (8, 4)), _BOX_CORNERS * np.array(body.size)) + body.pos
            out.append((sk.index(name), corners))
    return out


def foot_sole_points(motion: Motion, character: Character) -> np.ndarray:
    """World sole points of every foot. Shape: ``(F, feet, P, 3)``."""
    pos, quat = forward_kinematics(motion.skeleton, motion.root_pos, motion.root_quat, motion.local_quat())
    points = []
    for j, local in sole_points(character):
        n = len(local)
        q = np.broadcast_to(quat[:, j, None], (motion.num_frames, n, 4))
        points.append(pos[:, j, None] + rot.quat_rotate(q, np.broadcast_to(local, (motion.num_frames, n, 3))))
    return np.stack(points, axis=1)


def skating_speed(points: np.ndarray, heights: np.ndarray, fps: float) -> float:
    """Mean horizontal speed of foot points over consecutive contact frames, m/s.

    Args:
        points: Foot points. Shape: ``(F, P, 3)``.
        heights: Their heights above the ground. Shape: ``(F, P)``.
        fps: Frame rate.
    """
    contact = heights < CONTACT_HEIGHT
    both = contact[1:] & contact[:-1]
    speed = np.linalg.norm(np.diff(points[..., :2], axis=0), axis=-1) * fps
    return float(speed[both].mean()) if both.any() else 0.0


def _source_feet(source: Motion, entries: dict, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Scaled source foot points (ankles, toes, toe ends) and their heights above the clip's ground."""
    pos = source.body_pos() * scale
    sk = source.skeleton
    group = []
    for side in ("left", "right"):
        foot = sk.index(entries[f"{side}_ankle"].anchor)
        group += [foot, *[j for j in range(sk.num_joints) if _descends(sk.parents, j, foot)]]
    points = pos[:, group]
    ground = np.percentile(points[..., 2].min(axis=1), 5.0)
    return points, points[..., 2] - ground


def _descends(parents: np.ndarray, j: int, ancestor: int) -> bool:
    while j >= 0:
        j = int(parents[j])
        if j == ancestor:
            return True
    return False


def _effector_error(source: Motion, target: Motion, entries: dict, scale: float) -> dict[str, float]:
    """Hands and feet relative to the hip centre, character against scaled source."""
    pos_s, pos_t = source.body_pos(), target.body_pos()
    centre_s = hip_centre(source, entries["left_hip"].anchor, entries["right_hip"].anchor)
    centre_t = hip_centre(target, "left_hip", "right_hip")
    pairs = {f"{side}_{part}": entries[f"{side}_{key}"].anchor if part == "foot" else entries[f"{side}_elbow"].end
             for side in ("left", "right") for part, key in (("foot", "ankle"), ("hand", "elbow"))}
    target_joint = {f"{s}_foot": f"{s}_ankle" for s in ("left", "right")} | {
        f"{s}_hand": f"{s}_wrist" for s in ("left", "right")}
    errors = {}
    for name, src_name in pairs.items():
        rel_s = (pos_s[:, source.skeleton.index(src_name)] - centre_s) * scale
        rel_t = pos_t[:, target.skeleton.index(target_joint[name])] - centre_t
        errors[name] = np.linalg.norm(rel_t - rel_s, axis=-1)
    stacked = np.stack(list(errors.values()), axis=1)
    return {"end_effector_error_mean_mm": round(1000 * float(stacked.mean()), 1),
            "end_effector_error_max_mm": round(1000 * float(stacked.max()), 1),
            **{f"{k}_error_mean_mm": round(1000 * float(v.mean()), 1) for k, v in errors.items()}}


def quality_report(source: Motion, target: Motion, character: Character, entries: dict,
                   scale: float) -> dict[str, Any]:
    """Foot skating, ground penetration and end-effector error of a retargeted clip."""
    corners = foot_sole_points(target, character)
    lowest = corners[..., 2].min(axis=2)  # (F, feet)
    depth = np.clip(-lowest.min(axis=1), 0.0, None)
    src_points, src_heights = _source_feet(source, entries, scale)
    flat = corners.reshape(target.num_frames, -1, 3)
    return {
        "foot_skating_cm_s": round(100 * skating_speed(flat, flat[..., 2], target.fps), 2),
        "source_foot_skating_cm_s": round(100 * skating_speed(src_points, src_heights, source.fps), 2),
        "contact_share": round(float((lowest < CONTACT_HEIGHT).any(axis=1).mean()), 3),
        "ground_penetration_mean_mm": round(1000 * float(depth.mean()), 2),
        "ground_penetration_max_mm": round(1000 * float(depth.max()), 2),
        "frames_penetrating_over_10mm": round(float((depth > 0.01).mean()), 3),
        **_effector_error(source, target, entries, scale),
    }


LIMIT_MARGIN = 1e-3  # rad: a hinge this close to a limit counts as a limit hit


def clip_figures(motion: Motion, character: Character) -> dict[str, Any]:
    """Figures any clip on ``character`` has, retargeted or not: foot skating, ground penetration and
    the share of frames with a hinge at its limit (revolute joints with a range; DeepMimic's ball
    joints have none)."""
    soles = foot_sole_points(motion, character)
    lowest = soles[..., 2].min(axis=2)
    depth = np.clip(-lowest.min(axis=1), 0.0, None)
    flat = soles.reshape(motion.num_frames, -1, 3)
    sk = motion.skeleton
    limited = [j for j in sk.revolute_joints if character.limits[j, 0, 0] < character.limits[j, 0, 1]]
    angles = np.stack([motion.dof_pos[:, sk.dof_pos_slice(j).start] for j in limited], axis=1) if limited else None
    hits = 0.0
    if angles is not None:
        low, high = character.limits[limited, 0, 0], character.limits[limited, 0, 1]
        hits = float(((angles <= low + LIMIT_MARGIN) | (angles >= high - LIMIT_MARGIN)).any(axis=1).mean())
    return {
        "foot_skating_cm_s": round(100 * skating_speed(flat, flat[..., 2], motion.fps), 2),
        "contact_share": round(float((lowest < CONTACT_HEIGHT).any(axis=1).mean()), 3),
        "ground_penetration_mean_mm": round(1000 * float(depth.mean()), 2),
        "ground_penetration_max_mm": round(1000 * float(depth.max()), 2),
        "joint_limit_hits_share": round(hits, 3),
    }
