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
``rotations.quat_slerp``, without its per-call acos and branches); every table is contiguous and
gathered with one row per sample, large results are updated in place, and index arrays live on
the device from construction.
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
from .skeleton import DOF_VEL_SIZE, Skeleton

Array = Any  # numpy.ndarray | torch.Tensor

_GAP = 1.0  # seconds between clips on the packed global time axis


@dataclass(frozen=True, eq=False)
class MotionFrames:
    """Reference states of N samples, on the library's backend.

    Fields may be non-contiguous views sharing one buffer (``root_quat`` is ``local_quat[:, 0]``):
    copy one before writing into it, and use ``reshape`` rather than torch's ``view`` on them.

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


def blend_weight(elapsed: Array, duration: float) -> Array:
    """Share of the new clip ``elapsed`` seconds into a ``duration``-second cross-fade (``MotionLib.blend``):
    smoothstep from 0 to 1, so the reference's velocity changes without a jump at either end."""
    xp = array_namespace(elapsed)
    s = xp.clip(elapsed / duration, 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


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


def _vel_offsets(sk: Skeleton) -> np.ndarray:
    """Where each joint's values start in the packed ``dof_vel`` vector. Shape: ``(J,)``."""
    return np.concatenate([[0], np.cumsum([DOF_VEL_SIZE[t] for t in sk.joint_types])[:-1]]).astype(np.int64)


def _linear_part(motion: Motion, local_quat: np.ndarray) -> np.ndarray:
    """Per-frame values interpolated linearly. Shape: ``(F, R + 3 + 6 + 3 J + R)``.

    Columns: revolute angles (R), root position, then the velocity block: root linear and angular
    velocity (world), joint angular velocities (local), revolute rates (R, by the skeleton packer).
    """
    sk = motion.skeleton
    lin_vel, ang_vel, joint_vel = _clip_velocities(motion, local_quat)
    rates = sk.dof_vel_from_local_ang_vel(joint_vel)[:, _vel_offsets(sk)[sk.revolute_joints]]
    angles = motion.dof_pos[:, [sk.dof_pos_slice(j).start for j in sk.revolute_joints]]
    return np.concatenate([angles, motion.root_pos, lin_vel, ang_vel, joint_vel.reshape(len(joint_vel), -1), rates],
                          axis=1)


def _packing_sources(sk: Skeleton) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays that assemble the packed vectors.

    Returns: the column of each ``dof_pos`` entry in the component-major ``(4, J)`` local
    quaternions (revolute entries: 0, then overwritten), the ``dof_pos`` columns of the revolute
    angles, and the column of each ``dof_vel`` entry in ``[root lin 3, root ang 3, joint 3 J, rates R]``.
    """
    num_j, vel_off = sk.num_joints, _vel_offsets(sk)
    pos, vel = np.zeros(sk.num_dof_pos, np.int64), np.zeros(sk.num_dof_vel, np.int64)
    for j in sk.spherical_joints:
        pos[sk.dof_pos_slice(j)] = j + num_j * np.arange(4)
        vel[vel_off[j]:vel_off[j] + 3] = 6 + 3 * j + np.arange(3)
    for r, j in enumerate(sk.revolute_joints):
        vel[vel_off[j]] = 6 + 3 * num_j + r
    return pos, np.array([sk.dof_pos_slice(j).start for j in sk.revolute_joints], np.int64), vel


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
            self._take = lambda a, i, axis: torch.index_select(a, axis, i)  # array_api_compat adds an op
        else:
            self.dtype = np.dtype(dtype or np.float64)
            self._take = lambda a, i, axis: np.take(a, i, axis=axis)
        nums = np.array([m.num_frames for m in motions])
        self.num_frames, self.frame_offsets = nums, np.concatenate([[0], np.cumsum(nums)[:-1]])
        self._pack_clips(motions)
        self._pack_frames(motions)
        pos_src, pos_rev, vel_src = _packing_sources(self.skeleton)
        num_r = len(self.skeleton.revolute_joints)
        self._dof_pos_src, self._dof_pos_rev = self._to(pos_src, int_=True), self._to(pos_rev, int_=True)
        self._dof_vel_src = self._to(vel_src + num_r + 3, int_=True)
        self._zero, self._one = self._to(0.0), self._to(1.0)
        self._xp = array_namespace(self._lin)

    # ---------------------------------------------------------------------------- packing
    def _pack_clips(self, motions: list[Motion]) -> None:
        """Per-clip parameters and the packed search keys (float64 NumPy, converted once)."""
        nums, starts = self.num_frames, self.frame_offsets
        durs = np.array([m.duration for m in motions])
        wrap = np.array([m.loop == LoopMode.WRAP for m in motions])
        ends = np.stack([m.root_pos[-1] - m.root_pos[0] for m in motions])
        drift = ends * [1.0, 1.0, 0.0] * wrap[:, None]
        bases = np.concatenate([[0.0], np.cumsum(durs + _GAP)[:-1]])  # clip k's times start at bases[k]
        self.durations, self.loop_wrap, self.root_drift = durs, wrap, drift
        # Per clip: [duration, 1/duration, wrap, base, drift xyz].
        clip_f = np.concatenate([np.stack([durs, _safe_inv(durs), wrap, bases], axis=1), drift], axis=1)
        self._clip_f = self._to(clip_f)
        self._phase_div = self._to(np.where(durs > 0, durs, np.inf))  # one-frame clips: phase 0
        # Search keys, strictly increasing over all clips: clip k's frame times from bases[k], its
        # last frame moved half a gap later so that every time in [0, duration] finds a pair
        # (i, i + 1) of the clip (one-frame clips: the frame itself).
        keys = np.repeat(bases, nums) + np.concatenate([m.frame_times for m in motions])
        keys[(starts + nums - 1)[nums > 1]] += 0.5 * _GAP
        self._search_keys = self._to(keys)

    def _pack_frames(self, motions: list[Motion]) -> None:
        """Frame tables; row i serves the pair (i, i + 1), with i + 1 = i at the end of a clip.

        ``_quat`` and ``_tangent`` ``(F, 4, J)`` (component-major) and ``_theta`` ``(F, J)`` give the
        slerp; ``_lin`` and ``_dlin`` ``(F, L)`` the values of ``_linear_part`` and their increments;
        ``_time`` ``(F, 2)`` the frame time and 1/dt.
        """
        nums, starts = self.num_frames, self.frame_offsets
        last = np.repeat(starts + nums - 1, nums)
        nxt = np.minimum(np.arange(nums.sum()) + 1, last)
        times = np.concatenate([m.frame_times for m in motions])
        quat = np.concatenate([m.local_quat() for m in motions])
        theta, tangent = _slerp_tables(quat, quat[nxt])
        lin = np.concatenate([_linear_part(m, q) for m, q in zip(motions, np.split(quat, starts[1:]), strict=True)])
        self._quat, self._tangent = self._to(quat.transpose(0, 2, 1)), self._to(tangent.transpose(0, 2, 1))
        self._theta, self._lin, self._dlin = self._to(theta), self._to(lin), self._to(lin[nxt] - lin)
        self._time = self._to(np.stack([times, _safe_inv(times[nxt] - times)], axis=1))

    def _to(self, a: Any, int_: bool = False) -> Array:
        """Convert to the backend (the float dtype, or int64 with ``int_``); NumPy arrays made contiguous."""
        if isinstance(a, np.ndarray) and a.ndim:
            a = np.ascontiguousarray(a)
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

    def frame_arrays(self) -> dict[str, Array]:
        """The packed per-frame arrays (views, all clips one after another from ``frame_offsets``).

        ``frame_times`` ``(F,)`` (from 0 in each clip), ``local_quat`` ``(F, J, 4)`` (root at 0),
        ``root_pos``, ``root_lin_vel``, ``root_ang_vel`` ``(F, 3)`` and ``joint_ang_vel`` ``(F, J, 3)``;
        velocities are the finite differences described in the module docstring.
        """
        num_r, num_j = len(self.skeleton.revolute_joints), self.num_joints
        vel = self._lin[:, num_r + 3:]
        return {"frame_times": self._time[:, 0], "local_quat": self._xp.permute_dims(self._quat, (0, 2, 1)),
                "root_pos": self._lin[:, num_r:num_r + 3], "root_lin_vel": vel[:, 0:3], "root_ang_vel": vel[:, 3:6],
                "joint_ang_vel": self._xp.reshape(vel[:, 6:6 + 3 * num_j], (-1, num_j, 3))}

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
        return u * self._xp.maximum(self._take(self._clip_f, ids, 0)[:, 0] - truncate_time, self._zero)

    def phase(self, motion_ids: Array, times: Array) -> Array:
        """Progress through the clip: ``wrap`` cycles in ``[0, 1)``, ``none`` clips clamped to ``[0, 1]``.

        One-frame clips have phase 0. Shape: ``(N,)``.
        """
        xp, ids, t = self._xp, self._ids(motion_ids), self._to(times)
        clip_f = self._take(self._clip_f, ids, 0)
        p = t / self._take(self._phase_div, ids, 0)
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
        xp, take = self._xp, self._take
        ids, t = self._ids(motion_ids), self._to(times)
        clip_f = take(self._clip_f, ids, 0)
        dur, wrap = clip_f[:, 0], clip_f[:, 2]
        cycle = xp.floor(t * clip_f[:, 1]) * wrap  # 0 for `none` clips
        unclamped = t - cycle * dur
        local = xp.minimum(xp.maximum(unclamped, self._zero), dur)
        idx = xp.searchsorted(self._search_keys, clip_f[:, 3] + local, side="right") - 1
        time_inv_dt = take(self._time, idx, 0)
        blend = (local - time_inv_dt[:, 0]) * time_inv_dt[:, 1]  # in [0, 1] up to rounding
        quat = self._slerp(idx, blend)
        lin = self._lerp(idx, blend)
        num, num_j, num_r = lin.shape[0], self.num_joints, len(self.skeleton.revolute_joints)
        root_pos = lin[:, num_r:num_r + 3]
        root_pos += cycle[:, None] * clip_f[:, 4:7]
        vel = lin[:, num_r + 3:]
        vel *= xp.where(unclamped == local, self._one, wrap)[:, None]  # held `none` clips stand still
        local_quat = xp.permute_dims(quat, (0, 2, 1))
        dof_pos = take(xp.reshape(quat, (num, 4 * num_j)), self._dof_pos_src, 1)
        dof_pos[:, self._dof_pos_rev] = lin[:, :num_r]
        return MotionFrames(
            root_pos=root_pos, root_quat=local_quat[:, 0], local_quat=local_quat, dof_pos=dof_pos,
            root_lin_vel=vel[:, 0:3], root_ang_vel=vel[:, 3:6],
            joint_ang_vel=xp.reshape(vel[:, 6:6 + 3 * num_j], (num, num_j, 3)),
            dof_vel=take(lin, self._dof_vel_src, 1),
        )

    def blend(self, a: MotionFrames, b: MotionFrames, weight: Array) -> MotionFrames:
        """Frames ``a`` cross-faded into ``b``: ``weight`` 0 gives ``a``, 1 gives ``b``; ``(N,)``.

        Joint and root rotations are slerped (shorter arc), positions, angles and velocities blended
        linearly; ``dof_pos`` is packed from the blended rotations as ``get_frames`` packs it. The
        velocities are the blend of the two clips' velocities, not the derivative of the blend.
        """
        xp, take = self._xp, self._take
        w = self._to(weight)[:, None]
        local_quat = rot.quat_slerp(a.local_quat, b.local_quat, xp.broadcast_to(w, a.local_quat.shape[:2]))

        def mix(x: Array, y: Array) -> Array:
            return x + (y - x) * (w if x.ndim == 2 else w[:, :, None])

        num = local_quat.shape[0]
        quat = xp.permute_dims(local_quat, (0, 2, 1))
        dof_pos = take(xp.reshape(quat, (num, 4 * self.num_joints)), self._dof_pos_src, 1)
        dof_pos[:, self._dof_pos_rev] = mix(a.dof_pos, b.dof_pos)[:, self._dof_pos_rev]
        return MotionFrames(
            root_pos=mix(a.root_pos, b.root_pos), root_quat=local_quat[:, 0], local_quat=local_quat,
            dof_pos=dof_pos, root_lin_vel=mix(a.root_lin_vel, b.root_lin_vel),
            root_ang_vel=mix(a.root_ang_vel, b.root_ang_vel), joint_ang_vel=mix(a.joint_ang_vel, b.joint_ang_vel),
            dof_vel=mix(a.dof_vel, b.dof_vel))

    def _slerp(self, idx: Array, blend: Array) -> Array:
        """Slerp of every joint over frame pairs ``idx`` by ``blend`` (both ``(N,)``). Shape: ``(N, 4, J)``."""
        xp, take = self._xp, self._take
        angle = take(self._theta, idx, 0)
        angle *= blend[:, None]
        quat, tangent = take(self._quat, idx, 0), take(self._tangent, idx, 0)
        quat *= xp.cos(angle)[:, None, :]
        tangent *= xp.sin(angle)[:, None, :]
        quat += tangent
        return quat

    def _lerp(self, idx: Array, blend: Array) -> Array:
        """The ``_linear_part`` columns over frame pairs ``idx`` by ``blend`` (both ``(N,)``). Shape: ``(N, L)``."""
        lin, step = self._take(self._lin, idx, 0), self._take(self._dlin, idx, 0)
        step *= blend[:, None]
        lin += step
        return lin

    # ---------------------------------------------------------------------------- kinematics
    def body_pose(self, frames: MotionFrames) -> tuple[Array, Array]:
        """World position ``(N, J, 3)`` and orientation ``(N, J, 4)`` of every joint frame."""
        return forward_kinematics(self.skeleton, frames.root_pos, frames.root_quat, frames.local_quat)

    def body_pos(self, frames: MotionFrames) -> Array:
        """World position of every joint frame by forward kinematics. Shape: ``(N, J, 3)``."""
        return self.body_pose(frames)[0]
