"""Hold the last PD targets; when commands stop, ramp to the pose at timeout without a jump.

Policy (what the simulator node and a robot driver do with ``commands``):

- A command is used until ``timeout_s`` passes without a newer one.
- At the first control step after the timeout the targets start a linear ramp, over ``ramp_s``
  seconds, from the targets in use (the last command) to the hold pose, and then hold it. The
  hold pose is ``hold_pose`` when given (the nodes' default: the model's rest pose, standing on
  both feet), else the hinge positions measured at that moment (the pose at timeout). The pose at
  timeout needs no knowledge of the robot, but a PD aimed at the measured pose loses the offset
  that held the body up against gravity, so it sags: a standing humanoid3d falls about 3 s after
  the ramp; in the rest pose it stands (tests/nodes/test_graph_inprocess.py).
  Targets move at most ``|last - pose| * dt / ramp_s`` per step of ``dt``: no jump.
- A new command ends the hold at once (the controller is back).
"""

from __future__ import annotations

import numpy as np


class CommandHold:
    """Targets over time from sporadic commands (NumPy float64, one value per hinge).

    Args:
        initial_targets: Targets before any command (e.g. the initial pose). ``(H,)``.
        hold_pose: The pose to ramp to and hold ``(H,)``, e.g. a standing double-support pose;
            None: the measured pose at timeout.
        now: Current time (s); the timeout counts from here until a command arrives.
        timeout_s: Seconds without a command before ramping.
        ramp_s: Duration of the ramp (s); 0 jumps at once.
    """

    def __init__(self, initial_targets: np.ndarray, now: float, timeout_s: float = 0.5, ramp_s: float = 1.0,
                 hold_pose: np.ndarray | None = None) -> None:
        if timeout_s <= 0 or ramp_s < 0:
            raise ValueError(f"timeout_s must be > 0 and ramp_s >= 0, got {timeout_s} and {ramp_s}")
        self.timeout_s, self.ramp_s = float(timeout_s), float(ramp_s)
        self.hold_pose = None if hold_pose is None else np.array(hold_pose, dtype=np.float64)
        self.reset(initial_targets, now)

    def reset(self, targets: np.ndarray, now: float) -> None:
        """Start again from ``targets`` as if commanded at ``now``."""
        self._command = np.array(targets, dtype=np.float64)
        self._last_command_time = float(now)
        self._ramp_start: float | None = None
        self._ramp_from = self._ramp_to = self._command

    def command(self, targets: np.ndarray, now: float) -> None:
        """A new command (already validated: right size, finite)."""
        self._command = np.array(targets, dtype=np.float64)
        self._last_command_time = float(now)
        self._ramp_start = None

    @property
    def state(self) -> str:
        """``commanded`` (a fresh command is used) or ``timed_out`` (ramping or holding)."""
        return "commanded" if self._ramp_start is None else "timed_out"

    def stale(self, now: float) -> bool:
        """Whether more than ``timeout_s`` passed since the last command (or reset)."""
        return now - self._last_command_time > self.timeout_s

    @property
    def last_command(self) -> np.ndarray:
        """The last commanded targets."""
        return self._command

    def time_out(self, now: float, measured_positions: np.ndarray) -> None:
        """Start the ramp to the hold pose at ``now``, as if the timeout had just passed (the policy node
        does this when no policy acts for the reference's clip)."""
        self._ramp_start = float(now)
        self._ramp_from = self._command
        self._ramp_to = np.array(measured_positions if self.hold_pose is None else self.hold_pose, dtype=np.float64)

    def targets(self, now: float, measured_positions: np.ndarray) -> np.ndarray:
        """The targets to apply at ``now``; ``measured_positions`` are used when the timeout starts."""
        if self._ramp_start is None:
            if now - self._last_command_time <= self.timeout_s:
                return self._command
            self.time_out(now, measured_positions)
        alpha = 1.0 if self.ramp_s == 0 else min(1.0, (now - self._ramp_start) / self.ramp_s)
        return self._ramp_from + alpha * (self._ramp_to - self._ramp_from)
