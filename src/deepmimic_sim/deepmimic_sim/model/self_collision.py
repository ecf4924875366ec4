"""Self-collision of a clip: how often a kinematic pose puts two non-adjacent bodies into each other.

Each frame's pose is written into the character's MuJoCo model and MuJoCo's collision detection
runs on it (``mj_fwdPosition``; no dynamics). For the measurement every character geom collides
with every other (DeepMimic's generated models only collide with the ground, the G1's collision
geoms collide with each other already), the floor is left out, and MuJoCo's own filters apply:
a body never collides with its parent ("adjacent"), nor with pairs the model excludes (the G1
excludes pelvis/hip-roll and elbow/wrist-pitch). A frame counts when any contact penetrates
deeper than ``DEPTH`` (1 mm), so that touching capsules do not count.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import mujoco
import numpy as np

from deepmimic_mocap.characters import Character
from deepmimic_mocap.motion import Motion

from .character_mjcf import build_mjcf, shipped_model_path
from .joint_mapping import JointMapping

DEPTH = 1e-3  # m


def collision_model(character: Character) -> mujoco.MjModel:
    """The character's model with all character geoms colliding with each other and no floor."""
    path = shipped_model_path(character.name)
    spec = mujoco.MjSpec.from_file(str(path)) if path.is_file() else mujoco.MjSpec.from_string(build_mjcf(character))
    for geom in spec.geoms:  # set in the spec: MuJoCo's broad phase uses per-body masks made when compiling
        solid = geom.contype != 0 or geom.conaffinity != 0
        on = solid and geom.parent.name != "world"
        geom.contype = geom.conaffinity = int(on)
    return spec.compile()


def self_collision(motion: Motion, character: Character, model: mujoco.MjModel | None = None) -> dict[str, Any]:
    """Share of frames with a self-collision, and the body pairs that collide most often.

    Args:
        motion: A clip on ``character``.
        character: Its character.
        model: A model from :func:`collision_model` (built when ``None``).
    """
    model = model or collision_model(character)
    data = mujoco.MjData(model)
    mapping = JointMapping(character)
    hinges = mapping.hinge_angles(motion.local_quat())
    qpos = np.concatenate([motion.root_pos, motion.root_quat, hinges], axis=1)
    hit = np.zeros(motion.num_frames, dtype=bool)
    pairs: Counter[tuple[str, str]] = Counter()
    deepest = 0.0
    for f in range(motion.num_frames):  # MuJoCo's collision detection is per pose
        data.qpos[:] = qpos[f]
        mujoco.mj_fwdPosition(model, data)
        seen = set()
        for c in data.contact[: data.ncon]:
            if c.dist > -DEPTH:
                continue
            hit[f] = True
            deepest = max(deepest, -float(c.dist))
            b1, b2 = sorted((model.body(model.geom_bodyid[c.geom1]).name, model.body(model.geom_bodyid[c.geom2]).name))
            seen.add((b1, b2))
        pairs.update(seen)
    top = [f"{a}/{b}: {n / motion.num_frames:.2f}" for (a, b), n in pairs.most_common(3)]
    return {"self_collision_share": round(float(hit.mean()), 3),
            "self_collision_max_depth_mm": round(1000 * deepest, 1),
            "self_collision_pairs": top}


RESOLVE_ITERATIONS = 30
RESOLVE_MARGIN = 0.005  # m: how far apart the resolution pushes two geoms
RESOLVE_DAMPING = 1e-4


