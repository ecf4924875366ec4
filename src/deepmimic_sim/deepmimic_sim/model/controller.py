"""DeepMimic controller files: PD gains per joint and the control rate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepmimic_mocap.assets import resolve_controller
from deepmimic_mocap.characters import Character
from deepmimic_mocap.errors import MotionFormatError
from deepmimic_mocap.json_file import read_json_object


@dataclass(frozen=True)
class Controller:
    """PD gains per character joint (by joint index) and the policy rate.

    Attributes:
        kp: Proportional gain per joint, N m / rad. Shape: ``(J,)``.
        kd: Derivative gain per joint, N m s / rad. Shape: ``(J,)``.
        control_hz: Policy rate (DeepMimic: 30 Hz).
    """

    kp: np.ndarray
    kd: np.ndarray
    control_hz: float


def load_controller(character: Character, name_or_path: str | Path | None = None) -> Controller:
    """Read the controller file of ``character`` (``humanoid3d_ctrl.txt`` by default).

    A robot character (``character.robot``) carries its gains and rate itself; a controller file
    given by ``name_or_path`` still wins.
    """
    if character.robot is not None and name_or_path is None:
        return Controller(character.robot.kp, character.robot.kd, character.robot.control_hz)
    path = resolve_controller(name_or_path or character.name)
    data, _ = read_json_object(path, "'PDControllers'")
    entries = data.get("PDControllers")
    if not isinstance(entries, list):
        raise MotionFormatError(path, "missing 'PDControllers' list", field="PDControllers")
    kp = np.zeros(character.skeleton.num_joints)
    kd = np.zeros(character.skeleton.num_joints)
    for i, entry in enumerate(entries):
        name = entry.get("Name") if isinstance(entry, dict) else None
        if name not in character.skeleton.joint_names:
            raise MotionFormatError(path, f"names no joint of {character.name}: {name!r}", field=f"PDControllers[{i}]")
        j = character.skeleton.index(name)
        kp[j], kd[j] = float(entry.get("Kp", 0.0)), float(entry.get("Kd", 0.0))
    return Controller(kp, kd, float(data.get("UpdateRate", 30.0)))
