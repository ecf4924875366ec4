"""The training-time motion library: many clips packed into flat arrays, sampled in one call.

``MotionLib`` holds every frame of every clip in flat tables on one backend (NumPy, or torch on
any device) and answers ``get_frames(motion_ids, times)`` for thousands of environments with a
fixed number of vectorised operations: no Python loop over environments or clips.

Conventions (see ``rotations``): z-up world, metres, seconds, quaternions ``(w, x, y, z)``.
Velocities are precomputed per frame by finite differences, frame ``i`` to ``i + 1``; the last
frame of a ``wrap`` clip takes the wrap (frame 0 to 1 of the next cycle), the last frame of a
``none`` clip repeats the one before. Joint angular velocities are in each joint's own frame
(MuJoCo's ball-joint convention); the root entry is the root's angular velocity in its own frame.

Time: a ``wrap`` clip repeats with period ``duration`` and its root moves on by the per-cycle
horizontal drift each cycle; a ``none`` clip holds its first frame before 0 and its last frame
after ``duration``, with zero velocities while held.

Speed: quaternions are slerped as ``cos(b theta) q0 + sin(b theta) u`` with the angle ``theta``
and unit tangent ``u`` of every frame pair precomputed (the same slerp as
``rotations.quat_slerp``, without its per-call acos and branches), large results are updated in
place, and index arrays live on the device from construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from . import rotations as rot
from .kinematics import forward_kinematics
from .motion import LoopMode, Motion
from .skeleton import DOF_VEL_SIZE

Array = Any  # numpy.ndarray | torch.Tensor

_GAP = 1.0  # seconds between clips on the packed global time axis


@dataclass(frozen=True)
class MotionFrames:
    """Reference states of N samples, on the library's backend. Some fields are views of one buffer.

    Attributes:
        root_pos: Root position, world. Shape: ``(N, 3)``.
        root_quat: Root orientation, world. Shape: ``(N, 4)``.
        local_quat: Local rotation of every joint, ``root_quat`` at index 0. Shape: ``(N, J, 4)``.
        dof_pos: Packed non-root joint poses (see ``skeleton``). Shape: ``(N, num_dof_pos)``.
        root_lin_vel: Root linear velocity, world. Shape: ``(N, 3)``.
        root_ang_vel: Root angular velocity, world. Shape: ``(N, 3)``.
        joint_ang_vel: Angular velocity of every joint in its own frame. Shape: ``(N, J, 3)``.
        dof_vel: Packed non-root joint velocities. Shape: ``(N, num_dof_vel)``.
    """

    root_pos: Array
    root_quat: Array
    local_quat: Array
    dof_pos: Array
    root_lin_vel: Array
    root_ang_vel: Array
    joint_ang_vel: Array
    dof_vel: Array


def _safe_inv(x: np.ndarray) -> np.ndarray:
    """``1 / x`` where ``x > 0``, else 0."""
    return np.where(x > 0, 1.0 / np.where(x > 0, x, 1.0), 0.0)


def _clip_velocities(motion: Motion, local_quat: np.ndarray) -> list[np.ndarray]:
    """Root linear and angular (world) velocities ``(F, 3)`` and local joint velocities ``(F, J, 3)``."""
    if motion.num_frames == 1:
        return [np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, local_quat.shape[1], 3))]
    dt = np.diff(motion.frame_times)[:, None]
    lin = np.diff(motion.root_pos, axis=0) / dt
    ang = rot.angular_velocity(motion.root_quat[:-1], motion.root_quat[1:], dt)
    joint = rot.angular_velocity(local_quat[:-1], local_quat[1:], dt[:, :, None], local=True)
    last = 0 if motion.loop == LoopMode.WRAP else -1  # the wrap is frame 0 -> 1 of the next cycle
    return [np.concatenate([v, v[last:][:1]]) for v in (lin, ang, joint)]


def _slerp_tables(q0: np.ndarray, q1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angle ``theta`` and unit tangent ``u`` with ``slerp(q0, q1, b) = cos(b theta) q0 + sin(b theta) u``.

    Takes the shorter arc like ``rotations.quat_slerp``. Shapes: ``(..., 4)`` in; ``(...,)``, ``(..., 4)`` out.
    """
    dot = np.sum(q0 * q1, axis=-1)
    q1 = np.where((dot < 0)[..., None], -q1, q1)
    dot = np.abs(dot)
    v = q1 - dot[..., None] * q0  # Gram-Schmidt: accurate for small angles, unlike acos(dot)
    s = np.linalg.norm(v, axis=-1)
    u = np.where((s > 1e-12)[..., None], v / np.maximum(s, 1e-12)[..., None], 0.0)
    return np.arctan2(s, dot), u


