"""Joint-space clips of a robot (LocoMuJoCo npz) onto its robot character, without retargeting.

The source gives hinge angles by name. Each is matched to a character hinge by name, or through
the character's ``aliases`` (LocoMuJoCo's older G1 calls the waist ``torso_joint`` and the
forearm roll ``elbow_roll_joint``); character hinges the source lacks stay at 0. Angles are
clamped to the joint limits. The root keeps the source's pose and is lifted (or lowered) so the
feet touch the ground, as for retargeted clips; the frame rate is the source's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .characters import Character
from .motion import Motion
from .skeleton import JointType


def joint_space_onto(motion: Motion, character: Character) -> tuple[Motion, dict[str, Any]]:
    """``motion`` (joint angles without geometry) as a clip of robot ``character`` and its report.

    Raises:
        ValueError: A source joint that is neither a hinge of the character nor an alias, or a
            ball joint.
    """
    from .retarget import put_feet_on_ground

    sk_t, sk_s = character.skeleton, motion.skeleton
    aliases = character.robot.aliases if character.robot is not None else {}
    dof = np.zeros((motion.num_frames, sk_t.num_dof_pos))
    unknown, filled = [], set(range(1, sk_t.num_joints))
    for j, name in enumerate(sk_s.joint_names[1:], start=1):
        if sk_s.joint_types[j] != JointType.REVOLUTE:
            raise ValueError(f"'{motion.source}': joint '{name}' is not a hinge; joint-space clips must give hinges")
        target, sign = (name, 1.0) if name in sk_t.joint_names else aliases.get(name, (None, 1.0))
        if target is None:
            unknown.append(name)
            continue
        t = sk_t.index(target)
        dof[:, sk_t.dof_pos_slice(t)] = sign * motion.dof_pos[:, sk_s.dof_pos_slice(j)]
        filled.discard(t)
    if unknown:
        raise ValueError(f"'{motion.source}': joints {unknown} are not hinges of {character.name} and have no "
                         f"alias in {character.path.name}")
    low, high = character.limits[1:, 0, 0], character.limits[1:, 0, 1]
    outside = (dof < low) | (dof > high)
    dof = np.clip(dof, low, high)
    clip = Motion(sk_t, motion.frame_times, motion.root_pos, motion.root_quat, dof, motion.loop,
                  f"{motion.name}_{character.name}", motion.source, {**motion.meta, "format": "joint_space"})
    clip = put_feet_on_ground(clip, character)
    from .retarget_quality import clip_figures

    report = {
        "frames": clip.num_frames, "fps": round(clip.fps, 3), **clip_figures(clip, character),
        "joints_from_source": sk_t.num_joints - 1 - len(filled),
        "joints_set_to_zero": [sk_t.joint_names[j] for j in sorted(filled)],
        "source_outside_limits_share": round(float(outside.any(axis=1).mean()), 3),
        "ground_lift_m": clip.meta["ground_lift_m"],
    }
    return clip, report
