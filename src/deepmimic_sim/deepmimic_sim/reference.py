"""One reference clip in the simulator's coordinates: hinge angles and rates, root pose, phase.

``ReferenceClip`` wraps a one-clip :class:`~deepmimic_mocap.motion_lib.MotionLib` (torch float32
on the CPU, exactly as ``ImitationEnv`` samples it) and the character's :class:`JointMapping`, so
that the reference node, the simulator node (reset to the reference) and the policy node (phase,
next-step targets, future reference bodies) all compute the same numbers as training did.
Times are seconds since the clip started, loops included (``wrap`` clips move on by their drift).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from deepmimic_mocap.convert import convert_to_character
from deepmimic_mocap.motion import LoopMode, Motion
from deepmimic_mocap.motion_lib import MotionFrames, MotionLib

from deepmimic_mocap import load_character, load_motion

from .model.joint_mapping import JointMapping


@dataclass(frozen=True)
class ReferenceSample:
    """The reference at one time (NumPy float64).

    Attributes:
        clip_time: Seconds since the clip started, loops included.
        phase: Position in the cycle, ``[0, 1)`` for looping clips, ``[0, 1]`` otherwise.
        root_pos: Root position, world. Shape: ``(3,)``.
        root_quat: Root orientation ``(w, x, y, z)``, world. Shape: ``(4,)``.
        hinge_positions: Hinge angles in the model's hinge order, rad. Shape: ``(H,)``.
        hinge_velocities: Hinge rates, rad/s. Shape: ``(H,)``.
    """

    clip_time: float
    phase: float
    root_pos: np.ndarray
    root_quat: np.ndarray
    hinge_positions: np.ndarray
    hinge_velocities: np.ndarray


class ReferenceClip:
    """A clip on a character, sampled in the model's coordinates.

    Args:
        motion: A bundled clip name, a path (any supported format), or a loaded ``Motion``;
            clips of another skeleton are retargeted (``deepmimic_mocap.convert``).
        character: DeepMimic character name.
        bone_map: Bone map for retargeting, or None for the default.
    """

    def __init__(self, motion: str | Path | Motion, character: str = "humanoid3d",
                 bone_map: str | Path | None = None) -> None:
        self.character = load_character(character)
        motion = motion if isinstance(motion, Motion) else load_motion(motion)
        self.motion, _ = convert_to_character(motion, self.character, bone_map=bone_map)
        self.mapping = JointMapping(self.character)
        self.lib = MotionLib([self.motion], device="cpu")
        self._id = torch.zeros(1, dtype=torch.long)

    @property
    def name(self) -> str:
        """The clip's name."""
        return self.motion.name

    @property
    def duration(self) -> float:
        """Seconds of one pass through the clip."""
        return float(self.motion.duration)

    @property
    def loop(self) -> bool:
        """True when the clip repeats."""
        return self.motion.loop == LoopMode.WRAP

    @property
    def hinge_names(self) -> list[str]:
        """The model's hinge names (joint order of every hinge array)."""
        return list(self.mapping.hinge_names)

    def frames(self, times: torch.Tensor | np.ndarray | float) -> MotionFrames:
        """Motion-library frames at ``times`` (seconds, any shape flattened to ``(N,)``)."""
        t = torch.as_tensor(np.asarray(times, dtype=np.float64).reshape(-1)).float()
        return self.lib.get_frames(self._id.expand(len(t)), t)

    def phase(self, times: torch.Tensor | np.ndarray | float) -> torch.Tensor:
        """Phase at ``times`` (float32, as the environment's observation). Shape: ``(N,)``."""
        t = torch.as_tensor(np.asarray(times, dtype=np.float64).reshape(-1)).float()
        return self.lib.phase(self._id.expand(len(t)), t)

    def hinge_angles(self, times: torch.Tensor | np.ndarray | float) -> torch.Tensor:
        """Reference hinge angles at ``times``. Shape: ``(N, H)``, float32."""
        return self.mapping.hinge_angles(self.frames(times).local_quat)

    def body_pose(self, times: torch.Tensor | np.ndarray | float) -> tuple[torch.Tensor, torch.Tensor]:
        """World position ``(N, J, 3)`` and orientation ``(N, J, 4)`` of every reference body."""
        return self.lib.body_pose(self.frames(times))

    def state(self, times: torch.Tensor | np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Model ``qpos`` ``(N, 7 + H)`` and ``qvel`` ``(N, 6 + H)`` of the reference (float64), as RSI sets them."""
        qpos, qvel = self.mapping.reference_state(self.frames(times))
        return qpos.double().numpy(), qvel.double().numpy()

    def sample(self, time: float) -> ReferenceSample:
        """The reference at one time."""
        qpos, qvel = self.state(time)
        return ReferenceSample(clip_time=float(time), phase=float(self.phase(time)[0]), root_pos=qpos[0, :3],
                               root_quat=qpos[0, 3:7], hinge_positions=qpos[0, 7:], hinge_velocities=qvel[0, 6:])

    def sampled(self, sample_rate: float = 0.0) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """The whole clip at ``sample_rate`` frames/s (0: the clip's own rate).

        Returns:
            ``(rate, qpos (F, 7 + H), qvel (F, 6 + H), times (F,))``, one pass from 0 to the duration.
        """
        rate = float(sample_rate) if sample_rate > 0 else float(self.motion.fps)
        count = int(np.floor(self.duration * rate + 1e-9)) + 1
        times = np.arange(count) / rate
        qpos, qvel = self.state(times)
        return rate, qpos, qvel, times