def _check_skeletons(motions: Sequence[Motion]) -> None:
    ref = motions[0].skeleton
    for i, m in enumerate(motions[1:], start=1):
        sk = m.skeleton
        if sk.joint_names != ref.joint_names or sk.joint_types != ref.joint_types \
                or not np.array_equal(sk.parents, ref.parents):
            raise ValueError(f"all clips must share one skeleton: clip {i} ('{m.name}') has skeleton '{sk.name}' "
                             f"with joints {list(sk.joint_names)}, clip 0 ('{motions[0].name}') has "
                             f"'{ref.name}' with joints {list(ref.joint_names)}")


class MotionLib:
    """Clips of one skeleton packed for batched sampling (NumPy or torch).

    Args:
        motions: Clips sharing one skeleton (same joint names, types and parents); forward
            kinematics uses the first clip's offsets.
        device: ``None`` for NumPy arrays; a torch device (``"cpu"``, ``"cuda"``) for tensors on it.
        dtype: Float dtype; float64 for NumPy and float32 for torch by default.

    Attributes (NumPy, per clip, shape ``(K,)`` unless noted): ``num_frames``, ``frame_offsets``
    (first row of the clip in the packed tables), ``durations``, ``loop_wrap``, ``root_drift``
    (``(K, 3)``, horizontal root displacement per cycle of ``wrap`` clips, zero otherwise).
    """

    def __init__(self, motions: Sequence[Motion] | Motion, device: Any = None, dtype: Any = None) -> None:
        motions = [motions] if isinstance(motions, Motion) else list(motions)
        if not motions:
            raise ValueError("MotionLib needs at least one clip")
        _check_skeletons(motions)
        self.motions, self.skeleton, self.device = motions, motions[0].skeleton, device
        self._torch = None
        if device is not None:
            import torch

            self._torch = torch
            self.dtype = getattr(torch, dtype) if isinstance(dtype, str) else (dtype or torch.float32)
        else:
            self.dtype = np.dtype(dtype or np.float64)
        self._pack(motions)

    # ---------------------------------------------------------------------------- packing
    def _pack(self, motions: list[Motion]) -> None:
        """Build two frame tables and per-clip parameters in float64 NumPy; convert them once.

        Row i serves the frame pair (i, i + 1); at the end of a clip frame i + 1 is i itself.
        ``_start`` holds the values at frame i: local quaternions (4 J, component-major), then the linear block
        (revolute angles R, root position 3, velocities 6 + 3 J + R), frame time and 1/dt.
        ``_step`` holds the slerp tangents (4 J), the linear block's increments to frame i + 1 and
        the slerp angles (J). A call gathers one row of each per sample.
        """
        nums = np.array([m.num_frames for m in motions])
        starts = np.concatenate([[0], np.cumsum(nums)[:-1]])
        last = starts + nums - 1
        durs = np.array([m.duration for m in motions])
        wrap = np.array([m.loop == LoopMode.WRAP for m in motions])
        drift = np.stack([(m.root_pos[-1] - m.root_pos[0]) * [1.0, 1.0, 0.0] * w for m, w in zip(motions, wrap)])
        bases = np.concatenate([[0.0], np.cumsum(durs + _GAP)[:-1]])  # clip k's times start at bases[k]
        times = np.concatenate([m.frame_times for m in motions])
        clip_of_frame = np.repeat(np.arange(len(motions)), nums)
        nxt = np.minimum(np.arange(nums.sum()) + 1, last[clip_of_frame])
        quat = np.concatenate([m.local_quat() for m in motions])
        theta, tangent = _slerp_tables(quat, quat[nxt])
        lin = np.concatenate([self._linear_part(m, q) for m, q in zip(motions, np.split(quat, starts[1:]))])
        flat = (len(quat), -1)  # quaternions component-major, (4, J) per row, for contiguous inner loops
        start = np.concatenate([quat.transpose(0, 2, 1).reshape(flat), lin, times[:, None],
                                _safe_inv(times[nxt] - times)[:, None]], axis=1)
        step = np.concatenate([tangent.transpose(0, 2, 1).reshape(flat), lin[nxt] - lin, theta], axis=1)

        self.num_frames, self.frame_offsets, self.durations = nums, starts, durs
        self.loop_wrap, self.root_drift = wrap, drift
        num_j, num_r, num_l = self.num_joints, len(self.skeleton.revolute_joints), lin.shape[1]
        self._cols = {"quat": slice(0, 4 * num_j), "lin": slice(4 * num_j, 4 * num_j + num_l),
                      "pos": slice(4 * num_j + num_r, 4 * num_j + num_r + 3),
                      "vel": slice(4 * num_j + num_r + 3, 4 * num_j + num_l), "time": 4 * num_j + num_l,
                      "theta": slice(4 * num_j + num_l, 5 * num_j + num_l), "dof_pos": slice(0, 4 * num_j + num_r)}
        # Per clip: [duration, 1/duration, wrap, base, drift xyz].
        clip_f = np.concatenate([np.stack([durs, _safe_inv(durs), wrap, bases], axis=1), drift], axis=1)
        self._clip_f = self._to(clip_f)
        # Search keys, strictly increasing over all clips: clip k's frame times from bases[k], its last
        # frame moved half a gap later so that every time in [0, duration] finds a pair (i, i + 1)
        # of the clip (one-frame clips: the frame itself).
        keys = bases[clip_of_frame] + times
        keys[last[nums > 1]] += 0.5 * _GAP
        self._search_keys = self._to(keys)
        self._start, self._step = self._to(start), self._to(step)
        pos_src, vel_src = self._packing_sources()
        self._dof_pos_src, self._dof_vel_src = self._to(pos_src, int_=True), self._to(vel_src, int_=True)
        self._zero, self._one = self._to(0.0), self._to(1.0)
        self._xp = array_namespace(self._start)
        # Row gathers: index_select directly (array_api_compat's take adds a negative-index fix-up).
        torch = self._torch
        self._take = (lambda a, i, axis: torch.index_select(a, axis, i)) if torch else \
            (lambda a, i, axis: np.take(a, i, axis=axis))

    def _linear_part(self, motion: Motion, local_quat: np.ndarray) -> np.ndarray:
        """Per-frame values interpolated linearly. Shape: ``(F, R + 3 + 6 + 3 J + R)``.

        Columns: revolute angles (R), root position, then the velocity block: root linear and
        angular velocity (world), joint angular velocities (local), revolute rates (R).
        """
        sk = self.skeleton
        lin_vel, ang_vel, joint_vel = _clip_velocities(motion, local_quat)
        dof_vel = sk.dof_vel_from_local_ang_vel(joint_vel)
        rev_pos = [sk.dof_pos_slice(j).start for j in sk.revolute_joints]
        rev_vel = self._vel_offsets()[sk.revolute_joints]
        return np.concatenate([motion.dof_pos[:, rev_pos], motion.root_pos, lin_vel, ang_vel,
                               joint_vel.reshape(len(joint_vel), -1), dof_vel[:, rev_vel]], axis=1)

    def _vel_offsets(self) -> np.ndarray:
        sizes = [DOF_VEL_SIZE[t] for t in self.skeleton.joint_types]
        return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

    def _packing_sources(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each ``dof_pos`` entry sits in ``[local_quat (4, J), revolute angles (R)]`` and each
        ``dof_vel`` entry in the velocity block ``[root lin 3, root ang 3, joint 3 J, rates R]``."""
        sk, num_j = self.skeleton, self.skeleton.num_joints
        pos, vel, vel_off = np.zeros(sk.num_dof_pos, np.int64), np.zeros(sk.num_dof_vel, np.int64), self._vel_offsets()
        for j in sk.spherical_joints:
            pos[sk.dof_pos_slice(j)] = j + num_j * np.arange(4)
            vel[vel_off[j]:vel_off[j] + 3] = 6 + 3 * j + np.arange(3)
        for r, j in enumerate(sk.revolute_joints):
            pos[sk.dof_pos_slice(j)] = 4 * num_j + r
            vel[vel_off[j]] = 6 + 3 * num_j + r
        return pos, vel

    def _to(self, a: Any, int_: bool = False) -> Array:
        """Convert to the backend (the float dtype, or int64 with ``int_``)."""
        if self._torch is not None:
            return self._torch.as_tensor(a, dtype=self._torch.int64 if int_ else self.dtype, device=self.device)
        return np.asarray(a, dtype=np.int64 if int_ else self.dtype)

    # ------------------------------------------------------------------------------- facts
    @property
    def num_motions(self) -> int:
        """Number of clips."""
        return len(self.motions)

    @property
    def num_joints(self) -> int:
        """Joints of the skeleton, root included."""
        return self.skeleton.num_joints

    # ---------------------------------------------------------------------------- sampling
    def sample_motions(self, n: int, generator: Any = None, weights: Any = None) -> Array:
        """Random clip ids, uniform over clips or by ``weights`` (shape ``(K,)``). Shape: ``(n,)``.

        ``generator``: a ``numpy.random.Generator`` (NumPy) or ``torch.Generator`` (torch).
        """
        w = np.ones(self.num_motions) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (self.num_motions,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {self.num_motions} non-negative numbers with a positive sum")
        if self._torch is not None:
            probs = self._torch.as_tensor(w / w.sum(), device=self.device)
            return self._torch.multinomial(probs, n, replacement=True, generator=generator)
        return (generator or np.random.default_rng()).choice(self.num_motions, size=n, p=w / w.sum())

    def sample_times(self, motion_ids: Array, truncate_time: float = 0.0, generator: Any = None) -> Array:
        """Uniform times in ``[0, duration - truncate_time]`` (0 if negative). Shape: ``(N,)``."""
        ids = self._ids(motion_ids)
        if self._torch is not None:
            u = self._torch.rand(ids.shape, generator=generator, dtype=self.dtype, device=self.device)
        else:
            u = (generator or np.random.default_rng()).random(ids.shape).astype(self.dtype)
        return u * self._xp.maximum(self._clip_f[ids, 0] - truncate_time, self._zero)

    def phase(self, motion_ids: Array, times: Array) -> Array:
        """Progress through the clip: ``wrap`` cycles in ``[0, 1)``, ``none`` clips clamped to ``[0, 1]``.

        One-frame clips have phase 0. Shape: ``(N,)``.
        """
        xp, ids, t = self._xp, self._ids(motion_ids), self._to(times)
        clip_f = self._take(self._clip_f, ids, 0)
        p = t * clip_f[:, 1]
        wrapped = p - xp.floor(p)
        wrapped = xp.where(wrapped >= 1.0, wrapped - 1.0, wrapped)  # rounding of tiny negative times
        return xp.where(clip_f[:, 2] > 0, wrapped, xp.minimum(xp.maximum(p, self._zero), self._one))

    def _ids(self, motion_ids: Array) -> Array:
        if self._torch is not None:
            return self._torch.as_tensor(motion_ids, dtype=self._torch.int64, device=self.device)
        return np.asarray(motion_ids, dtype=np.int64)

    # ---------------------------------------------------------------------------- frames
    def get_frames(self, motion_ids: Array, times: Array) -> MotionFrames:
        """Interpolated reference state of clip ``motion_ids[i]`` at time ``times[i]``.

        Args:
            motion_ids: Clip index per sample. Shape: ``(N,)``.
            times: Seconds, any real value (``wrap`` clips repeat, ``none`` clips clamp). Shape: ``(N,)``.
        """
        xp, take, c = self._xp, self._take, self._cols
        ids, t = self._ids(motion_ids), self._to(times)
        clip_f = take(self._clip_f, ids, 0)
        dur, wrap = clip_f[:, 0], clip_f[:, 2]
        cycle = xp.floor(t * clip_f[:, 1]) * wrap  # 0 for `none` clips
        unclamped = t - cycle * dur
        local = xp.minimum(xp.maximum(unclamped, self._zero), dur)
        idx = xp.searchsorted(self._search_keys, clip_f[:, 3] + local, side="right") - 1
        row, step = take(self._start, idx, 0), take(self._step, idx, 0)
        # In [0, 1] up to rounding (the slerp and lerp below are smooth through the ends).
        blend = (local - row[:, c["time"]]) * row[:, c["time"] + 1]
        local_quat = self._slerp(row, step, blend)
        lin_step = step[:, c["lin"]]
        lin_step *= blend[:, None]
        row[:, c["lin"]] += lin_step
        root_pos = row[:, c["pos"]]
        root_pos += cycle[:, None] * clip_f[:, 4:7]
        vel = row[:, c["vel"]]
        vel *= xp.where(unclamped == local, self._one, wrap)[:, None]  # held `none` clips stand still
        num, num_j = row.shape[0], self.num_joints
        return MotionFrames(
            root_pos=root_pos, root_quat=local_quat[:, 0], local_quat=local_quat,
            dof_pos=take(row[:, c["dof_pos"]], self._dof_pos_src, 1),
            root_lin_vel=vel[:, 0:3], root_ang_vel=vel[:, 3:6],
            joint_ang_vel=xp.reshape(vel[:, 6:6 + 3 * num_j], (num, num_j, 3)),
            dof_vel=take(vel, self._dof_vel_src, 1),
        )

    def _slerp(self, row: Array, step: Array, blend: Array) -> Array:
        """Slerp every joint in place in ``row``'s quaternion columns; blend ``(N,)``.

        Returns a ``(N, J, 4)`` view of the component-major ``(N, 4, J)`` result.
        """
        xp, c = self._xp, self._cols
        shape = (row.shape[0], 4, self.num_joints)
        angle = step[:, c["theta"]] * blend[:, None]
        quat, tangent = xp.reshape(row[:, c["quat"]], shape), xp.reshape(step[:, c["quat"]], shape)
        quat *= xp.cos(angle)[:, None, :]
        tangent *= xp.sin(angle)[:, None, :]
        quat += tangent
        return xp.permute_dims(quat, (0, 2, 1))

    # ---------------------------------------------------------------------------- kinematics
    def body_pose(self, frames: MotionFrames) -> tuple[Array, Array]:
        """World position ``(N, J, 3)`` and orientation ``(N, J, 4)`` of every joint frame."""
        return forward_kinematics(self.skeleton, frames.root_pos, frames.root_quat, frames.local_quat)

    def body_pos(self, frames: MotionFrames) -> Array:
        """World position of every joint frame by forward kinematics. Shape: ``(N, J, 3)``."""
        return self.body_pose(frames)[0]
