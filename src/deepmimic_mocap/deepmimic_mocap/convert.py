"""Bring any loaded clip onto a DeepMimic character: pass through, or retarget human capture."""

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
    if not same:
        if not motion.skeleton.has_geometry:
            raise ValueError(f"'{motion.source}' gives joint angles of '{motion.skeleton.name}' without its "
                             f"geometry, so it cannot be retargeted onto {character.name}")
        from .retarget import retarget

        motion, report = retarget(motion, character, bone_map=bone_map)
    if loop is not None:
        motion = replace(motion, loop=LoopMode(loop))
    return motion, report
