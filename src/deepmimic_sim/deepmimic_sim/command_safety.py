"""The safety layer where PD targets enter the physics or a robot: clamp, rate-limit, count, warn.

One module for every place commands enter (the simulator node, the ros2_control bridge, and later
the policy node). All maths is batched over ``(N, H)`` NumPy arrays (N environments or robots, H
hinges; a single ``(H,)`` command works too); no Python loop over environments or hinges.

What is applied to each target, in this order (``SafetyLimits``):

1. Non-finite entries (NaN, inf) are replaced by the previous safe target (or, without one, by the
   measured position): the joint holds.
2. Rate: the target moves at most ``max_rate * dt`` rad from the previous safe target, where ``dt``
   is the time since it but at least one control period (``CommandSafety.min_dt``).
3. Torque: the target stays within ``q +- torque_margin * torque_limit / kp`` of the measured
   position ``q``: the PD's spring term never asks for more than ``torque_margin`` times the
   joint's torque limit (the rest is cut by the actuator anyway; the margin leaves room for the
   damping term, so a trained policy is not changed while it behaves).
4. Joint limits: ``[lower, upper]``: the model's ranges for limited hinges widened by
   ``limit_slack`` (0.3 rad: a trained policy asks for knees a little past straight, which the
   joint limit itself stops; clamping those would change the policy and log on every step), and
   ``+-pi`` for the unlimited hinges of spherical joints, which are Euler angles.

``CommandSafety`` keeps the previous safe targets, counts every clamped and dropped command, and
returns at most one warning line per ``warn_interval`` seconds with the counts since the last one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from deepmimic_transport.qos import Durability, History, QoSProfile, Reliability
from deepmimic_transport.validation import InvalidMessageError, check_length, validate_multiarray

from .backends.mujoco_model import torque_over_kp

#: Default largest target speed (rad/s). The walk policy's targets move at most about 12 rad/s.
MAX_RATE = 40.0
#: QoS of a ``commands`` subscription where commands enter: best effort (it matches the policy's
#: publisher) but a deep queue, so that a flood of bad commands between two reads cannot push the
#: policy's good ones out of a keep-last-1 queue (each is validated in order; the last good one wins).
COMMANDS_QOS = QoSProfile(Reliability.BEST_EFFORT, Durability.VOLATILE, History.KEEP_LAST, 64)
#: Default widening of the model's joint ranges for targets (rad).
LIMIT_SLACK = 0.3
#: Default multiple of ``torque_limit / kp`` a target may be away from the measured position.
TORQUE_MARGIN = 4.0


@dataclass(frozen=True)
class SafetyLimits:
    """Per-hinge limits (float64 arrays, shape ``(H,)``).

    Attributes:
        lower, upper: Joint limits of the targets (rad).
        max_offset: Largest ``|target - q|`` (rad): ``torque_margin * torque_limit / kp``.
        max_rate: Largest target speed (rad/s), the same for every hinge.
    """

    lower: np.ndarray
    upper: np.ndarray
    max_offset: np.ndarray
    max_rate: float = MAX_RATE

    @classmethod
    def from_model(cls, model, hinge_names: list[str] | tuple[str, ...], max_rate: float = MAX_RATE,
                   torque_margin: float = TORQUE_MARGIN, limit_slack: float = LIMIT_SLACK) -> SafetyLimits:
        """Limits of a MuJoCo model whose actuators are position PDs on ``hinge_names`` (in that order)."""
        if max_rate <= 0 or torque_margin <= 0:
            raise ValueError(f"max_rate and torque_margin must be > 0, got {max_rate} and {torque_margin}")
        joints = np.array([model.joint(name).id for name in hinge_names])
        limited = model.jnt_limited[joints].astype(bool)
        ranges = model.jnt_range[joints]
        lower = np.where(limited, ranges[:, 0] - limit_slack, -np.pi)
        upper = np.where(limited, ranges[:, 1] + limit_slack, np.pi)
        return cls(lower.astype(np.float64), upper.astype(np.float64),
                   torque_margin * torque_over_kp(model, hinge_names), float(max_rate))

    @classmethod
    def for_character(cls, character: str = "humanoid3d", **kwargs) -> SafetyLimits:
        """Limits of a character's shipped model (for nodes without a physics backend: the bridge)."""
        from deepmimic_mocap import load_character

        from .backends.mujoco_model import load_model

        model, hinges = load_model(load_character(character), None)
        return cls.from_model(model, hinges, **kwargs)


