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
