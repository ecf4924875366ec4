"""DeepMimic motion files (JSON, y-up): read into a ``Motion`` and write one back.

A frame is ``[duration, root_pos(3), root_quat(4, wxyz), joint values...]`` with the non-root
joints in skeleton order, 4 values per spherical joint and 1 per revolute joint (the layout of
``Skeleton.dof_pos``). ``duration`` is the time to the next frame; the last frame's is ignored.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from .. import rotations as rot
from ..characters import Y_UP_TO_Z_UP, Y_UP_TO_Z_UP_QUAT, Character, load_character
from ..errors import MotionFormatError
from ..json_file import read_json_object
from ..motion import LoopMode, Motion

ROOT_VALUES = 8  # duration, position (3), quaternion (4)
_FRAME_START = re.compile(r"\[")


def _frame_lines(text: str) -> list[int]:
    """Line number of each frame's opening bracket (frames hold numbers only, no nesting)."""
    key = text.find('"Frames"')
    if key < 0:
        return []
    outer = text.find("[", key)
    return [text.count("\n", 0, m.start()) + 1 for m in _FRAME_START.finditer(text, outer + 1)]


def _guess_character(path: Path, frame_len: int) -> str:
    """The bundled character named by the file name's start, else the one whose frames are this long."""
    from ..assets import bundled_characters

    names = bundled_characters()
    for name in sorted(names, key=len, reverse=True):
        if path.name.startswith(name):
            return name
    for name in names:
        sk = load_character(name).skeleton
        if 1 + 3 + 4 + sk.num_dof_pos == frame_len:
            return name
    return "humanoid3d"


def _conjugate_to_z_up(quats: np.ndarray) -> np.ndarray:
    q_r = np.broadcast_to(Y_UP_TO_Z_UP_QUAT, quats.shape)
    return rot.quat_mul(rot.quat_mul(q_r, quats), rot.quat_conj(q_r))


def _is_finite_number(value: object) -> bool:
    """A JSON number that fits a finite float (not a bool, string, list, NaN, inf or 1e400 as digits)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _frames_array(data: dict, text: str, path: Path, frame_len: int) -> np.ndarray:
    frames = data.get("Frames")
    if not isinstance(frames, list) or not frames:
        raise MotionFormatError(path, "missing or empty 'Frames' list", field="Frames")
    lines = _frame_lines(text)
    for i, frame in enumerate(frames):
        line = lines[i] if i < len(lines) else None
        if not isinstance(frame, list) or len(frame) != frame_len:
            size = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise MotionFormatError(path, f"expected {frame_len} values per frame, got {size}",
                                    line=line, frame=i, field="Frames")
        bad = [k for k, v in enumerate(frame) if not _is_finite_number(v)]
        if bad:
            shown = repr(frame[bad[0]])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise MotionFormatError(path, f"value {bad[0]} is {shown}, not a finite number",
                                    line=line, frame=i, field="Frames")
    array = np.asarray(frames, dtype=np.float64)
    norms = np.linalg.norm(array[:, 4:8], axis=1)
    if (norms < 1e-6).any():
        i = int(np.argmax(norms < 1e-6))
        raise MotionFormatError(path, "zero-length root quaternion", line=lines[i] if i < len(lines) else None,
                                frame=i, field="Frames")
    return array


def load_deepmimic_motion(path: str | Path, character: str | Character | None = None) -> Motion:
    """Read a DeepMimic motion file.

    Args:
        path: The ``.txt``/``.json`` clip.
        character: Character name, object or ``None`` to infer it from the file name or frame size.

    Raises:
        MotionFormatError: Invalid JSON, a frame of the wrong size, NaN values, zero quaternions.
    """
    path = Path(path)
    data, text = read_json_object(path, "'Frames'")
    first = data.get("Frames", [[]])
    first_len = len(first[0]) if isinstance(first, list) and first and isinstance(first[0], list) else 0
    if not isinstance(character, Character):
        character = load_character(character or _guess_character(path, first_len))
    skeleton = character.skeleton
    frames = _frames_array(data, text, path, ROOT_VALUES + skeleton.num_dof_pos)
    loop = str(data.get("Loop", "none")).lower()
    if loop not in ("wrap", "none"):
        raise MotionFormatError(path, f"'Loop' must be 'wrap' or 'none', got {loop!r}", field="Loop")
    dof_pos = frames[:, ROOT_VALUES:].copy()
    for j in skeleton.spherical_joints:
        sl = skeleton.dof_pos_slice(j)
        quats = dof_pos[:, sl]
        norms = np.linalg.norm(quats, axis=1)
        if (norms < 1e-6).any():
            i = int(np.argmax(norms < 1e-6))
            lines = _frame_lines(text)
            raise MotionFormatError(path, f"zero-length quaternion of joint '{skeleton.joint_names[j]}'",
                                    line=lines[i] if i < len(lines) else None, frame=i, field="Frames")
        dof_pos[:, sl] = _conjugate_to_z_up(quats / norms[:, None])
    durations = frames[:, 0]
    if (durations[:-1] <= 0).any():
        i = int(np.argmax(durations[:-1] <= 0))
        lines = _frame_lines(text)
        raise MotionFormatError(path, f"frame duration must be positive, got {durations[i]}",
                                line=lines[i] if i < len(lines) else None, frame=i, field="Frames")
    frame_times = np.concatenate([[0.0], np.cumsum(durations[:-1])])
    root_quat = _conjugate_to_z_up(frames[:, 4:8] / np.linalg.norm(frames[:, 4:8], axis=1, keepdims=True))
    meta = {k: v for k, v in data.items() if k not in ("Frames", "Loop")}
    return Motion(skeleton, frame_times, frames[:, 1:4] @ Y_UP_TO_Z_UP.T, root_quat, dof_pos,
                  LoopMode(loop), path.stem, str(path), {"format": "deepmimic", **meta})


def motion_to_deepmimic_dict(motion: Motion) -> dict:
    """The DeepMimic JSON object of a clip on a DeepMimic character (y-up)."""
    q_r = np.broadcast_to(Y_UP_TO_Z_UP_QUAT, motion.root_quat.shape)

    def to_y_up(quats: np.ndarray) -> np.ndarray:
        return rot.quat_mul(rot.quat_mul(rot.quat_conj(q_r), quats), q_r)

    dof = motion.dof_pos.copy()
    for j in motion.skeleton.spherical_joints:
        sl = motion.skeleton.dof_pos_slice(j)
        dof[:, sl] = to_y_up(dof[:, sl])
    durations = np.append(np.diff(motion.frame_times), 0.0)
    frames = np.concatenate([durations[:, None], motion.root_pos @ Y_UP_TO_Z_UP, to_y_up(motion.root_quat), dof],
                            axis=1)
    return {"Loop": motion.loop.value, "Frames": [[round(float(v), 9) for v in row] for row in frames]}


def save_deepmimic_motion(motion: Motion, path: str | Path) -> None:
    """Write a clip as a DeepMimic motion file, one frame per line."""
    data = motion_to_deepmimic_dict(motion)
    rows = ",\n".join("[" + ", ".join(f"{v:.9g}" for v in row) + "]" for row in data["Frames"])
    Path(path).write_text(f'{{\n"Loop": "{data["Loop"]}",\n"Frames":\n[\n{rows}\n]\n}}\n')
