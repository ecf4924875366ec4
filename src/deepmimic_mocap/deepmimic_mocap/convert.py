"""Bring any loaded clip onto a character: pass through, map joint space, or retarget human capture.

- same skeleton: passed through;
- joint angles without geometry (LocoMuJoCo npz) onto a robot character: mapped by joint name
  (``joint_space``);
- human capture (BVH, ASF/AMC) onto humanoid3d: retargeted by the bone maps (``retarget``);
- human capture or a humanoid3d clip onto a robot character: first onto humanoid3d, then by
  keypoint inverse kinematics (``retarget_ik``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from .characters import Character, load_character
from .motion import LoopMode, Motion


def convert_to_character(
    motion: Motion, character: str | Character = "humanoid3d", *, bone_map: str | Path | None = None,
    loop: str | None = None,
) -> tuple[Motion, dict[str, Any]]:
    """The clip on ``character`` and, when it was retargeted, its quality report.

    Raises:
        ValueError: The clip has no geometry (a joint-space LocoMuJoCo clip) and cannot be retargeted.
    """
    if not isinstance(character, Character):
        character = load_character(character)
    report: dict[str, Any] = {}
    same = (motion.skeleton.joint_names == character.skeleton.joint_names
            and motion.skeleton.joint_types == character.skeleton.joint_types)
    if not same and not motion.skeleton.has_geometry:
        if character.robot is None:
            raise ValueError(f"'{motion.source}' gives joint angles of '{motion.skeleton.name}' without its "
                             f"geometry, so it cannot be retargeted onto {character.name}")
        from .joint_space import joint_space_onto

        motion, report = joint_space_onto(motion, character)
    elif not same and character.robot is not None:
        from .retarget_ik import retarget_ik

        human = load_character("humanoid3d")
        if motion.skeleton.joint_names != human.skeleton.joint_names:
            motion, _ = convert_to_character(motion, human, bone_map=bone_map)
        motion, report = retarget_ik(motion, human, character)
    elif not same:
        from .retarget import retarget

        motion, report = retarget(motion, character, bone_map=bone_map)
    if loop is not None:
        motion = replace(motion, loop=LoopMode(loop))
    return motion, report
