"""Retarget a humanoid3d clip onto a robot character by keypoint inverse kinematics.

Human capture (BVH, ASF/AMC) reaches a robot through humanoid3d (``retarget`` first, by bone
maps); this step moves humanoid3d's motion onto the robot's hinges. The targets, per frame, come
from the robot file's ``ik`` section:

- the robot's hip centre follows humanoid3d's, scaled by the ratio of leg lengths;
- along each chain (hip-knee-ankle, shoulder-elbow-wrist) a body is placed from the body before
  it along the direction of humanoid3d's segment, at the robot's own segment length: limb
  directions are kept whatever the two characters' proportions;
- listed bodies (pelvis, torso, feet) take humanoid3d's joint orientations (offset by the two
  rest poses' difference);
- a weak pull towards the robot's home pose settles redundant joints (waist, wrists).

The solver is damped least squares (Levenberg-Marquardt) over all frames at once: the Jacobian
comes from the skeleton's own forward kinematics (a hinge moves a point ``p`` by
``axis x (p - joint)``; the same kinematics as the MuJoCo model, see the G1 tests), the normal
equations are solved for every frame in one batched ``numpy.linalg.solve``, and hinges are
clamped to their limits after each step. ``mink`` (differential IK on MuJoCo models) would solve
one frame at a time with a QP per step and add qpsolvers and a QP solver to the dependencies;
the problem here needs neither inequality constraints beyond box limits nor MuJoCo itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import rotations as rot
from .characters import Character
from .kinematics import forward_kinematics
from .motion import Motion
from .retarget import put_feet_on_ground
from .retarget_quality import CONTACT_HEIGHT, foot_sole_points, skating_speed

ITERATIONS = 40
DAMPING = 1e-2  # Levenberg-Marquardt lambda^2
ORIENTATION_WEIGHT = 0.3  # per radian, against 1 per metre
POSTURE_WEIGHT = 0.02  # per radian of distance from the home pose
CLEARANCE_ITERATIONS = 20  # after the main solve, arm-only steps that keep the clearance pairs apart
CLEARANCE_WEIGHT = 3.0  # per metre of overlap between two collision capsules
CLEARANCE_MARGIN = 0.01  # m kept between capsules
LIMIT_MARGIN = 1e-3  # rad: a hinge this close to a limit counts as a limit hit


def _rest_world(character: Character) -> tuple[np.ndarray, np.ndarray]:
    sk = character.skeleton
    local = np.tile([1.0, 0.0, 0.0, 0.0], (1, sk.num_joints, 1))
    pos, quat = forward_kinematics(sk, np.zeros((1, 3)), np.array([[1.0, 0.0, 0.0, 0.0]]), local)
    return pos[0], quat[0]


def _leg_length(pos: np.ndarray, chain: list[int]) -> float:
    return float(sum(np.linalg.norm(pos[b] - pos[a]) for a, b in zip(chain[:-1], chain[1:], strict=True)))


def _ancestors(parents: np.ndarray) -> np.ndarray:
    """``mask[b, j]``: joint ``j`` is ``b`` or one of its ancestors. Shape: ``(J, J)``."""
    num = len(parents)
    mask = np.zeros((num, num), dtype=bool)
    for b in range(num):
        j = b
        while j >= 0:
            mask[b, j] = True
            j = int(parents[j])
    return mask


def retarget_ik(source: Motion, human: Character, robot: Character) -> tuple[Motion, dict[str, Any]]:
    """``source`` (a humanoid3d clip) on ``robot``, and its quality report.

    Raises:
        ValueError: The robot file has no ``ik`` section, or names humanoid3d joints that do not exist.
    """
    spec = robot.robot.ik if robot.robot is not None else {}
    if not spec:
        raise ValueError(f"{robot.path.name} has no 'ik' section; it is needed to retarget human motion onto it")
    sk_h, sk_r = human.skeleton, robot.skeleton
    pos_h, quat_h = forward_kinematics(sk_h, source.root_pos, source.root_quat, source.local_quat())
    rest_pos_h, rest_quat_h = _rest_world(human)
    rest_pos_r, rest_quat_r = _rest_world(robot)
    h = {name: sk_h.index(name) for pairs in (spec["hips"], spec["orientations"], *spec["chains"])
         for _, name in pairs}
    legs = [c for c in spec["chains"] if c[0][0] in [i for i, _ in spec["hips"]]]
    scale = np.mean([_leg_length(rest_pos_r, [i for i, _ in c]) for c in legs]) / np.mean(
        [_leg_length(rest_pos_h, [h[n] for _, n in c]) for c in legs])

    frames, num_hinges = source.num_frames, sk_r.num_joints - 1
    hip_ids = [i for i, _ in spec["hips"]]
    hip_target = scale * pos_h[:, [h[n] for _, n in spec["hips"]]].mean(axis=1)  # (F, 3)
    links = []  # (robot parent body, robot body, unit direction per frame (F, 3), robot segment length)
    for chain in spec["chains"]:
        for (ra, ha), (rb, hb) in zip(chain[:-1], chain[1:], strict=True):
            d = pos_h[:, h[hb]] - pos_h[:, h[ha]]
            links.append((ra, rb, d / np.linalg.norm(d, axis=-1, keepdims=True),
                          float(np.linalg.norm(rest_pos_r[rb] - rest_pos_r[ra]))))
    orient = [(ri, rot.quat_mul(quat_h[:, h[hn]], np.broadcast_to(
        rot.quat_mul(rot.quat_conj(rest_quat_h[h[hn]]), rest_quat_r[ri]), (frames, 4))))
        for ri, hn in spec["orientations"]]

    home = robot.robot.home_dof_pos
    low, high = robot.limits[1:, 0, 0], robot.limits[1:, 0, 1]
    q = np.tile(home, (frames, 1))
    root_quat = orient[0][1].copy() if orient and orient[0][0] == 0 else source.root_quat.copy()
    root_pos = hip_target - rot.quat_rotate(root_quat, np.broadcast_to(
        rest_pos_r[hip_ids].mean(axis=0), (frames, 3)))
    anc = _ancestors(sk_r.parents)
    pairs = _collision_pairs(robot)
    nvar = 6 + num_hinges
    arms = np.zeros(nvar, dtype=bool)  # hinges that move group a only (the arms' own joints)
    group_a, group_b = robot.robot.ik.get("clearance", (frozenset(), frozenset()))
    for a in group_a:
        arms[6:] |= anc[a, 1:]
    for b in group_b:
        arms[6:] &= ~anc[b, 1:]
    axes_local = sk_r.axes[1:]
    for iteration in range(ITERATIONS + (CLEARANCE_ITERATIONS if pairs else 0)):
        second = iteration >= ITERATIONS  # second phase: only the arms move, away from the body
        local = sk_r.local_quat_from_dof_pos(q)
        pos, quat = forward_kinematics(sk_r, root_pos, root_quat, local)
        axes = rot.quat_rotate(quat[:, 1:], np.broadcast_to(axes_local, (frames, num_hinges, 3)))  # (F, H, 3)
        rows_j, rows_e = [], []

        def point_jac(b: int, point: np.ndarray) -> np.ndarray:
            """d point / d (root position, root rotation, hinges) for a point fixed to body ``b``."""
            jac = np.zeros((*point.shape[:-1], 3, nvar))
            jac[..., 0:3] = np.eye(3)
            jac[..., 3:6] = -_skew(point - root_pos.reshape(frames, *[1] * (point.ndim - 2), 3))
            lever = point[..., None, :] - pos[:, 1:].reshape(frames, *[1] * (point.ndim - 2), num_hinges, 3)
            cols = np.cross(axes.reshape(lever.shape[:1] + (1,) * (point.ndim - 2) + axes.shape[1:]), lever)
            jac[..., 6:] = np.swapaxes(cols * anc[b, 1:][:, None], -1, -2)
            return jac

        centre = np.mean([pos[:, b] for b in hip_ids], axis=0)
        rows_j.append(np.mean([point_jac(b, pos[:, b]) for b in hip_ids], axis=0))
        rows_e.append(hip_target - centre)
        for a, b, direction, length in links:
            rows_j.append(point_jac(b, pos[:, b]))
            rows_e.append(pos[:, a] + length * direction - pos[:, b])
        for b, target in orient:
            jac = np.zeros((frames, 3, nvar))
            jac[:, :, 3:6] = np.eye(3)
            jac[:, :, 6:] = np.swapaxes(axes * anc[b, 1:][None, :, None], 1, 2)
            err = rot.quat_to_rotvec(rot.quat_mul(target, rot.quat_conj(quat[:, b])))
            rows_j.append(ORIENTATION_WEIGHT * jac)
            rows_e.append(ORIENTATION_WEIGHT * err)
        clear = _clearance_rows(pairs, pos, quat, point_jac) if second else None
        if clear is not None:
            rows_j.append(CLEARANCE_WEIGHT * clear[0])
            rows_e.append(CLEARANCE_WEIGHT * clear[1])
        posture = np.zeros((frames, num_hinges, nvar))
        posture[:, :, 6:] = np.eye(num_hinges)
        rows_j.append(POSTURE_WEIGHT * posture)
        rows_e.append(POSTURE_WEIGHT * (home - q))
        jac, err = np.concatenate(rows_j, axis=1), np.concatenate(rows_e, axis=1)
        if second:
            jac = jac * arms
        jt = np.swapaxes(jac, 1, 2)
        step = np.linalg.solve(jt @ jac + DAMPING * np.eye(nvar), (jt @ err[..., None]))[..., 0]
        root_pos = root_pos + step[:, 0:3]
        root_quat = rot.quat_normalize(rot.quat_mul(rot.quat_from_rotvec(step[:, 3:6]), root_quat))
        q = np.clip(q + step[:, 6:], low, high)

    clip = Motion(sk_r, source.frame_times, root_pos, root_quat, q, source.loop, f"{source.name}_{robot.name}",
                  source.source, {**source.meta, "format": "retargeted_ik", "ik_scale": round(float(scale), 4)})
    clip = put_feet_on_ground(clip, robot)
    return clip, _report(source, clip, human, robot, spec, scale, links)


def _collision_pairs(robot: Character) -> list[tuple[tuple, tuple]]:
    """Capsule pairs to keep apart: one body from each ``clearance`` group, not adjacent, not excluded."""
    caps, parents = robot.robot.collision, robot.skeleton.parents
    group_a, group_b = robot.robot.ik.get("clearance", (frozenset(), frozenset()))
    out = []
    for a in caps:
        for b in caps:
            ja, jb = a[0], b[0]
            if ja not in group_a or jb not in group_b or ja == jb or parents[ja] == jb or parents[jb] == ja \
                    or tuple(sorted((ja, jb))) in robot.robot.collision_exclude:
                continue
            out.append((a, b))
    return out


def _closest_on_segments(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> tuple[np.ndarray, ...]:
    """Closest points of segments ``p0-p1`` and ``q0-q1`` (batched, ``(..., 3)``), clamped to the segments."""
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a, e = np.sum(d1 * d1, -1), np.sum(d2 * d2, -1)
    b, c, f = np.sum(d1 * d2, -1), np.sum(d1 * r, -1), np.sum(d2 * r, -1)
    denom = a * e - b * b
    s = np.where(denom > 1e-12, np.clip((b * f - c * e) / np.where(denom > 1e-12, denom, 1.0), 0.0, 1.0), 0.0)
    t = np.where(e > 1e-12, (b * s + f) / np.where(e > 1e-12, e, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    s = np.where(a > 1e-12, np.clip((b * t - c) / np.where(a > 1e-12, a, 1.0), 0.0, 1.0), 0.0)
    return p0 + s[..., None] * d1, q0 + t[..., None] * d2


def _clearance_rows(pairs: list, pos: np.ndarray, quat: np.ndarray, point_jac: Any) -> tuple[np.ndarray, ...] | None:
    """One row per capsule pair overlapping in some frame: ``n . (J_a - J_b) dx = overlap`` where overlapping.

    Returns ``(jacobian (F, R, nvar), error (F, R))`` or ``None`` when no pair overlaps.
    """
    if not pairs:
        return None
    frames = len(pos)

    def world(cap: tuple, end: int) -> np.ndarray:
        return pos[:, cap[0]] + rot.quat_rotate(quat[:, cap[0]], np.broadcast_to(cap[1 + end], (frames, 3)))

    pa0 = np.stack([world(a, 0) for a, _ in pairs], 1)
    pa1 = np.stack([world(a, 1) for a, _ in pairs], 1)
    pb0 = np.stack([world(b, 0) for _, b in pairs], 1)
    pb1 = np.stack([world(b, 1) for _, b in pairs], 1)
    ca, cb = _closest_on_segments(pa0, pa1, pb0, pb1)  # (F, P, 3)
    gap = np.linalg.norm(ca - cb, axis=-1)
    need = np.array([a[3] + b[3] for a, b in pairs]) + CLEARANCE_MARGIN
    overlap = np.clip(need - gap, 0.0, None)  # (F, P)
    active = np.flatnonzero((overlap > 0).any(axis=0))
    if not len(active):
        return None
    normal = (ca - cb) / np.maximum(gap, 1e-9)[..., None]
    rows = []
    for k in active:
        (a, b) = pairs[k]
        rel = point_jac(a[0], ca[:, k]) - point_jac(b[0], cb[:, k])  # (F, 3, nvar)
        rows.append(np.einsum("fi,fij->fj", normal[:, k], rel) * (overlap[:, k] > 0)[:, None])
    return np.stack(rows, 1), overlap[:, active]


def _skew(v: np.ndarray) -> np.ndarray:
    """``[v]x`` for a batch of vectors: ``_skew(v) @ w == cross(v, w)``. Shape: ``(..., 3, 3)``."""
    out = np.zeros((*v.shape[:-1], 3, 3))
    out[..., 0, 1], out[..., 0, 2] = -v[..., 2], v[..., 1]
    out[..., 1, 0], out[..., 1, 2] = v[..., 2], -v[..., 0]
    out[..., 2, 0], out[..., 2, 1] = -v[..., 1], v[..., 0]
    return out


def _report(source: Motion, clip: Motion, human: Character, robot: Character, spec: dict, scale: float,
            links: list) -> dict[str, Any]:
    """Foot skating, ground penetration, joint-limit hits and keypoint errors of the retargeted clip."""
    sk_r = robot.skeleton
    pos_r = clip.body_pos()
    pos_h = source.body_pos()
    soles = foot_sole_points(clip, robot)  # (F, feet, P, 3)
    lowest = soles[..., 2].min(axis=2)
    depth = np.clip(-lowest.min(axis=1), 0.0, None)
    flat = soles.reshape(clip.num_frames, -1, 3)
    low, high = robot.limits[1:, 0, 0], robot.limits[1:, 0, 1]
    at_limit = (clip.dof_pos <= low + LIMIT_MARGIN) | (clip.dof_pos >= high - LIMIT_MARGIN)
    direction_err = [np.degrees(np.arccos(np.clip(np.sum(
        direction * _unit(pos_r[:, b] - pos_r[:, a]), axis=-1), -1.0, 1.0))) for a, b, direction, _ in links]
    hip_r = pos_r[:, [i for i, _ in spec["hips"]]].mean(axis=1)
    hip_h = scale * pos_h[:, [human.skeleton.index(n) for _, n in spec["hips"]]].mean(axis=1)
    effectors = {}
    for chain in spec["chains"]:  # the chain's last body: a hand or a foot, relative to the hip centre
        rb, hn = chain[-1]
        rel_r = pos_r[:, rb] - hip_r
        rel_h = scale * pos_h[:, human.skeleton.index(hn)] - hip_h
        effectors[sk_r.joint_names[rb]] = np.linalg.norm(rel_r - rel_h, axis=-1)
    stacked = np.stack(list(effectors.values()), axis=1)
    return {
        "method": "keypoint IK (damped least squares)", "scale": round(float(scale), 4), "frames": clip.num_frames,
        "foot_skating_cm_s": round(100 * skating_speed(flat, flat[..., 2], clip.fps), 2),
        "contact_share": round(float((lowest < CONTACT_HEIGHT).any(axis=1).mean()), 3),
        "ground_penetration_mean_mm": round(1000 * float(depth.mean()), 2),
        "ground_penetration_max_mm": round(1000 * float(depth.max()), 2),
        "frames_penetrating_over_10mm": round(float((depth > 0.01).mean()), 3),
        "joint_limit_hits_share": round(float(at_limit.any(axis=1).mean()), 3),
        "joints_at_limit": sorted({sk_r.joint_names[j + 1] for j in np.flatnonzero(at_limit.any(axis=0))}),
        "limb_direction_error_mean_deg": round(float(np.mean(direction_err)), 2),
        "end_effector_error_mean_mm": round(1000 * float(stacked.mean()), 1),
        "end_effector_error_max_mm": round(1000 * float(stacked.max()), 1),
        "hip_centre_error_mean_mm": round(1000 * float(np.linalg.norm(hip_r - hip_h, axis=-1).mean()), 1),
    }


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)