def arm_hinges(character: Character, model: mujoco.MjModel) -> tuple[np.ndarray, set[int]]:
    """Hinges (``qpos`` and ``qvel`` addresses) of the arms, and the arms' bodies.

    An arm is what moves a hand and nothing else: the ancestors of a hand (an end effector that is
    not a foot) that are ancestors of no other end effector. Found from the tree, for any character.
    """
    from deepmimic_mocap.retarget_quality import foot_joints

    sk, feet = character.skeleton, set(foot_joints(character))
    effectors = [sk.index(n) for n in character.end_effectors]
    ancestors = {}
    for e in effectors:
        chain, j = set(), e
        while j > 0:
            chain.add(j)
            j = int(sk.parents[j])
        ancestors[e] = chain
    arm = set()
    for hand in (e for e in effectors if e not in feet):
        others = set().union(*(ancestors[e] for e in effectors if e != hand))
        arm |= ancestors[hand] - others
    bodies = {model.body(character.body_names[j]).id for j in arm}
    dofs = [model.jnt_dofadr[i] for i in range(model.njnt) if model.jnt_bodyid[i] in bodies]
    return np.array(sorted(dofs), dtype=np.int64), bodies


def resolve_self_collision(motion: Motion, character: Character) -> tuple[Motion, dict[str, Any]]:
    """The clip with the arms moved out of the trunk and legs, frame by frame, and figures before and after.

    For each frame, while MuJoCo finds an arm geom more than ``DEPTH`` into a non-arm geom, the arm
    hinges take a damped least-squares step that moves the two contact points apart along the
    contact normal by the depth plus ``RESOLVE_MARGIN`` (MuJoCo's point Jacobians); the root, legs
    and trunk never move, so foot contacts and the root path stay as they were. Hinge ranges are
    respected. Collisions between non-arm bodies (crossed legs) are reported, not changed.
    """
    model = collision_model(character)
    data = mujoco.MjData(model)
    mapping = JointMapping(character)
    before = self_collision(motion, character, model)
    dofs, arm_bodies = arm_hinges(character, model)
    qpos = np.concatenate([motion.root_pos, motion.root_quat, mapping.hinge_angles(motion.local_quat())], axis=1)
    limited = model.jnt_limited.astype(bool)
    qadr = {int(model.jnt_dofadr[i]): int(model.jnt_qposadr[i]) for i in range(model.njnt)}
    cols = np.array([qadr[d] for d in dofs], dtype=np.int64)
    ranges = {qadr[int(model.jnt_dofadr[i])]: model.jnt_range[i] for i in range(model.njnt) if limited[i]}
    jacp1, jacp2 = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    moved = 0
    for f in range(motion.num_frames):
        data.qpos[:] = qpos[f]
        for _ in range(RESOLVE_ITERATIONS):
            mujoco.mj_fwdPosition(model, data)
            rows, errors = [], []
            for c in data.contact[: data.ncon]:
                b1, b2 = int(model.geom_bodyid[c.geom1]), int(model.geom_bodyid[c.geom2])
                if c.dist > -DEPTH or (b1 in arm_bodies) == (b2 in arm_bodies):
                    continue
                normal = c.frame[:3]  # from geom1 to geom2
                mujoco.mj_jac(model, data, jacp1, None, c.pos, b1)
                mujoco.mj_jac(model, data, jacp2, None, c.pos, b2)
                rows.append(normal @ (jacp2 - jacp1)[:, dofs])
                errors.append(-c.dist + RESOLVE_MARGIN)
            if not rows:
                break
            jac, err = np.array(rows), np.array(errors)
            step = jac.T @ np.linalg.solve(jac @ jac.T + RESOLVE_DAMPING * np.eye(len(rows)), err)
            data.qpos[cols] += step
            for adr, (low, high) in ranges.items():
                data.qpos[adr] = np.clip(data.qpos[adr], low, high)
        if not np.array_equal(data.qpos, qpos[f]):
            moved += 1
            qpos[f] = data.qpos
    local = mapping.local_quat(qpos[:, 7:])
    local[:, 0] = motion.local_quat()[:, 0]
    resolved = Motion(motion.skeleton, motion.frame_times, motion.root_pos, motion.root_quat,
                      motion.skeleton.dof_pos_from_local_quat(local), motion.loop, motion.name, motion.source,
                      motion.meta)
    after = self_collision(resolved, character, model)
    return resolved, {"self_collision_share_before": before["self_collision_share"],
                      "self_collision_frames_changed": round(moved / motion.num_frames, 3), **after}
