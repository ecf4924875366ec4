"""One reference clip in the simulator's coordinates: hinge angles and rates, root pose, phase.

``ReferenceClip`` wraps a one-clip :class:`~deepmimic_mocap.motion_lib.MotionLib` (torch float32
on the CPU, exactly as ``ImitationEnv`` samples it) and the character's :class:`JointMapping`, so
that the reference node, the simulator node (reset to the reference) and the policy node (phase,
next-step targets, future reference bodies) all compute the same numbers as training did.
Times are seconds since the clip started, loops included (``wrap`` clips move on by their drift).

``ClipAnchor``: where a clip plays. A clip plays in its own coordinates until the reference node
switches to it at run time; then it is turned about world z and shifted so that its start lies
on the reference's root at the switch (the character is there), and every consumer recovers the
anchor from a reference frame's root pose (``ReferenceClip.anchor_of``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from deepmimic_mocap.convert import convert_to_character
from deepmimic_mocap.motion import LoopMode, Motion
from deepmimic_mocap.motion_lib import MotionFrames, MotionLib, blend_weight

from deepmimic_mocap import load_character, load_motion
from deepmimic_mocap import rotations as rot

from .model.joint_mapping import JointMapping


@dataclass(frozen=True)
class ClipAnchor:
    """A clip's own coordinates turned about world z by ``yaw`` (rad), then shifted by ``shift`` (x, y in m).

    Height and tilt stay the clip's. Methods take NumPy arrays or torch tensors (any leading shape).
    """

    yaw: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)

    TOLERANCE = 1e-6  # below this (rad, m) an anchor is no anchor: the clip's own numbers stay bit-exact

    @classmethod
    def joining(cls, clip_pos: np.ndarray, clip_quat: np.ndarray, world_pos: np.ndarray,
                world_quat: np.ndarray) -> ClipAnchor | None:
        """The anchor that puts a clip root pose on a world root's horizontal position and heading
        (None when that is the identity)."""
        yaw = float(rot.quat_yaw(np.asarray(world_quat, dtype=np.float64))
                    - rot.quat_yaw(np.asarray(clip_quat, dtype=np.float64)))
        yaw = float(np.arctan2(np.sin(yaw), np.cos(yaw)))
        c, s = float(np.cos(yaw)), float(np.sin(yaw))
        x, y = float(clip_pos[0]), float(clip_pos[1])
        anchor = cls(yaw, (float(world_pos[0]) - (c * x - s * y), float(world_pos[1]) - (s * x + c * y)))
        return None if anchor.is_identity() else anchor

    def is_identity(self) -> bool:
        """Whether the anchor moves nothing (within ``TOLERANCE``)."""
        return abs(self.yaw) < self.TOLERANCE and max(abs(self.shift[0]), abs(self.shift[1])) < self.TOLERANCE

    def vector(self, v):
        """World vectors ``(..., 3)`` (velocities) turned by the yaw."""
        xp = rot.namespace(v)
        c, s = float(np.cos(self.yaw)), float(np.sin(self.yaw))
        x, y = v[..., 0], v[..., 1]
        return xp.stack([c * x - s * y, s * x + c * y, v[..., 2]], axis=-1)

    def position(self, p):
        """Positions ``(..., 3)`` of the clip, in the world."""
        xp = rot.namespace(p)
        turned = self.vector(p)
        return xp.stack([turned[..., 0] + self.shift[0], turned[..., 1] + self.shift[1], turned[..., 2]], axis=-1)

    def rotation(self, q):
        """Orientations ``(..., 4)`` (w, x, y, z) of the clip, in the world."""
        xp = rot.namespace(q)
        yaw = xp.full(q.shape[:-1], self.yaw, dtype=q.dtype)
        if hasattr(q, "device"):
            yaw = xp.asarray(yaw, device=q.device)
        return rot.quat_mul(rot.quat_from_yaw(yaw), q)

    def frames(self, frames: MotionFrames) -> MotionFrames:
        """Motion-library frames of the clip, in the world (the root's pose and velocities move)."""
        xp = rot.namespace(frames.local_quat)
        local_quat = xp.concat([self.rotation(frames.local_quat[:, :1]), frames.local_quat[:, 1:]], axis=1)
        return replace(frames, root_pos=self.position(frames.root_pos), root_quat=local_quat[:, 0],
                       local_quat=local_quat, root_lin_vel=self.vector(frames.root_lin_vel),
                       root_ang_vel=self.vector(frames.root_ang_vel))

    def state(self, qpos: np.ndarray, qvel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model ``qpos`` ``(N, 7 + H)`` and ``qvel`` ``(N, 6 + H)`` of the clip, in the world (copies).

        The free joint's angular velocity is in the root's own frame in MuJoCo: it does not turn.
        """
        qpos, qvel = qpos.copy(), qvel.copy()
        qpos[:, :3], qpos[:, 3:7] = self.position(qpos[:, :3]), self.rotation(qpos[:, 3:7])
        qvel[:, :3] = self.vector(qvel[:, :3])
        return qpos, qvel


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

    def sample(self, time: float, anchor: ClipAnchor | None = None) -> ReferenceSample:
        """The reference at one time (in the world of ``anchor``, when given)."""
        qpos, qvel = self.state(time)
        if anchor is not None:
            qpos, qvel = anchor.state(qpos, qvel)
        return ReferenceSample(clip_time=float(time), phase=float(self.phase(time)[0]), root_pos=qpos[0, :3],
                               root_quat=qpos[0, 3:7], hinge_positions=qpos[0, 7:], hinge_velocities=qvel[0, 6:])

    def anchor_of(self, time: float, root_pos: np.ndarray, root_quat: np.ndarray) -> ClipAnchor | None:
        """The anchor under which this clip at ``time`` has the root pose ``root_pos``/``root_quat`` (a
        reference frame's); None when the clip plays in its own coordinates."""
        frames = self.frames(time)
        return ClipAnchor.joining(frames.root_pos[0].double().numpy(), frames.root_quat[0].double().numpy(),
                                  np.asarray(root_pos, dtype=np.float64), np.asarray(root_quat, dtype=np.float64))

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


@dataclass(frozen=True)
class ClipBlend:
    """The reference across a clip switch: the old clip, going on from where it was, cross-faded
    into the new one over ``duration`` seconds (smoothstep weight), both where they play.

    Why: at a switch the new clip's pose is far from the character's (walk -> run: a third of the
    hinges more than 0.375 rad away, docs/skills.md), and a residual policy can only command
    targets within ``residual_scale x clip`` of the reference pose, so it is pulled into the new
    pose in one control step. The blend moves the reference there over ``duration``.

    Times are the new clip's (``time`` 0 = the switch); the old clip is at ``old_time`` then.
    Offers what the policy node samples of a ``ReferenceClip`` (``phase``, ``body_pose``,
    ``hinge_angles``), already in the world: use it with no anchor.
    """

    old: ReferenceClip
    old_anchor: ClipAnchor | None
    old_time: float
    new: ReferenceClip
    new_anchor: ClipAnchor | None
    duration: float

    def weight(self, times: np.ndarray) -> np.ndarray:
        """Share of the new clip at ``times`` (0 at the switch, 1 from ``duration`` on). Shape: ``(N,)``."""
        return blend_weight(np.asarray(times, dtype=np.float64).reshape(-1), self.duration)

    def over(self, time: float) -> bool:
        """Whether the blend has ended at ``time`` (the new clip alone from then on)."""
        return time >= self.duration

    def frames(self, times: torch.Tensor | np.ndarray | float) -> MotionFrames:
        """The blended frames at ``times``, in the world."""
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        old, new = self.old.frames(self.old_time + t), self.new.frames(t)
        if self.old_anchor is not None:
            old = self.old_anchor.frames(old)
        if self.new_anchor is not None:
            new = self.new_anchor.frames(new)
        return self.new.lib.blend(old, new, torch.as_tensor(self.weight(t), dtype=torch.float32))

    def phase(self, times: torch.Tensor | np.ndarray | float) -> torch.Tensor:
        """The new clip's phase (the policy acts for the new clip). Shape: ``(N,)``."""
        return self.new.phase(times)

    def hinge_angles(self, times: torch.Tensor | np.ndarray | float) -> torch.Tensor:
        """Blended hinge angles. Shape: ``(N, H)``, float32."""
        return self.new.mapping.hinge_angles(self.frames(times).local_quat)

    def body_pose(self, times: torch.Tensor | np.ndarray | float) -> tuple[torch.Tensor, torch.Tensor]:
        """World position ``(N, J, 3)`` and orientation ``(N, J, 4)`` of every blended reference body."""
        return self.new.lib.body_pose(self.frames(times))