def apply_limits(targets: np.ndarray, positions: np.ndarray | None, previous: np.ndarray | None,
                 limits: SafetyLimits, dt: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Safe targets and what was changed.

    Args:
        targets: Commanded targets ``(..., H)``.
        positions: Measured hinge positions ``(..., H)``; None skips the torque clamp (a bridge
            that has no fresh joint state).
        previous: The previous safe targets ``(..., H)``; None skips the rate limit.
        limits: The limits.
        dt: Seconds since ``previous`` was applied.

    Returns:
        ``(safe, changed)``: the safe targets (float64, a new array) and boolean masks
        ``nonfinite``, ``rate``, ``torque``, ``joint_limit`` of the entries each step changed.
    """
    x = np.array(targets, dtype=np.float64)
    nonfinite = ~np.isfinite(x)
    fallback = previous if previous is not None else positions
    if fallback is None:
        fallback = np.clip(0.0, limits.lower, limits.upper)
    x = np.where(nonfinite, np.broadcast_to(fallback, x.shape), x)
    changed = {"nonfinite": nonfinite}
    if previous is not None:
        step = limits.max_rate * max(float(dt), 0.0)
        y = np.clip(x, previous - step, previous + step)
        changed["rate"], x = y != x, y
    if positions is not None:
        y = np.clip(x, positions - limits.max_offset, positions + limits.max_offset)
        changed["torque"], x = y != x, y
    y = np.clip(x, limits.lower, limits.upper)
    changed["joint_limit"], x = y != x, y
    return x, changed


class CommandSafety:
    """Applies :func:`apply_limits` step after step, counts, and throttles the warnings.

    Args:
        limits: The limits.
        warn_interval: Seconds between two warning lines (at most one per interval).
        absurd: A command with an entry more than this (rad) beyond a joint limit is refused whole.
        min_dt: The least ``dt`` of the rate limit (s): the control period. Commands that arrive in a
            burst (a delayed network, a policy answering queued states) each answer a state one
            period after the last; measured by their arrival, 1 ms apart, they would be frozen to
            the previous target, which throws a walking robot.
    """

    KINDS = ("nonfinite", "rate", "torque", "joint_limit")

    def __init__(self, limits: SafetyLimits, warn_interval: float = 1.0, absurd: float = np.pi,
                 min_dt: float = 0.0) -> None:
        self.limits, self.warn_interval, self.absurd = limits, float(warn_interval), float(absurd)
        self.min_dt = float(min_dt)
        self.previous: np.ndarray | None = None
        self._previous_time: float | None = None
        #: Totals since start: control steps whose targets were clamped, entries per kind, dropped commands.
        self.clamped_steps = 0
        self.clamped = dict.fromkeys(self.KINDS, 0)
        self.dropped = 0
        self._pending = dict.fromkeys((*self.KINDS, "steps", "dropped"), 0)
        self._last_warning = -np.inf

    def reset(self, targets: np.ndarray | None = None, now: float | None = None) -> None:
        """Forget the previous targets (or start from ``targets`` at ``now``), e.g. after a reset."""
        self.previous = None if targets is None else np.array(targets, dtype=np.float64)
        self._previous_time = now

    def __call__(self, targets: np.ndarray, positions: np.ndarray | None, now: float) -> np.ndarray:
        """The safe targets for ``now`` (and the state kept for the next call)."""
        dt = 0.0 if self._previous_time is None else max(now - self._previous_time, self.min_dt)
        safe, changed = apply_limits(targets, positions, self.previous, self.limits, dt)
        counts = {kind: int(mask.sum()) for kind, mask in changed.items()}
        if any(counts.values()):
            self.clamped_steps += 1
            self._pending["steps"] += 1
            for kind, count in counts.items():
                self.clamped[kind] += count
                self._pending[kind] += count
        self.previous, self._previous_time = safe, now
        return safe

    def refuse(self, targets: np.ndarray) -> str | None:
        """Why a command is refused as a whole (None: accept it, clamped later).

        A command with a non-finite entry, or one more than ``absurd`` rad beyond a joint limit, is not a
        policy's output but garbage (a bug, a wrong topic, an attack): clamping it would still drive
        every joint to its limit, so it is dropped and the previous command stays in use.
        """
        x = np.asarray(targets, dtype=np.float64)
        if not np.isfinite(x).all():
            return "non-finite target"
        far = (x < self.limits.lower - self.absurd) | (x > self.limits.upper + self.absurd)
        if far.any():
            first = int(np.flatnonzero(far.reshape(-1, far.shape[-1]).any(axis=0))[0])
            return (f"target {first} = {x.reshape(-1, x.shape[-1])[:, first].max():.3g} rad is more than "
                    f"{self.absurd:g} rad outside its joint limits")
        return None

    def command_targets(self, msg, num_joints: int) -> np.ndarray:
        """The PD targets of a ``/commands`` message, or InvalidMessageError (counted as dropped).

        Shape, length and ``refuse`` are checked here once for every node that takes commands (the
        simulator node and the ros2_control bridge); clamping happens later, in ``apply``.
        """
        try:
            validate_multiarray(msg)
            check_length("data", msg.data, num_joints)
            data = np.asarray(msg.data, dtype=np.float64)
            reason = self.refuse(data)
            if reason:
                raise InvalidMessageError(f"data: {reason}")
        except InvalidMessageError:
            self.drop()
            raise
        return data

    def drop(self) -> None:
        """Count a command that was dropped (wrong size, non-finite, ...)."""
        self.dropped += 1
        self._pending["dropped"] += 1

    def warning(self, now: float) -> str | None:
        """One line with the counts since the last line, at most once per ``warn_interval``; else None."""
        pending = self._pending
        if not (pending["steps"] or pending["dropped"]) or now - self._last_warning < self.warn_interval:
            return None
        parts = [f"{pending[k]} {k.replace('_', ' ')}" for k in self.KINDS if pending[k]]
        line = (f"commands: {pending['steps']} clamped ({', '.join(parts) or 'nothing'} target entries), "
                f"{pending['dropped']} dropped since the last report; totals: {self.clamped_steps} clamped, "
                f"{self.dropped} dropped")
        self._pending = dict.fromkeys(pending, 0)
        self._last_warning = now
        return line
